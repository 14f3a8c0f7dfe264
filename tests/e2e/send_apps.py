"""The apps ``twiliosig send`` is tried against: one behind each middleware.

Both answer a genuine request with what they received (the method, the number of form
parameters, the body's length) as JSON; the ASGI app also takes WebSockets at
``/ws/...``, answering each text message with its ``event`` or ``type``. ``/public/``
is a second set-up with ``public_url``, as behind a tunnel; ``/open/`` is not protected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

TOKEN = "send-e2e-token-0123456789abcdef0"
PUBLIC_URL = "https://hooks.example.com/base"
#: Protected by the plain set-up; /open/ is left unprotected on purpose.
PROTECTED = ["/twilio/", "/ws/"]


def _answer(method: str, content_type: str, body: bytes) -> bytes:
    form = (
        parse_qsl(body.decode("utf-8"), keep_blank_values=True) if content_type.startswith("application/x-www") else []
    )
    return json.dumps({"method": method, "params": len(form), "body": len(body)}).encode()


def wsgi_app() -> Any:
    from twiliosig.wsgi import TwilioSignatureMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        answer = _answer(environ["REQUEST_METHOD"], environ.get("CONTENT_TYPE", ""), body)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer]

    plain = TwilioSignatureMiddleware(app, auth_token=TOKEN, paths=PROTECTED)
    public = TwilioSignatureMiddleware(app, auth_token=TOKEN, public_url=PUBLIC_URL)

    def dispatch(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        chosen = public if environ.get("PATH_INFO", "").startswith("/public/") else plain
        return chosen(environ, start_response)

    return dispatch


def asgi_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from twiliosig.asgi import TwilioSignatureMiddleware

    async def echo(request: Request) -> Response:
        body = await request.body()
        answer = _answer(request.method, request.headers.get("content-type", ""), body)
        return Response(answer, media_type="application/json")

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                await websocket.send_text(f"got {message.get('event') or message.get('type')}")
        except WebSocketDisconnect:
            return

    app = Starlette(
        routes=[WebSocketRoute("/ws/{name:path}", stream), Route("/{path:path}", echo, methods=["GET", "POST"])]
    )
    plain = TwilioSignatureMiddleware(app, auth_token=TOKEN, paths=PROTECTED)
    public = TwilioSignatureMiddleware(app, auth_token=TOKEN, public_url=PUBLIC_URL)

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        chosen = public if scope.get("path", "").startswith("/public/") else plain
        await chosen(scope, receive, send)

    return dispatch


wsgi = wsgi_app() if os.environ.get("SEND_APP") == "wsgi" else None
asgi = asgi_app() if os.environ.get("SEND_APP") == "asgi" else None
