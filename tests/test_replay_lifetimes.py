"""How long a claim lives, and whose claim a release frees: every store, against a real server, sync and asyncio.

A claim must hold for all of its ``ttl`` and be gone soon after: a store given the ttl in
milliseconds instead of seconds (or a thousand times too long) fails one bound or the
other. And a release frees only the claim the releasing request made: a request slower
than ``ttl`` that then fails, or whose key was evicted and claimed again by a copy, must
not delete that copy's live claim (the copy after it would pass as the first).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
import valkey
import valkey.asyncio
import valkey.asyncio.cluster
import valkey.cluster
from django.core.cache import caches
from pymemcache.client.base import Client as MemcacheClient

from tests.contract import PAIRS, TOKEN, form_body
from tests.replay_servers import Cluster, Server
from tests.test_replay_stores import NO_RETRY, asgi_post, async_no_retry, django_redis_caches, signed, valkey_no_retry
from tests.test_wsgi import WsgiHarness
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.contrib.django import DjangoCacheReplayStore
from twiliosig.replay import MemcachedReplayStore, MemoryReplayStore, RedisReplayStore
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware


@dataclass
class Kind:
    """One kind of store: how to make it (ttl, asyncio?, prefix) and how to evict a key from its server."""

    name: str
    make: Callable[[float, bool, str], Any]
    evict: Callable[[Any, str], None]  # (store, key) -> the key gone from the server, as memory pressure would


def _redis_evict(client: Any) -> Callable[[Any, str], None]:
    return lambda store, key: client.delete(store.prefix + key)


def memory_kind() -> Kind:
    def evict(store: Any, key: str) -> None:
        store._claims.pop(key)

    return Kind("memory", lambda ttl, _asynchronous, _prefix: MemoryReplayStore(ttl=ttl), evict)


def redis_kind(server: Server) -> Kind:
    url = f"redis://127.0.0.1:{server.port}/5"
    return Kind(
        "redis",
        lambda ttl, _asynchronous, prefix: RedisReplayStore(url, ttl=ttl, prefix=prefix),
        _redis_evict(redis.Redis(port=server.port, db=5)),
    )


def valkey_kind(server: Server) -> Kind:
    def make(ttl: float, asynchronous: bool, prefix: str) -> Any:
        cls = valkey.asyncio.Valkey if asynchronous else valkey.Valkey
        client = cls(host="127.0.0.1", port=server.port, db=6, **valkey_no_retry(asynchronous))
        return RedisReplayStore(client, ttl=ttl, prefix=prefix)

    return Kind("valkey", make, _redis_evict(redis.Redis(port=server.port, db=6)))


def cluster_kind(cluster: Cluster, library: str) -> Kind:
    host, port = "127.0.0.1", cluster.ports[0]

    def make(ttl: float, asynchronous: bool, prefix: str) -> Any:
        if library == "redis":
            cls, options = (
                (redis.asyncio.cluster.RedisCluster, async_no_retry())
                if asynchronous
                else (redis.cluster.RedisCluster, NO_RETRY)
            )
        else:
            cls = valkey.asyncio.cluster.ValkeyCluster if asynchronous else valkey.cluster.ValkeyCluster
            options = valkey_no_retry(asynchronous)
        return RedisReplayStore(cls(host=host, port=port, **options), ttl=ttl, prefix=prefix)

    return Kind(f"{library}-cluster", make, _redis_evict(redis.cluster.RedisCluster(host=host, port=port)))


def memcached_kind(server: Server) -> Kind:
    client = MemcacheClient(("127.0.0.1", server.port), default_noreply=False)

    def make(ttl: float, _asynchronous: bool, prefix: str) -> Any:
        return MemcachedReplayStore(f"127.0.0.1:{server.port}", ttl=ttl, prefix=prefix)

    return Kind("memcached", make, lambda store, key: client.delete(store.prefix + key, noreply=False))


def django_kind(alias: str) -> Kind:
    def make(ttl: float, _asynchronous: bool, prefix: str) -> Any:
        return DjangoCacheReplayStore(alias, ttl=ttl, prefix=prefix)

    return Kind("django", make, lambda store, key: caches[alias].delete(store.prefix + key))


@pytest.fixture
def django_cache(redis_server: Server) -> Iterator[str]:
    """The "replay" cache on Django's own Redis backend (a database of its own)."""
    with django_redis_caches(redis_server, 7) as alias:
        yield alias


KIND_NAMES = ["memory", "redis", "valkey", "redis-cluster", "valkey-cluster", "memcached", "django"]


@pytest.fixture(params=KIND_NAMES)
def kind(request: pytest.FixtureRequest) -> Kind:
    name = request.param
    if name == "memory":
        return memory_kind()
    if name == "redis":
        return redis_kind(request.getfixturevalue("redis_server"))
    if name == "valkey":
        return valkey_kind(request.getfixturevalue("redis_server"))
    if name.endswith("-cluster"):
        return cluster_kind(request.getfixturevalue("redis_cluster"), name.partition("-")[0])
    if name == "memcached":
        return memcached_kind(request.getfixturevalue("memcached_server"))
    return django_kind(request.getfixturevalue("django_cache"))


def prefix() -> str:
    return f"life-{uuid.uuid4().hex[:8]}:"


async def close(store: Any) -> None:
    """Close an asyncio client the store made or was given on this event loop (the others hold none)."""
    client = getattr(store, "_async", None)
    if client is not None:
        await client.aclose()


@dataclass
class Face:
    """One face of a store: its name, the store, and its claim and release as coroutines."""

    name: str
    store: Any
    claim: Callable[[str], Awaitable[str | None]]
    release: Callable[[str, str], Awaitable[None]]


class Both:
    """A store's sync face and asyncio face (made on the running loop), called the same way."""

    def __init__(self, kind: Kind, ttl: float) -> None:
        shared = prefix()
        self.sync, self.asyncio = kind.make(ttl, False, shared), kind.make(ttl, True, shared)

    def faces(self) -> list[Face]:
        async def claim(key: str) -> str | None:
            return self.sync.claim(key)

        async def release(key: str, token: str) -> None:
            self.sync.release(key, token)

        return [
            Face("sync", self.sync, claim, release),
            Face("asyncio", self.asyncio, self.asyncio.aclaim, self.asyncio.arelease),
        ]


# --- a claim lives for its ttl, and not much longer --------------------------------------------------

TTL = 2.0
HELD_UNTIL = 0.75 * TTL  # a copy this long after the first is still refused
GONE_BY = TTL + 1.2  # and this long after, accepted: whole-second stores round up and add one second


def test_a_claim_lives_for_its_ttl_and_then_goes(kind: Kind) -> None:
    """Claimed at 0: a copy at 0.75 ttl is refused (lower bound), one at ttl + 1.2 s is the first again (upper).

    A store that took the ttl in milliseconds forgets the claim in 2 ms; one that took
    seconds for milliseconds keeps it 1000 times too long. Both faces, sync and asyncio.
    """

    async def main() -> list[tuple[str, str, bool]]:
        both = Both(kind, TTL)
        faces = both.faces()
        key = uuid.uuid4().hex
        start = time.monotonic()
        for face in faces:
            assert await face.claim(key + face.name), f"{face.name}: the first claim must be granted"
        outcomes = []
        await asyncio.sleep(start + HELD_UNTIL - time.monotonic())
        for face in faces:
            outcomes.append(("before ttl", face.name, await face.claim(key + face.name) is None))
        await asyncio.sleep(start + GONE_BY - time.monotonic())
        for face in faces:
            outcomes.append(("after ttl", face.name, await face.claim(key + face.name) is not None))
        await close(both.asyncio)
        return outcomes

    outcomes = asyncio.run(main())
    assert [outcome for outcome in outcomes if not outcome[2]] == []


# --- a release frees only the claim its request made -------------------------------------------------


def test_a_release_after_eviction_leaves_the_copys_claim(kind: Kind) -> None:
    """The key was evicted (memory pressure, a flush) and a copy claimed it: the first request's release must miss.

    Before claims carried a token, the release deleted the copy's live claim and a
    third copy passed as the first.
    """

    async def main() -> None:
        both = Both(kind, 60)
        for face in both.faces():
            key = uuid.uuid4().hex
            first = await face.claim(key)
            assert first, face.name
            kind.evict(face.store, key)
            copy = await face.claim(key)
            assert copy, f"{face.name}: the key was evicted, so a copy is claimed afresh"
            await face.release(key, first)  # the first request's app failed
            assert await face.claim(key) is None, (
                f"{face.name}: a third copy passed: the release freed the copy's claim"
            )
            await face.release(key, copy)  # the copy's own release still works
            assert await face.claim(key), f"{face.name}: the copy's own release did not free its claim"
        await close(both.asyncio)

    asyncio.run(main())


def test_a_late_release_frees_only_its_own_claim(kind: Kind) -> None:
    """A slow request outlives its claim; a copy claims the key afresh; the slow one fails and releases.

    The release must leave the copy's live claim: a third copy is refused while the
    second one's ttl still runs. (The second copy itself gets through because the first
    claim expired: a ttl shorter than the app's slowest answer is the operator's to avoid.)
    """

    async def main() -> list[str]:
        both = Both(kind, 1.0)
        faces = both.faces()
        keys = [uuid.uuid4().hex for _ in faces]
        firsts = [await face.claim(key) for key, face in zip(keys, faces, strict=True)]
        assert all(firsts)
        passed, pending = [], dict(enumerate(faces))
        deadline = time.monotonic() + 4  # whole-second stores: 1 s (Django), up to 3 s (memcached: 2 s and a tick)
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            for n, face in list(pending.items()):
                copy = await face.claim(keys[n])  # a copy, once the first claim has expired
                if copy is None:
                    continue
                del pending[n]
                await face.release(keys[n], str(firsts[n]))  # the slow first delivery answers 500
                if await face.claim(keys[n]) is not None:  # a third copy, well inside the second's ttl
                    passed.append(face.name)
        assert not pending, "the first claims never expired"
        await close(both.asyncio)
        return passed

    assert asyncio.run(main()) == [], "a third copy passed while the second copy's claim holds"


# --- through the middlewares: the decision carries its claim's token to the settlement --------------


def test_a_slow_failing_request_through_wsgi_does_not_free_a_copys_claim() -> None:
    """The first delivery's app runs past the ttl and fails (500); a copy was accepted meanwhile; a third is 409."""
    store = MemoryReplayStore(ttl=0.2)
    go_on = threading.Event()
    calls: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(1)
        if len(calls) == 1:
            go_on.wait(5)
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"failed"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    harness = WsgiHarness(auth_token=TOKEN)
    harness.app = WsgiMiddleware(app, auth_token=TOKEN, replay_guard=store)
    target = f"/twilio/slow-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed(target)}

    def send() -> int:
        return int(harness.send("POST", target, headers=headers, body=form_body(PAIRS)).status)

    statuses: list[int] = []
    slow = threading.Thread(target=lambda: statuses.append(send()))
    slow.start()
    time.sleep(0.3)  # the first claim expires while its app still runs
    copy = send()
    go_on.set()
    slow.join(5)
    assert (statuses, copy) == ([500], 200)
    assert send() == 409, "the slow request's release freed the copy's claim"


def test_a_slow_failing_request_through_asgi_does_not_free_a_copys_claim() -> None:
    """The same through the ASGI middleware and the store's asyncio face."""
    store = MemoryReplayStore(ttl=0.2)
    calls: list[int] = []

    async def main() -> tuple[int, int, int]:
        go_on = asyncio.Event()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            calls.append(1)
            status = 200
            if len(calls) == 1:
                await go_on.wait()
                status = 500
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        guarded = AsgiMiddleware(app, auth_token=TOKEN, replay_guard=store)
        target = f"/twilio/slow-{uuid.uuid4().hex[:8]}"
        slow = asyncio.ensure_future(asgi_post(guarded, target))
        await asyncio.sleep(0.3)
        copy = await asgi_post(guarded, target)
        go_on.set()
        first = await slow
        return first, copy, await asgi_post(guarded, target)

    assert asyncio.run(main()) == (500, 200, 409)
