"""enabled=False lets everything through, and still leaves the verdict where views read it."""

from __future__ import annotations

from typing import Any

import pytest

from twiliosig import Reason
from twiliosig._guard import NOT_CHECKED

OPTIONS: dict[str, Any] = {"auth_token": "disabled-test-token-0123456789ab", "enabled": False}


def test_wsgi_middleware_leaves_the_verdict_in_the_environ() -> None:
    """environ["twiliosig.verdict"] is there, saying not checked, for an unsigned request."""
    from werkzeug.test import Client
    from werkzeug.wrappers import Request, Response

    from twiliosig.wsgi import TwilioSignatureMiddleware

    @Request.application
    def app(request: Request) -> Response:
        return Response(request.environ["twiliosig.verdict"].reason.value)

    response = Client(TwilioSignatureMiddleware(app, **OPTIONS)).post("/twilio/sms", data={"Body": "hi"})
    assert (response.status_code, response.text) == (200, "not_checked")


def test_asgi_middleware_leaves_the_verdict_in_the_state() -> None:
    """request.state.twiliosig_verdict is there too."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from twiliosig.asgi import TwilioSignatureMiddleware

    async def sms(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.twiliosig_verdict.reason.value)

    app = TwilioSignatureMiddleware(Starlette(routes=[Route("/twilio/sms", sms, methods=["POST"])]), **OPTIONS)
    response = TestClient(app).post("/twilio/sms", data={"Body": "hi"})
    assert (response.status_code, response.text) == (200, "not_checked")


def test_flask_decorator_leaves_the_verdict_on_g() -> None:
    """g.twiliosig_verdict is there for the view (it was missing, and the view failed with a 500)."""
    from flask import Flask, g

    from twiliosig.contrib.flask import twilio_required

    app = Flask(__name__)

    @app.post("/twilio/sms")
    @twilio_required(**OPTIONS)
    def sms() -> str:
        return str(g.twiliosig_verdict.reason.value)

    response = app.test_client().post("/twilio/sms", data={"Body": "hi"})
    assert (response.status_code, response.text) == (200, "not_checked")


def test_django_middleware_keeps_the_csrf_exemption() -> None:
    """A webhook view behind the disabled middleware still gets through CSRF, with its verdict."""
    from django.test import Client, override_settings

    middleware = [
        "twiliosig.contrib.django.TwilioSignatureMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ]
    with override_settings(MIDDLEWARE=middleware, TWILIOSIG={**OPTIONS, "paths": ["/mw/"]}):
        response = Client(enforce_csrf_checks=True).post("/mw/sms", {"Body": "hi"})
    assert response.status_code == 200
    assert response.json()["reason"] == "not_checked"


def test_fastapi_dependency_returns_the_verdict() -> None:
    """The dependency gives the endpoint a verdict, not None."""
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from twiliosig import Verdict
    from twiliosig.contrib.fastapi import TwilioSignature

    app = FastAPI()
    twilio = TwilioSignature(**OPTIONS)

    @app.post("/twilio/sms")
    async def sms(verdict: Verdict = Depends(twilio)) -> str:
        return verdict.reason.value

    response = TestClient(app).post("/twilio/sms", data={"Body": "hi"})
    assert (response.status_code, response.json()) == (200, "not_checked")


def test_lambda_decorator_leaves_the_verdict_in_the_event() -> None:
    """event["twiliosig_verdict"] is there for the handler."""
    from twiliosig.contrib.aws_lambda import twilio_required

    handler = twilio_required(
        lambda event, context: {"statusCode": 200, "body": event["twiliosig_verdict"].reason}, **OPTIONS
    )
    event = {
        "version": "2.0",
        "rawPath": "/twilio/sms",
        "rawQueryString": "",
        "headers": {"host": "example.com"},
        "requestContext": {"domainName": "example.com", "http": {"method": "POST"}},
        "body": "Body=hi",
    }
    assert handler(event, None) == {"statusCode": 200, "body": Reason.NOT_CHECKED}


@pytest.mark.parametrize("attribute", ["valid", "reason"])
def test_the_not_checked_verdict_lets_through_and_says_why(attribute: str) -> None:
    """Truthy, so code that checks the verdict keeps running in development; its reason says it was not checked."""
    assert bool(NOT_CHECKED)
    assert getattr(NOT_CHECKED, attribute) == {"valid": True, "reason": Reason.NOT_CHECKED}[attribute]
