"""Falcon (WSGI): the WSGI middleware around ``falcon.App``."""

import falcon

from tests.matrix.apps import PATHS, reply
from twiliosig.wsgi import TwilioSignatureMiddleware


class Sms:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = reply(req.get_media()["Body"])


falcon_app = falcon.App()
falcon_app.add_route("/twilio/sms", Sms())
app = TwilioSignatureMiddleware(falcon_app, paths=PATHS)
