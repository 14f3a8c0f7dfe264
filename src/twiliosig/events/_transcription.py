"""Real-Time Transcription: what ``<Start><Transcription statusCallbackUrl>`` posts during a call.

The ``<Transcription>`` noun's page has one table per event (``transcription-started``,
``-content``, ``-stopped``, ``-error``), each introduced with "these HTTP requests contain
the properties listed below"; the records repeat them. Two things set these callbacks
apart from the rest of Voice: ``Timestamp`` is ISO 8601 (not RFC 2822), and the transcript
itself arrives as a JSON string inside the ``TranscriptionData`` form value.

The page shows each payload as a JSON object and calls every request a ``POST``; it does
not name a content type. The entries send form parameters, as every other Voice callback
does; a handler that reads ``request.form`` is what these test.
"""

from __future__ import annotations

import json

from ._model import Event, Field, always, documented, sid, when
from ._values import ACCOUNT_SID

_PAGE = "https://www.twilio.com/docs/voice/twiml/transcription"

_CALL = sid("CA", "transcribed support call")
_SESSION = sid("GT", "real-time transcription session")

#: The names every event's table lists.
_COMMON: tuple[Field, ...] = always(
    _PAGE, "AccountSid", "CallSid", "TranscriptionSid", "Timestamp", "SequenceId", "TranscriptionEvent"
)

_STARTED = documented(
    _PAGE,
    _COMMON,
    always(_PAGE, "ProviderConfiguration", "TranscriptionEngine", "Track", "PartialResults", "LanguageCode"),
    always(
        _PAGE,
        "Name",
        "InboundTrackLabel",
        "OutboundTrackLabel",
        note="listed for every started event; their values are the <Transcription>'s name, inboundTrackLabel "
        "and outboundTrackLabel attributes",
    ),
)

_CONTENT = documented(
    _PAGE,
    _COMMON,
    always(_PAGE, "LanguageCode", "Track", "TranscriptionData", "Final"),
    when(_PAGE, "Stability", note="only when the <Transcription> sets partialResults=true"),
    when(
        _PAGE,
        "TranscriptionProviderData",
        note="the page's examples carry it only with enableProviderData=true (the provider's raw result, JSON)",
    ),
    left_out={
        "ProviderConfiguration, TranscriptionEngine, Name, PartialResults": "in the transcription-started table only",
    },
)

_STOPPED = documented(_PAGE, _COMMON)

_ERROR = documented(_PAGE, _COMMON, always(_PAGE, "TranscriptionErrorCode", "TranscriptionError"))


def _head(event: str, sequence: int, timestamp: str) -> tuple[tuple[str, str], ...]:
    return (
        ("AccountSid", ACCOUNT_SID),
        ("CallSid", _CALL),
        ("TranscriptionSid", _SESSION),
        ("Timestamp", timestamp),
        ("SequenceId", str(sequence)),
        ("TranscriptionEvent", event),
    )


_PROVIDER_CONFIGURATION = json.dumps(
    {
        "profanityFilter": "true",
        "speechModel": "telephony",
        "enableAutomaticPunctuation": "true",
        "hints": "Núñez, Müller & Søn, 请稍等, order #A-1043",
    },
    ensure_ascii=False,
    separators=(",", ":"),
)

STARTED = Event(
    kind="voice.transcription.started",
    product="voice",
    title="a <Start><Transcription> session started (its statusCallbackUrl, transcription-started)",
    path="/twilio/voice/transcription",
    documented=_STARTED,
    params=(
        *_head("transcription-started", 1, "2024-06-25T18:45:12.135751Z"),
        ("ProviderConfiguration", _PROVIDER_CONFIGURATION),
        ("TranscriptionEngine", "google"),
        ("Name", "Soporte — cola 2"),
        ("Track", "both_tracks"),
        ("InboundTrackLabel", "cliente"),
        ("OutboundTrackLabel", "agente"),
        ("PartialResults", "false"),
        ("LanguageCode", "es-MX"),
    ),
)

CONTENT = Event(
    kind="voice.transcription.content",
    product="voice",
    title="a final utterance was transcribed (transcription-content)",
    path="/twilio/voice/transcription",
    documented=_CONTENT,
    params=(
        *_head("transcription-content", 2, "2024-06-25T18:45:21.454203Z"),
        ("LanguageCode", "es-MX"),
        ("Track", "inbound_track"),
        (
            "TranscriptionData",
            json.dumps(
                {
                    "transcript": "¿Me puede ayudar con la factura #A-1043? Cobraron $1,250 & no sé por qué.",
                    "confidence": 0.9956335,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        ),
        ("Final", "true"),
    ),
)

STOPPED = Event(
    kind="voice.transcription.stopped",
    product="voice",
    title="the transcription session stopped, by <Stop>, the API or the call's end (transcription-stopped)",
    path="/twilio/voice/transcription",
    documented=_STOPPED,
    params=_head("transcription-stopped", 3, "2024-06-25T18:45:23.839266Z"),
)

ERROR = Event(
    kind="voice.transcription.error",
    product="voice",
    title="the transcription session failed (transcription-error)",
    path="/twilio/voice/transcription",
    documented=_ERROR,
    params=(
        *_head("transcription-error", 3, "2023-10-19T22:33:22.611Z"),
        ("TranscriptionErrorCode", "32655"),
        ("TranscriptionError", "Provider Unavailable"),
    ),
)

EVENTS = (STARTED, CONTENT, STOPPED, ERROR)
