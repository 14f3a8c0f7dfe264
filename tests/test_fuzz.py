"""Both middlewares under hostile input, driven at the protocol level by hypothesis.

Invariants, for every generated request:
- no 5xx and no exception ever leaves the middleware;
- a refused request never reaches the app;
- a request that reaches the app carries exactly the body that was sent;
- a genuine request (signed by the official twilio package) is accepted however its
  body is chunked, in many ``http.request`` messages or a trickling ``wsgi.input``.

The normal test run draws a bounded number of examples; ``make fuzz`` runs the
``fuzz`` profile (many more).
"""

from __future__ import annotations

import io
import sys
from typing import Any
from urllib.parse import urlencode

import anyio
from hypothesis import given
from hypothesis import strategies as st

from tests.oracle import twilio_signature
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "fuzz-token-0123456789abcdef01234"
LIMIT = 4096
URL = "https://example.com/twilio/sms"

header_names = st.sampled_from(
    [
        "x-twilio-signature",
        "content-type",
        "content-length",
        "host",
        "x-twilio-webhooks-signature-settings",
        "forwarded",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "transfer-encoding",
        "x-other",
    ]
)
header_values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
    st.sampled_from(["", "application/x-www-form-urlencoded", "application/json", "-1", "99999999999", "0"]),
    st.text(alphabet="A=+/;,", min_size=5000, max_size=9000),
)
bodies = st.one_of(
    st.binary(max_size=600),
    st.text(alphabet="ab=&%+2FzZé\x00", max_size=300).map(lambda t: t.encode("utf-8")),
    st.just(b"\xff\xfe%E9%zz%%=&&=="),
    st.binary(min_size=LIMIT + 1, max_size=LIMIT + 50),
)
methods = st.sampled_from(["POST", "GET", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH", "BREW"])
paths = st.one_of(
    st.just("/twilio/sms"),
    st.text(alphabet="/twilio%2Fé.~?=&#", min_size=1, max_size=30).map(lambda p: "/" + p.lstrip("/")),
)
garbage_headers = st.lists(st.tuples(header_names, header_values), max_size=6)
cut_points = st.lists(st.integers(0, 10_000), max_size=8)
pairs = st.lists(
    st.tuples(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    ),
    max_size=10,
)


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(body[start:point])
        start = point
    pieces.append(body[start:])
    return pieces


def signature(pairs_: list[tuple[str, str]]) -> str:
    return twilio_signature(TOKEN, URL, pairs_)


# --- WSGI -------------------------------------------------------------------------------


class Trickle(io.RawIOBase):
    """A wsgi.input that returns the body in the given pieces, then maybe breaks."""

    def __init__(self, pieces: list[bytes], breaks: bool) -> None:
        self.pieces = [p for p in pieces if p]
        self.breaks = breaks

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self.pieces:
            if self.breaks:
                raise ConnectionResetError("client went away")
            return b""
        piece = self.pieces.pop(0)
        if 0 <= size < len(piece):
            self.pieces.insert(0, piece[size:])
            piece = piece[:size]
        return piece


def run_wsgi(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes, cuts: list[int], chunked: bool, breaks: bool
) -> tuple[int, list[bytes]]:
    seen: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = environ.get("CONTENT_LENGTH")
        seen.append(environ["wsgi.input"].read(int(length)) if length else environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app"]

    middleware = WsgiMiddleware(app, auth_token=TOKEN, max_body_size=LIMIT)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path.partition("?")[0].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": path.partition("?")[2].encode("utf-8").decode("latin-1"),
        "RAW_URI": path.encode("utf-8").decode("latin-1"),
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "443",
        "HTTP_HOST": "example.com",
        "wsgi.url_scheme": "https",
        "wsgi.input": Trickle(split(body, cuts), breaks),
        "wsgi.errors": sys.stderr,
    }
    if chunked:
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers:
        key = name.upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ and key.startswith("HTTP_") else value
    status: list[str] = []
    result = middleware(environ, lambda s, h, e=None: status.append(s))
    b"".join(result)
    return int(status[0].split()[0]), seen


@given(methods, paths, garbage_headers, bodies, cut_points, st.booleans(), st.booleans())
def test_wsgi_never_5xx_and_refusals_never_reach_the_app(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes, cuts: list[int], chunked: bool, breaks: bool
) -> None:
    """Garbage of every kind: a 4xx (or the app, with the exact body), never a 5xx or an exception."""
    status, seen = run_wsgi(method, path, headers, body, cuts, chunked, breaks)
    assert status < 500
    if status != 200:
        assert seen == []
    else:
        assert seen  # only the app answers 200
        declared = dict(headers).get("content-length")
        if not chunked and declared is None:
            assert seen == [body]


@given(pairs, st.lists(st.integers(0, 10_000), max_size=12), st.booleans())
def test_wsgi_genuine_is_accepted_however_it_trickles(
    pairs_: list[tuple[str, str]], cuts: list[int], chunked: bool
) -> None:
    """A request signed by the twilio package is accepted whatever the read sizes; the body arrives intact."""
    body = urlencode(pairs_).encode()
    headers = [("content-type", "application/x-www-form-urlencoded"), ("x-twilio-signature", signature(pairs_))]
    status, seen = run_wsgi("POST", "/twilio/sms", headers, body, cuts, chunked, breaks=False)
    assert status == 200
    assert seen == [body]


# --- ASGI -------------------------------------------------------------------------------


async def drive_asgi(
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    pieces: list[bytes],
    disconnect_at: int | None,
) -> tuple[int | None, list[bytes]]:
    seen: list[bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        seen.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    middleware = AsgiMiddleware(app, auth_token=TOKEN, max_body_size=LIMIT)
    raw = path.encode("utf-8")
    scope = {
        "type": "http",
        "method": method,
        "scheme": "https",
        "path": path.partition("?")[0],
        "raw_path": raw.partition(b"?")[0],
        "query_string": raw.partition(b"?")[2],
        "root_path": "",
        "headers": headers,
        "server": ("example.com", 443),
    }
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": piece, "more_body": index < len(pieces) - 1}
        for index, piece in enumerate(pieces)
    ]
    if disconnect_at is not None:
        messages = [*messages[: disconnect_at % (len(messages) + 1)], {"type": "http.disconnect"}]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await middleware(scope, receive, send)
    return (status[0] if status else None), seen


@given(methods, paths, garbage_headers, bodies, cut_points, st.one_of(st.none(), st.integers(0, 20)))
def test_asgi_never_5xx_and_refusals_never_reach_the_app(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes, cuts: list[int], disconnect_at: int | None
) -> None:
    """Garbage, many messages, disconnects: a 4xx, silence after a disconnect, or the app with the exact body."""
    raw_headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    status, seen = anyio.run(drive_asgi, method, path, raw_headers, split(body, cuts), disconnect_at)
    assert status is None or status < 500
    if status != 200:
        assert seen == []
    else:
        assert seen == [body]
    if disconnect_at is not None and status is None:
        assert seen == []


@given(pairs, st.lists(st.integers(0, 10_000), max_size=12))
def test_asgi_genuine_is_accepted_however_it_is_chunked(pairs_: list[tuple[str, str]], cuts: list[int]) -> None:
    """A request signed by the twilio package is accepted in any number of http.request messages."""
    body = urlencode(pairs_).encode()
    headers = [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"x-twilio-signature", signature(pairs_).encode()),
        (b"host", b"example.com"),
    ]
    status, seen = anyio.run(drive_asgi, "POST", "/twilio/sms", headers, split(body, cuts), None)
    assert status == 200
    assert seen == [body]
