"""Event Streams: a webhook sink receives a batch of CloudEvents as JSON, covered by ``bodySHA256``."""

from __future__ import annotations

import json

from ._conversations import CONVERSATION_SID, WORKER_PARTICIPANT_SID
from ._model import Event, always, documented, sid, when
from ._values import ACCOUNT_SID, MESSAGING_SERVICE_SID, TWILIO_NUMBER, UK_CUSTOMER

_PAGES = "https://www.twilio.com/docs/events/event-types"
_INBOUND_PAGE = f"{_PAGES}/messaging/inbound-message"
_CONVERSATION_MESSAGE_PAGE = f"{_PAGES}/conversations/message"
_EXAMPLE = "shown in the event type page's example"

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

BATCH = Event(
    kind="event-streams.batch",
    product="event-streams",
    title="a webhook sink receives a batch of two CloudEvents (JSON, bodySHA256)",
    path="/twilio/events",
    documented=_BATCH,
    body=json.dumps([_INBOUND, _MESSAGE_ADDED], ensure_ascii=False, separators=(",", ":")),
)

EVENTS = (BATCH,)
