"""The reference every end-to-end test signs with, and the webhook they send.

A test that signed its requests with twiliosig's own ``compute_signature`` would pass
if the signer and the checker shared a bug. These tests sign with the official
``twilio`` package's ``RequestValidator`` (pinned in requirements/test.txt) instead:
what it accepts is what Twilio sends. The suites (tests/contract.py, tests/attacks,
tests/e2e, tests/matrix) import the oracle and the webhook from here, so they all
send the same request and none keeps its own copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator as TwilioValidator
from werkzeug.datastructures import MultiDict

__all__ = ["FORM", "SMS", "TwilioValidator", "form_body", "twilio_signature"]

FORM = "application/x-www-form-urlencoded"
#: A Twilio SMS webhook's parameters: non-ASCII and reserved characters in Body, a blank
#: value, and a repeated name, last (tests swap its last value to tamper with the body).
SMS: list[tuple[str, str]] = [
    ("AccountSid", "AC" + "1" * 32),
    ("Body", "Olá 👋 — 100% café & crème+ ?x=1"),
    ("From", "+15005550006"),
    ("MediaUrl0", ""),
    ("To", "+15005550001"),
    ("ForwardedFrom", "b"),
    ("ForwardedFrom", "a"),
]


def twilio_signature(token: str, url: str, pairs: Sequence[tuple[str, str]] | None = None) -> str:
    """The signature Twilio sends, computed by the official ``twilio`` package (a MultiDict keeps repeated names)."""
    return str(TwilioValidator(token).compute_signature(url, MultiDict(list(pairs or []))))


def form_body(pairs: Sequence[tuple[str, str]]) -> bytes:
    """A form body encoded as Twilio encodes it."""
    return urlencode(list(pairs)).encode("ascii")
