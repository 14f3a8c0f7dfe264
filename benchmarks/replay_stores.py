"""What one replay claim costs on each store, sync and asyncio, against real servers on loopback.

Every claim is of a fresh key (the common case: a first delivery), so each one is a
write that succeeds. The servers are started here, as the tests start them
(tests/replay_servers.py): a redis-server, a three-node Redis Cluster, a Sentinel with
one master, memcached, and Django's Redis cache backend on the redis-server. A server
whose binary is missing is left out, with the reason.

Sync claims are timed with ``timeit`` (best of five timings); asyncio claims are awaited
one after another on one event loop (best of five rounds), which is what one request pays.
On loopback the figure is mostly the client library's own work and one round trip;
across a network, add the round trip time (twice for Sentinel's first connection only).

Run: ``.venv/bin/python benchmarks/replay_stores.py [n]``: ``n`` times five timings per
figure, the best kept (docs/replay.md quotes ``n = 3``: a shared machine is noisy in bursts).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine, per_call_ns  # noqa: E402

from tests.e2e import servers  # noqa: E402
from tests.replay_servers import (  # noqa: E402
    Server,
    cluster_running,
    memcached_argv,
    redis_argv,
    sentinel_running,
    started,
)
from twiliosig.replay import MemcachedReplayStore, MemoryReplayStore, RedisReplayStore  # noqa: E402

COUNTER = itertools.count()


def fresh() -> str:
    return f"{next(COUNTER):064x}"


def async_ns(store: Any, repeat: int, *, calls: int = 2000) -> float:
    """Best per-claim nanoseconds of ``calls`` sequential ``aclaim`` awaits, on one event loop."""

    async def main() -> float:
        for _ in range(100):  # open the pool's connection first
            await store.aclaim(fresh())
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter_ns()
            for _ in range(calls):
                await store.aclaim(fresh())
            best = min(best, (time.perf_counter_ns() - started) / calls)
        client = getattr(store, "_async", None)  # an asyncio client belongs to this loop: close it here
        if client is not None:
            await client.aclose()
        return best

    return asyncio.run(main())


def no_retry(asynchronous: bool) -> dict[str, Any]:
    from redis.backoff import NoBackoff

    if asynchronous:
        from redis.asyncio.retry import Retry as AsyncRetry

        return {"socket_timeout": 0.5, "socket_connect_timeout": 1.0, "retry": AsyncRetry(NoBackoff(), 0)}
    from redis.retry import Retry

    return {"socket_timeout": 0.5, "socket_connect_timeout": 1.0, "retry": Retry(NoBackoff(), 0)}


def measure_redis(port: int, rows: dict[str, tuple[float | None, float | None]], repeat: int) -> None:
    import valkey
    import valkey.asyncio

    url = RedisReplayStore(f"redis://127.0.0.1:{port}/0", ttl=60)
    rows["RedisReplayStore, redis:// URL (redis-py)"] = (
        per_call_ns(lambda: url.claim(fresh()), repeat=repeat),
        async_ns(url, repeat),
    )
    sync = RedisReplayStore(valkey.Valkey(host="127.0.0.1", port=port, socket_timeout=0.5), ttl=60)
    asynchronous = RedisReplayStore(valkey.asyncio.Valkey(host="127.0.0.1", port=port, socket_timeout=0.5), ttl=60)
    rows["RedisReplayStore, valkey-py client"] = (
        per_call_ns(lambda: sync.claim(fresh()), repeat=repeat),
        async_ns(asynchronous, repeat),
    )


def measure_cluster(directory: Path, rows: dict[str, tuple[float | None, float | None]], repeat: int) -> None:
    import redis.asyncio.cluster
    import redis.cluster

    with cluster_running(directory) as cluster:
        port = cluster.ports[0]
        sync = RedisReplayStore(redis.cluster.RedisCluster(host="127.0.0.1", port=port, **no_retry(False)), ttl=60)
        asynchronous = RedisReplayStore(
            redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=port, **no_retry(True)), ttl=60
        )
        rows["RedisReplayStore, Redis Cluster (3 masters)"] = (
            per_call_ns(lambda: sync.claim(fresh()), repeat=repeat),
            async_ns(asynchronous, repeat),
        )


def measure_sentinel(directory: Path, rows: dict[str, tuple[float | None, float | None]], repeat: int) -> None:
    import redis.asyncio.sentinel
    import redis.sentinel

    with sentinel_running(directory) as sentinel:
        master = redis.sentinel.Sentinel(sentinel.sentinels).master_for(sentinel.name, **no_retry(False))
        amaster = redis.asyncio.sentinel.Sentinel(sentinel.sentinels).master_for(sentinel.name, **no_retry(True))
        sync, asynchronous = RedisReplayStore(master, ttl=60), RedisReplayStore(amaster, ttl=60)
        rows["RedisReplayStore, Sentinel master_for()"] = (
            per_call_ns(lambda: sync.claim(fresh()), repeat=repeat),
            async_ns(asynchronous, repeat),
        )


def measure_memcached(directory: Path, rows: dict[str, tuple[float | None, float | None]], repeat: int) -> None:
    port = servers.free_port()
    with started(Server(memcached_argv(port), port, directory)):
        store = MemcachedReplayStore(f"127.0.0.1:{port}", ttl=60)
        rows["MemcachedReplayStore (pymemcache)"] = (
            per_call_ns(lambda: store.claim(fresh()), repeat=repeat),
            async_ns(store, repeat),
        )


def measure_django(port: int, rows: dict[str, tuple[float | None, float | None]], repeat: int) -> None:
    import django
    from django.conf import settings

    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/1",
                "OPTIONS": no_retry(False),
            }
        }
    )
    django.setup()
    from twiliosig.contrib.django import DjangoCacheReplayStore

    store = DjangoCacheReplayStore(ttl=60)
    rows["DjangoCacheReplayStore (Django's RedisCache)"] = (
        per_call_ns(lambda: store.claim(fresh()), repeat=repeat),
        async_ns(store, repeat),
    )


@contextlib.contextmanager
def a_redis(directory: Path) -> Iterator[int]:
    port = servers.free_port()
    with started(Server(redis_argv(port), port, directory)):
        yield port


def measure(repeat: int = 5) -> tuple[dict[str, tuple[float | None, float | None]], list[str]]:
    """Per-claim nanoseconds, (sync, asyncio), for each store; and what was left out, and why."""
    memory = MemoryReplayStore(ttl=60, max_entries=10_000_000)
    rows: dict[str, tuple[float | None, float | None]] = {
        "MemoryReplayStore (reference: no server)": (per_call_ns(lambda: memory.claim(fresh())), None)
    }
    skipped = []
    with tempfile.TemporaryDirectory(prefix="twiliosig-bench-") as name:
        directory = Path(name)
        if shutil.which("redis-server") is None:
            skipped.append(
                "redis-server not installed (apt-get install redis-server): Redis, cluster, Sentinel, Django"
            )
        else:
            with a_redis(directory) as port:
                measure_redis(port, rows, repeat)
                measure_django(port, rows, repeat)
            if shutil.which("redis-cli") is None:
                skipped.append("redis-cli not installed (apt-get install redis-tools): Redis Cluster")
            else:
                (directory / "cluster").mkdir()
                measure_cluster(directory / "cluster", rows, repeat)
            (directory / "sentinel").mkdir()
            measure_sentinel(directory / "sentinel", rows, repeat)
        if shutil.which("memcached") is None:
            skipped.append("memcached not installed (apt-get install memcached)")
        else:
            measure_memcached(directory, rows, repeat)
    return rows, skipped


def microseconds(nanoseconds: float | None) -> str:
    if nanoseconds is None:
        return "—"
    return f"{nanoseconds / 1000:.{0 if nanoseconds >= 10_000 else 1}f} µs"


def main() -> None:
    repeat = 5 * (int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    rows, skipped = measure(repeat)
    print(f"# replay stores: cost of one claim (a fresh key), servers on loopback; best of {repeat} timings each")
    print(f"# {machine()}")
    print(f"| {'store':<46} | {'sync (WSGI)':>12} | {'asyncio (ASGI)':>14} |")
    print(f"| {'-' * 46} | {'-' * 12}: | {'-' * 14}: |")
    for name, (sync, asynchronous) in rows.items():
        shown = [
            "—" if value is None else f"{value / 1000:.{0 if value >= 10_000 else 1}f} µs"
            for value in (sync, asynchronous)
        ]
        print(f"| {name:<46} | {shown[0]:>12} | {shown[1]:>14} |")
    for reason in skipped:
        print(f"# left out: {reason}")


if __name__ == "__main__":
    main()
