"""A FastAPI app whose Twilio webhooks are protected by twiliosig.

Needs:  pip install 'twiliosig[fastapi]' python-multipart uvicorn   (Form() needs python-multipart)
Run:  TWILIO_AUTH_TOKEN=your_token python examples/fastapi_app.py   (listens on 127.0.0.1:$PORT, default 8000)
   or TWILIO_AUTH_TOKEN=your_token uvicorn examples.fastapi_app:app   (from the repository's root)
Try it without Twilio:
    twiliosig send messaging.inbound http://127.0.0.1:8000/twilio/sms
"""

from __future__ import annotations

import os
from xml.sax.saxutils import escape

from fastapi import FastAPI, Form, Request
from fastapi.responses import Response

from twiliosig.asgi import TwilioSignatureMiddleware

app = FastAPI()
app.add_middleware(TwilioSignatureMiddleware, paths=["/twilio/"], public_url=os.environ.get("PUBLIC_URL"))


@app.post("/twilio/sms")
async def incoming_sms(request: Request, Body: str = Form("")) -> Response:
    """Reply to an incoming SMS; the verdict says which URL form and secret matched."""
    verdict = request.state.twiliosig_verdict
    twiml = f"<Response><Message>You said: {escape(Body)} ({escape(verdict.reason.value)})</Message></Response>"
    return Response(twiml, media_type="text/xml")


@app.get("/health")
async def health() -> str:
    return "ok"


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
