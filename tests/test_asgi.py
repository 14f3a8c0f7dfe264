"""The ASGI middleware: the shared contract on asyncio and trio, plus HTTP streaming and WebSocket handshakes."""

from __future__ import annotations

import functools
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from tests.contract import (
    FORM,
    PAIRS,
    TOKEN,
    Harness,
    MiddlewareContract,
    Outcome,
    ReplayContract,
    Seen,
    form_body,
    sign,
)
from twiliosig import Reason, compute_signature
from twiliosig.asgi import TwilioSignatureMiddleware


def recording_app(seen: list[Seen]) -> Starlette:
    """A Starlette app that records the body and form it sees, and answers 200."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        form = await request.form() if request.headers.get("content-type", "").startswith(FORM) else None
        pairs = [(k, str(v)) for k, v in form.multi_items()] if form is not None else []
        seen.append(Seen(body, pairs, getattr(request.state, "twiliosig_verdict", None)))
        if request.url.path == "/twilio/raise":
            raise RuntimeError("the app failed")
        return PlainTextResponse("ok", status_code=500 if request.url.path == "/twilio/fail500" else 200)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PUT"])])


class AsgiHarness(Harness):
    backend = "asyncio"

    def __init__(self, **options: Any) -> None:
        self.seen: list[Seen] = []
        self.app = TwilioSignatureMiddleware(recording_app(self.seen), **options)

    def send(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        scheme: str = "https",
        host: str = "example.com",
        chunks: list[bytes] | None = None,
    ) -> Outcome:
        header_list = [(b"host", host.encode())]
        if chunks is None:
            header_list.append((b"content-length", str(len(body)).encode()))
            chunks = [body]
        header_list += [(k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in (headers or {}).items()]
        scope = http_scope(target, header_list, method=method, scheme=scheme)
        messages = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
        ]
        start = len(self.seen)
        sent = anyio.run(functools.partial(run_asgi, self.app, scope, messages), backend=self.backend)
        response_start = next(m for m in sent if m["type"] == "http.response.start")
        body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        response_headers = {k.decode(): v.decode() for k, v in response_start["headers"]}
        return Outcome(response_start["status"], body_out, response_headers, self.seen[start:])


class TrioHarness(AsgiHarness):
    backend = "trio"


def http_scope(
    target: str,
    headers: list[tuple[bytes, bytes]],
    *,
    method: str = "POST",
    scheme: str = "https",
    raw_path: bytes | None = None,
    server: tuple[str, int] = ("example.com", 443),
) -> dict[str, Any]:
    """The scope of an HTTP request to ``target`` (path and query as sent) as a server builds it.

    ``raw_path`` overrides the raw path for a server that writes it otherwise (one that leaves the query in it).
    """
    from urllib.parse import unquote

    path, _, query = target.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": unquote(path),
        "raw_path": path.encode("latin-1") if raw_path is None else raw_path,
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "server": server,
    }


async def run_asgi(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drive one ASGI call: feed ``messages``, then disconnect; return what the app sent."""
    incoming = list(messages)
    sent: list[dict[str, Any]] = []
    done = anyio.Event()

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await app(scope, receive, send)
    return sent


def status_of(app: Any, scope: dict[str, Any], body: bytes) -> int:
    """The status ``app`` answers a request of ``scope`` whose body arrives in one message."""
    sent = anyio.run(run_asgi, app, scope, [{"type": "http.request", "body": body, "more_body": False}])
    return int(next(message["status"] for message in sent if message["type"] == "http.response.start"))


class TestAsgiContract(MiddlewareContract):
    def harness(self, **options: Any) -> AsgiHarness:
        return AsgiHarness(**options)


class TestAsgiContractOnTrio(MiddlewareContract):
    def harness(self, **options: Any) -> AsgiHarness:
        return TrioHarness(**options)


class TestAsgiDefenses(ReplayContract):
    def harness(self, **options: Any) -> AsgiHarness:
        return AsgiHarness(**options)


URL = "https://example.com/twilio/sms"


def test_body_in_many_messages_is_buffered_and_replayed_once() -> None:
    """A body split across many http.request messages is judged whole and replayed whole."""
    h = AsgiHarness(auth_token=TOKEN)
    body = form_body(PAIRS)
    chunks = [body[i : i + 5] for i in range(0, len(body), 5)] + [b""]
    headers = {"Content-Type": FORM, "X-Twilio-Signature": sign(URL, PAIRS)}
    outcome = h.send("POST", "/twilio/sms", headers=headers, chunks=chunks)
    assert outcome.status == 200
    assert outcome.seen[0].body == body


async def call_with_messages(app: Any, headers: list[tuple[bytes, bytes]], messages: list[Any]) -> list[Any]:
    """Call the app with these request messages; a receive() past them hangs, as a real server's would."""
    scope = http_scope("/twilio/sms", [(b"host", b"example.com"), *headers])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_no_signature_is_refused_before_the_body_is_read(backend: str) -> None:
    """An unsigned request to a protected path gets 403 without a single receive()."""
    seen: list[Seen] = []
    app = TwilioSignatureMiddleware(recording_app(seen), auth_token=TOKEN)
    headers = [(b"content-type", FORM.encode()), (b"content-length", b"1000")]
    sent = anyio.run(call_with_messages, app, headers, [], backend=backend)  # receive() would hang
    assert sent[0]["status"] == 403
    assert not seen


async def _disconnecting_call(app: Any) -> list[dict[str, Any]]:
    scope = http_scope("/twilio/sms", [(b"host", b"example.com"), (b"x-twilio-signature", b"forged")])
    messages = [{"type": "http.request", "body": b"a=1", "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_client_disconnect_mid_body_never_calls_the_app(backend: str) -> None:
    """http.disconnect while reading: nothing is sent and the app is not called."""
    seen: list[Seen] = []
    app = TwilioSignatureMiddleware(recording_app(seen), auth_token=TOKEN)
    assert anyio.run(_disconnecting_call, app, backend=backend) == []
    assert not seen


def test_lifespan_passes_through() -> None:
    """Non-HTTP scopes (lifespan) reach the app untouched."""
    started: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        started.append(scope["type"] == "lifespan")

    middleware = TwilioSignatureMiddleware(app, auth_token=TOKEN)
    anyio.run(middleware, {"type": "lifespan"}, None, None)
    assert started == [True]


def test_mounted_sub_app_signs_the_full_path() -> None:
    """Under Starlette's Mount the URL includes the mount prefix exactly once."""
    inner = recording_app([])
    protected = TwilioSignatureMiddleware(inner, auth_token=TOKEN)
    app = Starlette(routes=[Mount("/hooks", app=protected)])
    client = TestClient(app, base_url="https://example.com")
    url = "https://example.com/hooks/twilio/sms"
    response = client.post(
        "/hooks/twilio/sms", data=dict(PAIRS[:5]), headers={"X-Twilio-Signature": sign(url, PAIRS[:5])}
    )
    assert response.status_code == 200
    assert client.post("/hooks/twilio/sms", data=dict(PAIRS[:5])).status_code == 403


@pytest.mark.parametrize(
    ("scope_update", "expected"),
    [
        pytest.param(
            {"root_path": "/api", "path": "/api/twilio/a b", "raw_path": b"/api/twilio/a%20b"},
            "/api/twilio/a%20b",
            id="uvicorn-style",
        ),
        pytest.param(
            {"root_path": "/api", "path": "/twilio/a b", "raw_path": b"/twilio/a%20b"},
            "/api/twilio/a%20b",
            id="hypercorn-style",
        ),
        pytest.param({"root_path": "", "path": "/twilio/a b", "raw_path": None}, "/twilio/a%20b", id="no-raw-path"),
        pytest.param(
            {"root_path": "/api", "path": "/api/twilio/x", "raw_path": None}, "/api/twilio/x", id="no-raw-path-root"
        ),
    ],
)
def test_raw_path_and_root_path_are_reconciled(scope_update: dict[str, Any], expected: str) -> None:
    """root_path is prepended only when the raw path does not already carry it."""
    from twiliosig._scope import scope_raw_path as _raw_path

    assert _raw_path(scope_update) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_httpx_asgi_transport(anyio_backend: str) -> None:
    """httpx's ASGITransport, on asyncio and trio: genuine accepted, forged refused."""
    seen: list[Seen] = []
    app = TwilioSignatureMiddleware(recording_app(seen), auth_token=TOKEN, paths=["/twilio/"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as client:
        genuine = await client.post(
            "/twilio/sms", data=dict(PAIRS[:5]), headers={"X-Twilio-Signature": sign(URL, PAIRS[:5])}
        )
        forged = await client.post(
            "/twilio/sms", data=dict(PAIRS[:5]), headers={"X-Twilio-Signature": sign(URL, PAIRS)}
        )
        other = await client.post("/status", data={"a": "1"})
    assert (genuine.status_code, forged.status_code, other.status_code) == (200, 403, 200)
    assert seen[0].verdict is not None
    assert seen[0].verdict.reason is Reason.VALID


def test_fastapi_add_middleware_and_state() -> None:
    """FastAPI's add_middleware works as documented, and the verdict is on request.state."""
    from fastapi import FastAPI, Form

    app = FastAPI()
    app.add_middleware(TwilioSignatureMiddleware, auth_token=TOKEN, paths=["/twilio/"])

    @app.post("/twilio/sms")
    async def sms(request: Request, Body: str = Form(...)) -> dict[str, str]:
        return {"body": Body, "reason": request.state.twiliosig_verdict.reason.value}

    client = TestClient(app, base_url="https://example.com")
    data = {"Body": "hi", "From": "+15005550006"}
    response = client.post("/twilio/sms", data=data, headers={"X-Twilio-Signature": sign(URL, list(data.items()))})
    assert response.json() == {"body": "hi", "reason": "valid"}
    assert client.post("/twilio/sms", data=data).status_code == 403


# --- WebSocket handshakes ------------------------------------------------------------------


def websocket_app(events: list[str]) -> Starlette:
    async def media(websocket: WebSocket) -> None:
        await websocket.accept()
        events.append(websocket.scope["twiliosig.verdict"].variant)
        await websocket.send_text("connected")
        await websocket.close()

    return Starlette(routes=[WebSocketRoute("/media", media)])


def test_signed_websocket_handshake_is_accepted_behind_tls_termination() -> None:
    """The app sees ws://; the handshake signed over wss:// is accepted, and over wss:// with a slash too."""
    events: list[str] = []
    app = TwilioSignatureMiddleware(websocket_app(events), auth_token=TOKEN)
    client = TestClient(app)
    for signed in ("wss://testserver/media", "wss://testserver/media/"):
        headers = {"X-Twilio-Signature": compute_signature(TOKEN, signed)}
        with client.websocket_connect("/media", headers=headers) as ws:
            assert ws.receive_text() == "connected"
    assert events == ["as received", "with a trailing slash added"]


def test_refused_websocket_handshake_through_the_test_client_is_closed_before_accept() -> None:
    """Even where the client offers websocket.http.response, a forged handshake is closed with 1008 (a 403)."""
    from starlette.websockets import WebSocketDisconnect

    events: list[str] = []
    client = TestClient(TwilioSignatureMiddleware(websocket_app(events), auth_token=TOKEN))
    headers = {"X-Twilio-Signature": compute_signature("wrong", "wss://testserver/media")}
    with pytest.raises(WebSocketDisconnect) as caught, client.websocket_connect("/media", headers=headers):
        pass
    assert caught.value.code == 1008
    assert events == []


def run_handshake(
    extensions: dict[str, Any], headers: list[tuple[bytes, bytes]], **options: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    """Drive one WebSocket handshake at the protocol level; return what was sent and what the app saw."""
    events: list[str] = []

    async def run() -> list[dict[str, Any]]:
        app = TwilioSignatureMiddleware(websocket_app(events), auth_token=TOKEN, **options)
        scope = {
            "type": "websocket",
            "scheme": "wss",
            "path": "/media",
            "raw_path": b"/media",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"example.com"), *headers],
            "extensions": extensions,
        }
        messages = [{"type": "websocket.connect"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    return anyio.run(run), events


def test_websocket_refused_with_close_1008_without_the_extension() -> None:
    """Without websocket.http.response, a forged handshake is closed with 1008 before accept."""
    sent, events = run_handshake({}, [])
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert events == []


def test_websocket_403_is_a_close_even_with_the_extension() -> None:
    """A 403 is closed before accept (the server answers 403) even where websocket.http.response is offered.

    uvicorn's default WebSocket implementation logs an ERROR after every extension response;
    tests/matrix checks its log stays clean through a real server.
    """
    sent, events = run_handshake({"websocket.http.response": {}}, [(b"x-twilio-signature", b"forged")])
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert events == []


def test_websocket_401_goes_through_the_extension_with_its_challenge() -> None:
    """A status a close cannot say (401 and Basic's challenge) is sent through websocket.http.response."""
    signature = compute_signature(TOKEN, "wss://example.com/media").encode()
    sent, events = run_handshake(
        {"websocket.http.response": {}}, [(b"x-twilio-signature", signature)], basic_auth={"twilio": "pass"}
    )
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    assert sent[0]["status"] == 401
    assert any(name == b"www-authenticate" for name, _ in sent[0]["headers"])
    assert events == []


def test_websocket_401_without_the_extension_is_a_close() -> None:
    """Without websocket.http.response even a 401 can only be a close before accept."""
    signature = compute_signature(TOKEN, "wss://example.com/media").encode()
    sent, events = run_handshake({}, [(b"x-twilio-signature", signature)], basic_auth={"twilio": "pass"})
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert events == []


def test_websocket_genuine_handshake_at_protocol_level() -> None:
    """A genuine handshake is accepted and the app receives the replayed websocket.connect."""
    signature = compute_signature(TOKEN, "wss://example.com/media").encode()
    sent, events = run_handshake({}, [(b"x-twilio-signature", signature)])
    assert sent[0]["type"] == "websocket.accept"
    assert events == ["as received"]


def _lazily_built(**options: Any) -> Starlette:
    """A Starlette app whose middleware Starlette builds on its first call, as it always does."""
    from starlette.middleware import Middleware

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    routes = [Route("/status", hello), Route("/twilio/sms", hello, methods=["POST"])]
    return Starlette(routes=routes, middleware=[Middleware(TwilioSignatureMiddleware, **options)])


def test_bad_options_fail_the_lifespan_startup_with_the_cause() -> None:
    """Built lazily (Starlette, FastAPI), a misconfigured middleware fails the startup, naming the mistake."""
    app = _lazily_built(auth_token=TOKEN, paths=["/twilio/"], report_only="false")
    with pytest.raises(RuntimeError, match="report_only must be True or False"), TestClient(app):
        pass


def test_bad_options_without_lifespan_never_break_unprotected_routes() -> None:
    """Without a lifespan (a server that skips it), protected paths get 500 and the rest of the app still works."""
    app = _lazily_built(auth_token=TOKEN, paths=["/twilio/"], report_only="false")
    client = TestClient(app)  # not entered: no lifespan
    assert client.get("/status").status_code == 200
    assert client.post("/twilio/sms", data={"Body": "unsigned"}).status_code == 500


def test_bad_options_outside_an_event_loop_still_raise_at_construction() -> None:
    """Built directly, at import, the middleware raises at once, as every adapter does."""
    with pytest.raises(TypeError, match="report_only"):
        TwilioSignatureMiddleware(recording_app([]), auth_token=TOKEN, report_only="false")  # type: ignore[arg-type]


def test_a_5xx_releases_the_claim_before_the_response_leaves() -> None:
    """A retry sent the moment the 500 arrives must find the key free: the release comes before the start message."""
    from twiliosig.replay import MemoryReplayStore, replay_key

    store = MemoryReplayStore()
    body = b"From=%2B15005550006&Body=hi"
    signature = compute_signature(TOKEN, URL, [("From", "+15005550006"), ("Body", "hi")])
    free_when_sent: list[bool] = []

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"boom"})

    async def call() -> None:
        app = TwilioSignatureMiddleware(failing, auth_token=TOKEN, replay_guard=store)
        headers = [
            (b"host", b"example.com"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"x-twilio-signature", signature.encode()),
        ]

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                token = store.claim(replay_key(signature))  # Twilio's retry, arriving with the status line
                free_when_sent.append(token is not None)

        await app(http_scope("/twilio/sms", headers), receive, send)

    anyio.run(call)
    assert free_when_sent == [True]
