"""Resource abuse: refusals are cheap, bounded and early, and a broken request never turns into a 5xx.

A body over ``max_body_size`` is refused with 413 without being read whole
(declared or chunked); a request with no signature at all is refused before its
body is read; thousands of forged parameters are refused quickly; a client that
hangs up mid-body leaves no 5xx behind and never reaches the app; broken
percent-encoding is a 4xx.

Lambda: API Gateway buffers the whole body before the function runs, so the
"before the body is read" attacks apply only to the adapters a server streams
(``STREAMING``); the Lambda adapters get the whole-body variant instead.
"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.attacks.harness import (
    ALL,
    FORM,
    SMS,
    STREAMING,
    Pool,
    Server,
    answer_before_body,
    form_body,
    hang_up_mid_body,
    sign,
    stream_body,
)
from tests.attacks.profiles import MAX_BODY

LAMBDA = [adapter for adapter in ALL if adapter not in STREAMING]


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> None:
    pool.prestart(ALL, "default")


def _head(server: Server, length: int | None, signature: str | None, **extra: str) -> bytes:
    headers = [("Content-Type", FORM)]
    if signature is not None:
        headers.append(("X-Twilio-Signature", signature))
    if length is not None:
        headers.append(("Content-Length", str(length)))
    headers += list(extra.items())
    return server.encode("POST", "/twilio/sms", None, headers=headers)


@pytest.mark.parametrize("adapter", STREAMING)
def test_declared_oversized_body_is_refused_unread(server: Server) -> None:
    """The attacker declares a body over max_body_size and sends none of it, to tie up a worker reading it."""
    with server.unreached():
        response = answer_before_body(server.port, _head(server, MAX_BODY + 1, "forged"))
    assert response is not None, "the server waited for a body it should have refused by its Content-Length"
    assert response.status == 413, response


@pytest.mark.parametrize("adapter", STREAMING)
def test_chunked_oversized_body_is_refused_at_the_limit(server: Server) -> None:
    """The attacker streams a chunked body with no Content-Length, far past max_body_size, to exhaust memory."""
    head = _head(server, None, "forged", **{"Transfer-Encoding": "chunked"})
    piece = b"a" * 16384
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    pieces = iter([chunk] * (4 * MAX_BODY // len(piece)) + [b"0\r\n\r\n"])
    with server.unreached(settle=0.2):
        response = stream_body(server.port, head, pieces)
    assert response is not None, "the server closed without answering"
    # Every adapter reads the stream up to the limit, Django's too (Django alone reads no body without a
    # Content-Length), so the refusal is the same everywhere.
    assert response.status == 413, response


@pytest.mark.parametrize("adapter", LAMBDA)
def test_oversized_event_body_is_refused(server: Server) -> None:
    """The attacker posts a body over max_body_size, which API Gateway hands the function whole."""
    body = b"Body=" + b"a" * MAX_BODY
    with server.unreached():
        response = server.post_form("/twilio/sms", [("Body", "a")], signature="forged", body=body)
    assert response.status == 413, response


@pytest.mark.parametrize("adapter", STREAMING)
def test_unsigned_request_is_refused_before_its_body(server: Server) -> None:
    """The attacker declares a large body (under the limit) with no signature, and sends it slowly or never."""
    with server.unreached():
        response = answer_before_body(server.port, _head(server, MAX_BODY // 2, None))
    assert response is not None, "the server waited for the body of a request it could refuse from its headers"
    assert response.status == 403, response


@pytest.mark.parametrize("adapter", STREAMING)
def test_other_method_is_refused_before_its_body(server: Server) -> None:
    """The attacker sends a large PUT to a protected path, which can be refused by its method alone."""
    head = server.encode("PUT", "/twilio/sms", None, headers=[("Content-Type", FORM), ("Content-Length", "100000")])
    with server.unreached():
        response = answer_before_body(server.port, head, method="PUT")
    assert response is not None, "the server waited for the body of a request it could refuse from its method"
    assert response.status == 405, response


@pytest.mark.parametrize("adapter", STREAMING)
def test_expect_100_continue_gets_the_refusal_without_the_body(server: Server) -> None:
    """The attacker sends Expect: 100-continue and no signature, then waits: the refusal must come without the body.

    Exploits a check that reads the body before deciding: the server answers
    ``100 Continue`` (gunicorn does so itself, before the app runs) and then
    holds the worker until a body nobody will use arrives.
    """
    head = server.encode(
        "POST",
        "/twilio/sms",
        None,
        headers=[("Content-Type", FORM), ("Content-Length", "50000"), ("Expect", "100-continue")],
    )
    with server.unreached():
        response = answer_before_body(server.port, head)
    assert response is not None, "the server waited for the body after Expect: 100-continue"
    assert response.status == 403, response


@pytest.mark.parametrize("adapter", STREAMING)
def test_unread_body_is_not_parsed_as_a_second_request(server: Server) -> None:
    """The attacker hides a second request in the body of one refused unread, on a keep-alive connection.

    Exploits a refusal that skips the body but keeps the connection open: the
    server would parse the body as the next request (request smuggling, which
    behind a shared proxy connection is another client's request).
    """
    mark = uuid.uuid4().hex[:12]
    smuggled = f"GET /admin/smuggled-{mark} HTTP/1.1\r\nHost: {server.authority}\r\n\r\n".encode()
    head = server.encode(
        "POST",
        "/twilio/sms",
        None,
        headers=[("Content-Type", FORM), ("Content-Length", str(len(smuggled))), ("Connection", "keep-alive")],
    )
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(head + smuggled)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    assert received.startswith(b"HTTP/1.1 403"), received[:200]
    assert not [call for call in server.calls() if mark in call["path"]], "the body was served as a request"


@pytest.mark.parametrize(("count", "value"), [(50_000, "1"), (20_000, "%F0%9F%98%80")], ids=["ascii", "astral"])
@pytest.mark.parametrize("adapter", ALL)
def test_many_forged_parameters_are_refused_quickly(server: Server, count: int, value: str) -> None:
    """The attacker sends tens of thousands of tiny forged parameters to make each refusal cost seconds of CPU.

    The astral case (an emoji in every value) also makes the UTF-16 parameter
    order a distinct candidate, doubling the work of a naive check.
    """
    body = "&".join(f"p{index}={value}" for index in range(count)).encode()
    assert len(body) <= MAX_BODY
    started = time.monotonic()
    with server.unreached():
        response = server.post_form("/twilio/sms", [], signature=sign(server.url("/x")), body=body)
    assert response.status == 403, response
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("adapter", STREAMING)
def test_client_hanging_up_mid_body_never_reaches_the_app(server: Server, signed: bool) -> None:
    """The attacker sends half of a (genuine or forged) body and hangs up, hoping the app runs on what arrived."""
    pairs = [("Body", "x" * 2000), ("From", "+15005550006")]
    body = b"Body=" + b"x" * 2000 + b"&From=%2B15005550006"
    signature = sign(server.url("/twilio/sms"), pairs) if signed else "forged"
    before = server.output_bytes().count(b"Traceback")
    with server.unreached(settle=0.2):
        hang_up_mid_body(server.port, _head(server, len(body), signature), body[: len(body) // 2])
    assert server.output_bytes().count(b"Traceback") == before, server.output_bytes()[-2000:]
    assert server.post_form("/twilio/sms", pairs).status == 200, "the server did not recover"


BROKEN_ESCAPES = {
    "bad-hex-in-path": "/twilio/%zz",
    "lone-percent-in-path": "/twilio/%",
    "half-escape-in-path": "/twilio/%f",
    "invalid-utf8-in-path": "/twilio/%ff",
    "overlong-utf8-in-path": "/twilio/%C0%AF",
    "surrogate-in-path": "/twilio/%ED%A0%80",
    "nul-in-path": "/twilio/a%00b",
    "bad-hex-in-query": "/twilio/sms?x=%zz",
    "invalid-utf8-in-query": "/twilio/sms?x=%ff%fe",
    "invalid-utf8-in-query-name": "/twilio/sms?%ff=1",
}


@pytest.mark.parametrize("path", BROKEN_ESCAPES.values(), ids=BROKEN_ESCAPES.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_broken_percent_encoding_is_a_4xx(server: Server, path: str) -> None:
    """The attacker sends broken or non-UTF-8 escapes in the path or query, hoping a decode raises into a 500."""
    with server.unreached():
        response = server.get(path, signature=None)
    assert 400 <= response.status < 500, response


@pytest.mark.parametrize("path", BROKEN_ESCAPES.values(), ids=BROKEN_ESCAPES.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_broken_percent_encoding_with_a_genuine_signature_is_never_a_5xx(server: Server, path: str) -> None:
    """The attacker gets the broken URL signed (a webhook URL it configured itself), hoping a later decode raises."""
    response = server.get(path)
    assert response.status < 500, response


@pytest.mark.parametrize("adapter", ALL)
def test_huge_request_line_is_not_a_5xx(server: Server) -> None:
    """The attacker sends a path of several kilobytes, hoping a URL variant or log line blows up."""
    with server.unreached():
        response = server.get("/twilio/" + "a/" * 2000, signature=None)
    assert 400 <= response.status < 500, response


# --- FastAPI: a route with Form() parameters, whose body FastAPI reads before any dependency ---------

FORM_ROUTE = "/twilio/typed/sms"
#: An upload far past max_body_size, as an attacker would announce it.
HUGE = 24 * 1024 * 1024


def _form_route_head(server: Server, signature: str | None, length: int | None) -> bytes:
    headers = [("Content-Type", FORM)]
    if signature is not None:
        headers.append(("X-Twilio-Signature", signature))
    if length is None:
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        headers.append(("Content-Length", str(length)))
    return server.encode("POST", FORM_ROUTE, None, headers=headers)


@pytest.mark.parametrize(
    ("signature", "status"), [(None, 403), ("forged", 413)], ids=["unsigned-403", "forged-oversized-413"]
)
@pytest.mark.parametrize("adapter", ["fastapi-route-class"])
def test_huge_post_to_a_form_route_is_refused_before_fastapi_reads_it(
    server: Server, signature: str | None, status: int
) -> None:
    """The attacker announces a 24 MB form to a route with Form() fields and sends only its first bytes.

    FastAPI reads and parses a route's form before it resolves dependencies:
    with the route class, the refusal comes from the head, the body unread.
    """
    partial = b"Body=" + b"a" * 4096  # a little of the body, then nothing
    with server.unreached():
        response = answer_before_body(server.port, _form_route_head(server, signature, HUGE) + partial)
    assert response is not None, "the server waited for the rest of a body it should have refused from the head"
    assert response.status == status, response


@pytest.mark.parametrize("adapter", ["fastapi-route-class"])
def test_chunked_form_to_a_form_route_is_refused_at_the_limit(server: Server) -> None:
    """The attacker streams a chunked 24 MB form (no Content-Length) to a Form() route, hoping it is read whole."""
    piece = b"a" * 16384
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0

    def pieces() -> Iterator[bytes]:
        nonlocal sent
        yield f"{5:x}\r\nBody=\r\n".encode()
        for _ in range(HUGE // len(piece)):
            sent += len(piece)
            yield chunk
        yield b"0\r\n\r\n"

    with server.unreached(settle=0.2):
        response = stream_body(server.port, _form_route_head(server, "forged", None), pieces())
    assert response is not None, "the server closed without answering"
    assert response.status == 413, response
    # The answer came while most of the body was still unsent (socket buffers hold a few MB at most).
    assert sent < HUGE // 2, f"{sent} bytes sent before the refusal"


@pytest.mark.parametrize("adapter", ["fastapi-route-class"])
def test_genuine_webhook_reaches_a_form_route_byte_for_byte(server: Server) -> None:
    """Control: a genuine form webhook reaches the Form() route: the same bytes, its fields parsed by FastAPI."""
    body = form_body(SMS)
    response = server.post_form(FORM_ROUTE, SMS)
    assert response.status == 200, response
    seen = server.last_call()
    assert seen["sha256"] == hashlib.sha256(body).hexdigest(), seen
    assert seen["length"] == len(body)
    assert sorted(map(tuple, seen["form"])) == sorted(SMS), seen
    assert seen["reason"] == "valid"


@pytest.mark.parametrize("adapter", ["fastapi-depends", "fastapi-router"])
def test_the_dependency_alone_reads_a_form_route_body_first(server: Server) -> None:
    """Documents the gap docs/fastapi.md and docs/security.md state: on a Form() route the dependency comes too late.

    FastAPI waits for the whole body before the dependency runs; the request
    is still refused, but only once every byte has arrived.
    """
    with server.unreached():
        waited = answer_before_body(server.port, _form_route_head(server, None, MAX_BODY // 2), wait=1.0)
    assert waited is None, "the dependency refused a Form() route's request before its body: update the docs"
