"""Bottle: the WSGI middleware around the Bottle app, which is a WSGI callable."""

import bottle

from tests.matrix.apps import PATHS, reply
from twiliosig.wsgi import TwilioSignatureMiddleware

bottle_app = bottle.Bottle()


@bottle_app.post("/twilio/sms")
def sms() -> str:
    bottle.response.content_type = "text/plain; charset=utf-8"
    # Bottle decodes form values as latin-1; getunicode reads them as the UTF-8 Twilio sends.
    return reply(bottle.request.forms.getunicode("Body"))


app = TwilioSignatureMiddleware(bottle_app, paths=PATHS)
