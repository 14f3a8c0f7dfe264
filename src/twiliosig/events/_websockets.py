"""Media Streams and ConversationRelay: a signed WebSocket handshake, then Twilio's messages.

The handshake is a GET with ``X-Twilio-Signature`` over the ``wss://`` URL and no
parameters; what follows is JSON text messages, which the signature does not cover (the
connection it arrived on is what was authenticated).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from ._model import Event, Field, always, documented, sid, when
from ._values import ACCOUNT_SID, TWILIO_NUMBER, US_CUSTOMER

_STREAM_SID = sid("MZ", "media stream")
_CALL_SID = sid("CA", "inbound call")

_MEDIA_STREAMS_PAGE = "https://www.twilio.com/docs/voice/media-streams/websocket-messages"
_RELAY_PAGE = "https://www.twilio.com/docs/voice/conversationrelay/websocket-messages"

#: When each message arrives (its fields arrive with it); a message not named here arrives on every stream.
_WHEN = {
    "dtmf": "when the caller presses a key",
    "mark": "when a mark your app sent has been played",
    "prompt": "each time the caller finishes speaking",
    "interrupt": "when the caller speaks over the text being played",
}


def _messages(page: str, *groups: Iterable[str]) -> tuple[Field, ...]:
    """One field per ``message/field`` path: always sent when its message always arrives, else when it does."""
    fields: list[Field] = []
    for name in (name for group in groups for name in group):
        label = name.split("/", 1)[0]
        if label in _WHEN:
            fields.extend(when(page, name, note=_WHEN[label]))
        else:
            fields.extend(always(page, name, note=f"in the {label} message"))
    return tuple(fields)


_MEDIA_STREAMS = documented(
    _MEDIA_STREAMS_PAGE,
    _messages(
        _MEDIA_STREAMS_PAGE,
        ["connected/event", "connected/protocol", "connected/version"],
        ["start/event", "start/sequenceNumber", "start/streamSid", "start/start"],
        [f"start/start.{name}" for name in ("accountSid", "streamSid", "callSid", "tracks", "customParameters")],
        ["start/start.mediaFormat"],
        ["media/event", "media/sequenceNumber", "media/streamSid", "media/media"],
        [f"media/media.{name}" for name in ("track", "chunk", "timestamp", "payload")],
        ["dtmf/event", "dtmf/sequenceNumber", "dtmf/streamSid", "dtmf/dtmf", "dtmf/dtmf.track", "dtmf/dtmf.digit"],
        ["mark/event", "mark/sequenceNumber", "mark/streamSid", "mark/mark", "mark/mark.name"],
        ["stop/event", "stop/sequenceNumber", "stop/streamSid", "stop/stop", "stop/stop.accountSid"],
        ["stop/stop.callSid"],
    ),
)

_CONVERSATION_RELAY = documented(
    _RELAY_PAGE,
    _messages(
        _RELAY_PAGE,
        [f"setup/{name}" for name in (
            "type", "sessionId", "callSid", "parentCallSid", "from", "to", "forwardedFrom", "callerName",
            "direction", "callType", "callStatus", "accountSid", "customParameters",
        )],
        ["prompt/type", "prompt/voicePrompt", "prompt/lang", "prompt/last"],
        ["dtmf/type", "dtmf/digit"],
        ["interrupt/type", "interrupt/utteranceUntilInterrupt", "interrupt/durationUntilInterruptMs"],
    ),
    # the <Parameter> names of your own TwiML
    when(_RELAY_PAGE, r"setup/customParameters\..+", note="one per <Parameter> in your TwiML", pattern=True),
)  # fmt: skip


def _json(item: dict[str, Any]) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def _media(sequence: int, chunk: int) -> str:
    # 20 ms of mu-law silence (0xFF), base64 as Twilio sends it.
    payload = base64.b64encode(b"\xff" * 160).decode("ascii")
    return _json(
        {
            "event": "media",
            "sequenceNumber": str(sequence),
            "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(20 * chunk), "payload": payload},
            "streamSid": _STREAM_SID,
        }
    )


MEDIA_STREAMS = Event(
    kind="media-streams",
    product="media-streams",
    title="<Connect><Stream>: the handshake, then connected, start, media, a key press, a mark and stop",
    path="/twilio/media",
    documented=_MEDIA_STREAMS,
    method="GET",
    websocket=True,
    messages=(
        _json({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        _json(
            {
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "accountSid": ACCOUNT_SID,
                    "streamSid": _STREAM_SID,
                    "callSid": _CALL_SID,
                    "tracks": ["inbound"],
                    "customParameters": {"customer": "Zoë Andrade", "locale": "pt-BR"},
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": _STREAM_SID,
            }
        ),
        _media(2, 1),
        _media(3, 2),
        _media(4, 3),
        _json(
            {
                "event": "dtmf",
                "streamSid": _STREAM_SID,
                "sequenceNumber": "5",
                "dtmf": {"track": "inbound_track", "digit": "7"},
            }
        ),
        _json({"event": "mark", "sequenceNumber": "6", "streamSid": _STREAM_SID, "mark": {"name": "greeting-done"}}),
        _json(
            {
                "event": "stop",
                "sequenceNumber": "7",
                "streamSid": _STREAM_SID,
                "stop": {"accountSid": ACCOUNT_SID, "callSid": _CALL_SID},
            }
        ),
    ),
)

CONVERSATION_RELAY = Event(
    kind="conversation-relay",
    product="conversation-relay",
    title="<Connect><ConversationRelay>: the handshake, then setup, two prompts, a key press and an interruption",
    path="/twilio/relay",
    documented=_CONVERSATION_RELAY,
    method="GET",
    websocket=True,
    messages=(
        _json(
            {
                "type": "setup",
                "sessionId": sid("VX", "conversation relay session"),
                "callSid": _CALL_SID,
                "parentCallSid": "",
                "from": US_CUSTOMER,
                "to": TWILIO_NUMBER,
                "forwardedFrom": "",
                "callerName": "",
                "direction": "inbound",
                "callType": "PSTN",
                "callStatus": "RINGING",
                "accountSid": ACCOUNT_SID,
                "customParameters": {"crm_id": "cust-7f3a9c"},
            }
        ),
        _json({"type": "prompt", "voicePrompt": "Hola, quiero cambiar mi cita", "lang": "es-US", "last": True}),
        _json({"type": "dtmf", "digit": "2"}),
        _json({"type": "prompt", "voicePrompt": "¿Puede ser el jueves?", "lang": "es-US", "last": True}),
        _json(
            {
                "type": "interrupt",
                "utteranceUntilInterrupt": "Claro, tenemos disponibilidad el jueves a las",
                "durationUntilInterruptMs": 1320,
            }
        ),
    ),
)

EVENTS = (MEDIA_STREAMS, CONVERSATION_RELAY)
