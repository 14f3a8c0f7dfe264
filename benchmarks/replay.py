"""What the replay guard adds to each accepted request: the key, and one claim in the store.

- the key: SHA-256 over the matched URL, the signed parameter string and the signature;
- a claim in :class:`MemoryReplayStore` (a lock and a dict);
- a claim in :class:`RedisReplayStore`: one ``SET NX PX`` round trip to a redis-server on
  loopback, started here when ``redis-server`` is installed.

Run: ``.venv/bin/python benchmarks/replay.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import itertools
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine, per_call_ns  # noqa: E402
from core import PARAMS, TOKEN, URL  # noqa: E402

from tests.e2e import servers  # noqa: E402
from twiliosig import compute_signature  # noqa: E402
from twiliosig.replay import MemoryReplayStore, RedisReplayStore, replay_key  # noqa: E402


def measure() -> dict[str, float | None]:
    """Per-request nanoseconds: computing the key, and claiming a fresh key in each store."""
    signature = compute_signature(TOKEN, URL, PARAMS)
    counter = itertools.count()
    times: dict[str, float | None] = {
        "key": per_call_ns(lambda: replay_key(signature)),
    }
    memory = MemoryReplayStore(ttl=60, max_entries=10_000_000)
    times["memory claim"] = per_call_ns(lambda: memory.claim(str(next(counter))))
    binary = shutil.which("redis-server")
    times["redis claim"] = None
    if binary is not None:
        port = servers.free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with servers.running(argv, port):
            redis_store = RedisReplayStore(f"redis://127.0.0.1:{port}/0", ttl=60)
            times["redis claim"] = per_call_ns(lambda: redis_store.claim(str(next(counter))), repeat=5)
    return times


def main() -> None:
    times = measure()
    print("# replay guard: cost per accepted request")
    print(f"# {machine()}")
    for name, value in times.items():
        shown = "redis-server not installed" if value is None else f"{value / 1000:.2f} us"
        print(f"{name:<16} {shown}")


if __name__ == "__main__":
    main()
