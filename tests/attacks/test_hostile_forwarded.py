"""A hostile ``Forwarded`` header costs no more to refuse than a benign one of the same size.

With ``trust_forwarded={"forwarded": 1}`` the guard parses the whole header,
and the client writes everything left of the proxy's element. A value made of
quotes and backslashes (``"\\"\\"\\...``) once made the element search rescan to
the end of the header from every position: 16 KB took seconds to refuse, and
under an ASGI server the event loop, every other request with it, waited. No
signature is needed for that, so the attack is open to anyone.

Sent through uvicorn (gunicorn refuses any header field over 8 KB itself), each
hostile header is timed against a benign header of the same size that the guard
parses whole too, the two interleaved: a ratio, not a wall-clock bound.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest

from tests.attacks.harness import ADAPTERS, FORM, Pool, Response, Server

PROFILE = "proxy-rfc7239"
#: The adapters under uvicorn, which passes a header of 60 KB to the app.
UVICORN = [name for name, adapter in ADAPTERS.items() if adapter.server == "uvicorn"]
ROUNDS = 5
#: How many times the benign header's median the hostile one's may take.
BOUND = 5.0

HOSTILE: dict[str, Callable[[int], str]] = {
    "unclosed-quote-of-escapes": lambda size: '"' + '\\"' * (size // 2),
    "quotes-and-backslashes": lambda size: '"\\' * (size // 2),
    "many-unclosed-quotes": lambda size: 'a="' * (size // 3),
}


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> None:
    pool.prestart(UVICORN, PROFILE)


def _send(server: Server, forwarded: str) -> Response:
    headers = [("Content-Type", FORM), ("X-Twilio-Signature", "forged"), ("Forwarded", forwarded)]
    return server.request("POST", "/twilio/sms", b"Body=hi", headers=headers, timeout=60.0)


def _benign(server: Server, size: int) -> str:
    """A header of ``size`` bytes the guard parses whole: many clients' elements, then the proxy's."""
    own = f"for=10.0.0.1;proto=http;host={server.authority}"
    return "for=a," * ((size - len(own)) // 6) + own


@pytest.mark.parametrize("size", [16 * 1024, 60 * 1024], ids=["16KB", "60KB"])
@pytest.mark.parametrize("shape", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("adapter", UVICORN)
def test_hostile_forwarded_is_refused_as_fast_as_a_benign_one(
    server: Server, shape: Callable[[int], str], size: int
) -> None:
    """The attacker sends a Forwarded header built to make its parser backtrack, unsigned."""
    hostile, benign = shape(size), _benign(server, size)
    hostile_times, benign_times = [], []
    with server.unreached():
        for _ in range(ROUNDS):
            refused = _send(server, hostile)
            assert refused.status == 400, refused  # the trusted header is malformed
            hostile_times.append(refused.elapsed)
            forged = _send(server, benign)
            assert forged.status == 403, forged  # read whole, then the forged signature refused
            benign_times.append(forged.elapsed)
    hostile_median, benign_median = statistics.median(hostile_times), statistics.median(benign_times)
    assert hostile_median <= BOUND * benign_median, (
        f"{size} bytes: hostile {hostile_median * 1e3:.1f} ms, benign {benign_median * 1e3:.1f} ms (bound {BOUND}x)"
    )
