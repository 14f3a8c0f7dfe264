"""Falcon (ASGI): the ASGI middleware around ``falcon.asgi.App``, WebSockets included."""

import falcon
import falcon.asgi

from tests.matrix.apps import CONNECTED, PATHS, reply
from twiliosig.asgi import TwilioSignatureMiddleware


class Sms:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = reply((await req.get_media())["Body"])


class Media:
    async def on_websocket(self, req: falcon.asgi.Request, ws: falcon.asgi.WebSocket) -> None:
        await ws.accept()
        await ws.send_text(CONNECTED)
        await ws.close()


falcon_app = falcon.asgi.App()
falcon_app.add_route("/twilio/sms", Sms())
falcon_app.add_route("/twilio/media", Media())
app = TwilioSignatureMiddleware(falcon_app, paths=PATHS)
