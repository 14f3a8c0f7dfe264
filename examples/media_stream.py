"""Twilio Media Streams over a WebSocket, with the handshake's signature checked.

A call hits POST /twilio/voice, which answers with TwiML that connects the call's audio
to wss://<host>/twilio/media. Twilio signs that WebSocket handshake too (over the wss://
URL, no parameters); the middleware refuses a forged one before the endpoint accepts it.

Needs:  pip install starlette 'uvicorn[standard]'   (plain uvicorn has no WebSocket library:
        it passes the handshake on as an HTTP GET, which is refused with 403)
Run:    TWILIO_AUTH_TOKEN=your_token PUBLIC_URL=https://your.host python examples/media_stream.py
        (listens on 127.0.0.1:$PORT, default 8000)
Try it without Twilio, signing for the public address while sending to this one:
    twiliosig send media-streams ws://127.0.0.1:8000/twilio/media --public-url https://your.host
"""

from __future__ import annotations

import json
import os
from xml.sax.saxutils import quoteattr

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from twiliosig.asgi import TwilioSignatureMiddleware

PUBLIC_URL = os.environ.get("PUBLIC_URL")


async def voice(request: Request) -> Response:
    """Connect the call's audio to our media WebSocket."""
    host = PUBLIC_URL.split("://", 1)[1] if PUBLIC_URL else request.headers["host"]
    stream = f"wss://{host}/twilio/media"
    twiml = f"<Response><Connect><Stream url={quoteattr(stream)}/></Connect></Response>"
    return Response(twiml, media_type="text/xml")


async def media(websocket: WebSocket) -> None:
    """Count the audio frames of one stream; only a genuine Twilio handshake gets here."""
    await websocket.accept()
    frames = 0
    try:
        while True:
            event = json.loads(await websocket.receive_text())
            if event.get("event") == "media":
                frames += 1
            elif event.get("event") == "stop":
                break
    except WebSocketDisconnect:
        return
    await websocket.send_text(json.dumps({"frames": frames}))
    await websocket.close()


app = Starlette(
    routes=[Route("/twilio/voice", voice, methods=["POST"]), WebSocketRoute("/twilio/media", media)],
    middleware=[Middleware(TwilioSignatureMiddleware, paths=["/twilio/"], public_url=PUBLIC_URL)],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
