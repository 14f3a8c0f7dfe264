"""A body over ``max_body_size``: refused (413) before the app runs, in every adapter and every shape it arrives in.

Which case covers which adapter and shape (a declared ``Content-Length``, or none: chunked
WSGI input, or ASGI messages):

- the guard: a limit of one byte is a limit like any other;
- WSGI and ASGI middlewares: exactly the limit passes and one byte more is 413, declared or
  not, in one read or message or several; a stream reading stops at the limit;
- Django middleware (declared), Flask extension (chunked), FastAPI dependency (declared, and a
  body FastAPI itself read whole) and route class (no more read than the limit and a chunk);
- report-only: an over-limit body is passed on whole, however much of it was read, and a
  limit crossed in the last message does not leave the app waiting for more.

Elsewhere: the contract (tests/contract.py) holds both middlewares to it with a declared
length, the attack suite (tests/attacks/test_resource_abuse.py) on real servers, the Lambda
adapter's refused events (tests/test_contrib_aws_lambda.py) include an oversized one, and a
Content-Length too large for an int is tests/test_numeric_headers.py's.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import anyio
import pytest
from django.test import Client, override_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.contract import FORM, TOKEN, Seen
from tests.django_site import CALLS
from tests.django_site import TOKEN as DJANGO_TOKEN
from tests.test_asgi import AsgiHarness, call_with_messages, http_scope, recording_app
from tests.test_contrib_django import MIDDLEWARE as DJANGO_MIDDLEWARE
from tests.test_contrib_django import signer as django_signer
from tests.test_contrib_fastapi import make_app as fastapi_app
from tests.test_contrib_fastapi import route_class_app
from tests.test_contrib_fastapi import signer as fastapi_signer
from tests.test_contrib_flask import create_app
from tests.test_fast_paths import (
    GOOD,
    HARNESSES,
    Trickle,
    asgi_call,
    limit_body,
    post,
    signed,
    wsgi_environ,
)
from tests.test_guard import TOKEN as GUARD_TOKEN
from tests.test_guard import head, through
from tests.test_guard import signed as guard_signed
from tests.test_wsgi import WsgiHarness
from twiliosig import Reason
from twiliosig._guard import Guard
from twiliosig.asgi import TwilioSignatureMiddleware
from twiliosig.contrib.flask import TwilioSignature


@pytest.fixture(autouse=True)
def _clear_django_calls() -> None:
    CALLS.clear()


# --- the guard ------------------------------------------------------------------------------------


def test_the_guard_takes_a_limit_of_one_byte() -> None:
    """max_body_size=1 is a limit like any other: a one-byte body is read, a larger one refused."""
    guard = Guard(auth_token=GUARD_TOKEN, max_body_size=1)
    assert (
        through(guard, head(headers={**guard_signed(), "Content-Length": "2"})).verdict.reason is Reason.BODY_TOO_LARGE
    )


# --- WSGI and ASGI middlewares -----------------------------------------------------------------


@pytest.mark.parametrize("harness", HARNESSES)
@pytest.mark.parametrize(("size", "status"), [(100, 200), (101, 413)])
def test_a_declared_length_at_and_over_the_limit(harness: Any, size: int, status: int) -> None:
    """Content-Length exactly max_body_size passes; one byte more is 413 from the screen."""
    body, signature = limit_body(size)
    outcome = post(
        harness(auth_token=TOKEN, max_body_size=100), {"Content-Type": FORM, "X-Twilio-Signature": signature}, body
    )
    assert outcome.status == status


@pytest.mark.parametrize("chunks", [1, 3])
@pytest.mark.parametrize(("size", "status"), [(100, 200), (101, 413)])
def test_wsgi_chunked_body_at_and_over_the_limit(size: int, status: int, chunks: int) -> None:
    """Chunked (no Content-Length), in one read or many: exactly max_body_size passes, one byte more is 413."""
    h = WsgiHarness(auth_token=TOKEN, max_body_size=100)
    body, signature = limit_body(size)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": signature}, body, chunked=True)
    if chunks > 1:
        environ["wsgi.input"] = Trickle(body, len(body) // chunks + 1)
    outcome = h.call(environ, validate=False)
    assert outcome.status == status
    assert len(outcome.seen) == (1 if status == 200 else 0)
    if status == 200:
        assert outcome.seen[0].body == body


def test_asgi_body_streamed_in_many_messages_stops_at_the_limit() -> None:
    """Without Content-Length, reading stops as soon as the messages pass the limit."""
    h = AsgiHarness(auth_token=TOKEN, max_body_size=50)
    headers = {"Content-Type": FORM, "X-Twilio-Signature": GOOD}
    outcome = h.send("POST", "/twilio/sms", headers=headers, chunks=[b"a=" + b"x" * 40, b"y" * 40, b"z" * 10**6])
    assert outcome.status == 413
    assert not outcome.seen


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize(("size", "status"), [(100, 200), (101, 413)])
def test_asgi_body_without_a_length_at_and_over_the_limit(size: int, status: int, split: bool) -> None:
    """No Content-Length: exactly max_body_size passes, one byte more is 413, whole or in two messages."""
    body, headers = signed(size)
    if split:
        messages = [
            {"type": "http.request", "body": body[:50], "more_body": True},
            {"type": "http.request", "body": body[50:]},
        ]
    else:
        messages = [{"type": "http.request", "body": body}]
    result, seen = asgi_call({"auth_token": TOKEN, "max_body_size": 100}, headers, messages)
    assert result == status
    assert seen == ([body] if status == 200 else [])


# --- report-only: the body is passed on whole ------------------------------------------------------


def test_wsgi_report_only_gives_an_oversized_one_read_body_whole() -> None:
    """Report-only, chunked, more than the limit in the first read: the app still reads every byte."""
    h = WsgiHarness(auth_token=TOKEN, max_body_size=100, report_only=True)
    body = b"a=" + b"x" * 5000
    outcome = h.send("POST", "/twilio/sms", headers={"Content-Type": FORM, "X-Twilio-Signature": "x"}, chunks=[body])
    assert outcome.status == 200
    assert outcome.seen[0].body == body


def test_asgi_report_only_gives_an_oversized_first_message_whole() -> None:
    """Report-only: a first message over the limit, then more: the app reads all of it."""
    _, headers = signed()
    big = b"a=" + b"x" * 500
    messages = [{"type": "http.request", "body": big, "more_body": True}, {"type": "http.request", "body": b"yy"}]
    status, seen = asgi_call({"auth_token": TOKEN, "max_body_size": 100, "report_only": True}, headers, messages)
    assert status == 200
    assert seen == [big + b"yy"]


def test_asgi_report_only_replays_a_half_read_body() -> None:
    """Report-only with an over-limit stream: the app still receives every byte."""
    h = AsgiHarness(auth_token=TOKEN, max_body_size=50, report_only=True)
    chunks = [b"a=" + b"x" * 40, b"y" * 40, b"z" * 100]
    headers = {"Content-Type": FORM, "X-Twilio-Signature": "forged"}
    outcome = h.send("POST", "/twilio/sms", headers=headers, chunks=chunks)
    assert outcome.status == 200
    assert outcome.seen[0].body == b"".join(chunks)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_asgi_report_only_body_crossing_the_limit_in_its_last_message_does_not_hang(backend: str) -> None:
    """The last message crosses max_body_size: the app is told no more body follows, and finishes."""
    seen: list[Seen] = []
    app = TwilioSignatureMiddleware(recording_app(seen), auth_token=TOKEN, max_body_size=50, report_only=True)
    headers = [(b"content-type", FORM.encode()), (b"x-twilio-signature", b"forged")]
    messages = [
        {"type": "http.request", "body": b"a=" + b"x" * 40, "more_body": True},
        {"type": "http.request", "body": b"y" * 40, "more_body": False},
    ]
    sent = anyio.run(call_with_messages, app, headers, messages, backend=backend)
    assert sent[0]["status"] == 200
    assert seen[0].body == b"a=" + b"x" * 40 + b"y" * 40


# --- framework adapters --------------------------------------------------------------------------


@override_settings(
    MIDDLEWARE=DJANGO_MIDDLEWARE, TWILIOSIG={"auth_token": DJANGO_TOKEN, "paths": ["/mw/"], "max_body_size": 100}
)
def test_django_middleware_refuses_oversized_bodies() -> None:
    """A body over max_body_size is a 413 before the view."""
    assert django_signer.post_form(Client(), "/mw/sms", [("Body", "x" * 500)]).status_code == 413
    assert CALLS == []


def test_flask_extension_stops_a_chunked_body_at_the_limit() -> None:
    """A chunked body past max_body_size stops being read and is refused."""
    app = create_app()
    TwilioSignature(app, blueprints=["twilio"], max_body_size=200)
    builder = EnvironBuilder(
        path="/twilio/sms",
        method="POST",
        input_stream=io.BytesIO(b"Body=" + b"x" * 1000),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "forged"},  # signed or not, the body is what is too large
    )
    environ = builder.get_environ()
    del environ["CONTENT_LENGTH"]  # chunked: the server says the input ends, not how long it is
    environ["wsgi.input_terminated"] = True
    _, status, _ = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    assert status.startswith("413")


def test_fastapi_dependency_refuses_a_declared_length_over_the_limit() -> None:
    """max_body_size applies to the dependency too."""
    app, calls = fastapi_app(max_body_size=100)
    assert fastapi_signer.post_form(TestClient(app), "/raw", [("Body", "x" * 500)]).status_code == 413
    assert calls == []


def test_fastapi_dependency_refuses_a_body_fastapi_read_whole_over_the_limit() -> None:
    """A JSON body FastAPI read for a Body parameter is still held to max_body_size (413), however it was read."""
    app, calls = fastapi_app(max_body_size=100)
    target, body, headers = fastapi_signer.json_request("http://testserver", "/json", {"event": "x" * 500})
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    status, _ = asyncio.run(asgi_post(app, target, raw, body))  # no Content-Length: only the read can tell
    assert status == 413
    assert calls == []


async def asgi_post(
    app: FastAPI, target: str, headers: list[tuple[bytes, bytes]], body: bytes, repeat: int = 1
) -> tuple[int, int]:
    """POST ``body`` ``repeat`` times over (one message each) straight to ``app``: the status, the bytes it took."""
    taken = 0
    left = repeat

    async def receive() -> dict[str, object]:
        nonlocal taken, left
        if left <= 0:
            return {"type": "http.disconnect"}
        left -= 1
        taken += len(body)
        return {"type": "http.request", "body": body, "more_body": left > 0}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = http_scope(target, [(b"host", b"testserver"), *headers], scheme="http", server=("testserver", 80))
    await app(scope, receive, send)
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    assert isinstance(status, int)
    return status, taken


@pytest.mark.parametrize(
    ("headers", "status", "most"),
    [
        ([(b"content-length", str(24 * 1024 * 1024).encode())], 403, 0),
        ([(b"content-length", str(24 * 1024 * 1024).encode()), (b"x-twilio-signature", b"forged")], 413, 0),
        ([(b"x-twilio-signature", b"forged")], 413, 1024 * 1024 + 65536),
    ],
    ids=["unsigned", "declared-too-large", "undeclared-too-large"],
)
def test_fastapi_route_class_reads_no_body_it_can_refuse_from_the_head(
    headers: list[tuple[bytes, bytes]], status: int, most: int
) -> None:
    """Of a 24 MB form on offer: nothing is taken when the head decides, at most max_body_size + a chunk otherwise."""
    app, _, calls = route_class_app()
    form = [(b"content-type", b"application/x-www-form-urlencoded"), *headers]
    chunk = b"a" * 65536
    got, taken = asyncio.run(asgi_post(app, "/twilio/sms", form, chunk, repeat=24 * 16))
    assert got == status
    assert taken <= most, f"{taken} bytes taken"
    assert calls == []
