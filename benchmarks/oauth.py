"""What the ``oauth`` layer adds to an accepted request, beside the signature check alone.

One genuine 12-parameter form POST through the WSGI ``TwilioSignatureMiddleware`` around
the bare werkzeug app of wsgi.py, the apps taking turns:
- the signature alone (no ``oauth``; the same request, its Authorization header unread);
- with ``oauth=JWTVerifier(...)`` and a token seen before (a lookup in memory);
- with a token seen for the first time under keys already held: one signature check and
  the claims (RS256 and ES256). Two tokens alternate under ``cache_size=1``, so each
  request misses the cache, as a new token does.

The keys are fetched once, before timing, from a key set served on loopback
(tests/oauth_support.py): no request is timed with the network.

Run: ``.venv/bin/python benchmarks/oauth.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import interleaved_ns, report  # noqa: E402
from core import TOKEN  # noqa: E402
from wsgi import bare, call, environ_factory  # noqa: E402

from tests.oauth_support import AUDIENCE, CLIENT_ID, FakeServer, Key, claims  # noqa: E402
from twiliosig.oauth import JWTVerifier  # noqa: E402
from twiliosig.wsgi import TwilioSignatureMiddleware  # noqa: E402


def _with_tokens(make: Callable[[], dict[str, Any]], tokens: list[str]) -> Callable[[], dict[str, Any]]:
    """Each environ carries the next token, in turn."""
    turns = itertools.cycle(tokens)

    def with_token() -> dict[str, Any]:
        environ = make()
        environ["HTTP_AUTHORIZATION"] = f"Bearer {next(turns)}"
        return environ

    return with_token


def measure() -> dict[str, float]:
    """Per-request nanoseconds for each case."""
    make = environ_factory()
    rsa, ec = Key("RS256", "rsa-1"), Key("ES256", "ec-1")
    server = FakeServer()
    server.keys = [rsa, ec]
    with server.running():

        def protected(cache_size: int, tokens: list[str]) -> Callable[[], bytes]:
            verifier = JWTVerifier(issuer=server.issuer, audience=AUDIENCE, client_id=CLIENT_ID, cache_size=cache_size)
            for token in tokens:
                assert verifier.verify(token).error is None  # fetches the keys once, before any timing
            app = TwilioSignatureMiddleware(bare, auth_token=TOKEN, oauth=verifier)
            return call(app, _with_tokens(make, tokens))

        seen = rsa.sign(claims(server.issuer))
        runs = {
            # The same request, Authorization header included, to a guard without oauth: only the layer differs.
            "signature": call(TwilioSignatureMiddleware(bare, auth_token=TOKEN), _with_tokens(make, [seen])),
            "seen": protected(100, [seen]),
            "new RS256": protected(1, [rsa.sign(claims(server.issuer)) for _ in range(2)]),
            "new ES256": protected(1, [ec.sign(claims(server.issuer)) for _ in range(2)]),
        }
        for run in runs.values():
            run()  # each accepts the request before it is timed
        calls_before = sum(server.calls.values())
        times = interleaved_ns(runs, rounds=7, min_seconds=0.1)
        assert sum(server.calls.values()) == calls_before, "a timed request went to the network"
    return times


def main() -> None:
    times = measure()
    report(
        "oauth: one genuine 12-param form POST through the WSGI middleware, with a bearer token",
        [
            ("signature alone", times["signature"]),
            ("signature + JWT seen before", times["seen"]),
            ("signature + new RS256 JWT, keys held", times["new RS256"]),
            ("signature + new ES256 JWT, keys held", times["new ES256"]),
        ],
        [],
    )
    for name in ("seen", "new RS256", "new ES256"):
        print(f"{'added by ' + name:<58} {(times[name] - times['signature']) / 1000:9.2f} us")


if __name__ == "__main__":
    main()
