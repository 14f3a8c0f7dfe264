"""Voice conferences: ``<Conference statusCallback>`` events and ``<Conference recordingStatusCallback>``.

Both tables are on the ``<Conference>`` verb page; its status-callback table says which
event sends each name ("Sent on"), which the records below repeat as their notes.
"""

from __future__ import annotations

from ._model import Event, always, documented, sid, when
from ._values import ACCOUNT_SID

_PAGE = "https://www.twilio.com/docs/voice/twiml/conference"

_PARTICIPANT_EVENTS = "on participant events (join, leave, mute, hold, modify, speaker; announcements to a participant)"

_STATUS = documented(
    _PAGE,
    always(_PAGE, "ConferenceSid", "FriendlyName", "AccountSid", "SequenceNumber", "Timestamp"),
    always(_PAGE, "StatusCallbackEvent", note="conference-start, participant-join, conference-end, ..."),
    when(
        _PAGE,
        "CallSid",
        "Muted",
        "Hold",
        "Coaching",
        "EndConferenceOnExit",
        "StartConferenceOnEnter",
        note=_PARTICIPANT_EVENTS,
    ),
    when(_PAGE, "ParticipantLabel", note=f"{_PARTICIPANT_EVENTS}, for a participant given a label"),
    when(
        _PAGE,
        "CallSidEndingConference",
        "ParticipantLabelEndingConference",
        "ReasonConferenceEnded",
        "Reason",
        note="on conference-end (the first two when a participant ended it)",
    ),
    when(_PAGE, "ReasonAnnouncementFailed", "AnnounceUrl", note="on announcement events"),
    when(_PAGE, "ParticipantCallStatus", "ReasonParticipantLeft", note="on participant-leave"),
    left_out={
        "EventName, RecordingUrl, Duration, RecordingFileSize": "conference-record-end parameters, deprecated in "
        "favour of recordingStatusCallback (voice.conference.recording)",
    },
)

_RECORDING = documented(
    _PAGE,
    always(
        _PAGE,
        "AccountSid",
        "ConferenceSid",
        "RecordingSid",
        "RecordingUrl",
        "RecordingStatus",
        "RecordingDuration",
        "RecordingChannels",
        "RecordingStartTime",
        "RecordingSource",
    ),
    left_out={"CallSid": "a conference recording's table names the conference, not a call"},
)

CONFERENCE_SID = sid("CF", "support conference")
_AGENT_CALL = sid("CA", "agent conference leg")
_CUSTOMER_CALL = sid("CA", "customer conference leg")
_RECORDING_SID = sid("RE", "conference recording")
_NAME = "Suporte — pedido #A-1043 & troca"

JOIN = Event(
    kind="voice.conference.join",
    product="voice",
    title="a participant joined a conference (<Conference statusCallback>, participant-join)",
    path="/twilio/voice/conference",
    documented=_STATUS,
    params=(
        ("Coaching", "false"),
        ("FriendlyName", _NAME),
        ("ParticipantLabel", "customer"),
        ("EndConferenceOnExit", "true"),
        ("StatusCallbackEvent", "participant-join"),
        ("Timestamp", "Tue, 18 Jun 2024 14:40:12 +0000"),
        ("StartConferenceOnEnter", "true"),
        ("AccountSid", ACCOUNT_SID),
        ("SequenceNumber", "2"),
        ("ConferenceSid", CONFERENCE_SID),
        ("CallSid", _CUSTOMER_CALL),
        ("Hold", "false"),
        ("Muted", "false"),
    ),
)

END = Event(
    kind="voice.conference.end",
    product="voice",
    title="a conference ended when a participant with endConferenceOnExit left (conference-end)",
    path="/twilio/voice/conference",
    documented=_STATUS,
    params=(
        ("FriendlyName", _NAME),
        ("StatusCallbackEvent", "conference-end"),
        ("Timestamp", "Tue, 18 Jun 2024 14:52:40 +0000"),
        ("CallSidEndingConference", _CUSTOMER_CALL),
        ("ParticipantLabelEndingConference", "customer"),
        ("ReasonConferenceEnded", "participant-with-end-conference-on-exit-left"),
        ("Reason", "Participant customer with endConferenceOnExit left the conference"),
        ("AccountSid", ACCOUNT_SID),
        ("SequenceNumber", "9"),
        ("ConferenceSid", CONFERENCE_SID),
    ),
)

RECORDING = Event(
    kind="voice.conference.recording",
    product="voice",
    title="a conference's recording is ready (<Conference recordingStatusCallback>)",
    path="/twilio/voice/conference/recording",
    documented=_RECORDING,
    params=(
        ("RecordingSource", "Conference"),
        ("RecordingSid", _RECORDING_SID),
        ("RecordingUrl", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{_RECORDING_SID}"),
        ("RecordingStatus", "completed"),
        ("RecordingChannels", "1"),
        ("ConferenceSid", CONFERENCE_SID),
        ("RecordingStartTime", "Tue, 18 Jun 2024 14:40:13 +0000"),
        ("AccountSid", ACCOUNT_SID),
        ("RecordingDuration", "747"),
    ),
)

EVENTS = (JOIN, END, RECORDING)
