"""A bounded load of genuine, forged and oversized webhooks against a server on loopback.

Used by the short load test in ``make test`` and by ``make stress`` (benchmarks/stress.py).
Every request is checked against what it deserves: genuine 200, forged 403, oversized
413; anything else is counted as a false accept, a false refusal or a 5xx.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from tests.e2e import servers
from tests.e2e.memory import peak_rss
from tests.e2e.wsgi_apps import MAX_BODY, TOKEN
from twiliosig import compute_signature

PARAMS = [
    ("AccountSid", "AC" + "3" * 32),
    ("MessageSid", "SM" + "4" * 32),
    ("From", "+15005550006"),
    ("To", "+15005550001"),
    ("Body", "load test ✓ 100%"),
    ("NumMedia", "0"),
]
BODY = urlencode(PARAMS).encode()
OVERSIZED = b"Body=" + b"x" * (MAX_BODY + 1)


@dataclass
class LoadResult:
    """Counts and latencies from one load run."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=lambda: {"genuine": 0, "forged": 0, "oversized": 0, "open": 0})
    false_accepts: int = 0
    false_refusals: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    rss_before: int = 0
    rss_after: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0.0
        return (
            f"{self.requests} requests in {self.seconds:.1f} s = {self.rps:.0f}/s, p50 {p50:.2f} ms, "
            f"p99 {self.percentile(0.99) * 1000:.2f} ms; false accepts {self.false_accepts}, false refusals "
            f"{self.false_refusals}, 5xx {self.server_errors}, connection errors {self.connection_errors}; "
            f"peak RSS {self.rss_before / 2**20:.1f} -> {self.rss_after / 2**20:.1f} MiB"
        )


def _request(port: int, kind: str, path: str) -> int:
    url = f"http://127.0.0.1:{port}{path}"
    body = OVERSIZED if kind == "oversized" else BODY
    token = "forged-token" if kind == "forged" else TOKEN
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": compute_signature(token, url, PARAMS),
        "Connection": "close",
    }
    return servers.post_status(port, path, body, headers)


def run_load(
    port: int,
    pid: int,
    *,
    seconds: float,
    clients: int,
    mix: dict[str, float],
    protected_path: str = "/plain/sms",
    open_path: str = "/open/sms",
) -> LoadResult:
    """Send a weighted mix of request kinds from ``clients`` threads for ``seconds``; stops by itself."""
    expected = {"genuine": 200, "forged": 403, "oversized": 413, "open": 200}
    result = LoadResult(seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    kinds, weights = list(mix), list(mix.values())
    result.rss_before = peak_rss(pid)

    def client(seed: int) -> None:
        chooser = random.Random(seed)
        while time.monotonic() < deadline:
            kind = chooser.choices(kinds, weights)[0]
            start = time.perf_counter()
            try:
                status = _request(port, kind, open_path if kind == "open" else protected_path)
            except OSError:
                with lock:
                    result.connection_errors += 1
                continue
            elapsed = time.perf_counter() - start
            with lock:
                result.latencies.append(elapsed)
                result.sent[kind] += 1
                if status >= 500:
                    result.server_errors += 1
                elif status != expected[kind]:
                    if status == 200:
                        result.false_accepts += 1
                    else:
                        result.false_refusals += 1

    threads = [threading.Thread(target=client, args=(seed,), daemon=True) for seed in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    result.seconds = time.monotonic() - started
    result.rss_after = peak_rss(pid)
    return result
