"""A Django site where something reads the body before twiliosig does, served by gunicorn.

For the chunked-body attacks (tests/attacks/test_django_streams.py): a body sent
chunked has no Content-Length, which Django reads as empty, so twiliosig reads the
server's stream itself and hands Django the bytes it checked. Here an earlier
middleware (``STACK_EARLY``: ``body``, ``post`` or ``read``) has already read the body
Django's way, the middleware is in ``MIDDLEWARE`` and the decorator sits on
``/twilio/decorated/...`` under it (``/twilio/open/...`` is CSRF-exempt), and
``STACK_REPORT_ONLY=1`` lets refusals through with a small ``max_body_size``. Each
view answers with what it saw.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import django
from django.conf import settings

TOKEN = "stacked-token-0123456789abcdef0123"
#: The limit under STACK_REPORT_ONLY: small, so a short chunked body overflows it.
REPORT_ONLY_LIMIT = 16


class EarlyReader:
    """A middleware before twiliosig's that reads the body Django's way (a logger, a tracing tool)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        how = os.environ.get("STACK_EARLY", "post")
        if how == "body":
            request.early = len(request.body)
        elif how == "post":
            request.early = len(request.POST)
        elif how == "read":
            request.early = len(request.read())
        return self.get_response(request)


def seen(request: Any, rest: str = "") -> Any:
    from django.http import HttpResponse

    body = request.body
    form = [[name, value] for name, values in request.POST.lists() for value in values]
    verdict = getattr(request, "twiliosig_verdict", None)
    answer = {
        "sha256": hashlib.sha256(body).hexdigest(),
        "length": len(body),
        "form": form,
        "reason": getattr(getattr(verdict, "reason", None), "value", None),
    }
    return HttpResponse(json.dumps(answer), content_type="application/json")


def _urlpatterns() -> list[Any]:
    from django.urls import re_path
    from django.views.decorators.csrf import csrf_exempt

    from twiliosig.contrib.django import twilio_required

    return [
        re_path(r"^twilio/decorated/(?P<rest>.*)$", twilio_required(seen)),
        # CSRF-exempt: what report-only lets through unsigned still reaches the view.
        re_path(r"^twilio/open/(?P<rest>.*)$", csrf_exempt(seen)),
        re_path(r"^twilio/(?P<rest>.*)$", seen),
    ]


def build() -> Any:
    options: dict[str, Any] = {"auth_token": TOKEN, "paths": ["/twilio/"]}
    if os.environ.get("STACK_REPORT_ONLY"):
        options |= {"report_only": True, "max_body_size": REPORT_ONLY_LIMIT}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="attack-tests-only-not-a-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            f"{__name__}.EarlyReader",
            "twiliosig.contrib.django.TwilioSignatureMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        INSTALLED_APPS=[],
        TWILIOSIG=options,
    )
    django.setup()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


app = build() if os.environ.get("STACK_EARLY") else None
