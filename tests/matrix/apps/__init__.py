"""One small app per framework, protected the way that framework's users add WSGI or ASGI middleware.

Every app answers ``POST /twilio/sms`` with ``app saw: <the Body parameter>`` as its own
form parser read it (so a replayed body that lost or changed a byte shows), and the ones
whose framework serves WebSockets accept ``/twilio/media``, send ``connected`` and close.
The token comes from ``TWILIO_AUTH_TOKEN``, the middleware's default, as in production.
"""

#: The prefix every app protects.
PATHS = ["/twilio/"]
#: What the apps' WebSocket endpoints send once accepted.
CONNECTED = "connected"


def reply(body: str) -> str:
    """The text an app answers a webhook with: proof that the app ran and what its form parser read."""
    return f"app saw: {body}"
