"""Replay stores on the servers teams already run, each against a real server on loopback.

Every kind of store is driven through both middlewares: a Redis Cluster (redis-py's
sync and asyncio cluster clients), a Sentinel-managed master, the valkey client
library (against redis-server: Debian 12 has no valkey-server, and valkey-py speaks the
same protocol), Memcached, and a Django cache on Redis. For each: two instances share
claims, concurrent duplicates let exactly one through, the key and its expiry on the
server are ours, and a server stopped mid-test gives the documented outcome (503, or a
pass under ``on_store_error="allow"``), never a 500, and recovery once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
import valkey
import valkey.asyncio
import valkey.asyncio.cluster
import valkey.cluster
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from pymemcache.client.base import Client as MemcacheClient
from pymemcache.client.base import PooledClient
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheServerError, MemcacheUnexpectedCloseError
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.contract import PAIRS, TOKEN, form_body, sign
from tests.replay_servers import Cluster, Sentinel, Server
from tests.test_asgi import AsgiHarness, http_scope, run_asgi
from tests.test_wsgi import WsgiHarness
from twiliosig.contrib.django import DjangoCacheReplayStore
from twiliosig.replay import (
    MemcachedReplayStore,
    RedisReplayStore,
    ReplayStore,
    StoreUnavailable,
    replay_key,
    require_mode,
)

FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
ORIGIN = "https://example.com"


def unique_path(name: str = "sms") -> str:
    """A path no other test signs, so tests sharing a server never meet each other's keys."""
    return f"/twilio/{name}-{uuid.uuid4().hex[:12]}"


def signed(target: str) -> str:
    return sign(ORIGIN + target, PAIRS)


def wsgi_post(h: WsgiHarness, target: str) -> int:
    headers = {**FORM_HEADERS, "X-Twilio-Signature": signed(target)}
    return int(h.send("POST", target, headers=headers, body=form_body(PAIRS)).status)


async def asgi_post(app: Any, target: str) -> int:
    """One signed POST through an ASGI app, on the running event loop (asyncio clients belong to one loop)."""
    body = form_body(PAIRS)
    scope = http_scope(
        target,
        [
            (b"host", b"example.com"),
            (b"content-type", FORM_HEADERS["Content-Type"].encode()),
            (b"content-length", str(len(body)).encode()),
            (b"x-twilio-signature", signed(target).encode()),
        ],
    )
    sent = await run_asgi(app, scope, [{"type": "http.request", "body": body}])
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


# --- the kinds of store, each on its server ----------------------------------------------------------

NO_RETRY = {"socket_timeout": 0.5, "socket_connect_timeout": 1.0, "retry": Retry(NoBackoff(), 0)}


def async_no_retry() -> dict[str, Any]:
    from redis.asyncio.retry import Retry as AsyncRetry

    return {**NO_RETRY, "retry": AsyncRetry(NoBackoff(), 0)}


def valkey_no_retry(asynchronous: bool) -> dict[str, Any]:
    from valkey.backoff import NoBackoff as ValkeyNoBackoff

    if asynchronous:
        from valkey.asyncio.retry import Retry as ValkeyRetry
    else:
        from valkey.retry import Retry as ValkeyRetry
    return {"socket_timeout": 0.5, "socket_connect_timeout": 1.0, "retry": ValkeyRetry(ValkeyNoBackoff(), 0)}


@dataclass
class Kind:
    """How to make one kind of store, sync or asyncio, read what it wrote, and stop its server."""

    name: str
    make: Callable[[bool, str], Any]  # (asynchronous, prefix) -> store
    remaining_ms: Callable[[str], int]  # full key name -> milliseconds left, -2 if absent
    outage: Callable[[str], contextlib.AbstractContextManager[None]]  # full key name -> the server holding it stopped


@contextlib.contextmanager
def django_redis_caches(server: Server, db: int) -> Iterator[str]:
    """settings.CACHES with a cache named "replay" on Django's own Redis backend (database ``db``); its alias."""
    location = f"redis://127.0.0.1:{server.port}/{db}"
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location, "OPTIONS": NO_RETRY}
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(CACHES={"default": local, "replay": cache}):
        yield "replay"
        caches["replay"].close()


@pytest.fixture
def django_redis_cache(redis_server: Server) -> Iterator[str]:
    """The "replay" cache on Django's own Redis backend, for the test's duration."""
    with django_redis_caches(redis_server, 3) as alias:
        yield alias


def redis_remaining(client: Any) -> Callable[[str], int]:
    return lambda name: int(client.pttl(name))


def cluster_kind(cluster: Cluster, library: str = "redis") -> Kind:
    host, port = "127.0.0.1", cluster.ports[0]
    if library == "redis":
        sync_cls, async_cls, sync_opts, async_opts = (
            redis.cluster.RedisCluster,
            redis.asyncio.cluster.RedisCluster,
            NO_RETRY,
            async_no_retry(),
        )
    else:
        sync_cls, async_cls, sync_opts, async_opts = (
            valkey.cluster.ValkeyCluster,
            valkey.asyncio.cluster.ValkeyCluster,
            valkey_no_retry(False),
            valkey_no_retry(True),
        )
    reader = redis.cluster.RedisCluster(host=host, port=port)

    def make(asynchronous: bool, prefix: str) -> Any:
        cls, opts = (async_cls, async_opts) if asynchronous else (sync_cls, sync_opts)
        return RedisReplayStore(cls(host=host, port=port, **opts), prefix=prefix)

    @contextlib.contextmanager
    def outage(name: str) -> Iterator[None]:
        owner = reader.get_node_from_key(name).port
        node = next(node for node in cluster.nodes if node.port == owner)
        with node.stopped():
            yield
        cluster.wait_ok()

    return Kind(f"{library}-cluster", make, redis_remaining(reader), outage)


def sentinel_kind(sentinel: Sentinel) -> Kind:
    def make(asynchronous: bool, prefix: str) -> Any:
        if asynchronous:
            watcher = redis.asyncio.sentinel.Sentinel(sentinel.sentinels, socket_timeout=0.5)
            return RedisReplayStore(watcher.master_for(sentinel.name, **async_no_retry()), prefix=prefix)
        master = redis.sentinel.Sentinel(sentinel.sentinels, socket_timeout=0.5).master_for(sentinel.name, **NO_RETRY)
        return RedisReplayStore(master, prefix=prefix)

    @contextlib.contextmanager
    def outage(_name: str) -> Iterator[None]:
        with sentinel.master.stopped():
            yield

    reader = redis.Redis(port=sentinel.master.port)
    return Kind("sentinel", make, redis_remaining(reader), outage)


def valkey_kind(server: Server) -> Kind:
    def make(asynchronous: bool, prefix: str) -> Any:
        cls = valkey.asyncio.Valkey if asynchronous else valkey.Valkey
        return RedisReplayStore(cls(host="127.0.0.1", port=server.port, **valkey_no_retry(asynchronous)), prefix=prefix)

    @contextlib.contextmanager
    def outage(_name: str) -> Iterator[None]:
        with server.stopped():
            yield

    return Kind("valkey", make, redis_remaining(redis.Redis(port=server.port)), outage)


def memcached_remaining(server: Server) -> Callable[[str], int]:
    client = MemcacheClient(("127.0.0.1", server.port))

    def remaining(name: str) -> int:
        answer = client.raw_command(f"mg {name} t".encode(), b"\r\n").decode()
        if answer.startswith("EN"):
            return -2
        seconds = int(next(flag[1:] for flag in answer.split() if flag.startswith("t")))
        return seconds * 1000

    return remaining


def memcached_kind(server: Server) -> Kind:
    def make(_asynchronous: bool, prefix: str) -> Any:
        return MemcachedReplayStore(f"127.0.0.1:{server.port}", prefix=prefix)

    @contextlib.contextmanager
    def outage(_name: str) -> Iterator[None]:
        with server.stopped():
            yield

    return Kind("memcached", make, memcached_remaining(server), outage)


def django_kind(server: Server, alias: str) -> Kind:
    def make(_asynchronous: bool, prefix: str) -> Any:
        return DjangoCacheReplayStore(alias, prefix=prefix)

    def remaining(name: str) -> int:
        cache = caches[alias]
        return int(redis.Redis(port=server.port, db=3).pttl(cache.make_key(name)))

    @contextlib.contextmanager
    def outage(_name: str) -> Iterator[None]:
        with server.stopped():
            yield

    return Kind("django", make, remaining, outage)


KIND_NAMES = ["redis-cluster", "valkey-cluster", "sentinel", "valkey", "memcached", "django"]


@pytest.fixture(params=KIND_NAMES)
def kind(request: pytest.FixtureRequest) -> Kind:
    name = request.param
    if name in ("redis-cluster", "valkey-cluster"):
        return cluster_kind(request.getfixturevalue("redis_cluster"), name.partition("-")[0])
    if name == "sentinel":
        return sentinel_kind(request.getfixturevalue("redis_sentinel"))
    if name == "valkey":
        return valkey_kind(request.getfixturevalue("redis_server"))
    if name == "memcached":
        return memcached_kind(request.getfixturevalue("memcached_server"))
    alias = request.getfixturevalue("django_redis_cache")
    return django_kind(request.getfixturevalue("redis_server"), alias)


def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}:"


async def close(*stores: Any) -> None:
    """Close the asyncio clients of stores made in this event loop (the others hold none)."""
    for store in stores:
        client = getattr(store, "_async", None)
        if client is not None:
            await client.aclose()


# --- what every kind must do -----------------------------------------------------------------------


def test_two_instances_share_claims_through_wsgi(kind: Kind) -> None:
    """Two app instances with their own store objects on one server: a replay to the other is refused."""
    shared = prefix()
    one = WsgiHarness(auth_token=TOKEN, replay_guard=kind.make(False, shared))
    two = WsgiHarness(auth_token=TOKEN, replay_guard=kind.make(False, shared))
    target = unique_path()
    assert wsgi_post(one, target) == 200
    assert wsgi_post(two, target) == 409
    assert len(one.seen) + len(two.seen) == 1
    failing = unique_path().replace("/twilio/", "/twilio/fail500?n=")
    assert wsgi_post(one, failing) == 500  # the app failed: the key is released,
    assert wsgi_post(two, failing) == 500  # so Twilio's retry reaches the app again


def test_two_instances_share_claims_through_asgi(kind: Kind) -> None:
    """The same with the ASGI middleware, through the store's asyncio side (a worker thread for sync-only clients)."""
    shared = prefix()

    async def main() -> list[int]:
        stores = [kind.make(True, shared), kind.make(True, shared)]
        one, two = (AsgiHarness(auth_token=TOKEN, replay_guard=store) for store in stores)
        target = unique_path()
        failing = unique_path().replace("/twilio/", "/twilio/fail500?n=")
        statuses = [
            await asgi_post(one.app, target),
            await asgi_post(two.app, target),
            await asgi_post(one.app, failing),
            await asgi_post(two.app, failing),
        ]
        await close(*stores)
        return statuses

    assert asyncio.run(main()) == [200, 409, 500, 500]


def test_concurrent_duplicates_through_wsgi(kind: Kind) -> None:
    """Sixteen threads send one signed request at once, half to each instance: exactly one reaches an app."""
    shared = prefix()
    harnesses = [WsgiHarness(auth_token=TOKEN, replay_guard=kind.make(False, shared)) for _ in range(2)]
    target = unique_path("race")
    barrier = threading.Barrier(16)

    def send(n: int) -> int:
        barrier.wait()
        return wsgi_post(harnesses[n % 2], target)

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(16)))
    assert sorted(statuses) == [200] + [409] * 15
    assert sum(len(h.seen) for h in harnesses) == 1


def test_concurrent_duplicates_through_asgi(kind: Kind) -> None:
    """Twenty concurrent copies on one event loop, split between two instances: exactly one reaches an app."""
    shared = prefix()

    async def main() -> list[int]:
        stores = [kind.make(True, shared), kind.make(True, shared)]
        apps = [AsgiHarness(auth_token=TOKEN, replay_guard=store).app for store in stores]
        target = unique_path("race")
        statuses = list(await asyncio.gather(*(asgi_post(apps[n % 2], target) for n in range(20))))
        await close(*stores)
        return statuses

    assert sorted(asyncio.run(main())) == [200] + [409] * 19


def test_the_key_and_its_expiry_on_the_server(kind: Kind) -> None:
    """The server holds prefix + SHA-256 of the signature (never the signature), expiring within ttl."""
    store = kind.make(False, prefix())
    h = WsgiHarness(auth_token=TOKEN, replay_guard=store)
    target = unique_path()
    assert wsgi_post(h, target) == 200
    name = store.prefix + replay_key(signed(target))
    assert signed(target) not in name
    assert 0 < kind.remaining_ms(name) <= 301_000  # memcached's: a second more, never a claim forgotten early
    assert kind.remaining_ms(store.prefix + replay_key(signed(unique_path()))) == -2  # nothing else was stored


def claim_all(store: Any, tag: str) -> list[bool]:
    """Eight claims at once from eight threads (so eight connections), each of its own key."""
    barrier = threading.Barrier(8)

    def one(n: int) -> bool:
        barrier.wait()
        return bool(store.claim(f"{tag}{n}"))

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(8)))


def test_a_server_stopped_mid_test(kind: Kind) -> None:
    """The server holding a key stops: 503 (the app untouched) or a pass under 'allow', never 500; then recovery.

    Recovery: eight connections sat idle when the server stopped; eight concurrent
    claims afterwards all succeed (a store that retried on another dead connection
    would fail them).
    """
    shared = prefix()
    refuse_store = kind.make(False, shared)
    refuse = WsgiHarness(auth_token=TOKEN, replay_guard=refuse_store)
    allow = WsgiHarness(auth_token=TOKEN, replay_guard=kind.make(False, shared), on_store_error="allow")
    before, during, after = unique_path(), unique_path(), unique_path()
    name = shared + replay_key(signed(during))

    async def main() -> None:
        # One event loop for the whole test: an asyncio client's connections belong to the loop that made them.
        stores = [kind.make(True, shared), kind.make(True, shared)]
        asgi_refuse = AsgiHarness(auth_token=TOKEN, replay_guard=stores[0]).app
        asgi_allow = AsgiHarness(auth_token=TOKEN, replay_guard=stores[1], on_store_error="allow").app
        # pooled connections on both sides, stale once the server stops: eight of them on the sync side
        assert claim_all(refuse_store, "before") == [True] * 8
        assert [wsgi_post(refuse, before), await asgi_post(asgi_refuse, before + "?asgi")] == [200, 200]
        with kind.outage(name):
            started = time.monotonic()
            assert wsgi_post(refuse, during) == 503
            assert len(refuse.seen) == 1  # the app never saw the refused request
            assert wsgi_post(allow, during) == 200
            assert await asgi_post(asgi_refuse, during) == 503
            assert await asgi_post(asgi_allow, during + "?allow") == 200
            assert time.monotonic() - started < 12  # four requests, each given up on within a second or two
        # back: every dead connection is replaced, none fails a claim
        assert claim_all(refuse_store, "after") == [True] * 8
        assert [wsgi_post(refuse, after), wsgi_post(allow, after)] == [200, 409]
        assert [await asgi_post(asgi_refuse, after), await asgi_post(asgi_allow, after + "?allow")] == [409, 200]
        await close(*stores)

    asyncio.run(main())


# --- which client serves which adapter ------------------------------------------------------------------


def test_the_mode_is_read_from_the_client(redis_cluster: Cluster, redis_sentinel: Sentinel) -> None:
    """Sync clients serve WSGI, asyncio clients ASGI, whatever the library or topology."""
    port = redis_cluster.ports[0]
    sentinels = redis_sentinel.sentinels
    sync_clients = [
        redis.cluster.RedisCluster(host="127.0.0.1", port=port),
        redis.sentinel.Sentinel(sentinels).master_for(redis_sentinel.name),
        valkey.Valkey(),
        valkey.cluster.ValkeyCluster(host="127.0.0.1", port=port),
    ]
    async_clients = [
        redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=port),
        redis.asyncio.sentinel.Sentinel(sentinels).master_for(redis_sentinel.name),
        valkey.asyncio.Valkey(),
        valkey.asyncio.cluster.ValkeyCluster(host="127.0.0.1", port=port),
    ]
    for client in sync_clients:
        assert RedisReplayStore(client).modes == {"sync"}, type(client)
    for client in async_clients:
        assert RedisReplayStore(client).modes == {"async"}, type(client)
    assert MemcachedReplayStore("127.0.0.1:1").modes == {"sync", "async"}


WRONG_MODE = [
    # the client, the adapter's mode, words the TypeError must contain
    (valkey.Valkey, True, ["valkey.client.Valkey", "asyncio (ASGI)", "valkey.asyncio.Valkey"]),
    (valkey.asyncio.Valkey, False, ["valkey.asyncio.client.Valkey", "sync (WSGI)", "a valkey.Valkey"]),
    (
        functools.partial(redis.asyncio.cluster.RedisCluster, host="127.0.0.1", port=1),
        False,
        ["redis.asyncio.cluster.RedisCluster", "sync (WSGI)", "a redis.RedisCluster"],
    ),
    (
        functools.partial(valkey.asyncio.cluster.ValkeyCluster, host="127.0.0.1", port=1),
        False,
        ["valkey.ValkeyCluster"],
    ),
]


@pytest.mark.parametrize(
    ("make", "asynchronous", "words"), WRONG_MODE, ids=["valkey", "valkey-asyncio", "cluster-asyncio", "valkey-cluster"]
)
def test_a_client_of_the_wrong_mode_names_its_twin(
    make: Callable[[], Any], asynchronous: bool, words: list[str]
) -> None:
    """The start-up error names the client held and the one of the other mode from the same library."""
    with pytest.raises(TypeError) as raised:
        require_mode(RedisReplayStore(make()), asynchronous=asynchronous)
    for word in words:
        assert word in str(raised.value)


class SetWithoutExpiry:
    """A client whose set() cannot be told to set only if absent, or to expire."""

    def set(self, name: str, value: str) -> bool:
        return True

    def get(self, name: str) -> None:
        return None

    def eval(self, script: str, numkeys: int, *keys_and_args: str) -> int:
        return 0


class NoEval:
    """A client without eval(), which the release's compare-and-delete runs on."""

    def set(self, name: str, value: str, **options: Any) -> bool:
        return True

    def get(self, name: str) -> None:
        return None

    def delete(self, name: str) -> None:
        pass


@pytest.mark.parametrize(
    ("client", "missing"),
    [
        pytest.param(object(), "has no set() method", id="object"),
        pytest.param(NoEval(), "has no eval() method", id="no-eval"),
        pytest.param(SetWithoutExpiry(), "has a set() without nx= or px=", id="plain-set"),
        pytest.param(MemcacheClient(("127.0.0.1", 1)), "has no eval() method", id="a-memcached-client"),
    ],
)
def test_a_client_without_set_if_absent_is_refused(client: Any, missing: str) -> None:
    """Checked when the store is made, the error naming the client and what it lacks."""
    with pytest.raises(TypeError) as raised:
        RedisReplayStore(client)
    message = str(raised.value)
    assert missing in message
    assert type(client).__qualname__ in message
    assert "set(name, value, nx=True, px=milliseconds)" in message


# --- Memcached ------------------------------------------------------------------------------------------


class ScriptedMemcache(PooledClient):  # type: ignore[misc]
    """A real pooled client whose commands first follow a script: an exception raised, or 'lose' (run, then fail)."""

    def __init__(self, server: Any, script: list[BaseException | str]) -> None:
        super().__init__(server, connect_timeout=1, timeout=0.5, default_noreply=True)
        self.script = script
        self.calls: list[str] = []

    def _step(self, command: str, run: Callable[[], Any]) -> Any:
        self.calls.append(command)
        step = self.script.pop(0) if self.script else "run"
        if isinstance(step, BaseException):
            raise step
        result = run()
        if step == "lose":
            raise MemcacheUnexpectedCloseError()
        return result

    def add(self, key: Any, value: Any, expire: int = 0, noreply: Any = None, flags: Any = None) -> Any:
        return self._step("add", lambda: super(ScriptedMemcache, self).add(key, value, expire, noreply, flags))

    def get(self, key: Any, default: Any = None) -> Any:
        return self._step("get", lambda: super(ScriptedMemcache, self).get(key, default))

    def gets(self, key: Any, default: Any = None, cas_default: Any = None) -> Any:
        return self._step("gets", lambda: super(ScriptedMemcache, self).gets(key, default, cas_default))

    def cas(self, key: Any, value: Any, cas: Any, expire: int = 0, noreply: Any = None, flags: Any = None) -> Any:
        return self._step("cas", lambda: super(ScriptedMemcache, self).cas(key, value, cas, expire, noreply, flags))


MEMCACHED_POLICY = [
    pytest.param(ConnectionResetError(104, "Connection reset by peer"), 2, id="reset-retried"),
    pytest.param(TimeoutError("timed out"), 2, id="timeout-retried"),
    pytest.param(MemcacheUnexpectedCloseError(), 2, id="closed-by-server-retried"),
    pytest.param(MemcacheServerError("out of memory storing object"), 1, id="server-error-not-retried"),
]


@pytest.mark.parametrize("method", ["claim", "release"])
@pytest.mark.parametrize(("error", "attempts"), MEMCACHED_POLICY)
def test_memcached_retry_policy(memcached_server: Server, error: BaseException, attempts: int, method: str) -> None:
    """A broken connection or a timeout is tried once more, a server error never; both end in StoreUnavailable."""
    client = ScriptedMemcache(("127.0.0.1", memcached_server.port), [error, error, error])
    with pytest.raises(StoreUnavailable):
        getattr(MemcachedReplayStore(client), method)(*(("k",) if method == "claim" else ("k", "a-token")))
    assert len(client.calls) == attempts


def test_memcached_lost_answer_is_not_a_replay(memcached_server: Server) -> None:
    """memcached stored the first add but its answer was lost: the retry recognises its own write."""
    client = ScriptedMemcache(("127.0.0.1", memcached_server.port), ["lose"])
    store = MemcachedReplayStore(client, prefix=prefix())
    assert store.claim("k")
    assert not store.claim("k")  # a real copy still is one (its "not stored" checked against its own value)
    assert client.calls == ["add", "add", "get", "add", "get"]


def test_memcached_waits_for_the_answer_even_when_the_client_would_not(memcached_server: Server) -> None:
    """A pymemcache client defaults to noreply, where add() is always True; the store asks for the answer."""
    client = MemcacheClient(("127.0.0.1", memcached_server.port))  # default_noreply=True
    store = MemcachedReplayStore(client, prefix=prefix())
    assert store.claim("k")
    assert not store.claim("k")


def test_memcached_ttl_in_whole_seconds(memcached_server: Server) -> None:
    """A fraction of a second is rounded up (0 would mean never expire); over 30 days is refused (a date)."""
    remaining = memcached_remaining(memcached_server)
    store = MemcachedReplayStore(f"127.0.0.1:{memcached_server.port}", ttl=0.2, prefix=prefix())
    assert store.claim("k")
    assert 1000 < remaining(store.prefix + "k") <= 2000  # one second more: memcached's clock ticks each second
    with pytest.raises(ValueError, match="at most 30 days"):
        MemcachedReplayStore("127.0.0.1:1", ttl=31 * 24 * 3600)


@pytest.mark.parametrize("bad", ["with space:", "tab\t", "é:", "x" * 187])
def test_memcached_prefix_must_fit_a_key(bad: str) -> None:
    with pytest.raises(ValueError, match="prefix must be printable ASCII"):
        MemcachedReplayStore("127.0.0.1:1", prefix=bad)


def test_memcached_refuses_hash_client_and_asyncio_clients() -> None:
    """HashClient reads an outage as 'already there'; an asyncio client is not what the store drives."""

    class AsyncMemcache:
        async def add(self, key: bytes, value: bytes, exptime: int = 0) -> bool:
            return True

        async def get(self, key: bytes) -> None:
            return None

        async def gets(self, key: bytes) -> tuple[None, None]:
            return None, None

        async def cas(self, key: bytes, value: bytes, cas_token: int, exptime: int = 0) -> bool:
            return True

    with pytest.raises(TypeError, match="is a HashClient"):
        MemcachedReplayStore(HashClient([("127.0.0.1", 1)]))
    with pytest.raises(TypeError, match="is an asyncio client"):
        MemcachedReplayStore(AsyncMemcache())
    with pytest.raises(TypeError, match="has no add"):
        MemcachedReplayStore(redis.Redis())
    with pytest.raises(TypeError, match="set them on that client"):
        MemcachedReplayStore(MemcacheClient(("127.0.0.1", 1)), socket_timeout=2)
    with pytest.raises(ValueError, match="memcached address"):
        MemcachedReplayStore("cache:port")


def test_why_hash_client_is_refused() -> None:
    """pymemcache's HashClient, its server just failed, answers add() with False: a replay, to the guard."""
    from tests.e2e import servers

    client = HashClient([("127.0.0.1", servers.free_port())], connect_timeout=0.2, timeout=0.2)
    with pytest.raises(ConnectionRefusedError):
        client.add("k", "v", noreply=False)
    assert client.add("other", "v", noreply=False) is False  # no error: an outage that reads as "already there"


def test_memcached_several_servers_each_key_on_one(memcached_server: Server) -> None:
    """With a list of addresses, a key whose server is down fails (503) instead of moving to another server."""
    from tests.e2e import servers

    down = f"127.0.0.1:{servers.free_port()}"
    store = MemcachedReplayStore([f"127.0.0.1:{memcached_server.port}", down], prefix=prefix())
    outcomes = []
    for n in range(12):
        try:
            outcomes.append(store.claim(f"k{n}"))
        except StoreUnavailable:
            outcomes.append(None)
    claimed = [n for n, first in enumerate(outcomes) if first]
    assert claimed
    assert None in outcomes
    assert [store.claim(f"k{n}") for n in claimed] == [None] * len(claimed)


def test_memcached_serves_asgi_from_a_worker_thread(memcached_server: Server) -> None:
    """aclaim leaves the event loop free: it runs on another thread while the loop goes on."""
    store = MemcachedReplayStore(f"127.0.0.1:{memcached_server.port}", prefix=prefix())
    threads: list[int] = []
    original = store._add

    def recording_add(name: str, token: str) -> bool:
        threads.append(threading.get_ident())
        return original(name, token)

    store._add = recording_add  # type: ignore[method-assign]

    async def main() -> str | None:
        return await store.aclaim("k")

    assert asyncio.run(main())
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


def test_worker_thread_stores_under_trio_are_unavailable_not_a_500(memcached_server: Server) -> None:
    """Memcached and Django's cache hand claims to asyncio's worker threads: under trio a claim is StoreUnavailable."""
    import trio

    store = MemcachedReplayStore(f"127.0.0.1:{memcached_server.port}", prefix=prefix())
    with pytest.raises(StoreUnavailable, match="asyncio only"):
        trio.run(store.aclaim, "k")
    with pytest.raises(StoreUnavailable, match="asyncio only"):
        trio.run(store.arelease, "k", "a-token")


# --- Django's cache -----------------------------------------------------------------------------------------

REFUSED_BACKENDS = [
    ("django.core.cache.backends.locmem.LocMemCache", "each process's own memory"),
    ("django.core.cache.backends.dummy.DummyCache", "stores nothing"),
    ("django.core.cache.backends.filebased.FileBasedCache", "two steps another process can run between"),
    ("django.core.cache.backends.db.DatabaseCache", "False on any database error"),
    ("django.core.cache.backends.memcached.PyMemcacheCache", "HashClient"),
]


@pytest.mark.parametrize(("backend", "why"), REFUSED_BACKENDS, ids=[b.rsplit(".", 1)[1] for b, _ in REFUSED_BACKENDS])
def test_django_refuses_a_cache_whose_add_is_not_shared_and_atomic(backend: str, why: str, tmp_path: Any) -> None:
    """At construction, naming the alias, the backend and why."""
    location = str(tmp_path) if "filebased" in backend else "twiliosig_cache" if ".db." in backend else "127.0.0.1:1"
    caches_setting = {"default": {"BACKEND": backend, "LOCATION": location}}
    with override_settings(CACHES=caches_setting), pytest.raises(ImproperlyConfigured) as raised:
        DjangoCacheReplayStore()
    message = str(raised.value)
    assert "CACHES['default']" in message
    assert backend in message
    assert why in message


def test_django_refuses_a_missing_alias() -> None:
    with pytest.raises(ImproperlyConfigured, match="no cache named 'replay'"):
        DjangoCacheReplayStore("replay")


def test_django_settings_not_configured_defers_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built inside settings.py, the store checks nothing yet; the middleware's start-up check then refuses it."""
    from twiliosig import _replay_django

    class Unconfigured:
        configured = False

    monkeypatch.setattr(_replay_django, "settings", Unconfigured())
    missing, local = DjangoCacheReplayStore("nowhere"), DjangoCacheReplayStore("default")
    monkeypatch.undo()
    assert isinstance(local, ReplayStore)
    with pytest.raises(ImproperlyConfigured, match="no cache named 'nowhere'"):
        require_mode(missing, asynchronous=False)
    with pytest.raises(ImproperlyConfigured, match="LocMemCache"):
        WsgiHarness(auth_token=TOKEN, replay_guard=local)


def test_django_cache_store_under_trio_is_unavailable_not_a_500(django_redis_cache: str) -> None:
    """asgiref's worker threads need asyncio: under trio a claim or release is a store outage, never a crash."""
    import trio

    store = DjangoCacheReplayStore(django_redis_cache, prefix=prefix())
    with pytest.raises(StoreUnavailable, match="asyncio only"):
        trio.run(store.aclaim, "k")
    with pytest.raises(StoreUnavailable, match="asyncio only"):
        trio.run(store.arelease, "k", "a-token")


def test_django_ttl_rounds_up_to_whole_seconds(django_redis_cache: str, redis_server: Server) -> None:
    """Django's Redis backend truncates a timeout to whole seconds: 0.2 s would be 0 (gone at once)."""
    store = DjangoCacheReplayStore(django_redis_cache, ttl=0.2, prefix=prefix())
    assert store.claim("k")
    assert not store.claim("k")
    assert 0 < django_kind(redis_server, django_redis_cache).remaining_ms(store.prefix + "k") <= 1000


class ScriptedCache:
    """Wraps a real Django cache; add() first follows a script (an exception, or 'lose': run, then fail)."""

    def __init__(self, cache: Any, script: list[BaseException | str]) -> None:
        self.cache, self.script, self.calls = cache, script, []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.cache, name)
        if name not in ("add", "get", "delete"):
            return attribute

        def scripted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            step = self.script.pop(0) if self.script else "run"
            if isinstance(step, BaseException):
                raise step
            result = attribute(*args, **kwargs)
            if step == "lose":
                raise redis.ConnectionError("Connection closed by server.")
            return result

        return scripted


@pytest.mark.parametrize(
    ("script", "outcome", "calls"),
    [
        pytest.param([redis.ConnectionError("reset")], True, ["add", "add"], id="connection-error-retried"),
        pytest.param(["lose"], True, ["add", "add", "get"], id="lost-answer-recognised"),
        pytest.param([redis.ResponseError("OOM")], StoreUnavailable, ["add"], id="response-error-not-retried"),
        pytest.param([OSError(), OSError()], StoreUnavailable, ["add", "add"], id="twice-then-unavailable"),
    ],
)
def test_django_retry_policy(
    django_redis_cache: str, monkeypatch: pytest.MonkeyPatch, script: list[Any], outcome: Any, calls: list[str]
) -> None:
    """The Django store follows the Redis store's rule: one retry on a broken connection, a lost answer recognised."""
    store = DjangoCacheReplayStore(django_redis_cache, prefix=prefix())
    scripted = ScriptedCache(caches[django_redis_cache], script)
    monkeypatch.setattr(store, "_cache", lambda: scripted)
    if outcome is StoreUnavailable:
        with pytest.raises(StoreUnavailable):
            store.claim("k")
    else:
        assert bool(store.claim("k")) is outcome
    assert scripted.calls == calls


def test_a_programming_error_is_logged_with_its_traceback_and_answered_as_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A TypeError from a client is a bug to see in the logs, traceback and all, yet never a 500: an outage (503)."""

    class Broken:
        def set(self, name: str, value: str, **options: Any) -> bool:
            raise TypeError("unexpected keyword argument 'px'")

        def get(self, name: str) -> None:
            return None

        def eval(self, script: str, numkeys: int, *keys_and_args: str) -> int:
            return 0

    with caplog.at_level("ERROR", logger="twiliosig"), pytest.raises(StoreUnavailable, match="unexpected keyword"):
        RedisReplayStore(Broken()).claim("k")
    [record] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert "TypeError" in record.getMessage()
    assert record.exc_info is not None
    harness = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(Broken()))
    assert wsgi_post(harness, unique_path("bug")) == 503
