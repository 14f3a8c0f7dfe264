"""Authentication layers, as the guard asks them: one layer per scheme, decided before the body is read.

The layers themselves (Basic here, Digest and bearer tokens in their own files) are
tested elsewhere; these tests hold the plumbing every layer relies on: the scheme
picks the layer, a request with none gets every challenge, a layer's own challenge
replaces them, a layer that needs the network is resolved before the body is read
(blocking in a sync adapter, never on the event loop in an async one), and an
adapter that forgot to resolve it can never let the request through.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest

from twiliosig import Reason, _options, compute_signature
from twiliosig._auth import Authenticator, AuthRequest, BasicLayer, Denied, Waiting, split_authorization
from twiliosig._guard import Guard, Head
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "auth-layers-token-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
BODY = b"From=%2B15005550006&Body=hi"
PAIRS = [("From", "+15005550006"), ("Body", "hi")]
URL = "https://example.com/twilio/sms?a=1"
SIGNED = {"content-type": FORM, "x-twilio-signature": compute_signature(TOKEN, URL, PAIRS)}


def head(authorization: str | None, headers: dict[str, str] = SIGNED) -> Head:
    lowered = dict(headers)
    if authorization is not None:
        lowered["authorization"] = authorization
    return Head("POST", "/twilio/sms", "https", "example.com", "/twilio/sms", "a=1", lowered.get)


class Fake:
    """A layer for the scheme ``Fake``: ``ok``, ``no``, ``stale``, or ``wait-ok``/``wait-no`` (needs the network)."""

    option = "fake_auth"
    schemes: tuple[str, ...] = ("fake",)

    def __init__(self) -> None:
        self.seen: list[AuthRequest] = []
        self.resolved: list[str] = []  # "sync" or "async", and the thread that resolved it

    def challenges(self) -> tuple[str, ...]:
        return ('Fake realm="twilio"',)

    def authenticate(self, credentials: str, request: AuthRequest) -> Denied | Waiting | None:
        self.seen.append(request)
        if credentials == "ok":
            return None
        if credentials == "stale":
            return Denied(self.option, "a stale fake", challenges=('Fake realm="twilio", stale=true',))
        if credentials.startswith("wait-"):
            answer = None if credentials == "wait-ok" else Denied(self.option, "a fake the network refused")

            def resolve() -> Denied | None:
                self.resolved.append("sync")
                return answer

            async def aresolve() -> Denied | None:
                self.resolved.append("async")
                return answer

            return Waiting(self.option, resolve, aresolve)
        return Denied(self.option, "a wrong fake")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Fake:
    """Every guard built in the test asks a Fake layer, after Basic's (as Digest comes before Basic)."""
    layer = Fake()

    def authenticator(*configured: Any, **secrets: Any) -> Authenticator:  # whatever layers the options configure
        return Authenticator([layer, BasicLayer({"twilio": "pw"})])

    monkeypatch.setattr(_options, "authenticator", authenticator)
    return layer


def challenges(headers: Any) -> list[str]:
    return [value for name, value in headers if name.lower() == "www-authenticate"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("", "")),
        ("", ("", "")),
        ("Digest  a=1 ", ("digest", "a=1")),
        ("BEARER tok", ("bearer", "tok")),
        ("Basic", ("basic", "")),
    ],
)
def test_the_scheme_is_read_in_any_case_and_the_rest_trimmed(value: str | None, expected: tuple[str, str]) -> None:
    assert split_authorization(value) == expected


def test_the_scheme_picks_the_layer_and_the_layer_sees_the_signed_target(fake: Fake) -> None:
    guard = Guard(auth_token=TOKEN)
    check = guard.start(head("Fake ok"))
    assert check is not None
    assert check.decision is None
    assert check.decide(BODY).refusal is None
    (request,) = fake.seen
    assert (request.method, request.target, request.url) == ("POST", "/twilio/sms?a=1", URL)


@pytest.mark.parametrize("authorization", [None, "", "Negotiate abc", "Fake no"])
def test_no_or_foreign_or_wrong_credentials_get_every_challenge_in_order(fake: Fake, authorization: str | None) -> None:
    guard = Guard(auth_token=TOKEN)
    check = guard.start(head(authorization))
    assert check is not None
    assert check.decision is not None
    refusal = check.decision.refusal
    assert refusal is not None
    assert refusal.status == 401
    assert check.decision.verdict.reason is Reason.UNAUTHORIZED
    assert challenges(refusal.headers) == ['Fake realm="twilio"', 'Basic realm="twilio", charset="UTF-8"']


def test_a_layers_own_challenge_replaces_the_others(fake: Fake) -> None:
    check = Guard(auth_token=TOKEN).start(head("Fake stale"))
    assert check is not None
    assert check.decision is not None
    assert check.decision.refusal is not None
    assert challenges(check.decision.refusal.headers) == ['Fake realm="twilio", stale=true']


def test_the_signature_is_still_required_after_a_layer_accepts(fake: Fake) -> None:
    check = Guard(auth_token=TOKEN).start(head("Fake ok", {"content-type": FORM}))
    assert check is not None
    assert check.decision is not None
    assert check.decision.verdict.reason is Reason.MISSING_SIGNATURE


def test_the_refusal_log_names_the_layer_and_what_failed_never_the_credentials(
    fake: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        Guard(auth_token=TOKEN).start(head("Fake no-secret-value"))
    (record,) = caplog.records
    assert record.twiliosig_layer == "fake_auth"  # type: ignore[attr-defined]
    assert record.twiliosig_cause == "a wrong fake"  # type: ignore[attr-defined]
    assert "no-secret-value" not in record.getMessage()


def test_basic_alone_is_named_basic_auth_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        Guard(auth_token=TOKEN, basic_auth={"twilio": "pw"}).start(head(None))
    (record,) = caplog.records
    assert record.twiliosig_layer == "basic_auth"  # type: ignore[attr-defined]


def test_report_only_lets_a_refused_layer_through_and_still_logs_it(
    fake: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        check = Guard(auth_token=TOKEN, report_only=True).start(head("Fake no"))
    assert check is not None
    assert check.decision is not None
    assert check.decision.refusal is None
    assert not check.decision.verdict
    assert caplog.records


@pytest.mark.parametrize(("credentials", "accepted"), [("wait-ok", True), ("wait-no", False)])
def test_a_waiting_layer_is_resolved_then_the_rest_of_the_head_screened(
    fake: Fake, credentials: str, accepted: bool
) -> None:
    check = Guard(auth_token=TOKEN).start(head(f"Fake {credentials}", {"content-type": FORM}))
    assert check is not None
    assert check.decision is None
    assert check.waiting is not None
    check.authenticate()
    assert fake.resolved == ["sync"]
    assert check.waiting is None
    assert check.decision is not None  # accepted: then the missing signature is found, from the head
    expected = Reason.MISSING_SIGNATURE if accepted else Reason.UNAUTHORIZED
    assert check.decision.verdict.reason is expected


def test_an_unresolved_layer_never_lets_the_body_be_judged(fake: Fake) -> None:
    check = Guard(auth_token=TOKEN).start(head("Fake wait-ok"))
    assert check is not None
    with pytest.raises(RuntimeError, match="authentication was not resolved"):
        check.decide(BODY)


def environ(authorization: str, body: io.BytesIO) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/twilio/sms",
        "QUERY_STRING": "a=1",
        "wsgi.url_scheme": "https",
        "HTTP_HOST": "example.com",
        "CONTENT_TYPE": FORM,
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_X_TWILIO_SIGNATURE": SIGNED["x-twilio-signature"],
        "HTTP_AUTHORIZATION": authorization,
        "wsgi.input": body,
    }


@pytest.mark.parametrize(("credentials", "status"), [("wait-ok", 200), ("wait-no", 401)])
def test_the_wsgi_middleware_resolves_in_its_thread_before_reading_the_body(
    fake: Fake, credentials: str, status: int
) -> None:
    body = io.BytesIO(BODY)
    statuses: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    result = WsgiMiddleware(app, auth_token=TOKEN)(
        environ(f"Fake {credentials}", body), lambda line, headers, exc=None: statuses.append(int(line[:3]))
    )
    b"".join(result)
    assert statuses == [status]
    assert fake.resolved == ["sync"]
    assert body.tell() == (len(BODY) if status == 200 else 0)  # a refused request's body is never read


@pytest.mark.parametrize(("credentials", "status"), [("wait-ok", 200), ("wait-no", 401)])
def test_the_asgi_middleware_resolves_off_the_blocking_path_before_reading_the_body(
    fake: Fake, credentials: str, status: int
) -> None:
    received: list[str] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        received.append("body")
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": "/twilio/sms",
        "raw_path": b"/twilio/sms",
        "query_string": b"a=1",
        "root_path": "",
        "server": ("example.com", 443),
        "headers": [
            (b"host", b"example.com"),
            (b"content-type", FORM.encode()),
            (b"x-twilio-signature", SIGNED["x-twilio-signature"].encode()),
            (b"authorization", f"Fake {credentials}".encode()),
        ],
    }

    async def run() -> None:
        await AsgiMiddleware(app, auth_token=TOKEN)(scope, receive, send)

    asyncio.run(run())
    assert sent[0]["status"] == status
    assert fake.resolved == ["async"]
    assert received == (["body"] if status == 200 else [])  # a refused request's body is never read
