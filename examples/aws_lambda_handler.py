"""An AWS Lambda handler behind API Gateway (or a function URL), protected by twiliosig.

Deploy with TWILIO_AUTH_TOKEN in the function's environment and point a Twilio
number's webhook at the API's invoke URL (or your custom domain; then set
PUBLIC_URL to its base, e.g. https://hooks.example.com/api).
"""

from __future__ import annotations

import base64
import os
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from twiliosig.contrib.aws_lambda import twilio_required


@twilio_required(public_url=os.environ.get("PUBLIC_URL"))
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reply to an SMS; only events signed by Twilio get this far."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    form = dict(parse_qsl(body, keep_blank_values=True))
    twiml = f"<Response><Message>You said: {escape(form.get('Body', ''))}</Message></Response>"
    return {"statusCode": 200, "headers": {"Content-Type": "text/xml"}, "body": twiml}
