"""Programmable Messaging: a message comes in (SMS, MMS, WhatsApp), an outgoing one changes status."""

from __future__ import annotations

from ._model import Event, always, documented, practice, sid, when
from ._values import (
    ACCOUNT_SID,
    BR_CUSTOMER_WHATSAPP,
    MESSAGING_SERVICE_SID,
    TWILIO_NUMBER,
    UK_CUSTOMER,
    US_CUSTOMER,
    WHATSAPP_SENDER,
    place,
    twilio_place,
)

_INBOUND_PAGE = "https://www.twilio.com/docs/messaging/guides/webhook-request"
_STATUS_PAGE = "https://www.twilio.com/docs/messaging/guides/track-outbound-message-status"
#: Twilio Labs' webhook emulator: what an incoming message carries in practice.
_EMULATOR_SMS = "https://github.com/twilio-labs/plugin-webhook/blob/main/src/utils/webhook-events/sms.js"
_EMULATOR_BASE = "https://github.com/twilio-labs/plugin-webhook/blob/main/src/utils/webhook-events/_base.js"

_INBOUND = documented(
    _INBOUND_PAGE,
    always(
        _INBOUND_PAGE,
        "MessageSid",
        "SmsSid",
        "SmsMessageSid",
        "AccountSid",
        "From",
        "To",
        "Body",
        "NumMedia",
        "NumSegments",
    ),
    when(_INBOUND_PAGE, "MessagingServiceSid", note="when the number belongs to a Messaging Service"),
    when(
        _INBOUND_PAGE,
        r"MediaContentType\d+",
        r"MediaUrl\d+",
        note="one pair per media item, numbered from 0, when NumMedia is above 0",
        pattern=True,
    ),
    when(
        _INBOUND_PAGE,
        "ButtonPayload",
        "ButtonText",
        "ButtonType",
        "InteractiveData",
        "FlowData",
        "ChannelMetadata",
        note="on a reply to a rich message (buttons, WhatsApp flows, RCS), varying with its type",
    ),
    when(_INBOUND_PAGE, "Latitude", "Longitude", "Address", "Label", note="when the message shares a location"),
    when(
        _INBOUND_PAGE,
        *(f"{prefix}{part}" for prefix in ("From", "To") for part in ("City", "State", "Zip", "Country")),
        note="when Twilio finds geographic data for the number (blank otherwise)",
    ),
    when(_INBOUND_PAGE, "ProfileName", "WaId", "Forwarded", "FrequentlyForwarded", note="on WhatsApp messages"),
    when(
        _INBOUND_PAGE,
        "ReferralBody",
        "ReferralHeadline",
        "ReferralSourceId",
        "ReferralSourceType",
        "ReferralSourceUrl",
        "ReferralMediaId",
        "ReferralMediaContentType",
        "ReferralMediaUrl",
        "ReferralNumMedia",
        "ReferralCtwaClid",
        note="on a WhatsApp message from a click-to-WhatsApp advert (ReferralNumMedia=0 arrives on plain "
        "messages too, as Twilio Labs' emulator shows)",
    ),
    when(
        _INBOUND_PAGE,
        "OriginalRepliedMessageSender",
        "OriginalRepliedMessageSid",
        note="on a reply to a message sent in the previous 7 days",
    ),
    practice(
        _EMULATOR_SMS,
        "SmsStatus",
        note="always received; Twilio Labs' webhook emulator sends it, the request table does not list it",
    ),
    practice(
        _EMULATOR_BASE,
        "ApiVersion",
        note="2010-04-01; Twilio Labs' webhook emulator sends it, the request table does not list it",
    ),
)

_STATUS_FIELDS = (
    *always(_STATUS_PAGE, "MessageStatus"),
    *always(
        _STATUS_PAGE,
        "AccountSid",
        "From",
        "MessageSid",
        "SmsSid",
        note="the page says a status callback carries a subset of the incoming-message parameters; "
        "its example request shows these",
    ),
    *when(
        _STATUS_PAGE,
        "To",
        "MessagingServiceSid",
        note="among the incoming-message parameters a status callback may carry (MessagingServiceSid when "
        "sent through a Messaging Service)",
    ),
    *when(_STATUS_PAGE, "ErrorCode", note="when the status is failed or undelivered"),
    *practice(
        _STATUS_PAGE,
        "SmsStatus",
        note="in the page's example request (same value as MessageStatus), not in its tables",
    ),
)
_STATUS_LEFT_OUT = {
    "ApiVersion, ChannelToAddress, StructuredMessage": "seen in third-party logs of status callbacks; "
    "no Twilio table or Twilio source names them",
}

_STATUS = documented(
    _STATUS_PAGE,
    _STATUS_FIELDS,
    when(_STATUS_PAGE, "RawDlrDoneDate", note="on most SMS/MMS delivered or undelivered callbacks (YYMMDDhhmm)"),
    left_out=_STATUS_LEFT_OUT,
)

_CHANNEL_STATUS = documented(
    _STATUS_PAGE,
    _STATUS_FIELDS,
    always(_STATUS_PAGE, "ChannelInstallSid", "ChannelPrefix", note="on WhatsApp and other channels"),
    when(_STATUS_PAGE, "ChannelStatusMessage", note="only when delivery failed: the channel's own error message"),
    when(_STATUS_PAGE, "EventType", note="READ after the recipient read the message (WhatsApp read receipts)"),
    left_out=_STATUS_LEFT_OUT,
)

_SMS_SID = sid("SM", "inbound sms")
_MMS_SID = sid("MM", "inbound mms")
_WHATSAPP_SID = sid("SM", "inbound whatsapp")
_OUTBOUND_SID = sid("SM", "outbound sms")


def _media_url(message_sid: str, label: str) -> str:
    """Where Twilio keeps a message's media: under the account, the message, and the media's own SID."""
    return f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message_sid}/Media/{sid('ME', label)}"


def _message_ids(message_sid: str) -> list[tuple[str, str]]:
    """The three names Twilio still sends for one message's SID (two of them kept for old apps)."""
    return [("SmsMessageSid", message_sid), ("SmsSid", message_sid), ("MessageSid", message_sid)]


#: Sent with every incoming message in practice, though no table lists them: the status and API version.
_RECEIVED = [("SmsStatus", "received"), ("ApiVersion", "2010-04-01")]


INBOUND_SMS = Event(
    kind="messaging.inbound",
    product="messaging",
    title="an SMS arrives at your number",
    path="/twilio/sms",
    documented=_INBOUND,
    params=(
        *place("To", "SAN FRANCISCO", "CA", "94105", "US"),
        *place("From", country="GB"),
        *_message_ids(_SMS_SID),
        ("NumMedia", "0"),
        ("NumSegments", "2"),
        ("ReferralNumMedia", "0"),
        *_RECEIVED,
        ("Body", 'Olá! Можно перенести доставку на завтра? 🙏📦 Order #A-1043 & ref="x+y"'),
        ("To", TWILIO_NUMBER),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("From", UK_CUSTOMER),
        ("AccountSid", ACCOUNT_SID),
    ),
)

INBOUND_MMS = Event(
    kind="messaging.inbound.mms",
    product="messaging",
    title="an MMS with two pictures arrives",
    path="/twilio/sms",
    documented=_INBOUND,
    params=(
        *twilio_place("To"),
        *place("From", "NEW YORK", "NY", "10011", "US"),
        *_message_ids(_MMS_SID),
        ("NumMedia", "2"),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        *_RECEIVED,
        ("MediaContentType0", "image/jpeg"),
        ("MediaUrl0", _media_url(_MMS_SID, "mms picture 0")),
        ("MediaContentType1", "image/png"),
        ("MediaUrl1", _media_url(_MMS_SID, "mms picture 1")),
        ("Body", "写真を送ります 📷 — the dent is on the left door"),
        ("To", TWILIO_NUMBER),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("From", US_CUSTOMER),
        ("AccountSid", ACCOUNT_SID),
    ),
)

INBOUND_WHATSAPP = Event(
    kind="messaging.inbound.whatsapp",
    product="messaging",
    title="a WhatsApp message from a click-to-WhatsApp advert, with a photo",
    path="/twilio/whatsapp",
    documented=_INBOUND,
    params=(
        ("ReferralNumMedia", "1"),
        ("ReferralSourceType", "ad"),
        ("ReferralSourceId", "120208833000000123"),
        ("ReferralSourceUrl", "https://fb.me/3kQx9Lm2a?utm_source=instagram&utm_campaign=inverno%202024&ref=wa"),
        ("ReferralHeadline", "Frete grátis no inverno ❄️"),
        ("ReferralBody", "Fale com a gente pelo WhatsApp"),
        ("ReferralMediaId", "1044815536913220"),
        ("ReferralMediaContentType", "image/jpeg"),
        ("ReferralMediaUrl", _media_url(_WHATSAPP_SID, "whatsapp referral media")),
        ("ReferralCtwaClid", "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LE"),
        ("MediaContentType0", "image/jpeg"),
        ("MediaUrl0", _media_url(_WHATSAPP_SID, "whatsapp photo")),
        ("ProfileName", "Zoë Ψ Andrade"),
        ("WaId", BR_CUSTOMER_WHATSAPP.removeprefix("whatsapp:+")),
        ("Forwarded", "false"),
        ("FrequentlyForwarded", "false"),
        *_message_ids(_WHATSAPP_SID),
        ("NumMedia", "1"),
        ("NumSegments", "1"),
        *_RECEIVED,
        ("Body", "مرحبا، هل الطلب جاهز؟ ✅ Quero saber do pedido"),
        ("To", WHATSAPP_SENDER),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("From", BR_CUSTOMER_WHATSAPP),
        ("AccountSid", ACCOUNT_SID),
    ),
)

STATUS = Event(
    kind="messaging.status",
    product="messaging",
    title="an outgoing SMS was delivered (status callback)",
    path="/twilio/sms/status",
    documented=_STATUS,
    params=(
        ("SmsSid", _OUTBOUND_SID),
        ("SmsStatus", "delivered"),
        ("MessageStatus", "delivered"),
        ("To", UK_CUSTOMER),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("MessageSid", _OUTBOUND_SID),
        ("AccountSid", ACCOUNT_SID),
        ("From", TWILIO_NUMBER),
        ("RawDlrDoneDate", "2406181432"),
    ),
)

_WHATSAPP_OUTBOUND_SID = sid("SM", "outbound whatsapp")
_CHANNEL_INSTALL_SID = sid("XE", "whatsapp sender channel")

WHATSAPP_READ = Event(
    kind="messaging.status.whatsapp",
    product="messaging",
    title="an outgoing WhatsApp message was read (status callback with a read receipt)",
    path="/twilio/whatsapp/status",
    documented=_CHANNEL_STATUS,
    params=(
        ("ChannelPrefix", "whatsapp"),
        ("EventType", "READ"),
        ("SmsSid", _WHATSAPP_OUTBOUND_SID),
        ("SmsStatus", "read"),
        ("MessageStatus", "read"),
        ("To", BR_CUSTOMER_WHATSAPP),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("MessageSid", _WHATSAPP_OUTBOUND_SID),
        ("AccountSid", ACCOUNT_SID),
        ("From", WHATSAPP_SENDER),
        ("ChannelInstallSid", _CHANNEL_INSTALL_SID),
    ),
)

WHATSAPP_FAILED = Event(
    kind="messaging.status.whatsapp.failed",
    product="messaging",
    title="an outgoing WhatsApp message could not be delivered (status callback with the channel's error)",
    path="/twilio/whatsapp/status",
    documented=_CHANNEL_STATUS,
    params=(
        ("ChannelPrefix", "whatsapp"),
        ("ErrorCode", "63016"),
        (
            "ChannelStatusMessage",
            "Message failed to send because more than 24 hours have passed since the customer last replied",
        ),
        ("SmsSid", _WHATSAPP_OUTBOUND_SID),
        ("SmsStatus", "undelivered"),
        ("MessageStatus", "undelivered"),
        ("To", BR_CUSTOMER_WHATSAPP),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("MessageSid", _WHATSAPP_OUTBOUND_SID),
        ("AccountSid", ACCOUNT_SID),
        ("From", WHATSAPP_SENDER),
        ("ChannelInstallSid", _CHANNEL_INSTALL_SID),
    ),
)

_RCS_OUTBOUND_SID = sid("SM", "outbound rcs")

#: The status page's channel table covers "RCS, WhatsApp, and other messaging channels", and names RCS
#: among the channels with read receipts. RCS addresses carry the ``rcs:`` prefix (an RCS sender is
#: ``rcs:sender_id``, a recipient an ``rcs:`` address: Twilio's error 21664 page).
RCS_READ = Event(
    kind="messaging.status.rcs",
    product="messaging",
    title="an outgoing RCS message was read (status callback with a read receipt)",
    path="/twilio/rcs/status",
    documented=_CHANNEL_STATUS,
    params=(
        ("ChannelPrefix", "rcs"),
        ("EventType", "READ"),
        ("SmsSid", _RCS_OUTBOUND_SID),
        ("SmsStatus", "read"),
        ("MessageStatus", "read"),
        ("To", f"rcs:{UK_CUSTOMER}"),
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("MessageSid", _RCS_OUTBOUND_SID),
        ("AccountSid", ACCOUNT_SID),
        ("From", "rcs:acme_support_gb_agent"),
        ("ChannelInstallSid", sid("XE", "rcs sender channel")),
    ),
)

EVENTS = (INBOUND_SMS, INBOUND_MMS, INBOUND_WHATSAPP, STATUS, WHATSAPP_READ, WHATSAPP_FAILED, RCS_READ)
