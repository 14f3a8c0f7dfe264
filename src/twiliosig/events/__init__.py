"""Every Twilio webhook, realistic and signed: a catalogue to test handlers against.

Hand-made test dictionaries look nothing like what Twilio sends; production then meets
blank geography fields, repeated SIDs under old names, emoji, scripts other than Latin,
JSON inside form values and URLs with query strings. Each :class:`Event` here is one kind
of webhook, realistic values of our own, the way Twilio signs it, and a record of every
name it may carry: whether Twilio documents it as always sent or sent when it applies,
or whether it is only seen sent in practice, with the page or public source that says so
(:class:`Documented`; tests hold every entry to its record, and a name nobody can source
is left out and listed as such)::

    from twiliosig import events

    event = events.get("messaging.inbound").with_params({"Body": "STOP"})
    request = event.sign("https://example.com/twilio/sms", auth_token="...")
    request.headers, request.body          # exactly what Twilio would send

``twiliosig send KIND URL`` sends one to a running app; ``TwilioSigner.event`` sends
one through a test client. :data:`CATALOGUE` maps each kind to its entry.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

from . import (
    _conference,
    _conversations,
    _event_streams,
    _frontline,
    _messaging,
    _sync,
    _taskrouter,
    _transcription,
    _verbs,
    _voice,
    _websockets,
)
from ._model import Documented, Event, Field, Presence, SignedRequest

__all__ = ["CATALOGUE", "Documented", "Event", "Field", "Presence", "SignedRequest", "get", "kinds"]

#: Every entry by kind, grouped by product family in this order.
CATALOGUE: Mapping[str, Event] = MappingProxyType(
    {
        event.kind: event
        for family in (
            _messaging,
            _voice,
            _verbs,
            _transcription,
            _conference,
            _conversations,
            _frontline,
            _taskrouter,
            _sync,
            _event_streams,
            _websockets,
        )
        for event in family.EVENTS
    }
)


def kinds() -> list[str]:
    """The kinds in the catalogue, grouped by product family."""
    return list(CATALOGUE)


def get(kind: str) -> Event:
    """The catalogue entry for ``kind``.

    Raises:
        ValueError: For a kind the catalogue does not hold; the message suggests the closest.
    """
    event = CATALOGUE.get(kind)
    if event is not None:
        return event
    close = difflib.get_close_matches(kind, CATALOGUE, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"no webhook kind {kind!r}{hint} (`twiliosig send --list` names them all)")
