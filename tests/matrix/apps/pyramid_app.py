"""Pyramid: the WSGI middleware around the app ``Configurator.make_wsgi_app`` builds."""

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from tests.matrix.apps import PATHS, reply
from twiliosig.wsgi import TwilioSignatureMiddleware


def sms(request: Request) -> Response:
    return Response(text=reply(request.POST["Body"]), content_type="text/plain", charset="utf-8")


with Configurator() as config:
    config.add_route("sms", "/twilio/sms")
    config.add_view(sms, route_name="sms", request_method="POST")
    pyramid_app = config.make_wsgi_app()

app = TwilioSignatureMiddleware(pyramid_app, paths=PATHS)
