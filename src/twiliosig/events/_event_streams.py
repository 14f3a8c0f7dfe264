"""Event Streams: a webhook sink receives a batch of CloudEvents as JSON, covered by ``bodySHA256``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ._conversations import CONVERSATION_SID, WORKER_PARTICIPANT_SID
from ._model import Event, always, documented, sid, when
from ._values import ACCOUNT_SID, MESSAGING_SERVICE_SID, TWILIO_NUMBER, UK_CUSTOMER

_PAGES = "https://www.twilio.com/docs/events/event-types"
_INBOUND_PAGE = f"{_PAGES}/messaging/inbound-message"
_CONVERSATION_MESSAGE_PAGE = f"{_PAGES}/conversations/message"
_CALL_SUMMARY_PAGE = f"{_PAGES}/voice-insights/call-summary"
_VERIFICATION_PAGE = f"{_PAGES}/verify/verification-status"
_EXAMPLE = "shown in the event type page's example"
_PARTIAL = "the part of the page's example that could be read"

_ENVELOPE = ("specversion", "type", "source", "id", "dataschema", "datacontenttype", "data")

_BATCH = documented(
    _PAGES,
    # the CloudEvents envelope: every event type page's example carries these (and no "time")
    always(_INBOUND_PAGE, *_ENVELOPE, note=f"the CloudEvents envelope, {_EXAMPLE}"),
    # com.twilio.messaging.inbound-message.received
    always(
        _INBOUND_PAGE,
        *(
            f"data.{name}"
            for name in (
                "messageSid", "timestamp", "accountSid", "eventName", "from", "to", "numMedia", "body", "toCountry",
                "toState", "toCity", "toZip", "fromCountry", "fromState", "fromCity", "fromZip", "mnc", "mcc",
                "messagingServiceSid",
            )
        ),
        note=_EXAMPLE,
    ),
    when(_INBOUND_PAGE, "data.referralCtwaClid", note="on a WhatsApp message from a click-to-WhatsApp advert"),
    # com.twilio.conversations.message.added
    always(
        _CONVERSATION_MESSAGE_PAGE,
        *(
            f"data.{name}"
            for name in (
                "AccountSid", "Author", "ParticipantSid", "ConversationSid", "MessageSid", "Index", "MessageBody",
                "DateCreated", "MessagingServiceSid",
            )
        ),
        note=_EXAMPLE,
    ),
    when(
        _CONVERSATION_MESSAGE_PAGE,
        "data.MessageSubject",
        "data.ContentSid",
        "data.Media",
        note=f"{_EXAMPLE}, when the message has a subject, a content template or media",
    ),
    left_out={
        "time": "the CloudEvents attribute is optional and no Twilio event type example shows it (their "
        "datacontenttype holds a timestamp instead: an error in the examples, the catalogue sends "
        "application/json)",
    },
)  # fmt: skip

_MESSAGE_SID = sid("SM", "event streams inbound sms")

_INBOUND = {
    "specversion": "1.0",
    "type": "com.twilio.messaging.inbound-message.received",
    "source": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{_MESSAGE_SID}.json",
    "id": sid("NO", "event streams event 1"),
    "dataschema": "https://events-schemas.twilio.com/Messaging.InboundMessageV1/6",
    "datacontenttype": "application/json",
    "data": {
        "messageSid": _MESSAGE_SID,
        "timestamp": "2024-06-18T14:31:43.000Z",
        "accountSid": ACCOUNT_SID,
        "eventName": "com.twilio.messaging.inbound-message.received",
        "from": UK_CUSTOMER,
        "to": TWILIO_NUMBER,
        "numMedia": 0,
        "body": "Güten Tag 👋 — наш заказ #A-1043?",
        "toCountry": "US",
        "toState": "CA",
        "toCity": "SAN FRANCISCO",
        "toZip": "94105",
        "fromCountry": "GB",
        "fromState": "",
        "fromCity": "",
        "fromZip": "",
        "mnc": "30",
        "mcc": "234",
        "messagingServiceSid": MESSAGING_SERVICE_SID,
    },
}

_MESSAGE_ADDED = {
    "specversion": "1.0",
    "type": "com.twilio.conversations.message.added",
    "source": f"/v1/Conversations/{CONVERSATION_SID}/Messages/{sid('IM', 'event streams conversation message')}",
    "id": sid("NO", "event streams event 2"),
    "dataschema": "https://events-schemas.twilio.com/Conversations.MessageAdded/2",
    "datacontenttype": "application/json",
    "data": {
        "AccountSid": ACCOUNT_SID,
        "Author": "ana.souza@example.com",
        "ParticipantSid": WORKER_PARTICIPANT_SID,
        "ConversationSid": CONVERSATION_SID,
        "MessageSid": sid("IM", "event streams conversation message"),
        "Index": 13,
        "MessageBody": "Claro! Chega amanhã 🚚",
        "DateCreated": "2024-06-18T14:35:02.117Z",
        "MessagingServiceSid": MESSAGING_SERVICE_SID,
    },
}

_ENVELOPE_FIELDS = always(_PAGES, *_ENVELOPE, note="the CloudEvents envelope of every event type page's example")

_CALL_SUMMARY_BATCH = documented(
    _CALL_SUMMARY_PAGE,
    _ENVELOPE_FIELDS,
    always(
        _CALL_SUMMARY_PAGE,
        *(
            f"data.{name}"
            for name in (
                "call_sid", "account_sid", "created_time", "start_time", "end_time", "duration", "connect_duration",
                "call_type", "call_state", "from",
            )
        ),
        note=f"{_EXAMPLE} ({_PARTIAL}; from is an object: caller, callee, carrier, connection, location, ...)",
    ),
    when(
        _CALL_SUMMARY_PAGE,
        "data.parent_call_sid",
        "data.parent_account_sid",
        note=f"{_EXAMPLE}, for a call that has a parent",
    ),
    left_out={"time": "no Twilio event type example shows the CloudEvents time attribute"},
)  # fmt: skip

_VERIFICATION_BATCH = documented(
    _VERIFICATION_PAGE,
    _ENVELOPE_FIELDS,
    always(
        _VERIFICATION_PAGE,
        *(
            f"data.{name}"
            for name in (
                "account_sid", "service_sid", "verification_sid", "friendly_name", "custom_code_enabled",
                "created_at", "to", "verification_status", "country", "code_length", "send_code_attempts",
            )
        ),
        note=f"{_EXAMPLE} ({_PARTIAL}; send_code_attempts holds a count and the attempts)",
    ),
    when(_VERIFICATION_PAGE, "data.custom_friendly_name", note=f"{_EXAMPLE}, when the service sets one"),
    when(_VERIFICATION_PAGE, "data.verified_at", note=f"{_EXAMPLE}, once the verification is approved"),
    left_out={"time": "no Twilio event type example shows the CloudEvents time attribute"},
)  # fmt: skip

_CALL_SID = sid("CA", "event streams call summary call")
_CALL_SUMMARY = {
    "specversion": "1.0",
    "type": "com.twilio.voice.insights.call-summary.complete",
    "source": f"/v1/Voice/{_CALL_SID}/Summary",
    "id": sid("NO", "event streams call summary"),
    "dataschema": "https://events-schemas.twilio.com/VoiceInsights.CallSummary/7",
    "datacontenttype": "application/json",
    "data": {
        "call_sid": _CALL_SID,
        "account_sid": ACCOUNT_SID,
        "created_time": "2024-06-18T14:33:40Z",
        "start_time": "2024-06-18T14:31:32Z",
        "end_time": "2024-06-18T14:32:09Z",
        "duration": 37,
        "connect_duration": 35,
        "call_type": "carrier",
        "call_state": "completed",
        "from": {
            "caller": TWILIO_NUMBER,
            "callee": "+61491570156",
            "carrier": "Telstra",
            "connection": "pstn",
            "number_prefix": "61",
            "location": {"lat": -33.8688, "lon": 151.2093},
            "city": "Sydney",
            "country_code": "AU",
            "country_subdivision": "NSW",
        },
    },
}

_VERIFICATION_SID = sid("VE", "event streams verification")
_VERIFICATION = {
    "specversion": "1.0",
    "type": "com.twilio.accountsecurity.verify.verification.approved",
    "source": f"/v2/Services/{sid('VA', 'login verify service')}/Verifications/{_VERIFICATION_SID}",
    "id": sid("NO", "event streams verification approved"),
    "dataschema": "https://events-schemas.twilio.com/AccountSecurity.VerifyEventStreamEvent/2",
    "datacontenttype": "application/json",
    "data": {
        "account_sid": ACCOUNT_SID,
        "service_sid": sid("VA", "login verify service"),
        "verification_sid": _VERIFICATION_SID,
        "friendly_name": "Connexion — Société Générale & Cie",
        "custom_code_enabled": False,
        "created_at": "2024-06-18T14:36:00.000Z",
        "verified_at": "2024-06-18T14:36:41.000Z",
        "to": UK_CUSTOMER,
        "verification_status": "APPROVED",
        "country": "GB",
        "code_length": 6,
        "send_code_attempts": {
            "count": 1,
            "attempts": [
                {
                    "time": "2024-06-18T14:36:00.000Z",
                    "channel": "SMS",
                    "attempt_sid": sid("VL", "event streams verification attempt"),
                    "delivery_status": "SENT",
                }
            ],
        },
    },
}


def _batch(*items: Mapping[str, object]) -> str:
    return json.dumps(list(items), ensure_ascii=False, separators=(",", ":"))


CALL_SUMMARY = Event(
    kind="event-streams.voice-insights",
    product="event-streams",
    title="a webhook sink receives a Voice Insights call summary (com.twilio.voice.insights.call-summary.complete)",
    path="/twilio/events",
    documented=_CALL_SUMMARY_BATCH,
    body=_batch(_CALL_SUMMARY),
)

VERIFICATION = Event(
    kind="event-streams.verify",
    product="event-streams",
    title="a webhook sink receives an approved verification (com.twilio.accountsecurity.verify.verification.approved)",
    path="/twilio/events",
    documented=_VERIFICATION_BATCH,
    body=_batch(_VERIFICATION),
)

BATCH = Event(
    kind="event-streams.batch",
    product="event-streams",
    title="a webhook sink receives a batch of two CloudEvents (JSON, bodySHA256)",
    path="/twilio/events",
    documented=_BATCH,
    body=json.dumps([_INBOUND, _MESSAGE_ADDED], ensure_ascii=False, separators=(",", ":")),
)

EVENTS = (BATCH, CALL_SUMMARY, VERIFICATION)
