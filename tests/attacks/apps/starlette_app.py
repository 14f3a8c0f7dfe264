"""A Starlette app behind the pure ASGI middleware (``ATTACK_ADAPTER=asgi``).

The middleware wraps the app object itself, so it is built when the module is
imported: a bad option stops uvicorn from booting.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.attacks.apps.common import (
    ADAPTER,
    ALL_METHODS,
    configure_logging,
    event_status,
    guard_options,
    record,
    should_raise,
)

FORM = "application/x-www-form-urlencoded"


async def seen(request: Request, route: str) -> bytes:
    body = await request.body()
    pairs: list[tuple[str, str]] = []
    if request.headers.get("content-type", "").lower().startswith(FORM):
        try:
            form = await request.form()
            pairs = [(name, str(value)) for name, value in form.multi_items()]
        except Exception as error:  # the view ran all the same: say so
            pairs = [("<unreadable form>", repr(error))]
    verdict = getattr(request.state, "twiliosig_verdict", None)
    return record(route, request.method, request.url.path, body, pairs, request.query_params.multi_items(), verdict)


async def twilio(request: Request) -> Response:
    event = request.path_params["event"]
    body = await seen(request, "twilio")
    if should_raise(event):
        raise RuntimeError("the view failed")
    return Response(body, status_code=event_status(event), media_type="application/json")


async def status(request: Request) -> Response:
    return Response(await seen(request, "status"), media_type="application/json")


async def admin(request: Request) -> Response:
    return Response(await seen(request, "admin"), media_type="application/json")


async def media(websocket: WebSocket) -> None:
    record("media", "WEBSOCKET", websocket.url.path, b"", [], websocket.query_params.multi_items())
    await websocket.accept()
    await websocket.send_text("connected")
    await websocket.close()


ROUTES = [
    WebSocketRoute("/twilio/media", media),
    Route("/twilio/{event:path}", twilio, methods=ALL_METHODS),
    Route("/status", status, methods=["GET", "POST"]),
    Route("/admin/{rest:path}", admin, methods=ALL_METHODS),
]


def build() -> Any:
    from twiliosig.asgi import TwilioSignatureMiddleware

    return TwilioSignatureMiddleware(Starlette(routes=ROUTES), **guard_options(paths=True))


configure_logging()
app = build() if ADAPTER == "asgi" else None
