"""Cost of validating one genuine 12-parameter webhook, as ratios measured side by side.

Compares, in one process and on the same request:
- twiliosig ``RequestValidator.validate``;
- the ``twilio`` package's ``RequestValidator.validate`` (goal: ratio at most 0.25);
- the floor: one HMAC-SHA1, base64 and constant-time compare over the prebuilt
  signed string (goal: ratio at most 2.5).

Run: ``make bench`` or ``.venv/bin/python benchmarks/core.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import per_call_ns, report
from twilio.request_validator import RequestValidator as TwilioValidator

from twiliosig import RequestValidator, compute_signature

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://example.com/twilio/sms"
PARAMS = {
    "AccountSid": "AC" + "0" * 32,
    "ApiVersion": "2010-04-01",
    "Body": "Hello from the benchmark",
    "From": "+15005550006",
    "FromCity": "SAN FRANCISCO",
    "FromCountry": "US",
    "MessageSid": "SM" + "1" * 32,
    "NumMedia": "0",
    "NumSegments": "1",
    "SmsStatus": "received",
    "To": "+15005550001",
    "ToCountry": "US",
}


def webhook(count: int) -> dict[str, str]:
    """A genuine-looking webhook with ``count`` parameters (the first 12 are a real SMS webhook's)."""
    params = dict(list(PARAMS.items())[:count])
    for index in range(len(params), count):
        params[f"Extra{index:03d}"] = f"value {index}"
    return params


def measure(params: dict[str, str] = PARAMS) -> dict[str, float]:
    """Per-call nanoseconds for twiliosig, the twilio package and the HMAC floor."""
    signature = compute_signature(TOKEN, URL, params)
    ours = RequestValidator(TOKEN)
    theirs = TwilioValidator(TOKEN)
    assert ours.validate(URL, params, signature)
    assert theirs.validate(URL, params, signature)

    key = TOKEN.encode()
    signed = (URL + "".join(name + value for name, value in sorted(params.items()))).encode()
    expected = signature.encode()

    def floor() -> bool:
        return hmac.compare_digest(base64.b64encode(hmac.new(key, signed, hashlib.sha1).digest()), expected)

    assert floor()
    return {
        "twiliosig": per_call_ns(lambda: ours.validate(URL, params, signature)),
        "twilio": per_call_ns(lambda: theirs.validate(URL, params, signature)),
        "floor": per_call_ns(floor),
    }


def main() -> None:
    times = measure()
    report(
        "core: validate one genuine 12-param webhook",
        [
            ("twiliosig RequestValidator.validate", times["twiliosig"]),
            ("twilio 9.13 RequestValidator.validate", times["twilio"]),
            ("floor: HMAC + base64 + compare_digest", times["floor"]),
        ],
        [
            ("ratio twiliosig / twilio", times["twiliosig"] / times["twilio"], 0.25, "<="),
            ("ratio twiliosig / floor", times["twiliosig"] / times["floor"], 2.5, "<="),
        ],
    )


if __name__ == "__main__":
    main()
