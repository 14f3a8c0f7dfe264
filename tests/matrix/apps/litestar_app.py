"""Litestar: the ASGI middleware in the app's ``middleware`` list, through ``DefineMiddleware``."""

from litestar import Litestar, MediaType, Request, WebSocket, post, websocket
from litestar.middleware import DefineMiddleware

from tests.matrix.apps import CONNECTED, PATHS, reply
from twiliosig.asgi import TwilioSignatureMiddleware


@post("/twilio/sms", status_code=200, media_type=MediaType.TEXT)
async def sms(request: Request) -> str:
    form = await request.form()
    return reply(form["Body"])


@websocket("/twilio/media")
async def media(socket: WebSocket) -> None:
    await socket.accept()
    await socket.send_text(CONNECTED)
    await socket.close()


app = Litestar(route_handlers=[sms, media], middleware=[DefineMiddleware(TwilioSignatureMiddleware, paths=PATHS)])
