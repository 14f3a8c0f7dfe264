"""Programmable Voice: a call comes in, a call ends, a recording is ready, ``<Gather>`` and ``<Record>`` return.

Each page is cited for the table it holds: Twilio's request for TwiML (and what every
verb's ``action`` adds to it) is on the TwiML page; the status callback of a call made
with the REST API, and its recording status callback, are on the Call resource page;
``<Record>``'s own callbacks are on its verb page.
"""

from __future__ import annotations

from ._model import Documented, Event, Field, always, documented, practice, sid, when
from ._values import ACCOUNT_SID, AU_CUSTOMER, TWILIO_NUMBER, US_CUSTOMER, place, twilio_place

TWIML_PAGE = "https://www.twilio.com/docs/voice/twiml"
CALL_RESOURCE_PAGE = "https://www.twilio.com/docs/voice/api/call-resource"
_GATHER_PAGE = "https://www.twilio.com/docs/voice/twiml/gather"
_RECORD_PAGE = "https://www.twilio.com/docs/voice/twiml/record"
_DIAL_PAGE = "https://www.twilio.com/docs/voice/twiml/dial"
_NUMBER_PAGE = "https://www.twilio.com/docs/voice/twiml/number"
_CLIENT_PAGE = "https://www.twilio.com/docs/voice/twiml/client"
_SIP_PAGE = "https://www.twilio.com/docs/voice/twiml/sip"
#: Twilio Labs' webhook emulator: what a voice request carries in practice.
_EMULATOR = "https://github.com/twilio-labs/plugin-webhook/blob/main/src/utils/webhook-events/voice.js"
#: Twilio's changelog entry announcing StirVerstat (the address as stored).
_SHAKEN_CHANGELOG = (
    "https://static0.twilio.com/en-us/changelog/twilio-performs-shaken-stir-verification-on-incoming-calls-to-yo"
)
_AMD_PAGE = "https://www.twilio.com/docs/voice/answering-machine-detection"

_PLACES = ("City", "State", "Zip", "Country")


def _geo(source: str, *prefixes: str) -> tuple[Field, ...]:
    names = [f"{prefix}{part}" for prefix in prefixes for part in _PLACES]
    return when(source, *names, note="when Twilio finds geographic data for the number (blank or absent otherwise)")


#: "Twilio always sends the following parameters" (the TwiML page), and the ones it sends when they apply.
REQUEST_FIELDS: tuple[Field, ...] = (
    *always(TWIML_PAGE, "CallSid", "AccountSid", "From", "To", "CallStatus", "ApiVersion", "Direction"),
    *always(
        TWIML_PAGE,
        "CallToken",
        note="a token string for forwarding the call; its encoding is not documented (public webhook logs show "
        "percent-encoded JSON, which the catalogue sends)",
    ),
    *when(TWIML_PAGE, "ForwardedFrom", note="on a forwarded call, when the forwarding carrier passes it"),
    *when(TWIML_PAGE, "CallerName", note="when the number has VoiceCallerIdLookup set to true"),
    *when(TWIML_PAGE, "ParentCallSid", note="on a leg created by another call; never on the first leg"),
    *_geo(TWIML_PAGE, "From", "To"),
    *practice(
        _EMULATOR,
        "Caller",
        "Called",
        *(f"{prefix}{part}" for prefix in ("Caller", "Called") for part in _PLACES),
        note="the first API version's names for From and To (and their places); Twilio Labs' webhook emulator "
        "sends them with every voice request, the TwiML page's table does not list them",
    ),
    *when(
        _SHAKEN_CHANGELOG,
        "StirVerstat",
        note="on an incoming call that carries a SHAKEN PASSporT (US numbers), per Twilio's changelog; "
        "not in the TwiML page's table",
    ),
)

_INCOMING = documented(TWIML_PAGE, REQUEST_FIELDS)

#: The status callback of a call created with the REST API (the Call resource page).
_STATUS = documented(
    CALL_RESOURCE_PAGE,
    always(CALL_RESOURCE_PAGE, "CallSid", "AccountSid", "From", "To", "CallStatus", "ApiVersion", "Direction"),
    always(CALL_RESOURCE_PAGE, "Caller", "Called"),
    when(CALL_RESOURCE_PAGE, "ForwardedFrom", note="on a forwarded call, when the carrier passes it"),
    when(CALL_RESOURCE_PAGE, "CallerName", note="when the number has VoiceCallerIdLookup set to true"),
    when(CALL_RESOURCE_PAGE, "ParentCallSid", note="on a leg created by another call; never on the first leg"),
    _geo(CALL_RESOURCE_PAGE, "Called", "To"),
    always(CALL_RESOURCE_PAGE, "Timestamp", "CallbackSource", "SequenceNumber"),
    when(CALL_RESOURCE_PAGE, "Duration", note="in the completed event only: minutes, as billed"),
    when(
        CALL_RESOURCE_PAGE,
        "CallDuration",
        "SipResponseCode",
        note="in the terminal events only (completed, busy, failed, no-answer, canceled)",
    ),
    when(
        CALL_RESOURCE_PAGE,
        "RecordingUrl",
        "RecordingSid",
        "RecordingDuration",
        note="in the completed event, when the call was created with Record=true",
    ),
    when(CALL_RESOURCE_PAGE, "StirStatus", note="in the ringing and in-progress events"),
    left_out={
        "AnsweredBy": f"answering-machine detection's result, sent to the AMD callback or TwiML request "
        f"({_AMD_PAGE}); the status-callback table does not list it",
        "FromCity, FromState, FromZip, FromCountry, CallerCity, CallerState, CallerZip, CallerCountry": "the "
        "Call resource's status-callback table lists only the called party's place",
        "CallToken, StirVerstat": "parameters of the TwiML request for an incoming call, not of this table",
    },
)

#: The recording status callback of a call created with Record=true (the Call resource page).
_RECORDING = documented(
    CALL_RESOURCE_PAGE,
    always(
        CALL_RESOURCE_PAGE,
        "AccountSid",
        "CallSid",
        "RecordingSid",
        "RecordingUrl",
        "RecordingStatus",
        "RecordingDuration",
        "RecordingChannels",
        "RecordingStartTime",
        "RecordingSource",
        "RecordingTrack",
    ),
    left_out={
        "ErrorCode": "no recording status callback table lists it",
        "ConferenceSid": "sent for conference recordings (the <Conference> page's table), not a call's",
    },
)

_GATHER = documented(
    _GATHER_PAGE,
    REQUEST_FIELDS,
    when(_GATHER_PAGE, "Digits", "FinishedOnKey", note="when the caller answered with the keypad"),
    when(_GATHER_PAGE, "SpeechResult", "Confidence", note="when the caller answered by speaking"),
)


def _leg_status(page: str) -> Documented:
    """A ``<Number>``, ``<Client>`` or ``<Sip>`` leg's statusCallback: its page's "Status Callback HTTP Parameters".

    Each page says the request carries every parameter of the TwiML request, plus a table
    of its own (the same on all three): the leg's ``CallSid`` and ``ParentCallSid``,
    ``CallStatus``, the progress-event names, and ``CallDuration`` and the recording
    names on ``completed`` only. (The TwiML page's shorter "Ending the call" table says
    the recording names come only from a REST API ``Record=true``; the noun pages, which
    are about this leg, say from ``<Dial record>``: the records follow the noun pages.)
    """
    return documented(
        page,
        REQUEST_FIELDS,
        always(page, "CallSid", "ParentCallSid", "CallStatus", "Timestamp", "CallbackSource", "SequenceNumber"),
        when(page, "CallDuration", note="only in the completed event"),
        when(
            page,
            "RecordingUrl",
            "RecordingSid",
            "RecordingDuration",
            note="only in the completed event, and only when record is set on the <Dial>",
        ),
    )


_CHILD_STATUS = _leg_status(_NUMBER_PAGE)
_CLIENT_STATUS = _leg_status(_CLIENT_PAGE)
_SIP_STATUS = _leg_status(_SIP_PAGE)


_DIAL_ACTION = documented(
    _DIAL_PAGE,
    REQUEST_FIELDS,
    always(
        _DIAL_PAGE,
        "DialCallStatus",
        "DialBridged",
        note="completed, answered (a conference), busy, no-answer, "
        "failed or canceled; DialBridged says whether the caller was connected",
    ),
    when(_DIAL_PAGE, "DialCallSid", note="not sent after dialing a conference"),
    when(
        _DIAL_PAGE,
        "DialCallDuration",
        note="not sent after dialing a conference, or when the child call was redirected before it ended",
    ),
    when(_DIAL_PAGE, "RecordingUrl", note="when <Dial record> is set"),
)

_RECORD_ACTION = documented(
    _RECORD_PAGE,
    REQUEST_FIELDS,
    always(_RECORD_PAGE, "RecordingUrl", "RecordingDuration"),
    when(_RECORD_PAGE, "Digits", note="the key that ended the recording, or hangup if the caller hung up"),
)

_RECORD_RECORDING = documented(
    _RECORD_PAGE,
    always(
        _RECORD_PAGE,
        "AccountSid",
        "CallSid",
        "RecordingSid",
        "RecordingUrl",
        "RecordingStatus",
        "RecordingDuration",
        "RecordingChannels",
        "RecordingSource",
    ),
    left_out={
        "RecordingStartTime, RecordingTrack": "in the Call resource's recording callback table, not in <Record>'s",
    },
)

_TRANSCRIPTION = documented(
    _RECORD_PAGE,
    always(
        _RECORD_PAGE,
        "TranscriptionSid",
        "TranscriptionText",
        "TranscriptionStatus",
        "TranscriptionUrl",
        "RecordingSid",
        "RecordingUrl",
        "CallSid",
        "AccountSid",
        "From",
        "To",
        "CallStatus",
        "ApiVersion",
        "Direction",
    ),
    when(_RECORD_PAGE, "ForwardedFrom", note="on a forwarded call, when the carrier passes it"),
)

_INBOUND_CALL = sid("CA", "inbound call")
_OUTBOUND_CALL = sid("CA", "outbound call")
_RECORDING_SID = sid("RE", "voicemail recording")
_API_RECORDING_SID = sid("RE", "outbound call recording")
_VOICEMAIL_SID = sid("RE", "record verb voicemail")
_CALL_TOKEN = "%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9.eyJjYWxsU2lkIjoiQ0EifQ%22%7D"  # noqa: S105


def _recording_url(recording_sid: str) -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}"


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
        ("CallToken", _CALL_TOKEN),
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


_BROOKLYN = place("From", "BROOKLYN", "NY", "11201", "US")

INCOMING = Event(
    kind="voice.incoming",
    product="voice",
    title="a call comes in to your number",
    path="/twilio/voice",
    documented=_INCOMING,
    params=(*_call(_INBOUND_CALL, "ringing", US_CUSTOMER, _BROOKLYN), ("CallerName", "GARCÍA NÚÑEZ J")),
)

STATUS = Event(
    kind="voice.status",
    product="voice",
    title="an outgoing call was answered and completed (status callback, completed event)",
    path="/twilio/voice/status",
    documented=_STATUS,
    params=(
        ("Called", AU_CUSTOMER),
        ("ToState", ""),
        ("CalledState", ""),
        ("CallSid", _OUTBOUND_CALL),
        ("To", AU_CUSTOMER),
        ("CalledZip", ""),
        ("Direction", "outbound-api"),
        ("Timestamp", "Tue, 18 Jun 2024 14:32:09 +0000"),
        ("CallbackSource", "call-progress-events"),
        ("SipResponseCode", "200"),
        ("CalledCity", ""),
        ("CallDuration", "37"),
        ("ToZip", ""),
        ("SequenceNumber", "3"),
        ("Duration", "1"),
        ("From", TWILIO_NUMBER),
        ("ToCity", ""),
        ("AccountSid", ACCOUNT_SID),
        ("CalledCountry", "AU"),
        ("ToCountry", "AU"),
        ("Caller", TWILIO_NUMBER),
        ("ApiVersion", "2010-04-01"),
        ("CallStatus", "completed"),
    ),
)

RECORDING = Event(
    kind="voice.recording",
    product="voice",
    title="the recording of a call made with Record=true is ready (recording status callback)",
    path="/twilio/voice/recording",
    documented=_RECORDING,
    params=(
        ("RecordingSource", "OutboundAPI"),
        ("RecordingTrack", "both"),
        ("RecordingSid", _API_RECORDING_SID),
        ("RecordingUrl", _recording_url(_API_RECORDING_SID)),
        ("RecordingStatus", "completed"),
        ("RecordingChannels", "2"),
        ("CallSid", _OUTBOUND_CALL),
        ("RecordingStartTime", "Tue, 18 Jun 2024 14:31:32 +0000"),
        ("AccountSid", ACCOUNT_SID),
        ("RecordingDuration", "36"),
    ),
)

GATHER_DIGITS = Event(
    kind="voice.gather",
    product="voice",
    title="the caller typed digits at a <Gather>",
    path="/twilio/voice/gather",
    documented=_GATHER,
    params=(*_call(_INBOUND_CALL, "in-progress", US_CUSTOMER, _BROOKLYN), ("Digits", "4071"), ("FinishedOnKey", "#")),
)

GATHER_SPEECH = Event(
    kind="voice.gather.speech",
    product="voice",
    title="the caller answered a <Gather> by speaking",
    path="/twilio/voice/gather",
    documented=_GATHER,
    params=(
        *_call(_INBOUND_CALL, "in-progress", US_CUSTOMER, _BROOKLYN),
        ("SpeechResult", "我想预约明天上午十点。"),
        ("Confidence", "0.8924"),
    ),
)


def _leg(label: str, duration: str, *to: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """A dialed leg's completed event: the TwiML request's names, then the progress-event ones."""
    return (
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallDuration", duration),
        ("CallSid", sid("CA", label)),
        ("CallStatus", "completed"),
        ("CallToken", _CALL_TOKEN),
        ("CallbackSource", "call-progress-events"),
        ("Direction", "outbound-dial"),
        ("From", US_CUSTOMER),
        *_BROOKLYN,
        ("ParentCallSid", _INBOUND_CALL),
        ("SequenceNumber", "3"),
        ("Timestamp", "Tue, 18 Jun 2024 14:36:41 +0000"),
        *to,
    )


CHILD_STATUS = Event(
    kind="voice.dial.number.status",
    product="voice",
    title="the child leg of a <Dial><Number> completed (the <Number>'s statusCallback)",
    path="/twilio/voice/child-status",
    documented=_CHILD_STATUS,
    params=_leg("dialed child leg", "214", ("To", AU_CUSTOMER), *place("To", country="AU")),
)


CLIENT_STATUS = Event(
    kind="voice.dial.client.status",
    product="voice",
    title="a <Dial><Client> leg to a Voice SDK user completed (the <Client>'s statusCallback)",
    path="/twilio/voice/client-status",
    documented=_CLIENT_STATUS,
    params=_leg("dialed client leg", "96", ("To", "client:agent_ana_garcia")),
)

SIP_STATUS = Event(
    kind="voice.dial.sip.status",
    product="voice",
    title="a <Dial><Sip> leg to a SIP endpoint completed (the <Sip>'s statusCallback)",
    path="/twilio/voice/sip-status",
    documented=_SIP_STATUS,
    params=_leg("dialed sip leg", "96", ("To", "sip:recepcion@pbx.example.com;transport=tls")),
)

DIAL = Event(
    kind="voice.dial",
    product="voice",
    title="a <Dial> to a number ended after the two talked (its action URL)",
    path="/twilio/voice/dial-ended",
    documented=_DIAL_ACTION,
    params=(
        *_call(_INBOUND_CALL, "in-progress", US_CUSTOMER, _BROOKLYN),
        ("DialCallStatus", "completed"),
        ("DialCallSid", sid("CA", "dialed child leg")),
        ("DialCallDuration", "214"),
        ("DialBridged", "true"),
    ),
)

RECORD = Event(
    kind="voice.record",
    product="voice",
    title="the caller left a voicemail at a <Record> (its action URL)",
    path="/twilio/voice/voicemail",
    documented=_RECORD_ACTION,
    params=(
        *_call(_INBOUND_CALL, "in-progress", US_CUSTOMER, _BROOKLYN),
        ("RecordingUrl", _recording_url(_VOICEMAIL_SID)),
        ("RecordingDuration", "23"),
        ("Digits", "#"),
    ),
)

RECORD_RECORDING = Event(
    kind="voice.record.recording",
    product="voice",
    title="a <Record> voicemail is ready (its recordingStatusCallback)",
    path="/twilio/voice/voicemail/recording",
    documented=_RECORD_RECORDING,
    params=(
        ("RecordingSource", "RecordVerb"),
        ("RecordingSid", _VOICEMAIL_SID),
        ("RecordingUrl", _recording_url(_VOICEMAIL_SID)),
        ("RecordingStatus", "completed"),
        ("RecordingChannels", "1"),
        ("CallSid", _INBOUND_CALL),
        ("AccountSid", ACCOUNT_SID),
        ("RecordingDuration", "23"),
    ),
)

RECORD_TRANSCRIPTION = Event(
    kind="voice.record.transcription",
    product="voice",
    title="a <Record transcribe> voicemail was transcribed (its transcribeCallback)",
    path="/twilio/voice/voicemail/transcription",
    documented=_TRANSCRIPTION,
    params=(
        ("TranscriptionSid", sid("TR", "voicemail transcription")),
        ("TranscriptionText", "Hi, it's Joe — call me back about the order #A-1043 & the refund, thanks."),
        ("TranscriptionStatus", "completed"),
        (
            "TranscriptionUrl",
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Transcriptions/"
            f"{sid('TR', 'voicemail transcription')}",
        ),
        ("RecordingSid", _VOICEMAIL_SID),
        ("RecordingUrl", _recording_url(_VOICEMAIL_SID)),
        ("CallSid", _INBOUND_CALL),
        ("AccountSid", ACCOUNT_SID),
        ("From", US_CUSTOMER),
        ("To", TWILIO_NUMBER),
        ("CallStatus", "completed"),
        ("ApiVersion", "2010-04-01"),
        ("Direction", "inbound"),
    ),
)

EVENTS = (
    INCOMING,
    STATUS,
    RECORDING,
    GATHER_DIGITS,
    GATHER_SPEECH,
    DIAL,
    CHILD_STATUS,
    CLIENT_STATUS,
    SIP_STATUS,
    RECORD,
    RECORD_RECORDING,
    RECORD_TRANSCRIPTION,
)
