"""FastAPI apps with the ``TwilioSignature`` dependency, per route or for a whole router.

``ATTACK_ADAPTER`` picks one of:

- ``fastapi-depends``: ``Depends(twilio)`` on each protected route (the catch-all,
  a typed route whose ``Form`` fields FastAPI parses before the dependency runs,
  and a WebSocket);
- ``fastapi-router``: one ``APIRouter(dependencies=[Depends(twilio)])`` holding
  every route, the dependency narrowed by ``paths``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request, WebSocket
from fastapi.responses import Response

from tests.attacks.apps.common import (
    ADAPTER,
    ALL_METHODS,
    configure_logging,
    event_status,
    guard_options,
    record,
    should_raise,
)
from tests.attacks.apps.starlette_app import seen


async def twilio(request: Request, event: str) -> Response:
    body = await seen(request, "twilio")
    if should_raise(event):
        raise RuntimeError("the view failed")
    return Response(body, status_code=event_status(event), media_type="application/json")


async def typed(
    request: Request,
    event: str,
    AccountSid: Annotated[str | None, Form()] = None,
    Body: Annotated[str | None, Form()] = None,
) -> Response:
    form = await request.form()  # FastAPI parsed it already: the cached form, as the endpoint sees it
    pairs = [(name, str(value)) for name, value in form.multi_items()]
    verdict = getattr(request.state, "twiliosig_verdict", None)
    line = record("typed", request.method, request.url.path, None, pairs, request.query_params.multi_items(), verdict)
    return Response(line, media_type="application/json")


async def status(request: Request) -> Response:
    return Response(await seen(request, "status"), media_type="application/json")


async def admin(request: Request, rest: str) -> Response:
    return Response(await seen(request, "admin"), media_type="application/json")


async def media(websocket: WebSocket) -> None:
    record("media", "WEBSOCKET", websocket.url.path, b"", [], websocket.query_params.multi_items())
    await websocket.accept()
    await websocket.send_text("connected")
    await websocket.close()


def build(adapter: str) -> FastAPI:
    from twiliosig.contrib.fastapi import TwilioSignature

    app = FastAPI()
    if adapter == "fastapi-depends":
        signed = [Depends(TwilioSignature(**guard_options(paths=False)))]
        app.add_api_websocket_route("/twilio/media", media, dependencies=signed)
        app.add_api_route("/twilio/typed/{event:path}", typed, methods=["POST"], dependencies=signed)
        app.add_api_route("/twilio/{event:path}", twilio, methods=ALL_METHODS, dependencies=signed)
        app.add_api_route("/status", status, methods=["GET", "POST"])
        app.add_api_route("/admin/{rest:path}", admin, methods=ALL_METHODS)
    elif adapter == "fastapi-router":
        router = APIRouter(dependencies=[Depends(TwilioSignature(**guard_options(paths=True)))])
        router.add_api_websocket_route("/twilio/media", media)
        router.add_api_route("/twilio/typed/{event:path}", typed, methods=["POST"])
        router.add_api_route("/twilio/{event:path}", twilio, methods=ALL_METHODS)
        router.add_api_route("/status", status, methods=["GET", "POST"])
        router.add_api_route("/admin/{rest:path}", admin, methods=ALL_METHODS)
        app.include_router(router)
    else:
        raise ValueError(f"not a FastAPI adapter: {adapter!r}")
    return app


configure_logging()
app = build(ADAPTER) if ADAPTER.startswith("fastapi") else None
