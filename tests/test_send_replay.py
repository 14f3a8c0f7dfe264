"""The same catalogue webhook sent twice to a replay-guarded app: a 409 that says why, and ``--fresh``.

A catalogue entry is the same request on every send (its SIDs are fixed), so its signature is
the same, and a replay guard, which keys on the signature, refuses the second copy with 409 as
it must. ``twiliosig send`` says so and names ``--fresh`` (new SIDs: a new webhook);
``TwilioSigner.event(fresh=True)`` does the same in tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from flask import Flask

from twiliosig import events
from twiliosig._fresh import PER_DELIVERY, fresh
from twiliosig.cli import main
from twiliosig.replay import MemoryReplayStore
from twiliosig.testing import TwilioSigner
from twiliosig.wsgi import TwilioSignatureMiddleware

TOKEN = "send-replay-token-0123456789abcdef"


def twiml(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/xml")])
    return [b"<Response/>"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    """A replay-guarded WSGI app on loopback, served from a thread for one test."""
    app = TwilioSignatureMiddleware(twiml, auth_token=TOKEN, replay_guard=MemoryReplayStore(ttl=60))
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/twilio/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def send(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(["send", *argv, "--token", TOKEN])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_a_second_identical_send_is_explained_as_a_replay(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The 409 names the replay guard, says the request was already handled, and how to send a new one."""
    assert send(capsys, "messaging.inbound", url)[0] == 0
    status, output = send(capsys, "messaging.inbound", url)
    assert status == 1, output
    assert "← 409 Conflict" in output
    assert "REFUSED as a replay (409 Conflict)." in output
    assert "already handled" in output
    assert "--fresh" in output


def test_fresh_sends_a_new_webhook_each_time(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--fresh`` gives new SIDs: every send is a new webhook, accepted; the output says so."""
    for kind in ("messaging.inbound", "messaging.inbound", "voice.incoming", "event-streams.batch"):
        status, output = send(capsys, kind, url, "--fresh")
        assert status == 0, output
        assert "fresh SIDs" in output


def test_a_kind_without_sids_is_told_to_change_a_value(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Frontline's CRM callback carries no SID to renew: the 409 says to use ``--set``, not ``--fresh``."""
    assert send(capsys, "frontline.crm.customers", url, "--fresh")[0] == 0
    status, output = send(capsys, "frontline.crm.customers", url, "--fresh")
    assert status == 1, output
    assert "carries no SID to renew" in output
    assert "--set" in output
    assert send(capsys, "frontline.crm.customers", url, "--set", "PageSize=31")[0] == 0


def test_fresh_renews_the_per_delivery_sids_and_keeps_the_account_and_services() -> None:
    """A message's three SID names get one new SID; the account and Messaging Service stay."""
    event = events.get("messaging.inbound")
    before, after = dict(event.params), dict(fresh(event).params)
    assert after["MessageSid"] != before["MessageSid"]
    assert after["MessageSid"].startswith("SM")
    assert len(after["MessageSid"]) == 34
    for name in ("SmsSid", "SmsMessageSid"):
        assert (after[name] == after["MessageSid"]) == (before[name] == before["MessageSid"])
    for name in ("AccountSid", "MessagingServiceSid", "Body", "From"):
        assert after[name] == before[name]
    assert dict(fresh(event).params)["MessageSid"] != after["MessageSid"]  # new each time


def test_fresh_renews_a_json_body_consistently() -> None:
    """Event Streams: the event id and the message SID are new, the message SID the same in data and source."""
    event = events.get("event-streams.batch")
    old, new = json.loads(event.body or ""), json.loads(fresh(event).body or "")
    assert new[0]["id"] != old[0]["id"]
    assert new[0]["data"]["messageSid"] != old[0]["data"]["messageSid"]
    assert new[0]["data"]["messageSid"] in new[0]["source"]
    assert new[0]["data"]["accountSid"] == old[0]["data"]["accountSid"]


def test_fresh_leaves_kinds_without_per_delivery_sids_alone() -> None:
    """WebSocket handshakes and Frontline's CRM callbacks come back equal: the caller can tell."""
    for kind in ("media-streams", "frontline.crm.customers"):
        assert fresh(events.get(kind)) == events.get(kind)
    assert {"AC", "MG", "IS", "WS"}.isdisjoint(PER_DELIVERY)


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.post("/twilio/sms")
    def incoming_sms() -> tuple[str, dict[str, str]]:
        return "<Response/>", {"Content-Type": "text/xml"}

    store = MemoryReplayStore(ttl=60)
    app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, auth_token=TOKEN, replay_guard=store)  # type: ignore[method-assign]
    return app


def test_signer_event_twice_is_a_replay_and_fresh_is_not() -> None:
    """In a test: the same event twice is refused as a replay (409); ``fresh=True`` is a new webhook."""
    client, signer = flask_app().test_client(), TwilioSigner(TOKEN)
    assert signer.event("messaging.inbound", client, "/twilio/sms").status_code == 200
    assert signer.event("messaging.inbound", client, "/twilio/sms").status_code == 409
    assert signer.event("messaging.inbound", client, "/twilio/sms", fresh=True).status_code == 200
    assert signer.event("messaging.inbound", client, "/twilio/sms", fresh=True).status_code == 200


#: The HTTP kinds with no per-delivery SID: --fresh cannot renew them, and send says to use --set.
WITHOUT_SIDS = {
    "conversations.conversation.add",  # a pre-event: the conversation has no SID yet
    "frontline.crm.customers",
    "frontline.crm.customer",
    "frontline.outgoing",
    "frontline.templates",
    "sync.document.updated",  # the document lives on; each update has its own DocumentRevision
}


@pytest.mark.parametrize("kind", [kind for kind, event in events.CATALOGUE.items() if not event.websocket])
def test_fresh_renews_every_kind_that_carries_a_per_delivery_sid(kind: str) -> None:
    """A new catalogue kind either gets new SIDs from --fresh, or is listed here as having none."""
    event = events.get(kind)
    assert (fresh(event) == event) == (kind in WITHOUT_SIDS), (
        f"{kind}: add its per-delivery SID prefix to twiliosig._fresh.PER_DELIVERY, or list it in WITHOUT_SIDS"
    )
