"""FastAPI integration: the TwilioSignature dependency on routes, routers and WebSockets, and its route class."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response, WebSocket
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


def dependency_store_app() -> FastAPI:
    """Routes protected by the dependency alone, with a replay store: /sms and /voice answer, /boom raises."""
    from twiliosig.replay import MemoryReplayStore

    twilio = TwilioSignature(auth_token=TOKEN, replay_guard=MemoryReplayStore())
    app = FastAPI()

    @app.post("/sms", dependencies=[Depends(twilio)])
    async def sms() -> str:
        return "ok"

    @app.post("/voice", dependencies=[Depends(twilio)])
    async def voice() -> str:
        return "ok"

    @app.post("/boom", dependencies=[Depends(twilio)])
    async def boom() -> str:
        raise RuntimeError("down")

    return app


def test_replay_guard_in_the_dependency() -> None:
    """The dependency refuses a replay with 409; an endpoint that raises releases the key."""
    app = dependency_store_app()
    client = TestClient(app, raise_server_exceptions=False)
    assert signer.post_form(client, "/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/sms", PARAMS).status_code == 409
    assert signer.post_form(client, "/boom", PARAMS).status_code == 500
    assert signer.post_form(client, "/boom", PARAMS).status_code == 500  # released after the exception


def test_a_dependency_holding_a_claim_says_once_per_route_it_cannot_see_a_returned_5xx(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The dependency keeps a claim after a returned 5xx (FastAPI shows it no response): it says so, and what to use."""
    app = dependency_store_app()
    client = TestClient(app)
    with caplog.at_level("WARNING", logger="twiliosig"):
        for route in ("/sms", "/sms", "/voice"):
            signer.post_form(client, route, PARAMS)
            signer.post_form(client, route, [*PARAMS, ("CallSid", route)])
    warnings = [record.getMessage() for record in caplog.records if "cannot see the status" in record.getMessage()]
    assert [message.split(" requests to ")[1].split(" ")[0] for message in warnings] == ["/sms", "/voice"]
    assert "route_class=twilio.route_class" in warnings[0]


def test_a_dependency_behind_the_route_class_or_without_a_store_says_nothing_of_claims(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from twiliosig.replay import MemoryReplayStore

    app, _, _ = route_class_app(replay_guard=MemoryReplayStore())
    plain, _ = make_app()
    with caplog.at_level("WARNING", logger="twiliosig"):
        assert signer.post_form(TestClient(app), "/twilio/typed", PARAMS).status_code == 200
        assert signer.post_form(TestClient(plain), "/raw", PARAMS).status_code == 200
    assert not [record for record in caplog.records if "cannot see the status" in record.getMessage()]


# --- the route class: the head checked before FastAPI reads a Form() route's body -----------------


def route_class_app(**options: object) -> tuple[FastAPI, TwilioSignature, list[str]]:
    twilio = TwilioSignature(auth_token=TOKEN, **options)
    app = FastAPI()
    calls: list[str] = []
    router = APIRouter(prefix="/twilio", route_class=twilio.route_class)

    @router.post("/sms")
    async def sms(request: Request, Body: str = Form(""), From: str = Form("")) -> dict[str, object]:
        calls.append("sms")
        return {"body": Body, "from": From, "reason": request.state.twiliosig_verdict.reason.value}

    @router.post("/typed")
    async def typed(Body: str = Form(""), verdict: Verdict = Depends(twilio)) -> dict[str, str]:
        calls.append("typed")
        return {"body": Body, "reason": verdict.reason.value}

    @router.post("/fail")
    async def fail(Body: str = Form("")) -> Response:
        calls.append("fail")
        return Response("down", status_code=503)

    app.include_router(router)
    return app, twilio, calls


def test_route_class_refuses_forged_and_passes_genuine_form_fields() -> None:
    """A Form() route of the route class: genuine fields parsed by FastAPI; unsigned and forged never run it."""
    app, _, calls = route_class_app()
    client = TestClient(app)
    response = signer.post_form(client, "/twilio/sms", PARAMS)
    assert response.status_code == 200, response.text
    assert response.json() == {"body": "héllo", "from": "+15005550006", "reason": "valid"}
    forged = signer.post_form(client, "/twilio/sms", PARAMS, forged=True)
    assert (forged.status_code, forged.text, forged.headers["content-type"]) == (
        403,
        "Forbidden\n",
        "text/plain; charset=utf-8",
    )
    assert client.post("/twilio/sms", data={"Body": "x"}).status_code == 403
    assert calls == ["sms"]


def test_dependency_on_a_route_class_route_returns_its_verdict_without_judging_again() -> None:
    """Depends(twilio) on a route of twilio.route_class: the route's verdict, one report per forged request."""
    reported: list[str] = []
    app, _, calls = route_class_app(report_only=True, on_reject=lambda verdict, info: reported.append(info.path))
    client = TestClient(app)
    assert signer.post_form(client, "/twilio/typed", PARAMS).json() == {"body": "héllo", "reason": "valid"}
    forged = signer.post_form(client, "/twilio/typed", PARAMS, forged=True)
    assert forged.json()["reason"] == "signature_mismatch"
    assert reported == ["/twilio/typed"]
    assert calls == ["typed", "typed"]


def test_route_class_releases_the_replay_key_after_a_returned_5xx() -> None:
    """Unlike the dependency, the route class sees a 5xx the endpoint returns: Twilio's retry gets through."""
    from twiliosig.replay import MemoryReplayStore

    app, _, calls = route_class_app(replay_guard=MemoryReplayStore())
    client = TestClient(app)
    assert signer.post_form(client, "/twilio/fail", PARAMS).status_code == 503
    assert signer.post_form(client, "/twilio/fail", PARAMS).status_code == 503  # the retry reached the endpoint
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 409
    assert calls == ["fail", "fail", "sms"]


def test_route_class_on_the_app_router_and_paths() -> None:
    """The route class set on the app's own router protects routes added after, narrowed by paths."""
    twilio = TwilioSignature(auth_token=TOKEN, paths=["/twilio/"])
    app = FastAPI()
    app.router.route_class = twilio.route_class

    @app.post("/twilio/sms")
    async def sms(Body: str = Form("")) -> str:
        return Body

    @app.post("/open")
    async def open_route(Body: str = Form("")) -> str:
        return Body

    client = TestClient(app)
    assert client.post("/twilio/sms", data={"Body": "x"}).status_code == 403
    assert signer.post_form(client, "/twilio/sms", PARAMS).json() == "héllo"
    assert client.post("/open", data={"Body": "x"}).json() == "x"


def test_dependency_warns_once_when_fastapi_read_the_body_first(caplog: pytest.LogCaptureFixture) -> None:
    """The dependency on a Form() route says, once per route, that it came after the body was read."""
    app, _ = make_app()
    client = TestClient(app)
    with caplog.at_level("WARNING", logger="twiliosig"):
        for _ in range(2):
            signer.post_form(client, "/form", PARAMS)
            client.post("/form", data={"Body": "unsigned"})
        signer.post_form(client, "/raw", PARAMS)  # no body parameter: the dependency reads it, bounded
    warnings = [record.getMessage() for record in caplog.records if "route_class" in record.getMessage()]
    assert len(warnings) == 1, warnings
    assert "/form" in warnings[0]


def test_a_handler_of_your_own_reads_why_from_the_refusal() -> None:
    """TwilioRefusal carries the verdict and the response, all public types; the default answer stays plain text."""
    from twiliosig.contrib.fastapi import TwilioRefusal

    def app_with(handler: bool) -> TestClient:
        app = FastAPI()

        @app.post("/sms", dependencies=[Depends(TwilioSignature(auth_token=TOKEN))])
        async def sms() -> dict[str, str]:
            return {}

        if handler:

            @app.exception_handler(TwilioRefusal)
            async def refused(request: Request, error: Exception) -> Response:
                assert isinstance(error, TwilioRefusal)
                return Response(error.verdict.reason.value, status_code=error.status_code, headers=error.headers)

        return TestClient(app)

    plain = signer.post_form(app_with(handler=False), "/sms", PARAMS, forged=True)
    assert (plain.status_code, plain.text, plain.headers["content-type"]) == (
        403,
        "Forbidden\n",
        "text/plain; charset=utf-8",
    )
    answer = signer.post_form(app_with(handler=True), "/sms", PARAMS, forged=True)
    assert (answer.status_code, answer.text) == (403, "signature_mismatch")
    assert answer.headers["cache-control"] == "no-store"
