"""Sync: a service's webhook, called for the events its client SDKs (and, when enabled, the REST API) cause."""

from __future__ import annotations

import json

from ._model import Event, always, documented, practice, sid, when
from ._values import ACCOUNT_SID

_PAGE = "https://www.twilio.com/docs/sync/webhooks"
#: Twilio Labs' webhook emulator: what a Sync document event carries in practice.
_EMULATOR = "https://github.com/twilio-labs/plugin-webhook/blob/main/src/utils/webhook-events/syncBaseEvent.js"

_DOCUMENT = documented(
    _PAGE,
    # "The incoming request for all events will contain the following common parameters"
    always(_PAGE, "AccountSid", "EventType", "ServiceSid"),
    always(_PAGE, "Identity", note='the identity in the client\'s token; "system" when the REST API caused it'),
    when(_PAGE, "EndpointId", note="for events a client SDK caused (not for REST API ones)"),
    always(_PAGE, "DocumentRevision", "DocumentSid", "DocumentUniqueName"),
    when(_PAGE, "DocumentData", note="the document as JSON, on every document event but document_removed"),
    practice(
        _EMULATOR,
        "DateCreated",
        "EventId",
        "ProtocolVersion",
        note="not in the page's document table; Twilio Labs' webhook emulator sends them with every Sync event",
    ),
)

_SERVICE_SID = sid("IS", "sync service for order tracking")

DOCUMENT_UPDATED = Event(
    kind="sync.document.updated",
    product="sync",
    title="a client updated a Sync document (document_updated)",
    path="/twilio/sync",
    documented=_DOCUMENT,
    params=(
        ("AccountSid", ACCOUNT_SID),
        ("DateCreated", "2024-06-18T14:44:05.318Z"),
        (
            "DocumentData",
            json.dumps(
                {"status": "à caminho 🚚", "eta": "14:55", "stops": ["Paulista", "Pinheiros"]}, ensure_ascii=False
            ),
        ),
        ("DocumentRevision", "7"),
        ("DocumentSid", sid("ET", "order tracking document")),
        ("DocumentUniqueName", "order-A-1043"),
        ("EndpointId", "twi1-8c3f4a1b2d5e6f708192a3b4c5d6e7f8"),
        ("EventId", "7"),
        ("EventType", "document_updated"),
        ("Identity", "driver.joao@example.com"),
        ("ProtocolVersion", "v3"),
        ("ServiceSid", _SERVICE_SID),
    ),
)

EVENTS = (DOCUMENT_UPDATED,)
