"""What each authentication layer adds to an accepted request, beside the signature check alone.

Each row is one genuine 12-parameter form POST decided in process by the guard every
adapter builds (head screened, body read, signature checked), with and without a
layer; the difference is what the layer costs. Digest: a nonce issued earlier and
reused with a growing ``nc`` (a call's later requests), so the row is the steady
state: the header parsed, the nonce's MAC checked, three hashes.

``SECTION`` is the page's heading; :func:`section` writes its lines. A new layer adds a
row to :func:`measure` (its name, and the guard options and headers that require it).

Run: ``.venv/bin/python benchmarks/auth.py`` (also part of ``make bench``;
``report.py --only auth`` rewrites this section of docs/performance.md alone).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import interleaved_ns, machine  # noqa: E402
from core import PARAMS, TOKEN, URL  # noqa: E402
from requests.auth import HTTPDigestAuth  # noqa: E402

from twiliosig import compute_signature  # noqa: E402
from twiliosig._guard import Guard, Head  # noqa: E402

SECTION = "## Authentication layers"
TARGET = URL.partition("example.com")[2] if "example.com" in URL else "/"
USER, PASSWORD = "twilio", "correct horse battery staple"


def _request(guard: Guard, headers: dict[str, str], body: bytes) -> Callable[[], object]:
    path, _, query = TARGET.partition("?")
    head = Head("POST", path, "https", "example.com", path, query, headers.get)

    def run() -> object:
        check = guard.start(head)
        assert check is not None
        decision = check.decision or check.finish(body)
        assert decision.refusal is None, decision.verdict
        return decision

    return run


def _digest_header(guard: Guard) -> str:
    """requests' HTTPDigestAuth answering the guard's SHA-256 challenge: a real client's header."""
    assert guard.authenticator is not None
    challenge = guard.authenticator.challenges()[0]
    auth = HTTPDigestAuth(USER, PASSWORD)
    auth.init_per_thread_state()
    from requests.utils import parse_dict_header

    auth._thread_local.chal = parse_dict_header(challenge.partition(" ")[2])
    auth.build_digest_header("POST", URL)  # nc=1: the call's first request
    header = auth.build_digest_header("POST", URL)  # nc=2: the nonce reused, as Twilio does for the call
    assert header is not None
    return str(header)


def measure() -> dict[str, float]:
    """Per-request nanoseconds: the signature alone, and with each layer."""
    body = urlencode(PARAMS).encode()
    base = {
        "content-type": "application/x-www-form-urlencoded",
        "content-length": str(len(body)),
        "x-twilio-signature": compute_signature(TOKEN, URL, PARAMS),
    }
    plain = Guard(auth_token=TOKEN)
    digest = Guard(auth_token=TOKEN, digest_auth={USER: PASSWORD})
    rows: dict[str, Callable[[], object]] = {
        "signature alone": _request(plain, base, body),
        "signature + Digest (SHA-256, nonce reused)": _request(
            digest, {**base, "authorization": _digest_header(digest)}, body
        ),
    }
    return interleaved_ns(rows, rounds=7, min_seconds=0.2)


def section(times: dict[str, Any]) -> list[str]:
    """The page's lines for these figures."""
    alone = times["signature alone"]
    lines = [
        SECTION,
        "",
        "What each authentication layer adds to one accepted 12-parameter form POST, decided in process",
        "by the guard (benchmarks/auth.py):",
        "",
        "| | time per request | added to the signature alone |",
        "| --- | --- | --- |",
    ]
    for name, value in times.items():
        added = "" if name == "signature alone" else f"{(value - alone) / 1000:.2f} µs"
        lines.append(f"| {name} | {value / 1000:.2f} µs | {added} |")
    return [*lines, ""]


def main() -> None:
    print(f"# {machine()}")
    print("\n".join(section(measure())))


if __name__ == "__main__":
    main()
