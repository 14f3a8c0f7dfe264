"""A Flask app whose Twilio webhooks are protected by twiliosig.

Run:  TWILIO_AUTH_TOKEN=your_token python examples/flask_app.py   (listens on 127.0.0.1:$PORT, default 5000)
Then point a Twilio number's "A message comes in" webhook at https://<your host>/twilio/sms.
Behind a tunnel or TLS proxy (ngrok http 5000, say), also set PUBLIC_URL=https://<your host>:
the app sees http://127.0.0.1:5000, and Twilio signed the public address.
Try it without Twilio:
    twiliosig send messaging.inbound http://127.0.0.1:5000/twilio/sms
"""

from __future__ import annotations

import os
from xml.sax.saxutils import escape

from flask import Flask, request

from twiliosig.wsgi import TwilioSignatureMiddleware

app = Flask(__name__)


@app.post("/twilio/sms")
def incoming_sms() -> tuple[str, int, dict[str, str]]:
    """Reply to an incoming SMS; only genuine Twilio requests get this far."""
    body = request.form.get("Body", "")
    twiml = f"<Response><Message>You said: {escape(body)}</Message></Response>"
    return twiml, 200, {"Content-Type": "text/xml"}


@app.get("/health")
def health() -> str:
    """Not under /twilio/, so not protected."""
    return "ok"


# Every path under /twilio/ must carry a genuine X-Twilio-Signature. Behind a TLS proxy,
# add public_url="https://your.public.host" so the URL matches the one Twilio signed.
app.wsgi_app = TwilioSignatureMiddleware(  # type: ignore[method-assign]
    app.wsgi_app, paths=["/twilio/"], public_url=os.environ.get("PUBLIC_URL")
)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
