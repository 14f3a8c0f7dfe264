"""Chunked bodies into Django under gunicorn, after something else already read the body.

A body sent chunked has no Content-Length, and Django reads it as empty; the Django
integration reads the server's stream itself and hands Django the bytes it checked.
The attacker's hope: that the view reads other bytes or other parameters than the ones
checked, because a middleware before twiliosig's (or the middleware above the
decorator) already made Django cache its own, empty, reading of the body. The site is
``tests.attacks.apps.django_stacked``: an earlier middleware reads ``request.body``,
``request.POST`` or ``request.read()``, then twiliosig's middleware runs, then the
decorator on ``/twilio/decorated/...``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.attacks.apps.django_stacked import REPORT_ONLY_LIMIT, TOKEN
from tests.attacks.harness import FORM, SMS, Response, exchange, form_body, request_head, sign
from tests.e2e import servers

APP = "tests.attacks.apps.django_stacked:app"


def _serve(early: str, report_only: bool = False) -> Iterator[int]:
    port = servers.free_port()
    env = {"STACK_EARLY": early, **({"STACK_REPORT_ONLY": "1"} if report_only else {})}
    with servers.gunicorn(APP, port, env):
        yield port


@pytest.fixture(scope="module", params=["body", "post", "read"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A site whose earlier middleware read the body one way or another."""
    yield from _serve(request.param)


@pytest.fixture(scope="module")
def report_only_port() -> Iterator[int]:
    """The same site in report-only mode, with a 16-byte limit."""
    yield from _serve("post", report_only=True)


def _chunked(pieces: list[bytes]) -> bytes:
    return b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in pieces if piece) + b"0\r\n\r\n"


def _post_chunked(port: int, path: str, body: bytes, signature: str) -> Response:
    """POST ``body`` split in three chunks, without Content-Length."""
    third = max(1, len(body) // 3)
    headers = [
        ("Host", f"127.0.0.1:{port}"),
        ("Content-Type", FORM),
        ("X-Twilio-Signature", signature),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
    ]
    pieces = [body[:third], body[third : 2 * third], body[2 * third :]]
    return exchange(port, request_head("POST", path, headers) + _chunked(pieces), "POST")


def _seen(response: Response) -> dict[str, Any]:
    assert response.status == 200, response
    return dict(json.loads(response.body))


PATHS = ["/twilio/sms", "/twilio/decorated/sms"]


@pytest.mark.parametrize("path", PATHS, ids=["middleware", "decorator-under-middleware"])
def test_genuine_chunked_webhook_reaches_the_view_whole(port: int, path: str) -> None:
    """A genuine chunked webhook is accepted and the view reads exactly the signed bytes and pairs."""
    body = form_body(SMS)
    seen = _seen(_post_chunked(port, path, body, sign(f"http://127.0.0.1:{port}{path}", SMS, TOKEN)))
    assert seen["sha256"] == hashlib.sha256(body).hexdigest()
    assert sorted(map(tuple, seen["form"])) == sorted(SMS)
    assert seen["reason"] == "valid"


@pytest.mark.parametrize("path", PATHS, ids=["middleware", "decorator-under-middleware"])
def test_tampered_chunked_webhook_is_refused(port: int, path: str) -> None:
    """The attacker changes a chunked form after it was signed: refused, whatever Django cached before."""
    signature = sign(f"http://127.0.0.1:{port}{path}", SMS, TOKEN)
    tampered = form_body([("Body", "forged"), *SMS[2:]])
    assert _post_chunked(port, path, tampered, signature).status == 403


@pytest.mark.parametrize("path", ["/twilio/open/sms", "/twilio/decorated/sms"], ids=["middleware", "decorator"])
def test_report_only_lets_an_oversized_chunked_body_through_whole(report_only_port: int, path: str) -> None:
    """Report-only: a chunked body over the limit reaches the view whole, even after an earlier middleware read it.

    The earlier middleware left Django's (empty) reading of the body cached; the view
    must read the bytes the client sent, not that.
    """
    body = form_body(SMS)
    assert len(body) > REPORT_ONLY_LIMIT
    url = f"http://127.0.0.1:{report_only_port}{path}"
    seen = _seen(_post_chunked(report_only_port, path, body, sign(url, SMS, TOKEN)))
    assert (seen["length"], seen["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert seen["reason"] == "body_too_large"
