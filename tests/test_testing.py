"""The test helpers sign requests that every common test client delivers as genuine."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from tests.django_site import TOKEN as DJANGO_TOKEN
from twiliosig import RequestValidator, body_sha256, compute_signature
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.testing import TwilioSigner, client_base_url, signed_headers, with_body_hash
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "helpers-test-token-0123456789abc"
PARAMS = [("From", "+15005550006"), ("Body", "héllo"), ("MediaUrl0", ""), ("Tag", "b"), ("Tag", "a")]


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.post("/twilio/<path:rest>")
    def hook(rest: str) -> str:
        return request.environ["twiliosig.verdict"].reason.value

    app.wsgi_app = WsgiMiddleware(app.wsgi_app, auth_token=TOKEN)  # type: ignore[method-assign]
    return app


def starlette_app() -> Any:
    async def hook(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.twiliosig_verdict.reason.value)

    return AsgiMiddleware(Starlette(routes=[Route("/twilio/{rest:path}", hook, methods=["POST"])]), auth_token=TOKEN)


def test_signed_headers_and_body_hash() -> None:
    """signed_headers is compute_signature in a header; shared keys add the settings header."""
    url = "https://example.com/twilio/sms"
    assert signed_headers(url, PARAMS, auth_token=TOKEN) == {
        "X-Twilio-Signature": compute_signature(TOKEN, url, PARAMS)
    }
    shared = signed_headers(url, PARAMS, auth_token="k", algorithm="HMAC_SHA256", shared_key_id="webhooks_sharedkey_1")
    assert shared["X-Twilio-Webhooks-Signature-Settings"] == "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    assert with_body_hash("https://x/h?a=1", b"{}") == f"https://x/h?a=1&bodySHA256={body_sha256(b'{}')}"


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without auth_token the signer reads TWILIO_AUTH_TOKEN, and says so when it is missing."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        TwilioSigner()
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    assert TwilioSigner().auth_token == TOKEN


@pytest.mark.parametrize(
    ("client", "base"),
    [
        pytest.param(lambda: flask_app().test_client(), "http://localhost", id="flask"),
        pytest.param(lambda: Client(flask_app()), "http://localhost", id="werkzeug"),
        pytest.param(lambda: TestClient(starlette_app()), "http://testserver", id="starlette"),
        pytest.param(
            lambda: TestClient(starlette_app(), base_url="https://hooks.example"),
            "https://hooks.example",
            id="starlette-base-url",
        ),
        pytest.param(
            lambda: httpx.Client(transport=httpx.WSGITransport(app=flask_app()), base_url="https://a.example:8443"),
            "https://a.example:8443",
            id="httpx-wsgi",
        ),
    ],
)
def test_every_client_delivers_signed_forms_and_json(client: Any, base: str) -> None:
    """Form and JSON posts are genuine through each client; forged ones are refused."""
    client = client()
    assert client_base_url(client) == base
    signer = TwilioSigner(TOKEN)
    genuine = signer.post_form(client, "/twilio/sms?x=1", PARAMS)
    assert genuine.status_code == 200
    assert genuine.text == "valid"
    assert signer.post_json(client, "/twilio/events", [{"type": "ping", "data": {"n": "é"}}]).status_code == 200
    assert signer.post_form(client, "/twilio/sms", PARAMS, forged=True).status_code == 403
    assert signer.post_json(client, "/twilio/events", {"a": 1}, forged=True).status_code == 403


def test_django_client() -> None:
    """Django's test Client presents http://testserver (https with secure=True)."""
    from django.test import Client as DjangoClient

    client = DjangoClient()
    signer = TwilioSigner(DJANGO_TOKEN)
    assert client_base_url(client) == "http://testserver"
    assert signer.post_form(client, "/manual/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/manual/sms", PARAMS, secure=True).status_code == 200
    assert signer.post_json(client, "/manual/events", {"a": [1, 2]}).status_code == 200
    assert signer.post_form(client, "/manual/sms", PARAMS, forged=True).status_code == 403
    hosted = DjangoClient(HTTP_HOST="hooks.example.com")
    assert client_base_url(hosted) == "http://hooks.example.com"
    assert signer.post_form(hosted, "/manual/sms", PARAMS).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_httpx_async_client(anyio_backend: str) -> None:
    """apost_form and apost_json sign for an httpx.AsyncClient."""
    signer = TwilioSigner(TOKEN)
    transport = httpx.ASGITransport(app=starlette_app())
    async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as client:
        assert (await signer.apost_form(client, "/twilio/sms", PARAMS)).status_code == 200
        assert (await signer.apost_json(client, "/twilio/events", {"a": 1})).status_code == 200
        assert (await signer.apost_form(client, "/twilio/sms", PARAMS, forged=True)).status_code == 403


def test_pytest_fixture_sets_the_environment(twilio_signer: TwilioSigner, twilio_auth_token: str) -> None:
    """The plugin's twilio_signer signs with twilio_auth_token, which is TWILIO_AUTH_TOKEN for the test."""
    import os

    assert os.environ["TWILIO_AUTH_TOKEN"] == twilio_auth_token == twilio_signer.auth_token
    app = Flask(__name__)
    app.add_url_rule("/twilio/sms", "sms", lambda: "ok", methods=["POST"])
    app.wsgi_app = WsgiMiddleware(app.wsgi_app)  # type: ignore[method-assign]  # token from the environment
    assert twilio_signer.post_form(app.test_client(), "/twilio/sms", PARAMS).status_code == 200


def test_signer_matches_the_twilio_package() -> None:
    """The helper's signature is the one the official validator accepts."""
    from werkzeug.datastructures import MultiDict

    from tests.oracle import TwilioValidator

    url = "https://example.com/twilio/sms"
    headers = TwilioSigner(TOKEN).headers(url, PARAMS)
    assert TwilioValidator(TOKEN).validate(url, MultiDict(PARAMS), headers["X-Twilio-Signature"])
    assert RequestValidator(TOKEN).validate(url, PARAMS, headers["X-Twilio-Signature"])
