"""What a flood of forged requests makes the diagnosis pay: its readings a few times a minute, never per request.

A diagnosis builds its readings (up to fifteen sets of forwarding headers, each parsed
again) before it knows whether any can match. A forged request whose untrusted headers
make every reading fail (a port of letters, a host with a '/') yielded no reading, so it
spent no budget token: every such request paid for building them (about 0.3 ms with
headers of 128 bytes, 7 ms with 32 KiB ones), against a few microseconds for the refusal
itself. The token is now spent on the building, and headers past a bound are not read.
"""

from __future__ import annotations

import pytest

from tests.test_diagnosis import decide, fresh, request
from twiliosig import _guard
from twiliosig._diagnosis import DIAGNOSES_PER_MINUTE, MAX_HEADER_BYTES, readings
from twiliosig._origin import ForwardedTrust

#: Untrusted forwarding headers of which no reading can be built.
JUNK = {
    "X-Forwarded-Proto": "gopher",
    "X-Forwarded-Host": "a/b",
    "X-Forwarded-Port": "port",
    "X-Forwarded-Prefix": "no-slash",
}


def test_a_flood_of_forgeries_builds_readings_a_few_times_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    built = 0

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal built
        built += 1
        return readings(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_guard, "readings", counting)
    guard, _ = fresh()  # its clock stands still: no token comes back during the flood
    for n in range(50):
        head = request(f"https://forged.example/{n}", JUNK, scheme="https")
        assert decide(guard, head).verdict.finding is None
    assert built <= DIAGNOSES_PER_MINUTE


def test_forwarding_headers_past_the_bound_are_not_read() -> None:
    host = "a" * MAX_HEADER_BYTES + ".example"  # a valid host name, read when it was short
    headers = {"x-forwarded-host": host}
    found = readings(
        "https",
        "app.example",
        "/p",
        "",
        headers.get,
        trust=ForwardedTrust(),
        public_url=None,
        websocket=False,
        tried="https://app.example/p",
    )
    assert found == []
