"""Frontline: the integration service's callbacks (CRM, outgoing conversations, templates, routing).

The Frontline app asks your integration service for customers, for the number to write
from, for message templates, and who should take an incoming conversation. Each
callback is a signed form POST; its ``Location`` says which question it asks.
"""

from __future__ import annotations

from ._conversations import CONVERSATION_SID
from ._model import Event, documented
from ._values import CONVERSATION_SERVICE_SID, TWILIO_NUMBER, UK_CUSTOMER

_CRM = documented(
    "https://www.twilio.com/docs/frontline/my-customers",
    ["Location", "Worker", "CustomerId", "PageSize", "NextPageToken", "Query"],
)
_OUTGOING = documented(
    "https://www.twilio.com/docs/frontline/outgoing-conversations",
    ["Location", "Worker", "CustomerId", "ChannelType", "ChannelValue"],
)
_TEMPLATES = documented(
    "https://www.twilio.com/docs/frontline/templated-messages",
    ["Location", "Worker", "CustomerId", "ConversationSid"],
)
_ROUTING = documented(
    "https://www.twilio.com/docs/frontline/handle-incoming-conversations",
    ["ConversationSid", "FriendlyName", "UniqueName", "Attributes", "ConversationServiceSid", "State"],
    ["DateCreated", "DateUpdated"],
    ["MessagingBinding.ProxyAddress", "MessagingBinding.Address", "MessagingBinding.ProjectedAddress"],
    ["MessagingBinding.AuthorAddress"],
)

WORKER = "ana.souza@example.com"
CUSTOMER_ID = "cust-7f3a9c"

CUSTOMERS_LIST = Event(
    kind="frontline.crm.customers",
    product="frontline",
    title="a worker opens My Customers and searches (CRM callback, GetCustomersList)",
    path="/callbacks/crm",
    documented=_CRM,
    params=(
        ("Location", "GetCustomersList"),
        ("Worker", WORKER),
        ("PageSize", "30"),
        ("NextPageToken", ""),
        ("Query", "Müller 李"),
    ),
)

CUSTOMER_DETAILS = Event(
    kind="frontline.crm.customer",
    product="frontline",
    title="a worker opens one customer's details (CRM callback, GetCustomerDetailsByCustomerId)",
    path="/callbacks/crm",
    documented=_CRM,
    params=(("Location", "GetCustomerDetailsByCustomerId"), ("CustomerId", CUSTOMER_ID), ("Worker", WORKER)),
)

OUTGOING = Event(
    kind="frontline.outgoing",
    product="frontline",
    title="a worker starts a conversation: which number to write from (GetProxyAddress)",
    path="/callbacks/outgoing-conversation",
    documented=_OUTGOING,
    params=(
        ("Location", "GetProxyAddress"),
        ("Worker", WORKER),
        ("CustomerId", CUSTOMER_ID),
        ("ChannelType", "whatsapp"),
        ("ChannelValue", "whatsapp:+447700900461"),
    ),
)

TEMPLATES = Event(
    kind="frontline.templates",
    product="frontline",
    title="a worker opens the templates for a customer (GetTemplatesByCustomerId)",
    path="/callbacks/templates",
    documented=_TEMPLATES,
    params=(
        ("Location", "GetTemplatesByCustomerId"),
        ("Worker", WORKER),
        ("CustomerId", CUSTOMER_ID),
        ("ConversationSid", CONVERSATION_SID),
    ),
)

ROUTING = Event(
    kind="frontline.routing",
    product="frontline",
    title="a customer writes in: who takes the conversation (custom routing callback)",
    path="/callbacks/routing",
    documented=_ROUTING,
    params=(
        ("ConversationSid", CONVERSATION_SID),
        ("ConversationServiceSid", CONVERSATION_SERVICE_SID),
        ("FriendlyName", ""),
        ("UniqueName", ""),
        ("Attributes", "{}"),
        ("State", "active"),
        ("DateCreated", "2024-06-18T14:31:43.512Z"),
        ("DateUpdated", "2024-06-18T14:31:43.512Z"),
        ("MessagingBinding.ProxyAddress", TWILIO_NUMBER),
        ("MessagingBinding.Address", UK_CUSTOMER),
    ),
)

EVENTS = (CUSTOMERS_LIST, CUSTOMER_DETAILS, OUTGOING, TEMPLATES, ROUTING)
