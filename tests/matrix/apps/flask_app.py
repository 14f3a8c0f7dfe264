"""Flask: the WSGI middleware around ``app.wsgi_app``, so Flask's own app object stays the app."""

from flask import Flask, request

from tests.matrix.apps import PATHS, reply
from twiliosig.wsgi import TwilioSignatureMiddleware

app = Flask(__name__)


@app.post("/twilio/sms")
def sms() -> tuple[str, int, dict[str, str]]:
    return reply(request.form["Body"]), 200, {"Content-Type": "text/plain; charset=utf-8"}


app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, paths=PATHS)
