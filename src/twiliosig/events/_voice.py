"""Programmable Voice: a call comes in, a call ends, a recording is ready, ``<Gather>`` returns."""

from __future__ import annotations

from ._model import Event, documented, sid
from ._values import ACCOUNT_SID, AU_CUSTOMER, TWILIO_NUMBER, US_CUSTOMER, place, twilio_place

_REQUEST_PAGE = "https://www.twilio.com/docs/usage/webhooks/voice-webhooks"
_RECORDING_PAGE = "https://www.twilio.com/docs/voice/api/recording#recordingstatuscallback"
_GATHER_PAGE = "https://www.twilio.com/docs/voice/twiml/gather"

#: What Twilio sends with every request about a call.
_CALL = [
    "CallSid", "AccountSid", "From", "To", "CallStatus", "ApiVersion", "Direction", "ForwardedFrom",
    "CallerName", "ParentCallSid", "CallToken", "StirVerstat",
    "FromCity", "FromState", "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry",
    # the older names for the two ends of the call, still sent alongside From and To
    "Caller", "CallerCity", "CallerState", "CallerZip", "CallerCountry",
    "Called", "CalledCity", "CalledState", "CalledZip", "CalledCountry",
]  # fmt: skip

_INCOMING = documented(_REQUEST_PAGE, _CALL)
_STATUS = documented(
    _REQUEST_PAGE,
    _CALL,
    ["CallDuration", "RecordingUrl", "RecordingSid", "RecordingDuration", "Timestamp", "CallbackSource"],
    ["SequenceNumber", "AnsweredBy"],
)
_RECORDING = documented(
    _RECORDING_PAGE,
    ["AccountSid", "CallSid", "RecordingSid", "RecordingUrl", "RecordingStatus", "RecordingDuration"],
    ["RecordingChannels", "RecordingStartTime", "RecordingSource", "RecordingTrack", "ErrorCode", "ConferenceSid"],
)
_GATHER = documented(_GATHER_PAGE, _CALL, ["Digits", "FinishedOnKey", "SpeechResult", "Confidence"])

_INBOUND_CALL = sid("CA", "inbound call")
_OUTBOUND_CALL = sid("CA", "outbound call")
_RECORDING_SID = sid("RE", "voicemail recording")


def _call(call_sid: str, status: str, caller: str, caller_place: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The parameters of an incoming call, in the order Twilio tends to send them.

    ``Caller``/``Called`` repeat ``From``/``To`` (and their places) under the names of
    Twilio's first API version.
    """
    caller_fields = [(name.replace("From", "Caller", 1), value) for name, value in caller_place]
    return (
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid),
        ("CallStatus", status),
        ("CallToken", "%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9.eyJjYWxsU2lkIjoiQ0EifQ%22%7D"),
        ("Called", TWILIO_NUMBER),
        *twilio_place("Called"),
        ("Caller", caller),
        *caller_fields,
        ("Direction", "inbound"),
        ("From", caller),
        *caller_place,
        ("StirVerstat", "TN-Validation-Passed-A"),
        ("To", TWILIO_NUMBER),
        *twilio_place("To"),
    )


INCOMING = Event(
    kind="voice.incoming",
    product="voice",
    title="a call comes in to your number",
    path="/twilio/voice",
    documented=_INCOMING,
    params=(
        *_call(_INBOUND_CALL, "ringing", US_CUSTOMER, place("From", "BROOKLYN", "NY", "11201", "US")),
        ("CallerName", "GARCÍA NÚÑEZ J"),
    ),
)

STATUS = Event(
    kind="voice.status",
    product="voice",
    title="an outgoing call was answered by a machine and completed (status callback)",
    path="/twilio/voice/status",
    documented=_STATUS,
    params=(
        ("AccountSid", ACCOUNT_SID),
        ("AnsweredBy", "machine_end_beep"),
        ("ApiVersion", "2010-04-01"),
        ("CallDuration", "37"),
        ("CallSid", _OUTBOUND_CALL),
        ("CallStatus", "completed"),
        ("CallbackSource", "call-progress-events"),
        ("Direction", "outbound-api"),
        ("From", TWILIO_NUMBER),
        *twilio_place("From"),
        ("SequenceNumber", "3"),
        ("Timestamp", "Tue, 18 Jun 2024 14:32:09 +0000"),
        ("To", AU_CUSTOMER),
        *place("To", country="AU"),
    ),
)

RECORDING = Event(
    kind="voice.recording",
    product="voice",
    title="a call's recording is ready (recording status callback)",
    path="/twilio/voice/recording",
    documented=_RECORDING,
    params=(
        ("RecordingSource", "RecordVerb"),
        ("RecordingTrack", "both"),
        ("RecordingSid", _RECORDING_SID),
        ("RecordingUrl", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{_RECORDING_SID}"),
        ("RecordingStatus", "completed"),
        ("RecordingChannels", "1"),
        ("ErrorCode", "0"),
        ("CallSid", _INBOUND_CALL),
        ("RecordingStartTime", "Tue, 18 Jun 2024 14:30:51 +0000"),
        ("AccountSid", ACCOUNT_SID),
        ("RecordingDuration", "23"),
    ),
)

GATHER_DIGITS = Event(
    kind="voice.gather",
    product="voice",
    title="the caller typed digits at a <Gather>",
    path="/twilio/voice/gather",
    documented=_GATHER,
    params=(
        *_call(_INBOUND_CALL, "in-progress", US_CUSTOMER, place("From", "BROOKLYN", "NY", "11201", "US")),
        ("Digits", "4071"),
        ("FinishedOnKey", "#"),
    ),
)

GATHER_SPEECH = Event(
    kind="voice.gather.speech",
    product="voice",
    title="the caller answered a <Gather> by speaking",
    path="/twilio/voice/gather",
    documented=_GATHER,
    params=(
        *_call(_INBOUND_CALL, "in-progress", US_CUSTOMER, place("From", "BROOKLYN", "NY", "11201", "US")),
        ("SpeechResult", "我想预约明天上午十点。"),
        ("Confidence", "0.8924"),
    ),
)

EVENTS = (INCOMING, STATUS, RECORDING, GATHER_DIGITS, GATHER_SPEECH)
