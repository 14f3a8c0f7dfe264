"""Two twiliosig layers on one request (a middleware, and a decorator or dependency under it).

Both check the signature; only the outer one claims the replay key, so a genuine request
is not refused as its own replay by the inner one, and a real copy is still refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Form
from fastapi.testclient import TestClient
from flask import Flask

from twiliosig import Verdict
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.contrib.aws_lambda import twilio_required as lambda_required
from twiliosig.contrib.fastapi import TwilioSignature
from twiliosig.contrib.flask import twilio_required as flask_required
from twiliosig.replay import MemoryReplayStore
from twiliosig.testing import TwilioSigner
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "layers-test-token-0123456789abcd"
PARAMS = [("From", "+15005550006"), ("Body", "hello")]
signer = TwilioSigner(TOKEN)


def test_wsgi_middleware_over_the_flask_decorator() -> None:
    """The middleware claims the key; the decorator checks again but does not claim it twice."""
    store = MemoryReplayStore()
    app = Flask(__name__)
    calls: list[str] = []

    @app.post("/twilio/sms")
    @flask_required(auth_token=TOKEN, replay_guard=store)
    def sms() -> str:
        calls.append("sms")
        return "ok"

    app.wsgi_app = WsgiMiddleware(app.wsgi_app, auth_token=TOKEN, replay_guard=store)  # type: ignore[method-assign]
    client = app.test_client()
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 409
    assert calls == ["sms"]


def test_asgi_middleware_over_the_fastapi_dependency() -> None:
    """The same for the ASGI middleware and the FastAPI dependency sharing one store."""
    store = MemoryReplayStore()
    app = FastAPI()
    twilio = TwilioSignature(auth_token=TOKEN, replay_guard=store)
    calls: list[str] = []

    @app.post("/twilio/sms")
    async def sms(Body: str = Form(""), verdict: Verdict = Depends(twilio)) -> dict[str, str]:
        calls.append(Body)
        return {"reason": verdict.reason.value}

    app.add_middleware(AsgiMiddleware, auth_token=TOKEN, replay_guard=store)
    client = TestClient(app, base_url="https://testserver")
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 409
    assert calls == ["hello"]


def test_lambda_decorators_stacked() -> None:
    """Two decorated layers on one event: one claim, and a copy of the event is still a replay."""
    from tests.test_contrib_aws_lambda import API_DOMAIN, http_v2
    from tests.test_contrib_aws_lambda import PARAMS as LAMBDA_PARAMS
    from twiliosig import compute_signature

    store = MemoryReplayStore()
    calls: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append("handler")
        return {"statusCode": 200}

    stacked = lambda_required(handler, auth_token=TOKEN, replay_guard=store)
    outer = lambda_required(stacked, auth_token=TOKEN, replay_guard=store)
    signature = compute_signature(TOKEN, f"https://{API_DOMAIN}/twilio/sms", LAMBDA_PARAMS)
    assert outer(http_v2(signature), None)["statusCode"] == 200
    assert outer(http_v2(signature), None)["statusCode"] == 409
    assert calls == ["handler"]
