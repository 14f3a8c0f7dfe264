"""The WSGI entry point, wrapped so every /twilio/ request must be signed by Twilio."""

import os

from django.core.wsgi import get_wsgi_application

from twiliosig.wsgi import TwilioSignatureMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

application = TwilioSignatureMiddleware(
    get_wsgi_application(), paths=["/twilio/"], public_url=os.environ.get("PUBLIC_URL")
)
