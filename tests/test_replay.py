"""Replay stores: the in-memory one alone, and Redis through both middlewares with a real server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import redis.asyncio

from tests.contract import PAIRS, TOKEN, form_body, sign
from tests.e2e import servers
from tests.test_asgi import AsgiHarness
from tests.test_wsgi import WsgiHarness
from twiliosig.replay import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    StoreUnavailable,
    replay_key,
    require_mode,
)

URL = "https://example.com/twilio/sms"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def post(h: Any, signature: str, target: str = "/twilio/sms") -> Any:
    return h.send("POST", target, headers={**FORM_HEADERS, "X-Twilio-Signature": signature}, body=form_body(PAIRS))


# --- the in-memory store --------------------------------------------------------------------


def test_memory_store_claims_once_and_forgets_after_ttl() -> None:
    """A key is claimed once; after ttl it can be claimed again; release forgets it at once."""
    store = MemoryReplayStore(ttl=0.2)
    assert isinstance(store, ReplayStore)
    token = store.claim("a")
    assert token
    assert store.claim("a") is None
    store.release("a", token)
    assert store.claim("a")
    time.sleep(0.3)
    assert store.claim("a")


def test_memory_store_is_bounded() -> None:
    """Past max_entries of live claims a claim is an outage; no live claim is forgotten to make room."""
    store = MemoryReplayStore(ttl=60, max_entries=3)
    for key in "abc":
        assert store.claim(key)
    with pytest.raises(StoreUnavailable, match="full"):
        store.claim("d")
    assert len(store) == 3
    assert store.claim("a") is None  # still remembered


def test_memory_store_concurrent_duplicates() -> None:
    """Many threads claiming one key at once: exactly one wins."""
    store = MemoryReplayStore()
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: store.claim("same"), range(200)))
    assert sum(result is not None for result in results) == 1


def test_replay_key_never_holds_the_signature() -> None:
    """The key is a hash of the signature: never the signature itself, and one key per signature."""
    signature = sign(URL, PAIRS)
    key = replay_key(signature)
    assert len(key) == 64
    assert signature not in key
    assert key == replay_key(signature)
    assert key != replay_key(sign(URL + "?x=1", PAIRS))


@pytest.mark.parametrize("options", [{"ttl": 0}, {"ttl": -1}, {"ttl": True}, {"max_entries": 0}, {"max_entries": True}])
def test_memory_store_rejects_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be a positive"):
        MemoryReplayStore(**options)


def test_memory_store_of_one_entry_and_releasing_a_forgotten_key() -> None:
    """The smallest store holds one key; releasing a key it no longer holds, or another claim's, is harmless."""
    store = MemoryReplayStore(ttl=0.1, max_entries=1)
    first = store.claim("a")
    assert first
    time.sleep(0.15)
    second = store.claim("b")  # "a" expired, so there is room
    assert second
    assert len(store) == 1
    store.release("a", first)
    store.release("never-claimed", first)
    store.release("b", first)  # not b's token: b stays claimed
    assert len(store) == 1
    store.release("b", second)
    assert len(store) == 0


# --- a real Redis on loopback ---------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private redis-server on 127.0.0.1, started for these tests (``make test`` installs it)."""
    port = servers.free_port()
    with servers.running(redis_argv(port), port):
        yield f"redis://127.0.0.1:{port}/0"


def redis_argv(port: int) -> list[str]:
    """The command line of a private, memory-only redis-server on 127.0.0.1:port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run `make test`, which installs it, or apt-get install redis-server"
        )
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def test_two_instances_share_one_redis(redis_url: str) -> None:
    """Two app instances (two hosts) on one Redis: a replay sent to the other instance is refused."""
    one = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t1:"))
    two = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t1:"))
    signature = sign(URL, [*PAIRS])
    assert post(one, signature).status == 200
    replayed = post(two, signature)
    assert replayed.status == 409
    assert not replayed.seen


def test_asgi_and_wsgi_instances_share_keys(redis_url: str) -> None:
    """The ASGI middleware (asyncio client) and the WSGI one (sync client) see the same keys."""
    signature = sign("https://example.com/twilio/shared", PAIRS)
    wsgi = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t2:"))
    asgi = AsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t2:"))
    assert post(asgi, signature, "/twilio/shared").status == 200
    assert post(wsgi, signature, "/twilio/shared").status == 409


def test_concurrent_duplicates_through_wsgi(redis_url: str) -> None:
    """Sixteen threads send the same signed request at once: exactly one reaches the app."""
    h = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t3:"))
    signature = sign("https://example.com/twilio/race", PAIRS)
    barrier = threading.Barrier(16)

    def send(_: int) -> int:
        barrier.wait()
        return int(post(h, signature, "/twilio/race").status)

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(16)))
    assert statuses.count(200) == 1
    assert statuses.count(409) == 15
    assert len(h.seen) == 1


def test_concurrent_duplicates_through_asgi(redis_url: str) -> None:
    """Twenty concurrent copies on one event loop, asyncio Redis client: exactly one reaches the app."""
    import redis.asyncio

    from tests.test_asgi import run_asgi

    async def main() -> list[int]:
        client = redis.asyncio.Redis.from_url(redis_url)
        h = AsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(client, prefix="t4:"))
        body = form_body(PAIRS)
        signature = sign("https://example.com/twilio/race", PAIRS).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "scheme": "https",
            "path": "/twilio/race",
            "raw_path": b"/twilio/race",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"example.com"),
                (b"content-type", FORM_HEADERS["Content-Type"].encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-twilio-signature", signature),
            ],
        }
        calls = [run_asgi(h.app, dict(scope), [{"type": "http.request", "body": body}]) for _ in range(20)]
        results = await asyncio.gather(*calls)
        await client.aclose()
        return [next(m["status"] for m in sent if m["type"] == "http.response.start") for sent in results]

    statuses = asyncio.run(main())
    assert statuses.count(200) == 1
    assert statuses.count(409) == 19


def test_ttl_expiry_and_retry_after_5xx(redis_url: str) -> None:
    """A key expires after ttl; a delivery that failed with 5xx can be retried at once."""
    h = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, ttl=0.3, prefix="t5:"))
    signature = sign("https://example.com/twilio/ttl", PAIRS)
    assert post(h, signature, "/twilio/ttl").status == 200
    assert post(h, signature, "/twilio/ttl").status == 409
    time.sleep(0.5)
    assert post(h, signature, "/twilio/ttl").status == 200
    failing = sign("https://example.com/twilio/fail500", PAIRS)
    assert post(h, failing, "/twilio/fail500").status == 500
    assert post(h, failing, "/twilio/fail500").status == 500  # the retry reached the app again
    assert len([s for s in h.seen if s.body]) == 4


def test_asyncio_claims_expire_after_ttl(redis_url: str) -> None:
    """A key claimed through the asyncio client expires after ttl, as one claimed through the sync client."""
    store = RedisReplayStore(redis_url, ttl=0.3, prefix="t5a:")

    async def claims() -> list[bool]:
        first, again = await store.aclaim("k"), await store.aclaim("k")
        await asyncio.sleep(0.5)
        return [bool(first), bool(again), bool(await store.aclaim("k"))]

    assert asyncio.run(claims()) == [True, False, True]


def test_redis_stopped_mid_test(caplog: pytest.LogCaptureFixture) -> None:
    """Redis goes away: 503 with the default on_store_error, the app untouched; 'allow' lets requests through.

    The refusal's log line says why the store failed (the operator's first question), the response does not.
    """
    port = servers.free_port()
    argv = redis_argv(port)
    url = f"redis://127.0.0.1:{port}/0"
    refuse = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(url, prefix="t6:"))
    allow = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(url, prefix="t6:"), on_store_error="allow")
    asgi = AsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(url, prefix="t6:"))
    with servers.running(argv, port):
        assert post(refuse, sign("https://example.com/twilio/a", PAIRS), "/twilio/a").status == 200
    # the server is stopped now
    with caplog.at_level("WARNING", logger="twiliosig"):
        outcome = post(refuse, sign("https://example.com/twilio/b", PAIRS), "/twilio/b")
    assert outcome.status == 503
    assert not outcome.seen
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "replay_store_unavailable" in logged
    assert "ConnectionError" in logged, logged
    assert post(asgi, sign("https://example.com/twilio/b", PAIRS), "/twilio/b").status == 503
    assert post(allow, sign("https://example.com/twilio/c", PAIRS), "/twilio/c").status == 200


def test_redis_store_errors_are_wrapped() -> None:
    """A refused connection surfaces as StoreUnavailable, which the middlewares turn into 503 or a pass."""
    store = RedisReplayStore(f"redis://127.0.0.1:{servers.free_port()}/0")
    with pytest.raises(StoreUnavailable):
        store.claim("x")
    with pytest.raises(TypeError):
        RedisReplayStore(42)


def test_redis_server_binary_version() -> None:
    """The suite runs against a real redis-server (not a fake)."""
    binary = shutil.which("redis-server")
    assert binary is not None, "run `make test`, which installs redis-server"
    assert "Redis server" in subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout


# --- a broken connection is tried once more, and only once ----------------------------------


def test_sync_client_survives_a_redis_restart() -> None:
    """Redis restarts on the same port: the sync client's next claim and release succeed, no StoreUnavailable."""
    port = servers.free_port()
    store = RedisReplayStore(f"redis://127.0.0.1:{port}/0")
    with servers.running(redis_argv(port), port):
        token = store.claim("before")
        assert token
    with servers.running(redis_argv(port), port):
        store.release("before", token)
    with servers.running(redis_argv(port), port):
        assert store.claim("after")
        assert not store.claim("after")


def test_asyncio_client_survives_a_redis_restart() -> None:
    """Redis restarts on the same port: every stale pooled asyncio connection is replaced, no StoreUnavailable."""
    port = servers.free_port()
    store = RedisReplayStore(f"redis://127.0.0.1:{port}/0")

    async def main() -> None:
        with servers.running(redis_argv(port), port):
            # five at once leave five pooled connections, all stale after the restart
            tokens = await asyncio.gather(*(store.aclaim(f"before{n}") for n in range(5)))
            assert all(tokens)
        with servers.running(redis_argv(port), port):
            await asyncio.gather(*(store.arelease(f"before{n}", str(token)) for n, token in enumerate(tokens)))
        with servers.running(redis_argv(port), port):
            assert all(await asyncio.gather(*(store.aclaim(f"after{n}") for n in range(5))))
            assert not await store.aclaim("after0")

    asyncio.run(main())


def test_redis_down_for_good_sync() -> None:
    """Redis stops and stays down: the claim raises StoreUnavailable at once, it does not keep retrying."""
    port = servers.free_port()
    store = RedisReplayStore(f"redis://127.0.0.1:{port}/0")
    with servers.running(redis_argv(port), port):
        assert store.claim("before")  # a pooled connection, stale from now on
    outcome: list[BaseException] = []

    def claim() -> None:
        try:
            store.claim("after")
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    started = time.monotonic()
    worker = threading.Thread(target=claim, daemon=True)  # a daemon, so an endless retry cannot hang the suite
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "the claim was still retrying after 5 s"
    assert len(outcome) == 1
    assert isinstance(outcome[0], StoreUnavailable)
    assert time.monotonic() - started < 2.5


def test_redis_down_for_good_asyncio() -> None:
    """Redis stops and stays down: aclaim raises StoreUnavailable at once, it does not keep retrying."""
    port = servers.free_port()
    store = RedisReplayStore(f"redis://127.0.0.1:{port}/0")

    async def main() -> None:
        with servers.running(redis_argv(port), port):
            assert await store.aclaim("before")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(store.aclaim("after"), timeout=5)  # an endless retry fails here, not hangs
        assert time.monotonic() - started < 2.5

    asyncio.run(main())


class ScriptedRedis(redis.Redis):
    """A real sync client whose commands first follow a script (then run normally), counted in ``calls``.

    A script step is an exception, raised instead of running the command, or "lose": the
    command runs on Redis, then its answer is lost (a ConnectionError).
    """

    script: list[BaseException | str]
    calls: list[str]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls.append(str(args[0]))
        step = self.script.pop(0) if self.script else "run"
        if isinstance(step, BaseException):
            raise step
        result = super().execute_command(*args, **options)
        if step == "lose":
            raise redis.ConnectionError("Connection closed by server.")
        return result


class ScriptedAsyncRedis(redis.asyncio.Redis):
    """:class:`ScriptedRedis` for the asyncio client."""

    script: list[BaseException | str]
    calls: list[str]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls.append(str(args[0]))
        step = self.script.pop(0) if self.script else "run"
        if isinstance(step, BaseException):
            raise step
        result = await super().execute_command(*args, **options)
        if step == "lose":
            raise redis.ConnectionError("Connection closed by server.")
        return result


def scripted(url: str, script: list[BaseException | str], *, asynchronous: bool) -> Any:
    client = (ScriptedAsyncRedis if asynchronous else ScriptedRedis).from_url(url)
    client.script, client.calls = script, []
    return client


def run_store(store: RedisReplayStore, method: str, key: str, *, asynchronous: bool) -> Any:
    """Call ``store.claim(key)`` or ``release(key, token)``, or their asyncio forms on a fresh event loop."""
    arguments = (key,) if method == "claim" else (key, "a-token")
    if asynchronous:
        return asyncio.run(getattr(store, "a" + method)(*arguments))
    return getattr(store, method)(*arguments)


def claim_twice(store: RedisReplayStore, *, asynchronous: bool) -> tuple[bool, bool]:
    """Claim one key twice (True: a token), the asyncio way on one event loop (a client's connections belong to one)."""
    if not asynchronous:
        return bool(store.claim("k")), bool(store.claim("k"))

    async def both() -> tuple[bool, bool]:
        return bool(await store.aclaim("k")), bool(await store.aclaim("k"))

    return asyncio.run(both())


NOWHERE = "redis://127.0.0.1:1/0"  # never reached: each test's script fails every command first

RETRY_POLICY = [
    pytest.param(redis.ConnectionError("Connection closed by server."), 2, id="connection-error-retried"),
    pytest.param(redis.TimeoutError("Timeout reading from socket"), 2, id="timeout-retried"),
    pytest.param(ConnectionResetError(104, "Connection reset by peer"), 2, id="os-connection-reset-retried"),
    pytest.param(redis.ResponseError("OOM command not allowed"), 1, id="response-error-not-retried"),
    pytest.param(redis.AuthenticationError("invalid password"), 1, id="wrong-password-not-retried"),
    pytest.param(redis.BusyLoadingError("Redis is loading"), 1, id="busy-loading-not-retried"),
    pytest.param(redis.DataError("bad value"), 1, id="data-error-not-retried"),
]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "asyncio"])
@pytest.mark.parametrize("method", ["claim", "release"])
@pytest.mark.parametrize(("error", "attempts"), RETRY_POLICY)
def test_retry_policy(error: BaseException, attempts: int, method: str, asynchronous: bool) -> None:
    """A connection failure or a timeout is tried once more, any other error never; all end in StoreUnavailable."""
    client = scripted(NOWHERE, [error, error, error], asynchronous=asynchronous)
    store = RedisReplayStore(client)
    with pytest.raises(StoreUnavailable):
        run_store(store, method, "k", asynchronous=asynchronous)
    assert len(client.calls) == attempts


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "asyncio"])
def test_one_failure_then_success(redis_url: str, asynchronous: bool) -> None:
    """One dropped connection costs nothing: the retry claims the key and the next copy is refused."""
    client = scripted(redis_url, [redis.ConnectionError("Connection closed by server.")], asynchronous=asynchronous)
    store = RedisReplayStore(client, prefix=f"t7{asynchronous}:")
    assert claim_twice(store, asynchronous=asynchronous) == (True, False)
    assert client.calls == ["SET", "SET", "SET", "GET"]  # the copy's "not stored" is checked: not our own value


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "asyncio"])
def test_a_lost_answer_is_not_a_replay(redis_url: str, asynchronous: bool) -> None:
    """Redis stored the first claim but its answer was lost: the retry recognises its own write, not a replay."""
    client = scripted(redis_url, ["lose"], asynchronous=asynchronous)
    store = RedisReplayStore(client, prefix=f"t8{asynchronous}:")
    assert claim_twice(store, asynchronous=asynchronous) == (True, False)  # a real copy still is one
    assert client.calls == ["SET", "SET", "GET", "SET", "GET"]


# --- timeouts: a hung Redis holds a webhook for about a second --------------------------------


@pytest.fixture
def hung_redis_url() -> Iterator[str]:
    """A port on 127.0.0.1 that accepts connections (the kernel does) and never answers: a hung Redis."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def timed_claim(store: RedisReplayStore, *, asynchronous: bool) -> float:
    """Seconds until a claim gives up with StoreUnavailable."""
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        run_store(store, "claim", "k", asynchronous=asynchronous)
    return time.monotonic() - started


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "asyncio"])
def test_a_hung_redis_is_given_up_on_quickly(hung_redis_url: str, asynchronous: bool) -> None:
    """Default timeouts: two attempts of 0.5 s each, then StoreUnavailable, not redis-py's 5 s or more."""
    assert timed_claim(RedisReplayStore(hung_redis_url), asynchronous=asynchronous) < 3.0


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "asyncio"])
def test_socket_timeout_argument(hung_redis_url: str, asynchronous: bool) -> None:
    """socket_timeout= reaches the clients made from the URL: two attempts of 1.2 s take longer than the default."""
    store = RedisReplayStore(hung_redis_url, socket_timeout=1.2)
    assert timed_claim(store, asynchronous=asynchronous) >= 2.0


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "asyncio"])
def test_the_urls_own_timeout_wins(hung_redis_url: str, asynchronous: bool) -> None:
    """A socket_timeout written in the URL wins over the argument (5 s here, which would take 10 s)."""
    store = RedisReplayStore(hung_redis_url + "?socket_timeout=0.2", socket_timeout=5)
    assert timed_claim(store, asynchronous=asynchronous) < 3.0


@pytest.mark.parametrize(
    "options",
    [
        {"socket_timeout": 0},
        {"socket_timeout": -1},
        {"socket_timeout": float("inf")},
        {"socket_connect_timeout": True},
        {"socket_timeout": "1"},
    ],
    ids=["zero", "negative", "infinite", "bool", "string"],
)
def test_redis_store_rejects_bad_timeouts(options: dict[str, Any]) -> None:
    """A timeout that is not a positive number of seconds stops the store at construction."""
    with pytest.raises(ValueError, match="must be a positive number of seconds"):
        RedisReplayStore(NOWHERE, **options)


def test_timeouts_with_a_client_are_refused() -> None:
    """Timeouts given next to a client would be silently ignored: the client keeps its own, so it is an error."""
    with pytest.raises(TypeError, match="set them on that client"):
        RedisReplayStore(redis.Redis(), socket_timeout=2)


# --- a store that cannot serve the adapter is refused at start-up -----------------------------


class ThirdPartyStore:
    """A store written elsewhere: the protocol and nothing more."""

    ttl = 60.0

    def claim(self, key: str) -> str | None:
        return "token"

    def release(self, key: str, token: str) -> None:
        pass

    async def aclaim(self, key: str) -> str | None:
        return "token"

    async def arelease(self, key: str, token: str) -> None:
        pass


class SyncOnlyStore(ThirdPartyStore):
    """A store that says it serves WSGI adapters only."""

    modes = frozenset({"sync"})


class MisdeclaredStore(ThirdPartyStore):
    """A store whose modes is a string, which would pass a naive ``in`` test for 'sync'."""

    modes = "sync"


STORES: dict[str, Any] = {
    "memory": MemoryReplayStore,
    "redis-url": lambda: RedisReplayStore(NOWHERE),
    "redis-sync-client": lambda: RedisReplayStore(redis.Redis()),
    "redis-asyncio-client": lambda: RedisReplayStore(redis.asyncio.Redis()),
    "third-party": ThirdPartyStore,
    "third-party-sync-only": SyncOnlyStore,
}

MODE_TABLE = [
    # store, asynchronous, None if it serves that mode, else words the TypeError must contain
    ("memory", False, None),
    ("memory", True, None),
    ("redis-url", False, None),
    ("redis-url", True, None),
    ("redis-sync-client", False, None),
    ("redis-sync-client", True, ["redis.client.Redis", "asyncio (ASGI)", "redis.asyncio.Redis", "redis:// URL"]),
    ("redis-asyncio-client", True, None),
    ("redis-asyncio-client", False, ["redis.asyncio.client.Redis", "sync (WSGI)", "redis.Redis", "redis:// URL"]),
    ("third-party", False, None),
    ("third-party", True, None),
    ("third-party-sync-only", False, None),
    ("third-party-sync-only", True, ["SyncOnlyStore", "only sync (WSGI)", "needs 'async'"]),
]


@pytest.mark.parametrize(
    ("store", "asynchronous", "words"),
    [pytest.param(*row, id=f"{row[0]}-{'asgi' if row[1] else 'wsgi'}") for row in MODE_TABLE],
)
def test_require_mode(store: str, asynchronous: bool, words: list[str] | None) -> None:
    """A store that cannot serve an adapter's mode is a TypeError saying what it holds and how to fix it."""
    made = STORES[store]()
    if words is None:
        require_mode(made, asynchronous=asynchronous)
        return
    with pytest.raises(TypeError) as raised:
        require_mode(made, asynchronous=asynchronous)
    for word in words:
        assert word in str(raised.value)


def test_require_mode_refuses_a_malformed_modes() -> None:
    """modes must be a set: the string 'sync' contains neither mode, whatever ``in`` says."""
    with pytest.raises(TypeError, match="must be a set of 'sync' and/or 'async'"):
        require_mode(MisdeclaredStore(), asynchronous=False)


def test_modes_is_read_only_and_exact() -> None:
    """Each store reports the modes it serves, and they cannot be reassigned."""
    assert MemoryReplayStore().modes == frozenset({"sync", "async"})
    assert RedisReplayStore(NOWHERE).modes == frozenset({"sync", "async"})
    assert RedisReplayStore(redis.Redis()).modes == frozenset({"sync"})
    assert RedisReplayStore(redis.asyncio.Redis()).modes == frozenset({"async"})
    with pytest.raises(AttributeError):
        MemoryReplayStore().modes = frozenset()  # type: ignore[misc]


def test_a_mismatch_at_request_time_says_the_same() -> None:
    """Called anyway, the store says what require_mode would have, as an outage (logged, never a 500)."""
    store = RedisReplayStore(redis.Redis())
    with pytest.raises(TypeError) as at_start:
        require_mode(store, asynchronous=True)
    with pytest.raises(StoreUnavailable) as at_request:
        asyncio.run(store.aclaim("k"))
    assert str(at_request.value) == f"TypeError: {at_start.value}"
