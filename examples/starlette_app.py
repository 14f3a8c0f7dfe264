"""A Starlette app whose Twilio webhooks are protected by twiliosig.

Run:  TWILIO_AUTH_TOKEN=your_token python examples/starlette_app.py   (listens on 127.0.0.1:$PORT, default 8000)
"""

from __future__ import annotations

import os
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from twiliosig.asgi import TwilioSignatureMiddleware


async def incoming_call(request: Request) -> Response:
    """Answer a voice call with a spoken greeting to the caller's city."""
    form = await request.form()
    city = str(form.get("FromCity", "somewhere"))
    twiml = f"<Response><Say>Hello, caller from {escape(city.title())}.</Say></Response>"
    return Response(twiml, media_type="text/xml")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/twilio/voice", incoming_call, methods=["POST"]), Route("/health", health)],
    middleware=[
        Middleware(TwilioSignatureMiddleware, paths=["/twilio/"], public_url=os.environ.get("PUBLIC_URL")),
    ],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
