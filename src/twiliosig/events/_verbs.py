"""Voice verbs with callbacks of their own: ``<Enqueue>`` (its ``waitUrl`` and ``action``).

Each verb's page is cited for what it adds. ``<Enqueue>``'s two requests carry the TwiML
request's parameters ("in addition to the standard TwiML Voice request parameters") plus
a table each.
"""

from __future__ import annotations

from ._model import Event, always, documented, sid, when
from ._values import US_CUSTOMER
from ._voice import _BROOKLYN, _INBOUND_CALL, REQUEST_FIELDS, _call

_ENQUEUE_PAGE = "https://www.twilio.com/docs/voice/twiml/enqueue"

_QUEUE = sid("QU", "support queue")

_ENQUEUE_WAIT = documented(
    _ENQUEUE_PAGE,
    REQUEST_FIELDS,
    always(
        _ENQUEUE_PAGE,
        "QueuePosition",
        "QueueSid",
        "QueueTime",
        "AvgQueueTime",
        "CurrentQueueSize",
        "MaxQueueSize",
        note="the waitUrl table; QueueTime and AvgQueueTime in seconds",
    ),
)

_ENQUEUE_ACTION = documented(
    _ENQUEUE_PAGE,
    REQUEST_FIELDS,
    always(
        _ENQUEUE_PAGE,
        "QueueResult",
        note="bridged, bridging-in-process, error, hangup, leave, redirected, redirected-from-bridged, "
        "queue-full or system-error",
    ),
    when(_ENQUEUE_PAGE, "QueueSid", "QueueTime", note="only if the call was actually enqueued"),
    left_out={
        "QueuePosition, AvgQueueTime, CurrentQueueSize, MaxQueueSize": "in the waitUrl table, not the action's",
    },
)

_WAITING = _call(_INBOUND_CALL, "in-progress", US_CUSTOMER, _BROOKLYN)

ENQUEUE_WAIT = Event(
    kind="voice.enqueue.wait",
    product="voice",
    title="a caller waits in an <Enqueue> queue (its waitUrl, requested again as the hold TwiML ends)",
    path="/twilio/voice/queue/wait",
    documented=_ENQUEUE_WAIT,
    params=(
        *_WAITING,
        ("QueuePosition", "3"),
        ("QueueSid", _QUEUE),
        ("QueueTime", "142"),
        ("AvgQueueTime", "97"),
        ("CurrentQueueSize", "5"),
        ("MaxQueueSize", "100"),
    ),
)

ENQUEUE = Event(
    kind="voice.enqueue",
    product="voice",
    title="a queued call was bridged to an agent and the two hung up (<Enqueue>'s action URL)",
    path="/twilio/voice/queue/done",
    documented=_ENQUEUE_ACTION,
    params=(*_WAITING, ("QueueResult", "bridged"), ("QueueSid", _QUEUE), ("QueueTime", "164")),
)

EVENTS = (ENQUEUE_WAIT, ENQUEUE)
