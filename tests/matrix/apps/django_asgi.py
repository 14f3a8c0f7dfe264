"""Django (ASGI): the ASGI middleware around ``get_asgi_application()``, as in a project's asgi.py.

Django alone serves no WebSockets (Channels does), so this pair has none.
"""

from django.core.asgi import get_asgi_application

from tests.matrix.apps import PATHS, django_site  # noqa: F401 (configures the settings)
from twiliosig.asgi import TwilioSignatureMiddleware

application = TwilioSignatureMiddleware(get_asgi_application(), paths=PATHS)
