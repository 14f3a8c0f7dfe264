"""Programmable Messaging: a message comes in (SMS, MMS, WhatsApp), an outgoing one changes status."""

from __future__ import annotations

from ._model import Event, documented, sid
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

_INBOUND = documented(
    _INBOUND_PAGE,
    # the message
    ["MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "MessagingServiceSid", "From", "To", "Body"],
    ["NumMedia", "NumSegments", "SmsStatus", "ApiVersion"],
    # where the numbers are
    ["FromCity", "FromState", "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry"],
    # WhatsApp
    ["ProfileName", "WaId", "Forwarded", "FrequentlyForwarded", "ButtonText"],
    ["Latitude", "Longitude", "Address", "Label"],
    ["OriginalRepliedMessageSender", "OriginalRepliedMessageSid"],
    # WhatsApp, a message that came from a click-to-WhatsApp advert
    ["ReferralBody", "ReferralHeadline", "ReferralSourceId", "ReferralSourceType", "ReferralSourceUrl"],
    ["ReferralMediaId", "ReferralMediaContentType", "ReferralMediaUrl", "ReferralNumMedia", "ReferralCtwaClid"],
    patterns=[r"MediaContentType\d+", r"MediaUrl\d+"],
)

_STATUS = documented(
    _STATUS_PAGE,
    ["MessageSid", "SmsSid", "AccountSid", "MessagingServiceSid", "From", "To", "ApiVersion"],
    ["MessageStatus", "SmsStatus", "ErrorCode", "RawDlrDoneDate"],
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


#: Sent with every incoming message: its status, always ``received``, and the API version.
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
        ("ApiVersion", "2010-04-01"),
        ("RawDlrDoneDate", "2406181432"),
    ),
)

EVENTS = (INBOUND_SMS, INBOUND_MMS, INBOUND_WHATSAPP, STATUS)
