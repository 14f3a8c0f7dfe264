"""Starlette: the ASGI middleware in the app's ``middleware`` list."""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.matrix.apps import CONNECTED, PATHS, reply
from twiliosig.asgi import TwilioSignatureMiddleware


async def sms(request: Request) -> PlainTextResponse:
    form = await request.form()
    return PlainTextResponse(reply(str(form["Body"])))


async def media(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(CONNECTED)
    await websocket.close()


app = Starlette(
    routes=[Route("/twilio/sms", sms, methods=["POST"]), WebSocketRoute("/twilio/media", media)],
    middleware=[Middleware(TwilioSignatureMiddleware, paths=PATHS)],
)
