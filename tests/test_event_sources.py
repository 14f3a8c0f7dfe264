"""Every catalogue entry is held to its source record: what Twilio documents, sends in practice, and who says so.

A catalogue that invents a field teaches users to read a field Twilio never sends. Each
entry records, for every name it may carry, whether Twilio documents it as always sent
or sent when it applies, or whether a public source shows it sent in practice, with the
page that says so. These tests hold the entries to that record, and pin the errors a
check against Twilio's pages found so they cannot come back.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from twiliosig import events
from twiliosig.cli import main
from twiliosig.events import Presence

KINDS = events.kinds()

#: The public sources a "practice" record may cite besides Twilio's own pages: Twilio Labs' code.
PRACTICE_SOURCES = ("https://github.com/twilio-labs/",)


def _twilio(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return url.startswith("https://") and (host == "twilio.com" or host.endswith(".twilio.com"))


def params(kind: str) -> dict[str, str]:
    return dict(events.get(kind).params)


# --- every entry against its record ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_name_recorded_as_always_sent_is_sent(kind: str) -> None:
    """A name Twilio documents as sent every time is in the entry: a handler tested on it meets it."""
    event = events.get(kind)
    assert sorted(event.documented.always() - event.field_names()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_record_cites_a_page_and_says_when(kind: str) -> None:
    """Documented names cite a twilio.com page; practice names Twilio's page or Twilio Labs' code; both say when."""
    for field in events.get(kind).documented.fields:
        if field.presence is Presence.PRACTICE:
            assert _twilio(field.source) or field.source.startswith(PRACTICE_SOURCES), field
        else:
            assert _twilio(field.source), field
        if field.presence is not Presence.ALWAYS:
            assert field.note, f"{kind}: {field.name} ({field.presence.value}) needs a note saying when"


@pytest.mark.parametrize("kind", KINDS)
def test_names_left_out_are_not_sent(kind: str) -> None:
    """A name the record lists as left out (no source) is neither sent nor recorded."""
    event = events.get(kind)
    for names, why in event.documented.left_out:
        assert why
        for name in names.split(", "):
            assert name not in event.field_names(), (kind, name)
            assert not event.documented.allows(name), (kind, name)


def test_documented_and_practice_are_told_apart() -> None:
    """undocumented() names what an entry sends that no Twilio table lists: sent in practice only."""
    assert events.get("messaging.inbound").undocumented() == ["ApiVersion", "SmsStatus"]
    assert "StirVerstat" not in events.get("voice.incoming").undocumented()  # Twilio's changelog documents it
    places = [f"{end}{part}" for end in ("Caller", "Called") for part in ("City", "State", "Zip", "Country")]
    assert events.get("voice.incoming").undocumented() == sorted(["Caller", "Called", *places])
    assert events.get("voice.status").undocumented() == []


# --- the errors the check against Twilio's pages found ------------------------------------------


def test_voice_status_is_the_call_resource_table() -> None:
    """Caller and Called on every callback; Duration and SipResponseCode on completed; no AnsweredBy."""
    sent = params("voice.status")
    assert sent["Caller"] == sent["From"]
    assert sent["Called"] == sent["To"]
    assert sent["CallStatus"] == "completed"
    assert {"Duration", "CallDuration", "SipResponseCode"} <= set(sent)
    assert "AnsweredBy" not in sent
    record = events.get("voice.status").documented
    assert record.source == "https://www.twilio.com/docs/voice/api/call-resource"
    assert not record.allows("AnsweredBy")
    assert not record.allows("FromCity")
    assert any("AnsweredBy" in names for names, _ in record.left_out)


def test_voice_entries_cite_the_pages_that_hold_their_tables() -> None:
    """The TwiML request table is on docs/voice/twiml; Caller* names and StirVerstat are not claimed from it."""
    record = events.get("voice.incoming").documented
    assert record.source == "https://www.twilio.com/docs/voice/twiml"
    assert record.field("CallSid").source == record.source  # type: ignore[union-attr]
    for name in ("Caller", "CallerCity", "Called", "CalledCountry"):
        assert record.field(name).presence is Presence.PRACTICE  # type: ignore[union-attr]
    stir = record.field("StirVerstat")
    assert stir is not None
    assert stir.source != record.source
    assert "changelog" in stir.source
    assert events.get("voice.recording").documented.source == "https://www.twilio.com/docs/voice/api/call-resource"


def test_voice_recording_sends_only_the_recording_callback_table() -> None:
    """ErrorCode is in no recording table; ConferenceSid belongs to conference recordings."""
    sent = params("voice.recording")
    assert "ErrorCode" not in sent
    assert "ConferenceSid" not in sent
    assert sent["RecordingSource"] == "OutboundAPI"
    assert set(sent) == events.get("voice.recording").documented.always()


def test_frontline_pages_with_anchor_not_next_page_token() -> None:
    """Twilio's Frontline quickstarts page with Anchor; NextPageToken is sourced nowhere."""
    sent = params("frontline.crm.customers")
    assert "NextPageToken" not in sent
    assert "Anchor" in sent
    record = events.get("frontline.crm.customers").documented
    assert record.field("Anchor").source.startswith("https://github.com/twilio-labs/frontline-")  # type: ignore[union-attr]
    assert record.field("Query").source.startswith("https://github.com/twilio-labs/frontline-")  # type: ignore[union-attr]
    assert not record.allows("NextPageToken")


def test_conversation_add_is_the_on_conversation_add_table() -> None:
    """UniqueName sent; Source is SDK or API; no DateCreated; MessageBody and Media documented."""
    sent = params("conversations.conversation.add")
    assert "UniqueName" in sent
    assert sent["Source"] in ("SDK", "API")
    assert "DateCreated" not in sent
    record = events.get("conversations.conversation.add").documented
    assert record.documents("MessageBody")
    assert record.documents("Media")
    assert not record.allows("DateCreated")


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind.startswith("conversations.")])
def test_conversations_send_no_name_their_tables_lack(kind: str) -> None:
    """No RetryCount; ChatServiceSid and MessagingServiceSid only where the event's table lists them."""
    sent = params(kind)
    assert "RetryCount" not in sent
    listed = {"conversations.conversation.add": {"ChatServiceSid", "MessagingServiceSid"}}
    service_names = {"ChatServiceSid", "MessagingServiceSid"} & set(sent)
    if kind == "conversations.message.added":
        assert service_names == {"MessagingServiceSid"}
    else:
        assert service_names == listed.get(kind, set())


def test_messaging_binding_type_is_upper_case() -> None:
    """The table's values are SMS, CHAT and WHATSAPP."""
    assert params("conversations.participant.added")["MessagingBinding.Type"] in ("SMS", "CHAT", "WHATSAPP")


def test_messaging_records_hold_the_documented_rich_and_channel_names() -> None:
    """Rich-message replies and channel status names are documented; SmsStatus and ApiVersion are practice."""
    inbound = events.get("messaging.inbound").documented
    for name in ("ButtonPayload", "ButtonType", "InteractiveData", "FlowData", "ChannelMetadata"):
        assert inbound.documents(name), name
    for name in ("SmsStatus", "ApiVersion"):
        assert inbound.field(name).presence is Presence.PRACTICE  # type: ignore[union-attr]
    assert "ApiVersion" not in params("messaging.status")


def test_taskrouter_values_follow_the_pages() -> None:
    """ResourceType as the event reference spells it; the assignment callback is its page's twelve names."""
    assert params("taskrouter.event")["ResourceType"] == "Task"
    assert len(events.get("taskrouter.assignment").documented.always()) == 12


def test_event_streams_sends_no_time_attribute() -> None:
    """No Twilio event type example shows the CloudEvents time attribute, so the batch does not send it."""
    assert "time" not in events.get("event-streams.batch").field_names()


# --- the record on the command line ---------------------------------------------------------------


def test_send_list_kind_prints_each_name_with_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    """`twiliosig send --list KIND` shows every name, how it arrives, its source, and what was left out."""
    assert main(["send", "--list", "voice.status"]) == 0
    output = capsys.readouterr().out
    assert output.startswith("voice.status: ")
    assert re.search(r"^  \* Caller +always +https://www\.twilio\.com/docs/voice/api/call-resource$", output, re.M)
    assert re.search(r"^    ParentCallSid +when +https://", output, re.M)
    assert "in the terminal events only" in output
    assert re.search(r"^  left out: AnsweredBy: ", output, re.M)
    assert main(["send", "--list", "messaging.inbound"]) == 0
    assert re.search(r"^  \* SmsStatus +practice +https://github\.com/twilio-labs/", capsys.readouterr().out, re.M)


def test_send_list_with_an_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo gets the closest kind, exit 2."""
    assert main(["send", "--list", "voice.stauts"]) == 2
    assert "did you mean 'voice.status'" in capsys.readouterr().err


# --- kinds added from their pages ------------------------------------------------------------------


def test_whatsapp_status_callbacks_carry_the_channel_names() -> None:
    """A read receipt is MessageStatus=read with EventType=READ; a failure carries the channel's own message."""
    read = params("messaging.status.whatsapp")
    assert (read["MessageStatus"], read["EventType"], read["ChannelPrefix"]) == ("read", "READ", "whatsapp")
    assert read["ChannelInstallSid"].startswith("XE")
    assert "ChannelStatusMessage" not in read
    failed = params("messaging.status.whatsapp.failed")
    assert failed["MessageStatus"] == "undelivered"
    assert failed["ErrorCode"]
    assert failed["ChannelStatusMessage"]
    assert "EventType" not in failed
    record = events.get("messaging.status.whatsapp").documented
    assert record.source == "https://www.twilio.com/docs/messaging/guides/track-outbound-message-status"
    for name in ("ChannelInstallSid", "ChannelStatusMessage", "ChannelPrefix", "EventType"):
        assert record.documents(name), name


def test_record_callbacks_follow_the_record_page() -> None:
    """<Record>'s action adds three names to the request; its recording callback is its own, smaller table."""
    action = params("voice.record")
    request = set(params("voice.incoming")) - {"CallerName"}
    assert request <= set(action)
    assert set(action) - request == {"RecordingUrl", "RecordingDuration", "Digits"}
    recording = params("voice.record.recording")
    assert recording["RecordingSource"] == "RecordVerb"
    assert "RecordingStartTime" not in recording
    assert "RecordingTrack" not in recording
    transcription = params("voice.record.transcription")
    assert transcription["TranscriptionStatus"] in ("completed", "failed")
    assert transcription["RecordingSid"] == recording["RecordingSid"]
    for kind in ("voice.record", "voice.record.recording", "voice.record.transcription"):
        assert events.get(kind).documented.source == "https://www.twilio.com/docs/voice/twiml/record"


def test_dial_action_adds_the_dial_table_to_the_request() -> None:
    """<Dial>'s action URL gets the TwiML request plus DialCallStatus, DialCallSid, DialCallDuration, DialBridged."""
    action = params("voice.dial")
    request = set(params("voice.incoming")) - {"CallerName"}
    assert set(action) - request == {"DialCallStatus", "DialCallSid", "DialCallDuration", "DialBridged"}
    assert action["DialCallStatus"] in ("completed", "answered", "busy", "no-answer", "failed", "canceled")
    assert action["DialCallSid"] != action["CallSid"]
    record = events.get("voice.dial").documented
    assert record.source == "https://www.twilio.com/docs/voice/twiml/dial"
    assert record.field("CallSid").source == "https://www.twilio.com/docs/voice/twiml"  # type: ignore[union-attr]


def test_conference_events_send_what_their_sent_on_column_says() -> None:
    """A join carries the participant's flags; an end carries why it ended and none of a participant's."""
    join, end = params("voice.conference.join"), params("voice.conference.end")
    common = {"ConferenceSid", "FriendlyName", "AccountSid", "SequenceNumber", "Timestamp", "StatusCallbackEvent"}
    assert common <= set(join)
    assert common <= set(end)
    assert {"CallSid", "Muted", "Hold", "Coaching", "EndConferenceOnExit", "StartConferenceOnEnter"} <= set(join)
    assert not {"CallSid", "Muted", "Hold"} & set(end)
    assert end["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    recording = params("voice.conference.recording")
    assert recording["RecordingSource"] == "Conference"
    assert "CallSid" not in recording
    assert recording["ConferenceSid"] == join["ConferenceSid"]


def test_sync_document_event_follows_the_sync_webhooks_page() -> None:
    """The common parameters and the document table are documented; the emulator's extras are practice."""
    sent = params("sync.document.updated")
    assert sent["EventType"] == "document_updated"
    assert sent["DocumentSid"].startswith("ET")
    record = events.get("sync.document.updated").documented
    assert record.source == "https://www.twilio.com/docs/sync/webhooks"
    assert events.get("sync.document.updated").undocumented() == ["DateCreated", "EventId", "ProtocolVersion"]


@pytest.mark.parametrize(
    ("kind", "event_type"),
    [
        ("event-streams.voice-insights", "com.twilio.voice.insights.call-summary.complete"),
        ("event-streams.verify", "com.twilio.accountsecurity.verify.verification.approved"),
    ],
)
def test_event_streams_batches_carry_the_event_type_pages_fields(kind: str, event_type: str) -> None:
    """One CloudEvent of the page's type, the envelope its example shows, snake_case data, no time."""
    (item,) = json.loads(events.get(kind).body or "")
    assert item["type"] == event_type
    assert set(item) == {"specversion", "type", "source", "id", "dataschema", "datacontenttype", "data"}
    assert all(name == name.lower() for name in item["data"])
    assert events.get(kind).documented.source.startswith("https://www.twilio.com/docs/events/event-types/")


def test_a_child_leg_status_callback_names_its_parent() -> None:
    """The <Number> leg's callback is the TwiML request plus CallDuration, with ParentCallSid and outbound-dial."""
    child, dial = params("voice.dial.number.status"), params("voice.dial")
    assert child["Direction"] == "outbound-dial"
    assert child["ParentCallSid"] == dial["CallSid"]
    assert child["CallSid"] == dial["DialCallSid"]
    assert child["CallDuration"] == dial["DialCallDuration"]
    assert events.get("voice.dial.number.status").documented.source == "https://www.twilio.com/docs/voice/twiml/number"


_TRANSCRIPTION_KINDS = [f"voice.transcription.{name}" for name in ("started", "content", "stopped", "error")]


def test_real_time_transcription_events_follow_the_transcription_page() -> None:
    """One session's four events: the shared names, ISO 8601 times, the transcript as JSON in TranscriptionData."""
    sent = {kind: params(kind) for kind in _TRANSCRIPTION_KINDS}
    common = {"AccountSid", "CallSid", "TranscriptionSid", "Timestamp", "SequenceId", "TranscriptionEvent"}
    for kind, values in sent.items():
        assert common <= set(values), kind
        assert values["TranscriptionEvent"] == "transcription-" + kind.rsplit(".", 1)[1]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", values["Timestamp"]), values["Timestamp"]
        assert values["TranscriptionSid"] == sent["voice.transcription.started"]["TranscriptionSid"]
        assert values["CallSid"] == sent["voice.transcription.started"]["CallSid"]
        assert events.get(kind).documented.source == "https://www.twilio.com/docs/voice/twiml/transcription"
    assert set(sent["voice.transcription.stopped"]) == common
    started, content = sent["voice.transcription.started"], sent["voice.transcription.content"]
    assert int(started["SequenceId"]) < int(content["SequenceId"])
    assert json.loads(started["ProviderConfiguration"])
    data = json.loads(content["TranscriptionData"])
    assert data["transcript"]
    assert isinstance(data["confidence"], float)  # a decimal number, as the page says
    assert content["Track"] in ("inbound_track", "outbound_track")
    assert content["Final"] in ("true", "false")
    # partialResults=false in the session: confidence in the data, and no Stability.
    assert started["PartialResults"] == "false"
    assert "Stability" not in content
    assert events.get("voice.transcription.content").documented.field("Stability").presence is Presence.WHEN  # type: ignore[union-attr]
    assert not events.get("voice.transcription.content").documented.allows("ProviderConfiguration")
    error = sent["voice.transcription.error"]
    assert 32650 <= int(error["TranscriptionErrorCode"]) <= 32655
    assert error["TranscriptionError"]


@pytest.mark.parametrize(
    ("kind", "page", "to"),
    [
        ("voice.dial.number.status", "https://www.twilio.com/docs/voice/twiml/number", "+"),
        ("voice.dial.client.status", "https://www.twilio.com/docs/voice/twiml/client", "client:"),
        ("voice.dial.sip.status", "https://www.twilio.com/docs/voice/twiml/sip", "sip:"),
    ],
)
def test_dialed_legs_send_their_nouns_status_callback_table(kind: str, page: str, to: str) -> None:
    """The TwiML request's names plus the leg table: ParentCallSid, progress-event names, CallDuration on completed."""
    sent = params(kind)
    assert sent["To"].startswith(to)
    assert sent["Direction"] == "outbound-dial"
    assert sent["ParentCallSid"] == params("voice.dial")["CallSid"]
    assert sent["CallSid"] != sent["ParentCallSid"]
    assert sent["CallbackSource"] == "call-progress-events"
    assert sent["CallStatus"] == "completed"
    assert "CallDuration" in sent  # completed only, which this entry is
    assert "RecordingUrl" not in sent  # no record on the <Dial>
    record = events.get(kind).documented
    assert record.source == page
    assert record.field("ParentCallSid").presence is Presence.ALWAYS  # type: ignore[union-attr]
    assert record.field("CallDuration").presence is Presence.WHEN  # type: ignore[union-attr]
    assert record.field("CallSid").source == page  # type: ignore[union-attr]
    assert record.field("CallToken").source == "https://www.twilio.com/docs/voice/twiml"  # type: ignore[union-attr]


def test_an_rcs_read_receipt_is_the_channel_table_with_rcs_addresses() -> None:
    """The status page's channel table covers RCS: ChannelPrefix=rcs, EventType=READ, rcs: addresses."""
    read = params("messaging.status.rcs")
    assert (read["MessageStatus"], read["EventType"], read["ChannelPrefix"]) == ("read", "READ", "rcs")
    assert read["To"].startswith("rcs:+")
    assert read["From"].startswith("rcs:")
    assert read["ChannelInstallSid"].startswith("XE")
    assert "ChannelStatusMessage" not in read  # only when delivery failed
    assert set(read) == set(params("messaging.status.whatsapp"))  # the same table as WhatsApp's read receipt
    record = events.get("messaging.status.rcs").documented
    assert record.source == "https://www.twilio.com/docs/messaging/guides/track-outbound-message-status"
    assert record.documents("EventType")


def test_enqueue_wait_and_action_carry_their_tables_on_top_of_the_request() -> None:
    """waitUrl: the request plus six queue names; action: QueueResult, and QueueSid/QueueTime when enqueued."""
    request = set(params("voice.incoming")) - {"CallerName"}
    wait, action = params("voice.enqueue.wait"), params("voice.enqueue")
    assert set(wait) - request == {
        "QueuePosition",
        "QueueSid",
        "QueueTime",
        "AvgQueueTime",
        "CurrentQueueSize",
        "MaxQueueSize",
    }
    assert set(action) - request == {"QueueResult", "QueueSid", "QueueTime"}
    assert action["QueueResult"] == "bridged"
    assert action["QueueSid"] == wait["QueueSid"]
    assert int(action["QueueTime"]) >= int(wait["QueueTime"])
    record = events.get("voice.enqueue").documented
    assert record.source == "https://www.twilio.com/docs/voice/twiml/enqueue"
    assert not record.allows("QueuePosition")  # the waitUrl's, not the action's
    assert record.field("QueueSid").presence is Presence.WHEN  # type: ignore[union-attr]


def test_pay_action_and_status_callback_follow_the_pay_page() -> None:
    """The action: the request plus Result and a card charge's names; the status callback: no request names."""
    request = set(params("voice.incoming")) - {"CallerName"}
    action = params("voice.pay")
    assert request <= set(action)
    assert action["Result"] == "success"
    assert action["PaymentMethod"] == "credit-card"
    assert "PaymentConfirmationCode" in action  # a charge, so no PaymentToken
    assert "PaymentToken" not in action
    assert not {"BankAccountNumber", "BankRoutingNumber"} & set(action)  # a card, not ACH
    assert re.fullmatch(r"[x-]+\d{4}", action["PaymentCardNumber"])  # only the last 4 digits
    assert set(action["SecurityCode"]) == {"*"}  # redacted
    status = params("voice.pay.status")
    assert not {"From", "To", "CallStatus", "ApiVersion", "Direction"} & set(status)
    assert status["CallSid"] == action["CallSid"]
    assert status["For"] == "expiration-date"
    assert status["Attempt"] in ("1", "2", "3")
    for kind in ("voice.pay", "voice.pay.status"):
        assert events.get(kind).documented.source == "https://www.twilio.com/docs/voice/twiml/pay"
    assert events.get("voice.pay").documented.field("PaymentToken").presence is Presence.WHEN  # type: ignore[union-attr]


def test_refer_action_adds_what_the_sip_notifies_told() -> None:
    """The request plus ReferCallStatus, ReferSipResponseCode and NotifySipResponseCode, the page's first scenario."""
    request = set(params("voice.incoming")) - {"CallerName"}
    refer = params("voice.refer")
    assert set(refer) - request == {"ReferCallStatus", "ReferSipResponseCode", "NotifySipResponseCode"}
    assert (refer["ReferCallStatus"], refer["ReferSipResponseCode"], refer["NotifySipResponseCode"]) == (
        "in-progress",
        "202",
        "200",
    )
    record = events.get("voice.refer").documented
    assert record.source == "https://www.twilio.com/docs/voice/twiml/refer"
    assert all(record.field(name).presence is Presence.WHEN for name in set(refer) - request)  # type: ignore[union-attr]


def test_dequeuing_a_caller_runs_the_queue_url_on_the_callers_leg() -> None:
    """The <Queue> url: the request plus QueueSid, QueueTime, DequeingCallSid; CallSid is the waiting caller's."""
    request = set(params("voice.incoming")) - {"CallerName"}
    dequeue, wait = params("voice.dial.queue"), params("voice.enqueue.wait")
    assert set(dequeue) - request == {"QueueSid", "QueueTime", "DequeingCallSid"}
    assert dequeue["CallSid"] == wait["CallSid"]
    assert dequeue["DequeingCallSid"] != dequeue["CallSid"]
    assert dequeue["QueueSid"] == wait["QueueSid"]
    assert events.get("voice.dial.queue").documented.source == "https://www.twilio.com/docs/voice/twiml/queue"


def test_conversation_relay_action_sends_the_names_of_the_pages_examples() -> None:
    """Call information and session details, HandoffData as JSON; none of the TwiML request's other names."""
    ended = params("voice.connect.conversation-relay")
    assert set(ended) == {
        "AccountSid",
        "CallSid",
        "CallStatus",
        "From",
        "To",
        "Direction",
        "ApplicationSid",
        "SessionId",
        "SessionStatus",
        "SessionDuration",
        "HandoffData",
    }
    assert ended["SessionStatus"] == "ended"
    assert ended["SessionId"].startswith("VX")
    assert json.loads(ended["HandoffData"])["reason"]
    record = events.get("voice.connect.conversation-relay").documented
    assert record.source == "https://www.twilio.com/docs/voice/twiml/connect/conversationrelay"
    assert not record.allows("ApiVersion")
    assert record.field("ErrorCode").presence is Presence.WHEN  # type: ignore[union-attr]
