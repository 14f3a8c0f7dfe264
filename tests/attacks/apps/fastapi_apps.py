"""FastAPI apps with the ``TwilioSignature`` dependency, per route or for a whole router.

``ATTACK_ADAPTER`` picks one of:

- ``fastapi-depends``: ``Depends(twilio)`` on each protected route (the catch-all,
  a typed route whose ``Form`` fields FastAPI parses before the dependency runs,
  and a WebSocket);
- ``fastapi-router``: one ``APIRouter(dependencies=[Depends(twilio)])`` holding
  every route, the dependency narrowed by ``paths``;
- ``fastapi-route-class``: one ``APIRouter(route_class=twilio.route_class)``
  holding every HTTP route, narrowed by ``paths``, which checks a request's head
  before FastAPI reads its body (the typed route also takes ``Depends(twilio)``,
  which returns the route's verdict; the WebSocket takes the dependency alone).
  Its typed route records the raw body FastAPI received, before parsing its form.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request, WebSocket
from fastapi.responses import Response
from fastapi.routing import APIRoute

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
    raw = getattr(request.state, "raw_body", None)  # fastapi-route-class: the bytes FastAPI parsed
    line = record("typed", request.method, request.url.path, raw, pairs, request.query_params.multi_items(), verdict)
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


def recording(route_class: type[APIRoute]) -> type[APIRoute]:
    """``route_class`` with FastAPI's documented custom-route hook: keep the raw body FastAPI gets on the request."""

    class Recording(route_class):  # type: ignore[valid-type,misc]
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def keeping_the_body(request: Request) -> Response:
                request.state.raw_body = await request.body()  # cached: FastAPI parses its form from it
                return await handler(request)

            return keeping_the_body

    return Recording


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
    elif adapter == "fastapi-route-class":
        guarded = TwilioSignature(**guard_options(paths=True))
        router = APIRouter(route_class=recording(guarded.route_class))
        router.add_api_websocket_route("/twilio/media", media, dependencies=[Depends(guarded)])
        router.add_api_route("/twilio/typed/{event:path}", typed, methods=["POST"], dependencies=[Depends(guarded)])
        router.add_api_route("/twilio/{event:path}", twilio, methods=ALL_METHODS)
        router.add_api_route("/status", status, methods=["GET", "POST"])
        router.add_api_route("/admin/{rest:path}", admin, methods=ALL_METHODS)
        app.include_router(router)
    else:
        raise ValueError(f"not a FastAPI adapter: {adapter!r}")
    return app


configure_logging()
app = build(ADAPTER) if ADAPTER.startswith("fastapi") else None
