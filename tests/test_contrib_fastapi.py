"""FastAPI integration: the TwilioSignature dependency on routes, routers and WebSockets."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, Form, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from twiliosig import Verdict, compute_signature
from twiliosig.contrib.fastapi import TwilioSignature
from twiliosig.testing import TwilioSigner

TOKEN = "fastapi-contrib-token-0123456789"
PARAMS = [("From", "+15005550006"), ("Body", "héllo"), ("MediaUrl0", "")]
signer = TwilioSigner(TOKEN)


def make_app(**options: object) -> tuple[FastAPI, list[str]]:
    twilio = TwilioSignature(auth_token=TOKEN, **options)
    app = FastAPI()
    calls: list[str] = []

    @app.post("/form")
    async def form_route(Body: str = Form(""), verdict: Verdict = Depends(twilio)) -> dict[str, str]:
        calls.append("form")
        return {"body": Body, "reason": verdict.reason.value}

    @app.post("/json")
    async def json_route(payload: dict[str, object], verdict: Verdict = Depends(twilio)) -> dict[str, object]:
        calls.append("json")
        return {"payload": payload, "reason": verdict.reason.value}

    @app.post("/raw")
    async def raw_route(request: Request, verdict: Verdict = Depends(twilio)) -> dict[str, object]:
        calls.append("raw")
        form = await request.form()
        return {
            "n": len(await request.body()),
            "body": form.get("Body"),
            "state": request.state.twiliosig_verdict.valid,
        }

    router = APIRouter(prefix="/twilio", dependencies=[Depends(twilio)])

    @router.post("/sms")
    async def sms(Body: str = Form("")) -> dict[str, str]:
        calls.append("sms")
        return {"body": Body}

    app.include_router(router)

    @app.websocket("/media")
    async def media(websocket: WebSocket, verdict: Verdict = Depends(twilio)) -> None:
        await websocket.accept()
        await websocket.send_text(verdict.reason.value)
        await websocket.close()

    return app, calls


@pytest.mark.parametrize("path", ["/form", "/raw", "/twilio/sms"])
def test_form_routes_genuine_and_forged(path: str) -> None:
    """Whether FastAPI parsed the form first or not, genuine passes and forged never runs the endpoint."""
    app, calls = make_app()
    client = TestClient(app)
    response = signer.post_form(client, path, PARAMS)
    assert response.status_code == 200, response.text
    assert "héllo" in response.text
    assert signer.post_form(client, path, PARAMS, forged=True).status_code == 403
    assert client.post(path, data={"Body": "x"}).status_code == 403
    assert len(calls) == 1


def test_json_route_checks_the_body_hash() -> None:
    """A JSON body is checked against bodySHA256, and the endpoint still parses it."""
    app, calls = make_app()
    client = TestClient(app)
    response = signer.post_json(client, "/json", {"event": "delivered"})
    assert response.json() == {"payload": {"event": "delivered"}, "reason": "valid"}
    target, body, headers = signer.json_request("http://testserver", "/json", {"event": "delivered"})
    assert client.post(target, content=body.replace(b"delivered", b"failed"), headers=headers).status_code == 403
    assert calls == ["json"]


def test_oversized_body_is_413() -> None:
    """max_body_size applies to the dependency too."""
    app, calls = make_app(max_body_size=100)
    assert signer.post_form(TestClient(app), "/raw", [("Body", "x" * 500)]).status_code == 413
    assert calls == []


def test_websocket_route() -> None:
    """A signed handshake reaches the endpoint; a forged one is denied before accept."""
    app, _ = make_app()
    client = TestClient(app)
    headers = {"X-Twilio-Signature": compute_signature(TOKEN, "wss://testserver/media")}
    with client.websocket_connect("/media", headers=headers) as websocket:
        assert websocket.receive_text() == "valid"
    with pytest.raises((WebSocketDisconnect, WebSocketDenialResponse)), client.websocket_connect("/media"):
        pass


def test_report_only_and_disabled() -> None:
    """report_only lets a forged request through with its verdict; enabled=False skips the check."""
    app, _ = make_app(report_only=True)
    response = signer.post_form(TestClient(app), "/form", PARAMS, forged=True)
    assert response.json()["reason"] == "signature_mismatch"
    app, _ = make_app(enabled=False)
    client = TestClient(app)
    assert client.post("/twilio/sms", data={"Body": "x"}).status_code == 200


def test_missing_token_fails_when_the_dependency_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token anywhere: building the dependency raises, at import or start-up."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        TwilioSignature()


def test_replay_guard_in_the_dependency() -> None:
    """The dependency refuses a replay with 409; an endpoint that raises releases the key."""
    from twiliosig.replay import MemoryReplayStore

    store = MemoryReplayStore()
    twilio = TwilioSignature(auth_token=TOKEN, replay_guard=store)
    app = FastAPI()

    @app.post("/sms", dependencies=[Depends(twilio)])
    async def sms() -> str:
        return "ok"

    @app.post("/boom", dependencies=[Depends(twilio)])
    async def boom() -> str:
        raise RuntimeError("down")

    client = TestClient(app, raise_server_exceptions=False)
    assert signer.post_form(client, "/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/sms", PARAMS).status_code == 409
    assert signer.post_form(client, "/boom", PARAMS).status_code == 500
    assert signer.post_form(client, "/boom", PARAMS).status_code == 500  # released after the exception
