"""Quart: the ASGI middleware around ``app.asgi_app``, as Quart's docs wrap ASGI middleware."""

from quart import Quart, request, websocket

from tests.matrix.apps import CONNECTED, PATHS, reply
from twiliosig.asgi import TwilioSignatureMiddleware

app = Quart(__name__)


@app.post("/twilio/sms")
async def sms() -> tuple[str, int, dict[str, str]]:
    form = await request.form
    return reply(form["Body"]), 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.websocket("/twilio/media")
async def media() -> None:
    await websocket.accept()
    await websocket.send(CONNECTED)
    await websocket.close(1000)


app.asgi_app = TwilioSignatureMiddleware(app.asgi_app, paths=PATHS)
