"""Conversations: the pre-event before a conversation is created, and the post-events after a message or participant."""

from __future__ import annotations

import json

from ._model import Event, documented, sid
from ._values import ACCOUNT_SID, CONVERSATION_SERVICE_SID, MESSAGING_SERVICE_SID, TWILIO_NUMBER, UK_CUSTOMER

_PAGE = "https://www.twilio.com/docs/conversations/conversations-webhooks"

#: Sent with every Conversations webhook; post-events add the retry count.
_COMMON = ["AccountSid", "EventType", "Source", "ClientIdentity", "ChatServiceSid", "RetryCount"]
_BINDING = [
    "MessagingBinding.ProxyAddress", "MessagingBinding.Address", "MessagingBinding.ProjectedAddress",
    "MessagingBinding.AuthorAddress", "MessagingBinding.Type",
]  # fmt: skip

_CONVERSATION_ADD = documented(
    _PAGE,
    _COMMON,
    _BINDING,
    ["FriendlyName", "UniqueName", "Attributes", "MessagingServiceSid", "State", "DateCreated"],
)
_MESSAGE_ADDED = documented(
    _PAGE,
    _COMMON,
    ["ConversationSid", "MessageSid", "MessagingServiceSid", "Index", "DateCreated", "Body", "Author"],
    ["ParticipantSid", "Attributes", "Media"],
)
_PARTICIPANT_ADDED = documented(
    _PAGE,
    _COMMON,
    _BINDING,
    ["ConversationSid", "ParticipantSid", "MessagingServiceSid", "DateCreated", "Identity", "RoleSid", "Attributes"],
)

CONVERSATION_SID = sid("CH", "conversation with a customer")
CUSTOMER_PARTICIPANT_SID = sid("MB", "customer participant")
WORKER_PARTICIPANT_SID = sid("MB", "worker participant")

CONVERSATION_ADD = Event(
    kind="conversations.conversation.add",
    product="conversations",
    title="a customer's first SMS is about to create a conversation (pre-event onConversationAdd)",
    path="/twilio/conversations",
    documented=_CONVERSATION_ADD,
    params=(
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("RetryCount", "0"),
        ("EventType", "onConversationAdd"),
        ("State", "active"),
        ("Attributes", "{}"),
        ("MessagingBinding.ProxyAddress", TWILIO_NUMBER),
        ("AccountSid", ACCOUNT_SID),
        ("MessagingBinding.Address", UK_CUSTOMER),
        ("ChatServiceSid", CONVERSATION_SERVICE_SID),
        ("Source", "SMS"),
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
        ("ChatServiceSid", CONVERSATION_SERVICE_SID),
        ("MessageSid", sid("IM", "conversation message with a pdf")),
        ("AccountSid", ACCOUNT_SID),
        ("Source", "SDK"),
        ("RetryCount", "0"),
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
        ("MessagingServiceSid", MESSAGING_SERVICE_SID),
        ("RetryCount", "0"),
        ("EventType", "onParticipantAdded"),
        ("Attributes", "{}"),
        ("DateCreated", "2024-06-18T14:31:44.008Z"),
        ("ChatServiceSid", CONVERSATION_SERVICE_SID),
        ("MessagingBinding.ProxyAddress", TWILIO_NUMBER),
        ("AccountSid", ACCOUNT_SID),
        ("MessagingBinding.Address", UK_CUSTOMER),
        ("MessagingBinding.Type", "sms"),
        ("RoleSid", sid("RL", "conversation participant role")),
        ("Source", "API"),
        ("ParticipantSid", CUSTOMER_PARTICIPANT_SID),
        ("ConversationSid", CONVERSATION_SID),
    ),
)

EVENTS = (CONVERSATION_ADD, MESSAGE_ADDED, PARTICIPANT_ADDED)
