"""Conversations: the pre-event before a conversation is created, and the post-events after a message or participant."""

from __future__ import annotations

import json

from ._model import Event, always, documented, sid, when
from ._values import ACCOUNT_SID, CONVERSATION_SERVICE_SID, MESSAGING_SERVICE_SID, TWILIO_NUMBER, UK_CUSTOMER

_PAGE = "https://www.twilio.com/docs/conversations/conversations-webhooks"

_GROUP_MMS = "in a Group MMS conversation"
_BINDING_NOTE = "for an SMS or WhatsApp participant (null for a chat-only one)"

#: "each request also contains" these (the page's common table), whatever the event.
_COMMON = (
    *always(_PAGE, "AccountSid", "EventType"),
    *always(_PAGE, "Source", note="SDK or API: the source of the action"),
    *when(_PAGE, "ClientIdentity", note="on SDK-originating events: the identity of the user who acted"),
)
_LEFT_OUT = {
    "RetryCount": "seen in third-party handlers' types; neither the common table nor the event's lists it",
}

_CONVERSATION_ADD = documented(
    _PAGE,
    _COMMON,
    always(_PAGE, "UniqueName", "Attributes", "ChatServiceSid", "MessagingServiceSid", "State"),
    when(_PAGE, "FriendlyName", note="when the conversation has one"),
    when(
        _PAGE,
        "MessagingBinding.ProxyAddress",
        "MessagingBinding.Address",
        note="null when the conversation is created with the REST API and has no participants yet "
        "(a list of addresses for an autocreated Group MMS)",
    ),
    when(_PAGE, "MessagingBinding.ProjectedAddress", "MessagingBinding.AuthorAddress", note=_GROUP_MMS),
    when(_PAGE, "MessageBody", "Media", note="when a message creates the conversation: its body and media"),
    left_out={
        **_LEFT_OUT,
        "DateCreated, ConversationSid": "the onConversationAdd table lists neither (the "
        "conversation does not exist yet)",
    },
)
_MESSAGE_ADDED = documented(
    _PAGE,
    _COMMON,
    always(_PAGE, "ConversationSid", "MessageSid", "MessagingServiceSid", "Index", "DateCreated", "Body"),
    always(_PAGE, "Author", "Attributes"),
    when(_PAGE, "ParticipantSid", note="when the author is a participant"),
    when(_PAGE, "Media", note="when the message has media: a JSON array of media objects"),
    left_out={**_LEFT_OUT, "ChatServiceSid": "not in the onMessageAdded table"},
)
_PARTICIPANT_ADDED = documented(
    _PAGE,
    _COMMON,
    always(_PAGE, "ConversationSid", "ParticipantSid", "DateCreated", "RoleSid", "Attributes"),
    always(_PAGE, "MessagingBinding.Type", note="SMS, CHAT or WHATSAPP"),
    when(_PAGE, "Identity", note="for a chat participant (null for an SMS or WhatsApp one)"),
    when(_PAGE, "MessagingBinding.ProxyAddress", "MessagingBinding.Address", note=_BINDING_NOTE),
    when(_PAGE, "MessagingBinding.ProjectedAddress", note=_GROUP_MMS),
    left_out={**_LEFT_OUT, "ChatServiceSid, MessagingServiceSid": "not in the onParticipantAdded table"},
)

CONVERSATION_SID = sid("CH", "conversation with a customer")
CUSTOMER_PARTICIPANT_SID = sid("MB", "customer participant")
WORKER_PARTICIPANT_SID = sid("MB", "worker participant")

CONVERSATION_ADD = Event(
    kind="conversations.conversation.add",
    product="conversations",
    title="a conversation is about to be created with an SMS customer's first message (pre-event onConversationAdd)",
    path="/twilio/conversations",
    documented=_CONVERSATION_ADD,
    params=(
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("EventType", "onConversationAdd"),
        ("State", "active"),
        ("Attributes", "{}"),
        ("UniqueName", "sms-447700900461"),
        ("FriendlyName", "Müller & Söhne — ticket #A-1043"),
        ("MessagingBinding.ProxyAddress", TWILIO_NUMBER),
        ("AccountSid", ACCOUNT_SID),
        ("MessagingBinding.Address", UK_CUSTOMER),
        ("MessageBody", "Hallo! Wo bleibt meine Bestellung? 📦"),
        ("ChatServiceSid", CONVERSATION_SERVICE_SID),
        ("Source", "API"),
    ),
)

MESSAGE_ADDED = Event(
    kind="conversations.message.added",
    product="conversations",
    title="a participant added a message with an attachment (post-event onMessageAdded)",
    path="/twilio/conversations",
    documented=_MESSAGE_ADDED,
    params=(
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("EventType", "onMessageAdded"),
        ("Attributes", json.dumps({"importance": "high", "tags": ["échéance", "请款"]}, ensure_ascii=False)),
        ("DateCreated", "2024-06-18T14:35:02.117Z"),
        ("Index", "12"),
        ("MessageSid", sid("IM", "conversation message with a pdf")),
        ("AccountSid", ACCOUNT_SID),
        ("Source", "SDK"),
        ("Author", "ana.souza@example.com"),
        ("ParticipantSid", WORKER_PARTICIPANT_SID),
        ("Body", "Voici la facture 🧾 —請確認"),
        ("ClientIdentity", "ana.souza@example.com"),
        (
            "Media",
            json.dumps(
                [
                    {
                        "Sid": sid("ME", "conversation invoice pdf"),
                        "Filename": "facture-2024-06 (1).pdf",
                        "ContentType": "application/pdf",
                        "Size": 48213,
                        "Category": "media",
                    }
                ],
                ensure_ascii=False,
            ),
        ),
        ("ConversationSid", CONVERSATION_SID),
    ),
)

PARTICIPANT_ADDED = Event(
    kind="conversations.participant.added",
    product="conversations",
    title="an SMS customer joined a conversation (post-event onParticipantAdded)",
    path="/twilio/conversations",
    documented=_PARTICIPANT_ADDED,
    params=(
        ("EventType", "onParticipantAdded"),
        ("Attributes", "{}"),
        ("DateCreated", "2024-06-18T14:31:44.008Z"),
        ("MessagingBinding.ProxyAddress", TWILIO_NUMBER),
        ("AccountSid", ACCOUNT_SID),
        ("MessagingBinding.Address", UK_CUSTOMER),
        ("MessagingBinding.Type", "SMS"),
        ("RoleSid", sid("RL", "conversation participant role")),
        ("Source", "API"),
        ("ParticipantSid", CUSTOMER_PARTICIPANT_SID),
        ("ConversationSid", CONVERSATION_SID),
    ),
)

EVENTS = (CONVERSATION_ADD, MESSAGE_ADDED, PARTICIPANT_ADDED)
