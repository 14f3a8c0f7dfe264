"""Django (WSGI): the WSGI middleware around ``get_wsgi_application()``, as in a project's wsgi.py."""

from django.core.wsgi import get_wsgi_application

from tests.matrix.apps import PATHS, django_site  # noqa: F401 (configures the settings)
from twiliosig.wsgi import TwilioSignatureMiddleware

application = TwilioSignatureMiddleware(get_wsgi_application(), paths=PATHS)
