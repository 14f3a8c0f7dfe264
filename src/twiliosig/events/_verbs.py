"""Voice verbs with callbacks of their own: queues, ``<Pay>``, ``<Refer>``, ``<Connect><ConversationRelay>``.

Each verb's page is cited for what it adds. ``<Enqueue>``'s two requests carry the TwiML
request's parameters ("in addition to the standard TwiML Voice request parameters") plus
a table each. ``<Pay>``'s ``action`` carries the standard parameters plus the result of
the payment, each name in its own section with the condition it is sent under; its
``statusCallback`` is a smaller set that names ``AccountSid`` and ``CallSid`` itself
(the TwiML page warns that a ``<Pay>`` status callback lacks most request parameters).
``<Refer>``'s ``action`` gets the standard parameters plus what the SIP NOTIFYs told.
``<Connect>``'s ``action`` after a ConversationRelay session is documented by three example
payloads, not a table: the records hold the names they show.
"""

from __future__ import annotations

import json

from ._model import Event, always, documented, sid, when
from ._values import ACCOUNT_SID, TWILIO_NUMBER, US_CUSTOMER
from ._voice import _BROOKLYN, _INBOUND_CALL, REQUEST_FIELDS, _call

_ENQUEUE_PAGE = "https://www.twilio.com/docs/voice/twiml/enqueue"
_PAY_PAGE = "https://www.twilio.com/docs/voice/twiml/pay"
_REFER_PAGE = "https://www.twilio.com/docs/voice/twiml/refer"
_QUEUE_PAGE = "https://www.twilio.com/docs/voice/twiml/queue"
_RELAY_PAGE = "https://www.twilio.com/docs/voice/twiml/connect/conversationrelay"

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

_CARD = "when the <Pay> has paymentMethod=credit-card (the default)"
_ACH = "when the <Pay> has paymentMethod=ach-debit"

_PAY_ACTION = documented(
    _PAY_PAGE,
    REQUEST_FIELDS,
    always(
        _PAY_PAGE,
        "Result",
        "PaymentMethod",
        note="the page lists them for the action request with no condition (Result: success, "
        "too-many-failed-attempts, payment-connector-error, caller-interrupted-with-star, caller-hung-up, "
        "validation-error or internal-error)",
    ),
    when(
        _PAY_PAGE,
        "PaymentToken",
        "ProfileId",
        note="a tokenize transaction (chargeAmount 0 or absent): one or both, depending on the Pay Connector",
    ),
    when(_PAY_PAGE, "PaymentConfirmationCode", note="a charge transaction (chargeAmount above 0)"),
    when(
        _PAY_PAGE,
        "PaymentCardNumber",
        "PaymentCardType",
        "ExpirationDate",
        "SecurityCode",
        "PaymentCardPostalCode",
        note=f"{_CARD}; the number shows its last 4 digits only, the security code is redacted",
    ),
    when(_PAY_PAGE, "BankAccountNumber", "BankRoutingNumber", "BankAccountType", note=_ACH),
    when(_PAY_PAGE, "PaymentError", "PayErrorCode", "ConnectorError", note="when validation or the payment failed"),
)

_PAY_STATUS = documented(
    _PAY_PAGE,
    always(_PAY_PAGE, "AccountSid", "CallSid", note="CallSid is always the parent leg of a two-leg call"),
    always(
        _PAY_PAGE,
        "For",
        "Attempt",
        note="For is the stage: payment-card-number, expiration-date, security-code, postal-code, "
        "bank-routing-number, bank-account-number or payment-processing; Attempt is 1, 2 or 3",
    ),
    when(_PAY_PAGE, "ErrorType", note="if an error occurred (input-timeout, invalid-card-number, ...)"),
    when(
        _PAY_PAGE,
        "PaymentCardNumber",
        "PaymentCardType",
        "ExpirationDate",
        "SecurityCode",
        "PaymentCardPostalCode",
        note=f"{_CARD}, once captured (the page marks PaymentCardNumber 'ach-debit only', plainly a slip: it is "
        "a card number)",
    ),
    when(_PAY_PAGE, "BankAccountNumber", "BankRoutingNumber", "BankAccountType", note=f"{_ACH}, once captured"),
    left_out={
        "From, To, CallStatus, ApiVersion, Direction": "the TwiML page says a <Pay> status callback does not "
        "carry every request parameter, and the <Pay> page lists none of these",
    },
)

#: ``<Dial><Queue url>``: run on the queued caller's leg just before the bridge.
_QUEUE_URL = documented(
    _QUEUE_PAGE,
    REQUEST_FIELDS,
    always(_QUEUE_PAGE, "QueueSid", "QueueTime", "DequeingCallSid"),
    always(_QUEUE_PAGE, "CallSid", note="the dequeued (waiting) caller's call, not the agent's"),
)

_REFER_ACTION = documented(
    _REFER_PAGE,
    REQUEST_FIELDS,
    when(
        _REFER_PAGE,
        "ReferSipResponseCode",
        note="the SIP endpoint's answer to the REFER (the page says the request 'may include' it; every one of "
        "its example scenarios has it)",
    ),
    when(
        _REFER_PAGE,
        "ReferCallStatus",
        "NotifySipResponseCode",
        note="omitted if the REFER fails or the endpoint sends no NOTIFY",
    ),
)

_RELAY_ACTION = documented(
    _RELAY_PAGE,
    always(
        _RELAY_PAGE,
        "AccountSid",
        "CallSid",
        "CallStatus",
        "From",
        "To",
        "Direction",
        "ApplicationSid",
        "SessionId",
        "SessionStatus",
        "SessionDuration",
        note="in all three of the page's example payloads (it has no table); SessionStatus ended, failed or completed",
    ),
    when(
        _RELAY_PAGE,
        "HandoffData",
        note="when your app ended the session and handed data back (the 'session ended by application' example)",
    ),
    when(_RELAY_PAGE, "ErrorCode", "ErrorMessage", note="when the session failed (SessionStatus=failed)"),
    left_out={
        "ApiVersion, CallToken, FromCity, ToCity": "TwiML request names the page's example payloads do not show",
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

PAY = Event(
    kind="voice.pay",
    product="voice",
    title="a <Pay> charge by card succeeded (its action URL)",
    path="/twilio/voice/pay/done",
    documented=_PAY_ACTION,
    params=(
        *_WAITING,
        ("Result", "success"),
        ("PaymentMethod", "credit-card"),
        ("PaymentConfirmationCode", "ch_3PTq2bLkd0Ex7Y4A1qM9Zr0c"),
        ("PaymentCardNumber", "xxxx-xxxxxx-x4001"),
        ("PaymentCardType", "amex"),
        ("ExpirationDate", "0527"),
        ("SecurityCode", "***"),
        ("PaymentCardPostalCode", "11201"),
    ),
)

PAY_STATUS = Event(
    kind="voice.pay.status",
    product="voice",
    title="a <Pay> session timed out asking for the expiry date (its statusCallback)",
    path="/twilio/voice/pay/status",
    documented=_PAY_STATUS,
    params=(
        ("AccountSid", ACCOUNT_SID),
        ("CallSid", _INBOUND_CALL),
        ("For", "expiration-date"),
        ("Attempt", "2"),
        ("ErrorType", "input-timeout"),
        ("PaymentCardNumber", "xxxx-xxxxxx-x4001"),
        ("PaymentCardType", "amex"),
    ),
)

DEQUEUE = Event(
    kind="voice.dial.queue",
    product="voice",
    title="an agent's <Dial><Queue> takes the waiting caller (the <Queue>'s url, run on the caller's leg)",
    path="/twilio/voice/queue/connecting",
    documented=_QUEUE_URL,
    params=(
        *_WAITING,
        ("QueueSid", _QUEUE),
        ("QueueTime", "164"),
        ("DequeingCallSid", sid("CA", "agent dequeuing call")),
    ),
)

REFER = Event(
    kind="voice.refer",
    product="voice",
    title="a caller on a SIP leg was transferred with <Refer> and the new call connected (its action URL)",
    path="/twilio/voice/refer/done",
    documented=_REFER_ACTION,
    params=(
        *_WAITING,
        ("ReferCallStatus", "in-progress"),
        ("ReferSipResponseCode", "202"),
        ("NotifySipResponseCode", "200"),
    ),
)

RELAY_ENDED = Event(
    kind="voice.connect.conversation-relay",
    product="voice",
    title="a ConversationRelay session ended with a hand-off to a person (<Connect>'s action URL)",
    path="/twilio/voice/relay-ended",
    documented=_RELAY_ACTION,
    params=(
        ("AccountSid", ACCOUNT_SID),
        ("CallSid", _INBOUND_CALL),
        ("CallStatus", "in-progress"),
        ("From", US_CUSTOMER),
        ("To", TWILIO_NUMBER),
        ("Direction", "inbound"),
        ("ApplicationSid", sid("AP", "voice agent application")),
        ("SessionId", sid("VX", "conversation relay session")),
        ("SessionStatus", "ended"),
        ("SessionDuration", "25"),
        (
            "HandoffData",
            json.dumps(
                {
                    "reasonCode": "live-agent-handoff",
                    "reason": "La clienta pidió hablar con una persona — factura #A-1043",
                },
                ensure_ascii=False,
            ),
        ),
    ),
)

EVENTS = (ENQUEUE_WAIT, ENQUEUE, DEQUEUE, PAY, PAY_STATUS, REFER, RELAY_ENDED)
