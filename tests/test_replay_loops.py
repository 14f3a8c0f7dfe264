"""Asyncio replay store clients on whatever event loop a claim runs (src/twiliosig/_replay_loops.py).

asgiref's ``async_to_sync`` (Django's async views under WSGI) runs each call with
``asyncio.run``: a new loop per request. These tests make the same loops directly: one
after another, several at once in threads, a loop closed without shutting down, a call
that asgiref's thread-sensitive mode sends back to the outer loop. A store built from a
URL or a function claims on every one of them and leaves no connection behind; a store
holding one client the user made refuses, clearly and once, every loop but its first.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import valkey
import valkey.asyncio
from asgiref.sync import async_to_sync, sync_to_async

from tests.replay_servers import Cluster, Sentinel, Server
from twiliosig.replay import RedisReplayStore, StoreUnavailable


def url(server: Server) -> str:
    return f"redis://127.0.0.1:{server.port}/0"


def prefix() -> str:
    return f"loops-{uuid.uuid4().hex[:8]}:"


def connections(server: Server) -> int:
    """Clients connected to the Redis server now, not counting the one asking."""
    with redis.Redis(port=server.port) as admin:
        return len(admin.client_list()) - 1


async def claim_and_release(store: RedisReplayStore, n: int = 3) -> list[bool]:
    """``n`` concurrent claims of fresh keys, each released again: what a loop's requests do. True: claimed."""
    keys = [uuid.uuid4().hex for _ in range(n)]
    tokens = list(await asyncio.gather(*(store.aclaim(key) for key in keys)))
    await asyncio.gather(
        *(store.arelease(key, token) for key, token in zip(keys, tokens, strict=True) if token is not None)
    )
    return [token is not None for token in tokens]


def test_a_loop_per_call_each_claims_and_leaves_no_connection(redis_server: Server) -> None:
    """A URL store used by one asyncio.run after another (as asgiref runs each async view under WSGI): every
    claim succeeds, and each loop's client is closed as its loop ends."""
    store = RedisReplayStore(url(redis_server), prefix=prefix())
    idle = connections(redis_server)
    for _ in range(5):
        assert asyncio.run(claim_and_release(store)) == [True] * 3
        assert store._loops is not None
        assert store._loops.loops() == 0  # forgotten with its loop
        assert connections(redis_server) <= idle  # and its connections closed (others may close meanwhile)


def test_loops_in_threads_at_once_each_have_their_own_client(redis_server: Server) -> None:
    """Four threads, each running its own loop at the same time, claim through one store."""
    store = RedisReplayStore(url(redis_server), prefix=prefix())
    barrier = threading.Barrier(4, timeout=20)  # a failing thread must not leave the others waiting
    clients: list[Any] = []
    held: list[int] = []

    async def claims() -> list[bool]:
        barrier.wait()
        claimed = await claim_and_release(store, 5)
        clients.append(await store._ready_async_client())
        barrier.wait()  # every loop has claimed and is still running
        assert store._loops is not None
        held.append(store._loops.loops())
        barrier.wait()  # every thread has counted: the loops may end
        return claimed

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: asyncio.run(claims()), range(4)))
    assert outcomes == [[True] * 5] * 4
    assert held == [4] * 4  # four clients at once, one per loop
    assert len({id(client) for client in clients}) == 4
    assert store._loops is not None
    assert store._loops.loops() == 0


def test_thread_sensitive_calls_back_onto_the_outer_loop_share_its_client(redis_server: Server) -> None:
    """asgiref sends an async_to_sync call made inside thread-sensitive sync code back to the outer loop:
    that claim runs on the outer loop and uses the outer loop's client, not a new one."""
    store = RedisReplayStore(url(redis_server), prefix=prefix())

    def sync_code() -> bool:
        return async_to_sync(store.aclaim)(uuid.uuid4().hex) is not None

    async def main() -> tuple[bool, bool, int]:
        outer = await store.aclaim(uuid.uuid4().hex) is not None
        inner = await sync_to_async(sync_code, thread_sensitive=True)()
        assert store._loops is not None
        return outer, inner, store._loops.loops()

    assert asyncio.run(main()) == (True, True, 1)


def test_a_loop_closed_without_shutting_down_is_forgotten(redis_server: Server) -> None:
    """A loop closed with its tasks pending (no asyncio.run) cannot close its client: the next new loop drops it."""
    store = RedisReplayStore(url(redis_server), prefix=prefix())
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(store.aclaim("abandoned")) is not None
    finally:
        loop.close()
    assert store._loops is not None
    assert store._loops.loops() == 1

    async def main() -> int:
        assert await store.aclaim("next") is not None
        assert store._loops is not None
        return store._loops.loops()

    assert asyncio.run(main()) == 1  # only the running loop's, the closed one's dropped
    gc.collect()  # the abandoned loop's watcher goes now (asyncio logs it was pending), raising nothing


@pytest.mark.parametrize("library", ["redis", "valkey"])
def test_a_function_that_makes_a_cluster_client_serves_every_loop(redis_cluster: Cluster, library: str) -> None:
    """Redis Cluster and Valkey Cluster clients made per loop: each loop reads the slot map once, claims at once."""
    port = redis_cluster.ports[0]
    if library == "redis":
        make: Any = functools.partial(redis.asyncio.cluster.RedisCluster, host="127.0.0.1", port=port)
    else:
        import valkey.asyncio.cluster

        make = functools.partial(valkey.asyncio.cluster.ValkeyCluster, host="127.0.0.1", port=port)
    store = RedisReplayStore(make, prefix=prefix())
    assert store.modes == {"async"}
    for _ in range(3):
        assert asyncio.run(claim_and_release(store, 10)) == [True] * 10


def test_a_function_that_makes_a_valkey_client(redis_server: Server) -> None:
    """valkey-py's asyncio client, made per loop, closed with each."""
    store = RedisReplayStore(lambda: valkey.asyncio.Valkey(port=redis_server.port), prefix=prefix())
    idle = connections(redis_server)
    for _ in range(3):
        assert asyncio.run(claim_and_release(store)) == [True] * 3
    assert connections(redis_server) <= idle  # no more than before: other tests' clients may close meanwhile


def test_a_class_is_a_function_that_makes_a_client() -> None:
    """``RedisReplayStore(redis.asyncio.Redis)``: a client per loop with the class's defaults, not a class taken
    for a client (its unbound set() would be a TypeError at every claim)."""
    store = RedisReplayStore(redis.asyncio.Redis)
    assert store.modes == {"async"}
    assert isinstance(store._async, redis.asyncio.Redis)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (redis.Redis, "a sync client: pass that client itself"),
        (valkey.Valkey, "a sync client: pass that client itself"),
        (object, r"which has no set\(\) method"),
        (lambda: redis.asyncio.Redis().pipeline(), "pipeline"),
    ],
    ids=["redis-sync", "valkey-sync", "not-a-client", "pipeline"],
)
def test_a_function_must_make_an_asyncio_client(make: Any, words: str) -> None:
    """What the function makes is checked when the store is built, not at the first webhook."""
    with pytest.raises(TypeError, match=words):
        RedisReplayStore(make)


def test_timeouts_with_a_function_are_refused() -> None:
    """They would do nothing: the function makes the client, with its own timeouts."""
    with pytest.raises(TypeError, match="set them on that client"):
        RedisReplayStore(redis.asyncio.Redis, socket_timeout=2)


def test_a_users_client_serves_its_first_loop_only(redis_server: Server, caplog: pytest.LogCaptureFixture) -> None:
    """One client the user made: its first loop claims; any other loop is StoreUnavailable, the cause logged once."""
    client = redis.asyncio.Redis(port=redis_server.port)
    store = RedisReplayStore(client, prefix=prefix())

    async def first_loop() -> list[bool]:
        claimed = await claim_and_release(store)
        claimed += await claim_and_release(store)  # the same loop, again: fine
        await client.aclose()
        return claimed

    assert asyncio.run(first_loop()) == [True] * 6
    with caplog.at_level("ERROR", logger="twiliosig"):
        for _ in range(3):
            with pytest.raises(StoreUnavailable, match="belongs to another event loop"):
                asyncio.run(store.aclaim("k"))
        with pytest.raises(StoreUnavailable, match="belongs to another event loop"):
            asyncio.run(store.arelease("k", "token"))
    [told] = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert "first used on another event loop" in told
    assert "a function that makes the client" in told


def test_a_url_store_under_trio_is_unavailable_not_a_500(redis_server: Server) -> None:
    """redis-py's asyncio client needs asyncio: under trio a claim is StoreUnavailable (on_store_error), no crash."""
    import trio

    store = RedisReplayStore(url(redis_server), prefix=prefix())
    with pytest.raises(StoreUnavailable, match="asyncio only"):
        trio.run(store.aclaim, "k")


def test_a_function_that_makes_a_sentinel_master_leaves_no_connection(redis_sentinel: Sentinel) -> None:
    """A Sentinel and its master_for() client made per loop: each loop's master client and the Sentinel's own
    connections to the sentinels are closed with the loop."""
    import redis.asyncio.sentinel

    def master() -> Any:
        watcher = redis.asyncio.sentinel.Sentinel(redis_sentinel.sentinels, socket_timeout=0.5)
        return watcher.master_for(redis_sentinel.name, socket_timeout=0.5)

    store = RedisReplayStore(master, prefix=prefix())
    at_master, at_sentinel = connections(redis_sentinel.master), connections(redis_sentinel.sentinel)
    for _ in range(4):
        assert asyncio.run(claim_and_release(store)) == [True] * 3
    assert connections(redis_sentinel.master) == at_master
    assert connections(redis_sentinel.sentinel) == at_sentinel
