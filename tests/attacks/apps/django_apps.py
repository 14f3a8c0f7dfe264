"""A Django site behind the twiliosig middleware (``TWILIOSIG`` settings) or the view decorator.

``ATTACK_ADAPTER`` is ``django-middleware`` (``TwilioSignatureMiddleware`` in
``MIDDLEWARE``, before ``CsrfViewMiddleware``, ``TWILIOSIG = {"paths": [...]}``)
or ``django-decorator`` (``@twilio_required`` on the catch-all; the options in
``TWILIOSIG``). The catch-all under ``/twilio/`` is not CSRF-exempt with the
middleware (a genuine request is exempted by it); ``/status`` and
``/admin/<path>`` are unprotected, CSRF-exempt API views.
"""

from __future__ import annotations

import functools
from typing import Any

from tests.attacks.apps.common import ADAPTER, configure_logging, event_status, guard_options, record, should_raise


def _pairs(querydict: Any) -> list[tuple[str, str]]:
    return [(name, value) for name, values in querydict.lists() for value in values]


def _seen(request: Any, route: str) -> bytes:
    body = request.body
    verdict = getattr(request, "twiliosig_verdict", None)
    try:
        form = _pairs(request.POST)
    except Exception as error:  # the view ran all the same: say so, and what the framework made of the body
        form = [("<unreadable form>", repr(error))]
    return record(route, request.method, request.path_info, body, form, _pairs(request.GET), verdict)


def twilio(request: Any, event: str) -> Any:
    from django.http import HttpResponse

    seen = _seen(request, "twilio")
    if should_raise(event):
        raise RuntimeError("the view failed")
    return HttpResponse(seen, status=event_status(event), content_type="application/json")


def status(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(_seen(request, "status"), content_type="application/json")


def admin(request: Any, rest: str) -> Any:
    from django.http import HttpResponse

    return HttpResponse(_seen(request, "admin"), content_type="application/json")


@functools.cache
def _urlpatterns() -> list[Any]:
    from django.urls import path, re_path
    from django.views.decorators.csrf import csrf_exempt

    view = twilio
    if ADAPTER == "django-decorator":
        from twiliosig.contrib.django import twilio_required

        view = twilio_required(twilio)
    return [
        re_path(r"^twilio/(?P<event>.+)$", view),
        path("status", csrf_exempt(status)),
        re_path(r"^admin/(?P<rest>.*)$", csrf_exempt(admin)),
    ]


def build() -> Any:
    import django
    from django.conf import settings

    middleware = [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ]
    if ADAPTER == "django-middleware":
        middleware.insert(2, "twiliosig.contrib.django.TwilioSignatureMiddleware")
        twiliosig = guard_options(paths=True)
    elif ADAPTER == "django-decorator":
        twiliosig = guard_options(paths=False)
    else:
        raise ValueError(f"not a Django adapter: {ADAPTER!r}")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="attack-tests-only-not-a-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=middleware,
        INSTALLED_APPS=[],
        APPEND_SLASH=False,
        USE_TZ=True,
        TWILIOSIG=twiliosig,
        DATA_UPLOAD_MAX_MEMORY_SIZE=4 * 1024 * 1024,
    )
    django.setup()
    configure_logging()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


app = build() if ADAPTER.startswith("django") else None
