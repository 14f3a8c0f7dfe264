"""A bare ASGI app behind twiliosig's ASGI middleware, with one WebSocket route, for every ASGI server.

The route accepts, sends ``APP-SECRET`` and closes; each time the app sees a
handshake it appends a line to ``ATTACK_CALLS``. ``WS_BASIC=1`` adds Basic
credentials (``user``/``pass``) to the options, so a refusal is 401.
"""

from __future__ import annotations

import os
from typing import Any

from twiliosig.asgi import TwilioSignatureMiddleware

TOKEN = "websocket-token-0123456789abcdef01"
SECRET_MESSAGE = "APP-SECRET"


async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        with open(os.environ["ATTACK_CALLS"], "a", encoding="utf-8") as calls:
            calls.write(scope["path"] + "\n")
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": SECRET_MESSAGE})
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


options: dict[str, Any] = {"auth_token": TOKEN, "paths": ["/twilio/"]}
if os.environ.get("WS_BASIC"):
    options["basic_auth"] = {"user": "pass"}
app = TwilioSignatureMiddleware(inner, **options)
