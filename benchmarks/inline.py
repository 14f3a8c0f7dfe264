"""The floor for a middleware: a minimal hand-written inline check, WSGI and ASGI.

What anyone could write in twenty lines for one known deployment: read the body, parse
the form with the standard library, build the signed string, one HMAC-SHA1, a
constant-time compare, then hand the app the same bytes. It rebuilds the URL from the
Host header and the raw target, tries no other URL form, checks no method, size, charset
or path, claims no replay key and explains nothing: every check twiliosig adds must fit
in what its faster parsing and signing save. ``make bench`` reports twiliosig / inline
for both middlewares (goal: at most 1.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _valid(key: bytes, url: str, body: bytes, signature: bytes) -> bool:
    params = sorted(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    data = url + "".join(name + value for name, value in params)
    expected = base64.b64encode(hmac.new(key, data.encode("utf-8"), hashlib.sha1).digest())
    return hmac.compare_digest(expected, signature)


def inline_wsgi(app: Any, token: str) -> Any:
    """The minimal inline check as WSGI middleware."""
    key = token.encode()

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        url = f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}{environ['RAW_URI']}"
        if not _valid(key, url, body, environ.get("HTTP_X_TWILIO_SIGNATURE", "").encode()):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"Forbidden"]
        return app(environ, start_response)

    return middleware


def inline_asgi(app: Any, token: str) -> Any:
    """The minimal inline check as ASGI middleware."""
    key = token.encode()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = dict(scope["headers"])
        url = f"{scope['scheme']}://{headers[b'host'].decode()}{scope['raw_path'].decode()}"
        if not _valid(key, url, body, headers.get(b"x-twilio-signature", b"")):
            await send({"type": "http.response.start", "status": 403, "headers": []})
            await send({"type": "http.response.body", "body": b"Forbidden"})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return middleware
