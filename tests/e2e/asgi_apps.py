"""The FastAPI and Starlette apps the uvicorn end-to-end tests serve.

Like ``wsgi_apps``: every request that reaches an app is recorded (to the file
named by ``E2E_LOG``) and answered with what the app saw. The first path
segment picks the middleware set-up; ``/mounted/...`` is a protected sub-app
under Starlette's ``Mount`` (``root_path``); ``/ws/media`` is a WebSocket.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.e2e.wsgi_apps import MAX_BODY, PROTECTED, SETUPS, TOKEN
from tests.e2e.wsgi_apps import record as record_seen
from twiliosig.asgi import TwilioSignatureMiddleware


async def record(request: Request) -> Response:
    body = await request.body()
    form = await request.form() if request.headers.get("content-type", "").startswith("application/x-www") else None
    pairs = [(k, str(v)) for k, v in form.multi_items()] if form is not None else []
    line = record_seen(body, pairs, getattr(request.state, "twiliosig_verdict", None))
    return Response(line, media_type="application/json")


async def media(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.scope["twiliosig.verdict"].variant)
    await websocket.close()


def protected(app: Any) -> Any:
    """The app behind each of wsgi_apps.SETUPS, picked by the first path segment."""
    wrapped = {
        name: TwilioSignatureMiddleware(app, auth_token=TOKEN, paths=PROTECTED, max_body_size=MAX_BODY, **extra)
        for name, extra in SETUPS.items()
    }

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        first = scope.get("path", "/").lstrip("/").split("/", 1)[0]
        await wrapped.get(first, wrapped["plain"])(scope, receive, send)

    return dispatch


def mounted_sub_app() -> Any:
    inner = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])
    return TwilioSignatureMiddleware(inner, auth_token=TOKEN, max_body_size=MAX_BODY)


def starlette_app() -> Any:
    app = Starlette(
        routes=[
            WebSocketRoute("/ws/media", media),
            Mount("/mounted", app=mounted_sub_app()),
            Route("/{path:path}", record, methods=["GET", "POST"]),
        ]
    )
    return protected(app)


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.add_api_websocket_route("/ws/media", media)
    app.mount("/mounted", mounted_sub_app())
    app.add_api_route("/{path:path}", record, methods=["GET", "POST"])
    return protected(app)


fastapi = fastapi_app() if os.environ.get("E2E_FRAMEWORK") == "fastapi" else None
starlette = starlette_app() if os.environ.get("E2E_FRAMEWORK") == "starlette" else None
