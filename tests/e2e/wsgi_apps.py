"""The Flask and Django apps the gunicorn end-to-end tests serve.

Each app records every request that reaches it (to the file named by
``E2E_LOG``) and answers with what it saw: the SHA-256 of the body and the form
pairs. One server carries three differently configured middlewares, chosen by
the first path segment, so one process covers the default, ``public_url`` and
``trust_forwarded`` set-ups.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any

from twiliosig.wsgi import TwilioSignatureMiddleware

TOKEN = "e2e-token-0123456789abcdef012345"
MAX_BODY = 64 * 1024


def record(body: bytes, pairs: list[tuple[str, str]], verdict: Any) -> bytes:
    seen = {
        "sha256": hashlib.sha256(body).hexdigest(),
        "form": pairs,
        "variant": getattr(verdict, "variant", None),
    }
    line = json.dumps(seen)
    with open(os.environ["E2E_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")
    return line.encode()


#: The three middleware set-ups one server carries, picked by the first path segment.
SETUPS: dict[str, dict[str, Any]] = {
    "plain": {},
    "proxied": {"public_url": "https://example.com/public"},
    "forwarded": {"trust_forwarded": True},
}
PROTECTED = ["/plain/", "/proxied/", "/forwarded/", "/ws/"]


def protected(app: Any) -> Any:
    """The app behind each of the SETUPS, picked by the first path segment."""
    wrapped = {
        name: TwilioSignatureMiddleware(app, auth_token=TOKEN, paths=PROTECTED, max_body_size=MAX_BODY, **extra)
        for name, extra in SETUPS.items()
    }

    def dispatch(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        first = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
        return wrapped.get(first, wrapped["plain"])(environ, start_response)

    return dispatch


def flask_app() -> Any:
    from flask import Flask, request

    app = Flask(__name__)

    @app.route("/<path:anything>", methods=["GET", "POST"])
    def everything(anything: str) -> tuple[bytes, int, dict[str, str]]:
        body = request.get_data(cache=True)
        pairs = list(request.form.items(multi=True))
        return record(body, pairs, request.environ.get("twiliosig.verdict")), 200, {"Content-Type": "application/json"}

    return protected(app.wsgi_app)


def django_app() -> Any:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="e2e-only-not-a-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        APPEND_SLASH=False,
        DATA_UPLOAD_MAX_MEMORY_SIZE=MAX_BODY * 2,
    )
    django.setup()
    from django.core.wsgi import get_wsgi_application

    return protected(get_wsgi_application())


def _django_view(request: Any) -> Any:
    from django.http import HttpResponse

    body = request.body
    pairs = [(name, value) for name, values in request.POST.lists() for value in values]
    return HttpResponse(record(body, pairs, request.META.get("twiliosig.verdict")), content_type="application/json")


def _urlpatterns() -> list[Any]:
    from django.urls import re_path
    from django.views.decorators.csrf import csrf_exempt

    return [re_path(r"^.*$", csrf_exempt(_django_view))]


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


flask = None
django = None
if os.environ.get("E2E_FRAMEWORK") == "flask":
    flask = flask_app()
elif os.environ.get("E2E_FRAMEWORK") == "django":
    django = django_app()
