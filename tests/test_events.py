"""The webhook catalogue: Twilio's documented names, realistic values, signed as Twilio signs, for every client."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from werkzeug.test import Client as WerkzeugClient

from tests.django_site import TOKEN as DJANGO_TOKEN
from twiliosig import RequestValidator, events
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.cli import main
from twiliosig.events import Documented, Field, Presence
from twiliosig.testing import TwilioSigner
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "events-test-token-0123456789abcd"
URL = "https://hooks.example.com/twilio/hook?tenant=acme"
KINDS = events.kinds()

#: The SID prefix of every ``...Sid`` name the catalogue sends: a new name must be added here.
SID_PREFIXES = {
    "AccountSid": {"AC"},
    "MessageSid": {"SM", "MM", "IM"},
    "SmsSid": {"SM", "MM"},
    "SmsMessageSid": {"SM", "MM"},
    "MessagingServiceSid": {"MG"},
    "CallSid": {"CA"},
    "DialCallSid": {"CA"},
    "DequeingCallSid": {"CA"},
    "ParentCallSid": {"CA"},
    "CallSidEndingConference": {"CA"},
    "ConferenceSid": {"CF"},
    "QueueSid": {"QU"},
    "ApplicationSid": {"AP"},
    "DocumentSid": {"ET"},
    "ServiceSid": {"IS"},
    "RecordingSid": {"RE"},
    "ChatServiceSid": {"IS"},
    "ConversationServiceSid": {"IS"},
    "ConversationSid": {"CH"},
    "ParticipantSid": {"MB"},
    "RoleSid": {"RL"},
    "WorkspaceSid": {"WS"},
    "ResourceSid": {"WT"},
    "TaskSid": {"WT"},
    "TaskQueueSid": {"WQ"},
    "TaskChannelSid": {"TC"},
    "WorkflowSid": {"WW"},
    "WorkerSid": {"WK"},
    "ReservationSid": {"WR"},
    "TranscriptionSid": {"TR", "GT"},
    "ChannelInstallSid": {"XE"},
    "messageSid": {"SM"},
    "accountSid": {"AC"},
    "messagingServiceSid": {"MG"},
    "streamSid": {"MZ"},
    "callSid": {"CA"},
    "parentCallSid": set(),
}
SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}\Z")
PHONE = re.compile(r"(whatsapp:)?\+[1-9]\d{6,14}\Z")
#: A dialed leg's To may be a Voice SDK client or a SIP URI (the TwiML page's From/To descriptions).
CLIENT_OR_SIP = re.compile(r"client:\w+\Z|sip:[^@\s]+@[^\s]+\Z")
#: RCS addresses: a recipient's ``rcs:`` number, a sender's ``rcs:sender_id`` (Twilio's error 21664 page).
RCS_ADDRESS = re.compile(r"rcs:(\+[1-9]\d{6,14}|[a-z0-9_]+)\Z")


def values(event: events.Event) -> list[tuple[str, Any]]:
    """Every (name, value) an entry sends: form pairs, or the leaves of its JSON."""

    def leaves(node: Any, name: str = "") -> list[tuple[str, Any]]:
        if isinstance(node, dict):
            return [pair for key, value in node.items() for pair in leaves(value, key)]
        if isinstance(node, list):
            return [pair for item in node for pair in leaves(item, name)]
        return [(name, node)]

    if event.websocket:
        return [pair for message in event.messages for pair in leaves(json.loads(message))]
    if event.body is not None:
        return leaves(json.loads(event.body))
    return list(event.params)


# --- the catalogue is Twilio's documented webhooks --------------------------------------------


def test_the_catalogue_covers_every_product_family_the_issue_names() -> None:
    """Messaging (SMS, MMS, WhatsApp, status), Voice, Gather, Conversations, Frontline, TaskRouter, streams."""
    assert {
        "messaging.inbound",
        "messaging.inbound.mms",
        "messaging.inbound.whatsapp",
        "messaging.status",
        "voice.incoming",
        "voice.status",
        "voice.recording",
        "voice.gather",
        "conversations.message.added",
        "frontline.crm.customers",
        "frontline.crm.customer",
        "frontline.outgoing",
        "frontline.templates",
        "frontline.routing",
        "taskrouter.event",
        "event-streams.batch",
        "media-streams",
        "conversation-relay",
    } <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_name_an_entry_sends_has_a_source(kind: str) -> None:
    """Each form name, JSON field or WebSocket message field is in the entry's record, which cites Twilio's page."""
    event = events.get(kind)
    assert event.field_names()
    assert event.unsourced() == [], f"{kind} sends names no source in its record backs"
    assert event.documented.source.startswith("https://www.twilio.com/docs/")


def test_the_source_check_catches_a_name_twilio_does_not_send() -> None:
    """An invented name, a misspelt one and a wrong case are all caught; numbered media names are allowed."""
    event = events.get("messaging.inbound.mms")
    assert event.with_params({"MediaUrl7": "https://x", "MediaContentType7": "image/gif"}).unsourced() == []
    changed = event.with_params({"Sender": "+1", "Numsegments": "1", "MediaUrlX": "u"})
    assert changed.unsourced() == ["MediaUrlX", "Numsegments", "Sender"]
    batch = events.get("event-streams.batch").with_params({"0.data.invented": 1})
    assert batch.unsourced() == ["data.invented"]
    numbered = Field(r"B\d+", Presence.WHEN, "https://www.twilio.com/docs/x", "numbered", pattern=True)
    plain = Field("A", Presence.ALWAYS, "https://www.twilio.com/docs/x")
    record = Documented("https://www.twilio.com/docs/x", (plain, numbered))
    assert record.allows("B7")
    assert not record.allows("B")
    assert not record.allows("a")


@pytest.mark.parametrize("kind", KINDS)
def test_sids_have_the_right_prefix_and_length_and_numbers_are_e164(kind: str) -> None:
    """A SID is its resource's two letters and 32 hex digits; From, To and friends are E.164."""
    for name, value in values(events.get(kind)):
        if name.endswith("Sid") and value:
            assert name in SID_PREFIXES, f"{kind}: add {name} to SID_PREFIXES"
            assert SID.match(value), (name, value)
            assert value[:2] in SID_PREFIXES[name], (name, value)
        if name in ("From", "To", "from", "to", "Caller", "MessagingBinding.Address", "MessagingBinding.ProxyAddress"):
            dialed = name == "To" and CLIENT_OR_SIP.match(value)
            assert PHONE.match(value) or dialed or RCS_ADDRESS.match(value), (name, value)


def test_the_values_are_what_production_sends_not_ascii_toys() -> None:
    """Emoji, non-Latin scripts, blank values, JSON inside form values and URLs with query strings all appear."""
    texts = [str(value) for event in events.CATALOGUE.values() for _, value in values(event)]
    scripts = {unicodedata.name(char).split()[0] for text in texts for char in text if ord(char) > 0x2FF}
    assert {"CYRILLIC", "CJK", "ARABIC", "HIRAGANA", "GREEK"} <= scripts
    assert any(ord(char) > 0xFFFF for text in texts for char in text)  # an emoji outside the BMP
    assert "" in texts
    assert any(text.startswith("https://") and "?" in text and "&" in text for text in texts)
    assert any(text.startswith(("{", "[")) and json.loads(text) for text in texts)


# --- signed as Twilio signs --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_entry_signs_as_twilio_does_and_its_tampered_copy_fails(kind: str) -> None:
    """The validator accepts the signed request and refuses the tampered one; each signing mode as Twilio's."""
    event = events.get(kind)
    signed = event.sign(URL, auth_token=TOKEN)
    validator = RequestValidator(TOKEN)

    def verdict(candidate: events.SignedRequest) -> Any:
        """What an app at URL concludes from the request as it arrives."""
        url, params = candidate.url, None
        if candidate.websocket:
            url = "wss://" + candidate.url.split("://", 1)[1]
        elif candidate.body and not candidate.params:
            params = candidate.body
        elif candidate.body:
            params = parse_qsl(candidate.body.decode("utf-8"), keep_blank_values=True)
        return validator.check(url, params, candidate.header("X-Twilio-Signature"))

    assert verdict(signed).valid
    assert not verdict(signed.tampered()).valid
    if event.websocket:
        assert (signed.method, signed.signed_url, signed.body) == ("GET", "wss://" + URL.split("://")[1], b"")
        assert signed.messages == event.messages
    elif event.body is not None:
        assert signed.url.startswith(URL + "&bodySHA256=")
        assert signed.header("Content-Type") == "application/json; charset=utf-8"
    else:
        assert signed.params == event.params
        assert signed.header("Content-Type") == "application/x-www-form-urlencoded"
        assert signed.header("Content-Length") == str(len(signed.body))
    assert signed.header("User-Agent")
    assert signed.header("I-Twilio-Idempotency-Token") or event.websocket


def test_get_moves_every_parameter_to_the_query_and_signs_the_whole_url() -> None:
    """Sent as GET, a form webhook has no body; the URL carries the parameters after the configured query."""
    event = events.get("voice.gather").with_method("get")
    signed = event.sign(URL, auth_token=TOKEN)
    assert signed.method == "GET"
    assert signed.body == b""
    assert signed.params == ()
    assert signed.url.startswith(URL + "&AccountSid=AC")
    assert RequestValidator(TOKEN).check(signed.url, None, signed.header("X-Twilio-Signature")).valid


def test_shared_keys_and_a_public_url_are_signed_as_asked() -> None:
    """A shared key adds the settings header and may use SHA-256; signed_url is what the signature covers."""
    event = events.get("messaging.inbound")
    signed = event.sign(
        "http://127.0.0.1:8000/sms",
        auth_token="shared-secret",
        signed_url="https://example.com/sms",
        algorithm="HMAC_SHA256",
        shared_key_id="webhooks_sharedkey_1",
    )
    assert signed.header("X-Twilio-Webhooks-Signature-Settings") == "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    validator = RequestValidator(shared_keys={"webhooks_sharedkey_1": "shared-secret"})
    settings = signed.header("X-Twilio-Webhooks-Signature-Settings")
    signature = signed.header("X-Twilio-Signature")
    assert validator.check("https://example.com/sms", signed.params, signature, signature_settings=settings).valid
    assert signed.url == "http://127.0.0.1:8000/sms"


def test_with_params_replaces_adds_and_edits_json_paths() -> None:
    """A form name is replaced in place (its repeats dropped) or added; a JSON path is set; mistakes say where."""
    event = events.get("messaging.inbound").with_params({"Body": "STOP", "OptOutType": "STOP"})
    names = [name for name, _ in event.params]
    assert names == [name for name, _ in events.get("messaging.inbound").params] + ["OptOutType"]
    assert dict(event.params)["Body"] == "STOP"
    repeated = events.get("messaging.status").with_params([("Tag", "a"), ("Tag", "b")]).with_params({"Tag": "c"})
    assert [value for name, value in repeated.params if name == "Tag"] == ["c"]
    batch = events.get("event-streams.batch").with_params({"0.data.body": "hi", "1.data.Index": 99})
    payload = json.loads(batch.body or "")
    assert (payload[0]["data"]["body"], payload[1]["data"]["Index"]) == ("hi", 99)
    with pytest.raises(ValueError, match="not an index"):
        events.get("event-streams.batch").with_params({"9.data.body": "x"})
    with pytest.raises(ValueError, match="no 'nope'"):
        events.get("event-streams.batch").with_params({"0.nope.x": "x"})
    with pytest.raises(ValueError, match="signs the wss:// URL alone"):
        events.get("media-streams").with_params({"x": "y"})


def test_methods_twilio_never_uses_are_refused_and_unknown_kinds_suggest_one() -> None:
    """JSON and WebSocket entries have one method; PUT is no webhook; a typo gets the closest kind."""
    with pytest.raises(ValueError, match="always sent as a JSON POST"):
        events.get("event-streams.batch").with_method("GET")
    with pytest.raises(ValueError, match="WebSocket handshake"):
        events.get("conversation-relay").with_method("POST")
    with pytest.raises(ValueError, match="not PUT"):
        events.get("voice.incoming").with_method("PUT")
    with pytest.raises(ValueError, match=r"did you mean 'messaging\.inbound'"):
        events.get("messaging.inbund")


# --- through every test client -----------------------------------------------------------------


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.route("/<path:rest>", methods=["GET", "POST"])
    def hook(rest: str) -> str:
        return str(len(request.form) or len(request.args) or len(request.get_data()))

    app.wsgi_app = WsgiMiddleware(app.wsgi_app, auth_token=TOKEN)  # type: ignore[method-assign]
    return app


def starlette_app() -> Any:
    async def hook(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.twiliosig_verdict.reason.value)

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                item = json.loads(await websocket.receive_text())
                await websocket.send_text(item.get("event") or item.get("type"))
        except WebSocketDisconnect:
            return

    routes = [WebSocketRoute("/twilio/media", stream), Route("/{rest:path}", hook, methods=["GET", "POST"])]
    return AsgiMiddleware(Starlette(routes=routes), auth_token=TOKEN)


@pytest.mark.parametrize("kind", [kind for kind in KINDS if not events.get(kind).websocket])
@pytest.mark.parametrize(
    "client_factory",
    [
        pytest.param(lambda: flask_app().test_client(), id="flask"),
        pytest.param(lambda: WerkzeugClient(flask_app()), id="werkzeug"),
        pytest.param(lambda: TestClient(starlette_app()), id="starlette"),
        pytest.param(
            lambda: httpx.Client(transport=httpx.WSGITransport(app=flask_app()), base_url="https://a.example:8443"),
            id="httpx",
        ),
    ],
)
def test_signer_event_sends_every_webhook_through_each_client(kind: str, client_factory: Any) -> None:
    """TwilioSigner.event sends each entry genuine (200) or forged (403), POST and GET alike."""
    client = client_factory()
    signer = TwilioSigner(TOKEN)
    assert signer.event(kind, client, "/twilio/hook?x=1").status_code == 200
    assert signer.event(kind, client, forged=True).status_code == 403
    if events.get(kind).body is None:
        assert signer.event(kind, client, method="GET", params={"Body": "ok"}).status_code == 200


def test_signer_event_through_django(twilio_signer: TwilioSigner) -> None:
    """Django's test Client, POST and GET and JSON, with a view validating by hand."""
    from django.test import Client as DjangoClient

    client = DjangoClient()
    signer = TwilioSigner(DJANGO_TOKEN)
    assert signer.event("voice.incoming", client, "/manual/voice").status_code == 200
    assert signer.event("voice.incoming", client, "/manual/voice", method="GET").status_code == 200
    assert signer.event("event-streams.batch", client, "/manual/events").status_code == 200
    assert signer.event("voice.incoming", client, "/manual/voice", forged=True).status_code == 403


def test_signer_event_opens_a_signed_websocket_through_starlette() -> None:
    """A WebSocket kind gives the TestClient's session, signed over wss://; a forged one is refused."""
    client = TestClient(starlette_app())
    signer = TwilioSigner(TOKEN)
    with signer.event("media-streams", client, "/twilio/media") as websocket:
        for message in events.get("media-streams").messages:
            websocket.send_text(message)
            assert websocket.receive_text() == json.loads(message)["event"]
    with pytest.raises(WebSocketDisconnect), signer.event("media-streams", client, "/twilio/media", forged=True):
        pass
    with pytest.raises(TypeError, match="TestClient"):
        signer.event("media-streams", flask_app().test_client(), "/twilio/media")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_signer_aevent_through_httpx_async(anyio_backend: str) -> None:
    """aevent sends through an httpx.AsyncClient."""
    signer = TwilioSigner(TOKEN)
    transport = httpx.ASGITransport(app=starlette_app())
    async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as client:
        assert (await signer.aevent("frontline.routing", client, "/callbacks/routing")).status_code == 200
        assert (await signer.aevent("event-streams.batch", client)).status_code == 200
        assert (await signer.aevent("voice.status", client, method="GET")).status_code == 200
        assert (await signer.aevent("frontline.routing", client, forged=True)).status_code == 403


def test_the_pytest_fixture_sends_catalogue_events(twilio_signer: TwilioSigner) -> None:
    """twilio_signer.event works with an app that reads TWILIO_AUTH_TOKEN, as the plugin sets it."""
    app = Flask(__name__)
    app.add_url_rule("/twilio/sms", "sms", lambda: "ok", methods=["POST"])
    app.wsgi_app = WsgiMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    assert twilio_signer.event("messaging.inbound.whatsapp", app.test_client(), "/twilio/sms").status_code == 200


# --- the CLI without a server ------------------------------------------------------------------


def test_send_list_names_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """`twiliosig send --list` prints each kind under its product family."""
    assert main(["send", "--list"]) == 0
    output = capsys.readouterr().out
    for kind, event in events.CATALOGUE.items():
        assert re.search(rf"^  {re.escape(kind)} .*{re.escape(event.title)}$", output, re.M)
    assert output.startswith("messaging\n")


def test_send_dry_run_prints_the_signed_request(capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run shows every header and the body, and sends nothing."""
    assert main(["send", "frontline.crm.customer", "https://u:p@example.com/crm", "--dry-run", "--token", TOKEN]) == 0
    output = capsys.readouterr().out
    signed = events.get("frontline.crm.customer").sign("https://example.com/crm", auth_token=TOKEN)
    assert f"X-Twilio-Signature: {signed.header('X-Twilio-Signature')}" in output
    assert "Authorization: Basic *** (the URL's user:password)" in output  # sent, never printed
    assert "dTpw" not in output
    assert "Location=GetCustomerDetailsByCustomerId&CustomerId=cust-7f3a9c" in output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["send", "messaging.inbound"], "give a KIND and a URL"),
        (["send", "sms", "https://example.com/x"], "no webhook kind 'sms'"),
        (["send", "messaging.inbound", "/relative"], "must be absolute"),
        (["send", "media-streams", "https://example.com/x", "--set", "a=b"], "signs the wss:// URL alone"),
        (["send", "messaging.inbound", "https://example.com/x", "--set", "Body"], "--set wants NAME=VALUE"),
        (["send", "event-streams.batch", "https://e.com/x", "--method", "GET"], "always sent as a JSON POST"),
        (["send", "voice.status", "https://e.com/x", "--public-url", "https://e.com/?q"], "must not carry a query"),
    ],
)
def test_send_usage_errors_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each mistake is named on stderr before anything is sent."""
    assert main([*argv, "--token", TOKEN]) == 2
    assert message in capsys.readouterr().err


def test_send_without_a_token_says_which_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --token and no TWILIO_AUTH_TOKEN: the error names the variable."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    assert main(["send", "voice.incoming", "https://example.com/voice"]) == 2
    assert "$TWILIO_AUTH_TOKEN" in capsys.readouterr().err


# --- the docs stay true to the catalogue ----------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks"
PAGES = {"conversation-relay": "media-streams"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_on_its_family_page_with_the_twilio_page_it_follows(kind: str) -> None:
    """docs/webhooks/<family>.md names the kind and links every page or source its record cites; the overview too."""
    event = events.get(kind)
    page = (DOCS / f"{PAGES.get(event.product, event.product)}.md").read_text(encoding="utf-8")
    assert f"`{kind}`" in page
    for source in event.documented.sources:
        assert source in page, f"{PAGES.get(event.product, event.product)}.md does not cite {source}"
    assert f"`{kind}`" in (DOCS / "index.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("status", "word"), [(403, "REFUSED"), (409, "REFUSED"), (404, "NOT ACCEPTED"), (500, "NOT ACCEPTED")]
)
def test_send_calls_refused_only_a_status_twiliosig_refuses_with(status: int, word: str) -> None:
    """A 404 or a 500 is the app's own answer, not a refusal by twiliosig: send does not say REFUSED for it."""
    import io

    from twiliosig._send import _why

    out = io.StringIO()
    request = events.get("messaging.inbound").sign("https://example.com/twilio/sms", auth_token="t" * 32)
    _why(status, "Reason", request, "t" * 32, out)
    assert out.getvalue().startswith(f"{word} ({status} Reason)."), out.getvalue()
