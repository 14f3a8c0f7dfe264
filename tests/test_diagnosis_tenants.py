"""With a per-account token lookup, no tenant can make the guard log a fix of its choosing.

The diagnosis names the forwarding header to trust when a refused request's signature
matches the URL that header describes, and says Twilio signed it. With ``auth_token``
a lookup by ``AccountSid``, every tenant holds a token the lookup answers with: tenant B
signs, with its own token, the URL ``https://evil.example/...`` and sends
``X-Forwarded-Host: evil.example``. The guard logged at ERROR that Twilio signed it and
``Fix: trust_forwarded={"x_host": 1}``: a header no proxy of the app writes, which,
once trusted, is whatever any client sends. Such a guard runs no diagnosis: the request
is refused as a plain mismatch.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any
from urllib.parse import urlencode

import pytest

from twiliosig import compute_signature
from twiliosig.wsgi import TwilioSignatureMiddleware

ACCOUNT_B = "AC" + "b" * 32
TOKEN_B = "tenant-b-token-0123456789abcdef01"
PAIRS = [("AccountSid", ACCOUNT_B), ("Body", "hi")]


def _send(app: Any, signed_for: str, token: str) -> str:
    body = urlencode(PAIRS).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/twilio/sms",
        "QUERY_STRING": "",
        "SERVER_NAME": "app.internal",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "app.internal",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_TWILIO_SIGNATURE": compute_signature(token, signed_for, PAIRS),
        "HTTP_X_FORWARDED_HOST": "evil.example",
    }
    statuses: list[str] = []
    app(environ, lambda status, headers: statuses.append(status))
    return statuses[0]


def _app(auth_token: Any) -> Any:
    return TwilioSignatureMiddleware(lambda environ, start: [start("200 OK", []) and b""], auth_token=auth_token)


def test_a_tenant_cannot_make_the_guard_name_a_fix(caplog: pytest.LogCaptureFixture) -> None:
    app = _app(lambda account: {ACCOUNT_B: TOKEN_B}.get(account or ""))
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        assert _send(app, "https://evil.example/twilio/sms", TOKEN_B).startswith("403")
    text = caplog.text
    assert "signature_mismatch" in text
    assert "Fix:" not in text
    assert "evil.example" not in text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_with_one_token_the_finding_is_still_named(caplog: pytest.LogCaptureFixture) -> None:
    """Control: the app's own token is held by Twilio and the app alone, so the finding stays."""
    app = _app(TOKEN_B)
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        assert _send(app, "https://evil.example/twilio/sms", TOKEN_B).startswith("403")
    assert 'Fix: trust_forwarded={"x_host": 1}' in caplog.text
