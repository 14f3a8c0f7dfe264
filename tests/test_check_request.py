"""The verdict without a decorator, in Django and Flask: ``check_request`` takes options, never the private guard.

``check_request`` is for a view that answers a refusal its own way; it reads the
same settings or config as the middleware and decorator, with keyword overrides.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.test import RequestFactory
from flask import Flask

from tests.django_site import TOKEN as DJANGO_TOKEN
from twiliosig.contrib import django as tdjango
from twiliosig.contrib import flask as tflask
from twiliosig.testing import TwilioSigner

PARAMS = [("From", "+15005550006"), ("Body", "hi")]
FLASK_TOKEN = "flask-check-token-0123456789abcd"


def _django_request(token: str, host: str = "testserver") -> HttpRequest:
    target, body, headers = TwilioSigner(token).form_request(f"http://{host}", "/sms", PARAMS)
    return RequestFactory().post(
        target,
        data=body,
        content_type=headers.pop("Content-Type"),
        headers=headers,
        HTTP_HOST=host,
    )


def test_django_check_request_reads_the_settings() -> None:
    """A genuine request: a valid verdict from settings.TWILIOSIG's token; a forged one: a refusing verdict."""
    assert tdjango.check_request(_django_request(DJANGO_TOKEN)).valid
    verdict = tdjango.check_request(_django_request("someone-else"))
    assert not verdict
    assert verdict.reason.value == "signature_mismatch"


def test_django_check_request_takes_overrides() -> None:
    """Keyword options win over the settings; an unknown one is ImproperlyConfigured, as in the middleware."""
    other = "another-django-token-0123456789ab"
    assert tdjango.check_request(_django_request(other), auth_token=other).valid
    with pytest.raises(ImproperlyConfigured):
        tdjango.check_request(_django_request(other), auth_tokne=other)  # type: ignore[call-arg]


def test_flask_check_request_reads_the_config_and_overrides() -> None:
    """The app's TWILIO_AUTH_TOKEN signs; an override wins; the verdict says why."""
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = FLASK_TOKEN
    other = "another-flask-token-0123456789ab"
    seen: list[tuple[bool, bool]] = []

    @app.post("/sms")
    def sms() -> str:
        seen.append((tflask.check_request().valid, tflask.check_request(auth_token=other).valid))
        return ""

    client = app.test_client()
    TwilioSigner(FLASK_TOKEN).post_form(client, "/sms", PARAMS)
    TwilioSigner(other).post_form(client, "/sms", PARAMS)
    assert seen == [(True, False), (False, True)]


def test_the_guard_builders_are_private() -> None:
    """guard_from_settings and guard_from_config returned the private guard: they are no longer public."""
    assert "guard_from_settings" not in tdjango.__all__
    assert not hasattr(tdjango, "guard_from_settings")
    assert "guard_from_config" not in tflask.__all__
    assert not hasattr(tflask, "guard_from_config")
