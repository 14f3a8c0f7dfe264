"""FastAPI: the ASGI middleware added with ``app.add_middleware``."""

from typing import Annotated

from fastapi import FastAPI, Form, WebSocket
from fastapi.responses import PlainTextResponse

from tests.matrix.apps import CONNECTED, PATHS, reply
from twiliosig.asgi import TwilioSignatureMiddleware

app = FastAPI()
app.add_middleware(TwilioSignatureMiddleware, paths=PATHS)


@app.post("/twilio/sms", response_class=PlainTextResponse)
async def sms(Body: Annotated[str, Form()]) -> str:  # Twilio's parameter name
    return reply(Body)


@app.websocket("/twilio/media")
async def media(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(CONNECTED)
    await websocket.close()
