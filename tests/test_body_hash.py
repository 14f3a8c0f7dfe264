"""``bodySHA256`` must be the body's whole SHA-256 in lowercase hex: nothing shorter, longer or otherwise spelled.

The core compares the two strings in constant time; a comparison that accepted a
prefix (an empty value included), a value with more after it, or another
spelling would let a genuinely signed URL vouch for a body it never hashed. Each
case signs the URL genuinely, so only the body-hash comparison stands between the
request and the app.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any
from urllib.parse import quote

import pytest

from tests.test_asgi import http_scope, status_of
from twiliosig import Reason, RequestValidator, body_sha256, compute_signature
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "body-hash-token-0123456789abcdef"
BODY = b'{"type":"com.twilio.messaging.message.delivered","data":{"to":"+15005550006"}}'
HASH = hashlib.sha256(BODY).hexdigest()
BASE = "https://example.com/events"

WRONG = [
    pytest.param("", id="empty"),
    pytest.param(HASH[:1], id="prefix-1"),
    pytest.param(HASH[:32], id="prefix-half"),
    pytest.param(HASH[:-1], id="prefix-all-but-one"),
    pytest.param(HASH[1:], id="suffix"),
    pytest.param(HASH + "0", id="one-more-digit"),
    pytest.param(HASH + HASH, id="twice"),
    pytest.param(HASH.upper(), id="uppercase"),
    pytest.param(HASH[:10].upper() + HASH[10:], id="partly-uppercase"),
    pytest.param(" " + HASH, id="leading-space"),
    pytest.param(HASH + "+", id="trailing-plus"),
    pytest.param(HASH + "%00", id="trailing-nul"),
    pytest.param(quote(HASH + "\n"), id="trailing-newline"),
    pytest.param(hashlib.sha256(BODY + b"\n").hexdigest(), id="body-plus-newline"),
    pytest.param(hashlib.sha1(BODY).hexdigest(), id="sha1-of-the-body"),
    pytest.param(HASH[::-1], id="reversed"),
]


def url_with(value: str) -> str:
    return f"{BASE}?bodySHA256={value}"


def test_the_genuine_hash_is_accepted() -> None:
    """The baseline: the lowercase hex of the very body, in the signed URL."""
    assert body_sha256(BODY) == HASH
    url = url_with(HASH)
    assert RequestValidator(TOKEN).check(url, BODY, compute_signature(TOKEN, url)).valid


@pytest.mark.parametrize("value", WRONG)
def test_core_refuses_any_other_value(value: str) -> None:
    """check() and validate(): a genuinely signed URL whose bodySHA256 is not exactly the hash is refused."""
    url = url_with(value)
    validator = RequestValidator(TOKEN)
    signature = compute_signature(TOKEN, url)
    verdict = validator.check(url, BODY, signature)
    assert not verdict.valid
    assert verdict.reason is Reason.BODY_HASH_MISMATCH
    assert not validator.validate(url, BODY, signature)
    assert not validator.validate(url, BODY.decode(), signature)


@pytest.mark.parametrize("value", ["", HASH[:1], HASH[:-1], HASH + "0", HASH.upper()])
def test_a_repeated_bodysha256_is_refused_even_with_the_right_one(value: str) -> None:
    """The right hash beside a wrong one, in either order: refused (which one would an SDK read?)."""
    validator = RequestValidator(TOKEN)
    for url in (f"{BASE}?bodySHA256={HASH}&bodySHA256={value}", f"{BASE}?bodySHA256={value}&bodySHA256={HASH}"):
        assert validator.check(url, BODY, compute_signature(TOKEN, url)).reason is Reason.BODY_HASH_MISMATCH


def _wsgi(url_query: str) -> int:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/events",
        "QUERY_STRING": url_query,
        "RAW_URI": f"/events?{url_query}",
        "HTTP_HOST": "example.com",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(BODY),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_X_TWILIO_SIGNATURE": compute_signature(TOKEN, f"{BASE}?{url_query}"),
    }
    statuses: list[str] = []
    WsgiMiddleware(app, auth_token=TOKEN)(environ, lambda status, *_: statuses.append(status))
    return int(statuses[0][:3])


def _asgi(url_query: str) -> int:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [
        (b"host", b"example.com"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"x-twilio-signature", compute_signature(TOKEN, f"{BASE}?{url_query}").encode()),
    ]
    return status_of(AsgiMiddleware(app, auth_token=TOKEN), http_scope(f"/events?{url_query}", headers), BODY)


@pytest.mark.parametrize("serve", [_wsgi, _asgi], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("value", ["", HASH[:1], HASH[:-1], HASH + "0", HASH.upper(), HASH[1:]])
def test_middlewares_refuse_any_other_value(serve: Any, value: str) -> None:
    """Through both middlewares: the genuine hash passes, any other value is a 403."""
    assert serve(f"bodySHA256={HASH}") == 200
    assert serve(f"bodySHA256={value}") == 403
