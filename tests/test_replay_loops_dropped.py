"""A loop its owner drops without closing it takes its replay store client with it.

An app that runs each request on ``asyncio.new_event_loop()`` and never closes the
loop leaks nothing by itself: the loop is collected and its sockets closed. The store
kept each loop's client in a mapping that held the loop, so every such request pinned
an open Redis connection for the life of the process, one more for each request any
client sent (a replayed copy claims too). The loop now holds its entry and the
mapping only finds it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
import warnings

import pytest
import redis

from tests.replay_servers import Server
from twiliosig.replay import RedisReplayStore


def _connections(server: Server) -> int:
    with redis.Redis(port=server.port) as admin:
        return len(admin.client_list()) - 1


def _claim_on_a_dropped_loop(store: RedisReplayStore) -> None:
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(store.aclaim(uuid.uuid4().hex)) is not None
    # never closed: dropped as it is


def test_dropped_loops_free_their_clients(redis_server: Server, caplog: pytest.LogCaptureFixture) -> None:
    store = RedisReplayStore(f"redis://127.0.0.1:{redis_server.port}/0", prefix=f"dropped-{uuid.uuid4().hex[:8]}:")
    assert store._loops is not None
    idle = _connections(redis_server)
    with warnings.catch_warnings(), caplog.at_level(logging.CRITICAL, logger="asyncio"):
        warnings.simplefilter("ignore", ResourceWarning)  # asyncio's own word on each unclosed loop
        for _ in range(8):
            _claim_on_a_dropped_loop(store)
        gc.collect()
        # The first loop's client is also the store's own (it reads the mode from it): that one loop stays.
        assert store._loops.loops() <= 1
        assert _connections(redis_server) <= idle + 1


def test_a_live_loop_keeps_its_client_between_claims(redis_server: Server) -> None:
    """Held by the loop, not by the store: a loop still open, idle between requests, keeps its one client."""
    store = RedisReplayStore(f"redis://127.0.0.1:{redis_server.port}/0", prefix=f"live-{uuid.uuid4().hex[:8]}:")
    assert store._loops is not None
    loop = asyncio.new_event_loop()
    try:

        async def client() -> object:
            assert await store.aclaim(uuid.uuid4().hex) is not None
            assert store._loops is not None
            return store._loops.get().client

        first = loop.run_until_complete(client())
        gc.collect()
        assert store._loops.loops() == 1
        assert loop.run_until_complete(client()) is first
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()
    gc.collect()
    assert store._loops.loops() == 0
