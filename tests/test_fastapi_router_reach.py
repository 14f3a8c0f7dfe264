"""What ``APIRouter(route_class=twilio.route_class)`` reaches, and what the router's dependency adds.

FastAPI gives a router's ``route_class`` only to the HTTP routes that router
declares itself: a router included in it keeps its own class, and a WebSocket
route is not an ``APIRoute``. Both are served unchecked by the route class alone,
so docs/fastapi.md puts ``dependencies=[Depends(twilio)]`` beside it. These tests
hold FastAPI to that (if it ever gives included routes the parent's class, the
docs can say less) and the documented router to checking every route once.
"""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter, Depends, FastAPI, Form, Response, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from twiliosig import compute_signature
from twiliosig.contrib.fastapi import TwilioSignature

TOKEN = "router-reach-token-0123456789abc"
BASE = "http://testserver"
FORM = {"RecordingUrl": "https://api.twilio.com/r/RE1", "CallSid": "CA1"}


def build(*, with_dependency: bool) -> tuple[FastAPI, list[str]]:
    """The docs' router: a route of its own, a plain router included in it, a WebSocket route."""
    twilio = TwilioSignature(auth_token=TOKEN)
    ran: list[str] = []
    dependencies = [Depends(twilio)] if with_dependency else []
    router = APIRouter(prefix="/twilio", route_class=twilio.route_class, dependencies=dependencies)
    recordings = APIRouter()

    @router.post("/sms")
    async def sms(Body: str = Form("")) -> Response:
        ran.append("sms")
        return Response("<Response/>", media_type="text/xml")

    @recordings.post("/recordings")
    async def recording(RecordingUrl: str = Form("")) -> Response:
        ran.append("recordings")
        return Response("<Response/>", media_type="text/xml")

    @router.websocket("/media")
    async def media(websocket: WebSocket) -> None:
        ran.append("media")
        await websocket.accept()
        await websocket.close()

    router.include_router(recordings)
    app = FastAPI()
    app.include_router(router)
    return app, ran


def handshake(client: TestClient, signature: str | None) -> bool:
    """Whether the handshake to /twilio/media was accepted."""
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    try:
        with client.websocket_connect("/twilio/media", headers=headers):
            return True
    except WebSocketDisconnect:
        return False


def test_route_class_alone_does_not_reach_an_included_router_or_a_websocket_route() -> None:
    """FastAPI's rule the docs rest on: the included router's route and the WebSocket run unsigned."""
    app, ran = build(with_dependency=False)
    client = TestClient(app)
    assert client.post("/twilio/sms", data={"Body": "hi"}).status_code == 403
    assert client.post("/twilio/recordings", data=FORM).status_code == 200
    assert handshake(client, None)
    assert ran == ["recordings", "media"]


def test_the_routers_dependency_checks_what_the_route_class_does_not_reach(caplog: pytest.LogCaptureFixture) -> None:
    """The documented router: every route refuses forged requests, takes genuine ones, and is judged once."""
    app, ran = build(with_dependency=True)
    client = TestClient(app)
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        forged = compute_signature("forged-" + TOKEN, f"{BASE}/twilio/sms", {"Body": "hi"})
        refused = client.post("/twilio/sms", data={"Body": "hi"}, headers={"X-Twilio-Signature": forged})
    assert refused.status_code == 403
    refusals = [record for record in caplog.records if "refused" in record.getMessage()]
    assert len(refusals) == 1, refusals  # the route class judged it; the dependency did not judge again
    assert client.post("/twilio/recordings", data=FORM).status_code == 403
    forged = compute_signature("forged-" + TOKEN, f"{BASE}/twilio/recordings", FORM)
    assert client.post("/twilio/recordings", data=FORM, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert not handshake(client, None)
    assert not handshake(client, compute_signature("forged-" + TOKEN, "ws://testserver/twilio/media"))
    assert ran == []

    genuine = {"X-Twilio-Signature": compute_signature(TOKEN, f"{BASE}/twilio/sms", {"Body": "hi"})}
    assert client.post("/twilio/sms", data={"Body": "hi"}, headers=genuine).status_code == 200
    genuine = {"X-Twilio-Signature": compute_signature(TOKEN, f"{BASE}/twilio/recordings", FORM)}
    assert client.post("/twilio/recordings", data=FORM, headers=genuine).status_code == 200
    assert handshake(client, compute_signature(TOKEN, "wss://testserver/twilio/media"))
    assert ran == ["sms", "recordings", "media"]
