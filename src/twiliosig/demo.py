"""``python -m twiliosig demo``: a protected app on loopback, a genuine webhook and a forged one.

Needs nothing beyond the standard library: the app is a plain WSGI function
served by ``wsgiref`` on 127.0.0.1 (a free port), wrapped in the WSGI middleware
with a demo token. The demo prints both responses, the refusal's log line, and
what ``twiliosig explain`` says about the forged request, then stops the server.
"""

from __future__ import annotations

import http.client
import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server
from xml.sax.saxutils import escape

from .explain import explain
from .signature import RequestValidator, compute_signature
from .wsgi import TwilioSignatureMiddleware

__all__ = ["run_demo"]

DEMO_TOKEN = "demo-auth-token-for-twiliosig-demo"  # noqa: S105 - a public demo value
WEBHOOK = {
    "AccountSid": "AC" + "0" * 32,
    "MessageSid": "SM" + "1" * 32,
    "From": "+15005550006",
    "To": "+15005550001",
    "Body": "Hello from the twiliosig demo",
    "NumMedia": "0",
}


def _sms_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The app being protected: answers an SMS webhook with TwiML."""
    verdict = environ["twiliosig.verdict"]
    twiml = f"<Response><Message>Got it ({escape(verdict.reason.value)})</Message></Response>".encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(twiml)))])
    return [twiml]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The demo prints what matters itself."""


def _post(port: int, path: str, signature: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        connection.request("POST", path, urlencode(WEBHOOK), headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace").strip()
    finally:
        connection.close()


def run_demo(out: Any = None) -> int:
    """Run the demo, printing to ``out`` (stdout by default); returns 0 when it behaved as it should."""
    out = out or sys.stdout
    log = logging.getLogger("twiliosig")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("    log: %(message)s"))
    log.addHandler(handler)
    app = TwilioSignatureMiddleware(_sms_app, auth_token=DEMO_TOKEN, paths=["/twilio/"])
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_port
        url = f"http://127.0.0.1:{port}/twilio/sms"
        print(f"A WSGI app protected by TwilioSignatureMiddleware is listening on {url}", file=out)
        print(f"(demo auth token: {DEMO_TOKEN!r})\n", file=out)

        genuine = compute_signature(DEMO_TOKEN, url, WEBHOOK)
        print("1. A genuine webhook, signed with the app's auth token:", file=out)
        status, body = _post(port, "/twilio/sms", genuine)
        print(f"    -> {status} {body}\n", file=out)

        forged = compute_signature("a-guessed-token", url, WEBHOOK)
        print("2. A forged webhook, signed with a guessed token:", file=out)
        forged_status, forged_body = _post(port, "/twilio/sms", forged)
        print(f"    -> {forged_status} {forged_body}\n", file=out)

        print("3. What `twiliosig explain` says about the forged request:", file=out)
        explanation = explain(RequestValidator(DEMO_TOKEN), url, WEBHOOK, forged)
        for line in explanation.render().splitlines():
            print(f"    {line}", file=out)
        ok = status == 200 and forged_status == 403
        print("\nThe genuine webhook reached the app; the forged one never did." if ok else "\nUNEXPECTED", file=out)
        return 0 if ok else 1
    finally:
        server.shutdown()
        server.server_close()
        log.removeHandler(handler)
