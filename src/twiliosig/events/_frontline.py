"""Frontline: the integration service's callbacks (CRM, outgoing conversations, templates, routing).

The Frontline app asks your integration service for customers, for the number to write
from, for message templates, and who should take an incoming conversation. Each
callback is a signed form POST; its ``Location`` says which question it asks.
"""

from __future__ import annotations

from ._conversations import CONVERSATION_SID
from ._model import Event, Field, always, documented, practice
from ._values import TWILIO_NUMBER, UK_CUSTOMER

_QUICKSTARTS = "https://github.com/twilio-labs/frontline-"
_AIRTABLE = _QUICKSTARTS + "airtable-serverless-quickstart/blob/main/functions/callbacks/"
_HUBSPOT = _QUICKSTARTS + "hubspot-serverless-quickstart/blob/main/functions/callbacks/"
_SALESFORCE = _QUICKSTARTS + "salesforce-serverless-quickstart/blob/main/functions/"

_CRM_PAGE = "https://www.twilio.com/docs/frontline/my-customers"
_OUTGOING_PAGE = "https://www.twilio.com/docs/frontline/outgoing-conversations"
_TEMPLATES_PAGE = "https://www.twilio.com/docs/frontline/templated-messages"
_ROUTING_PAGE = "https://www.twilio.com/docs/frontline/handle-incoming-conversations"


def _common(page: str) -> tuple[Field, ...]:
    """``Location`` and ``Worker``: "each request also contains" them (Frontline's callback pages)."""
    return always(page, "Location", "Worker")


_CRM = documented(
    _CRM_PAGE,
    _common(_CRM_PAGE),
    practice(
        _AIRTABLE + "crm.protected.js",
        "PageSize",
        "Anchor",
        note="GetCustomersList: the page size and the anchor of the next page (absent on the first page); "
        "Twilio Labs' Airtable and HubSpot quickstarts read both",
    ),
    practice(
        _SALESFORCE + "crm.protected.js",
        "Query",
        note="GetCustomersList, when the worker searches; Twilio Labs' Salesforce quickstart reads it",
    ),
    practice(
        _AIRTABLE + "crm.protected.js",
        "CustomerId",
        note="GetCustomerDetailsByCustomerId: the customer asked for; every Frontline quickstart reads it",
    ),
    left_out={"NextPageToken": "no Twilio page or quickstart names it: the next page is asked for with Anchor"},
)
_OUTGOING = documented(
    _OUTGOING_PAGE,
    _common(_OUTGOING_PAGE),
    practice(
        _SALESFORCE + "outgoing-conversation.protected.js",
        "ChannelType",
        note="GetProxyAddress: sms or whatsapp; Twilio Labs' Salesforce quickstart reads it",
    ),
    left_out={
        "CustomerId, ChannelValue": "unconfirmed: the location-specific table could not be read and no "
        "quickstart reads them",
    },
)
_TEMPLATES = documented(
    _TEMPLATES_PAGE,
    _common(_TEMPLATES_PAGE),
    practice(
        _AIRTABLE + "templates.protected.js",
        "CustomerId",
        note="GetTemplatesByCustomerId: the customer of the conversation; Twilio Labs' quickstarts read it",
    ),
    left_out={"ConversationSid": "unconfirmed: no readable table or quickstart names it for this callback"},
)
_ROUTING = documented(
    _ROUTING_PAGE,
    practice(
        _AIRTABLE + "routing.protected.js",
        "ConversationSid",
        "MessagingBinding.Address",
        note="the conversation to route and the customer's address; Twilio Labs' Airtable quickstart reads both",
    ),
    practice(
        _SALESFORCE + "inbound-routing.protected.js",
        "MessagingBinding.ProxyAddress",
        note="the Twilio number the customer wrote to; Twilio Labs' Salesforce quickstart reads it",
    ),
    left_out={
        "FriendlyName, UniqueName, Attributes, ConversationServiceSid, State, DateCreated, DateUpdated": (
            "unconfirmed: the routing page's table could not be read, and no quickstart reads them"
        ),
    },
)

WORKER = "ana.souza@example.com"
CUSTOMER_ID = "cust-7f3a9c"

CUSTOMERS_LIST = Event(
    kind="frontline.crm.customers",
    product="frontline",
    title="a worker searches My Customers and scrolls to the next page (CRM callback, GetCustomersList)",
    path="/callbacks/crm",
    documented=_CRM,
    params=(
        ("Location", "GetCustomersList"),
        ("Worker", WORKER),
        ("PageSize", "30"),
        ("Anchor", "cust-7f3a9c"),
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
        ("ChannelType", "whatsapp"),
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
        ("MessagingBinding.ProxyAddress", TWILIO_NUMBER),
        ("MessagingBinding.Address", UK_CUSTOMER),
    ),
)

EVENTS = (CUSTOMERS_LIST, CUSTOMER_DETAILS, OUTGOING, TEMPLATES, ROUTING)
