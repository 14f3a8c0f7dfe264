"""A Frontline integration service whose callbacks only answer Twilio.

Frontline asks this service for the worker's customers (CRM callback), the number to
write from (outgoing conversations), message templates, and who takes a conversation a
customer starts (routing). Every answer holds customer data, so every callback under
/callbacks/ must carry a genuine X-Twilio-Signature, as Twilio's "Securing your Backend
Service" asks; the middleware refuses anything else with 403 before a handler runs.

Run:  TWILIO_AUTH_TOKEN=your_token python examples/frontline_app.py   (listens on 127.0.0.1:$PORT, default 5001)
Then, in the Frontline console, set the callback URLs to https://<your host>/callbacks/crm,
/callbacks/outgoing-conversation, /callbacks/templates and /callbacks/routing. Behind a
tunnel, also set PUBLIC_URL=https://<your host>. Try it without Twilio:

    twiliosig send frontline.crm.customers http://127.0.0.1:5001/callbacks/crm
    twiliosig send frontline.crm.customers http://127.0.0.1:5001/callbacks/crm --tampered
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, abort, jsonify, request

from twiliosig.wsgi import TwilioSignatureMiddleware

SMS_NUMBER = os.environ.get("TWILIO_SMS_NUMBER", "+14155550142")
WHATSAPP_NUMBER = os.environ.get("TWILIO_WHATSAPP_NUMBER", "whatsapp:+14155550199")

#: The CRM: in a real service, a query to Salesforce, HubSpot or your own database.
CUSTOMERS: list[dict[str, Any]] = [
    {
        "customer_id": "cust-7f3a9c",
        "display_name": "Zoë Andrade",
        "worker": "ana.souza@example.com",
        "channels": [
            {"type": "sms", "value": "+447700900461"},
            {"type": "whatsapp", "value": "whatsapp:+447700900461"},
        ],
        "links": [{"type": "CRM", "value": "https://crm.example.com/customers/7f3a9c", "display_name": "Open in CRM"}],
        "details": {"title": "Notes", "content": "Prefers WhatsApp; speaks Portuguese and English."},
    },
    {
        "customer_id": "cust-19b2e0",
        "display_name": "Jonas Müller",
        "worker": "ana.souza@example.com",
        "channels": [{"type": "sms", "value": "+12125550187"}],
        "links": [],
        "details": {"title": "Notes", "content": "Fleet account, 12 vans."},
    },
    {
        "customer_id": "cust-5c0d41",
        "display_name": "李 娜",
        "worker": "wei.chen@example.com",
        "channels": [{"type": "sms", "value": "+61491570156"}],
        "links": [],
        "details": {"title": "Notes", "content": "Call after 18:00 AEST."},
    },
]

app = Flask(__name__)


def _customer(customer_id: str) -> dict[str, Any]:
    found = next((customer for customer in CUSTOMERS if customer["customer_id"] == customer_id), None)
    if found is None:
        abort(404)
    return found


@app.post("/callbacks/crm")
def crm() -> Any:
    """My Customers: the worker's customer list (searchable, paged) or one customer's details."""
    location = request.form.get("Location")
    worker = request.form.get("Worker", "")
    if location == "GetCustomerDetailsByCustomerId":
        return jsonify(objects={"customer": _customer(request.form.get("CustomerId", ""))})
    if location == "GetCustomersList":
        query = request.form.get("Query", "").casefold()
        size = int(request.form.get("PageSize") or 30)
        mine = [customer for customer in CUSTOMERS if customer["worker"] == worker]
        # The next page starts after Anchor, the customer_id the previous page ended with (absent on page one).
        ids = [customer["customer_id"] for customer in mine]
        anchor = request.form.get("Anchor")
        mine = mine[ids.index(anchor) + 1 :] if anchor in ids else mine
        if query:
            words = query.split()
            mine = [customer for customer in mine if any(word in customer["display_name"].casefold() for word in words)]
        listed = [{"customer_id": c["customer_id"], "display_name": c["display_name"]} for c in mine[:size]]
        return jsonify(objects={"customers": listed, "searchable": True})
    return jsonify(error=f"unknown Location {location!r}"), 422


@app.post("/callbacks/outgoing-conversation")
def outgoing_conversation() -> Any:
    """The number a worker writes from, by channel."""
    if request.form.get("Location") != "GetProxyAddress":
        return jsonify(error="unknown Location"), 422
    channel = request.form.get("ChannelType")
    return jsonify(proxy_address=WHATSAPP_NUMBER if channel == "whatsapp" else SMS_NUMBER)


@app.post("/callbacks/templates")
def templates() -> Any:
    """Message templates for one customer, by category."""
    if request.form.get("Location") != "GetTemplatesByCustomerId":
        return jsonify(error="unknown Location"), 422
    name = _customer(request.form.get("CustomerId", ""))["display_name"]
    return jsonify(
        [
            {
                "display_name": "Openers",
                "templates": [
                    {"content": f"Hello {name}, your order has shipped 📦", "whatsAppApproved": True},
                    {"content": f"Olá {name}, posso ajudar com o seu pedido?"},
                ],
            },
            {"display_name": "Closing", "templates": [{"content": "Thanks! Anything else I can do?"}]},
        ]
    )


@app.post("/callbacks/routing")
def routing() -> Any:
    """A customer started a conversation: pick the worker who owns them.

    A real service adds that worker to the conversation with the Conversations API
    (``participants.create(identity=worker)``); this one says who it would add.
    """
    address = request.form.get("MessagingBinding.Address", "")
    owner = next(
        (customer["worker"] for customer in CUSTOMERS if any(c["value"] == address for c in customer["channels"])),
        "ana.souza@example.com",
    )
    return jsonify(routed_to=owner)


@app.get("/health")
def health() -> str:
    """Not under /callbacks/, so not protected: for load balancers."""
    return "ok"


# Every callback must be signed. Behind a tunnel or proxy, PUBLIC_URL is the address Twilio calls.
app.wsgi_app = TwilioSignatureMiddleware(  # type: ignore[method-assign]
    app.wsgi_app, paths=["/callbacks/"], public_url=os.environ.get("PUBLIC_URL")
)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5001")))
