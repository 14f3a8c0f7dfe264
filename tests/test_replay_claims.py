"""Replay claims against real stores: what a client's own retries and wrappers do to a claim.

A claim is one atomic "add if absent". When its answer is lost (a timeout after the
server stored the key, a connection reset on the way back), whoever sends the command
again finds the key present. The stores recognise their own write on their one retry;
these tests give them clients that retry *by themselves* before the store sees any
error (redis-py's default ``Retry``, a Django cache whose ``OPTIONS`` keep redis-py's
retries, pymemcache's ``RetryingClient``), so that the first delivery of a genuine
webhook must not come back as "already claimed", a 409 that Twilio never retries.

And a wrapper must not smuggle in a client the store refuses: pymemcache's
``RetryingClient`` around a ``HashClient`` still answers ``add`` with False while a
server is marked dead.

In process, against servers the fixtures start (unlike tests/attacks, whose servers run
apart), so that mutation testing (``make mutate``) counts these defences as tested.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.connection
import redis.connection
import redis.exceptions
from django.core.cache import caches
from django.test import override_settings
from pymemcache.client.base import Client as MemcacheClient
from pymemcache.client.hash import HashClient
from pymemcache.client.retrying import RetryingClient
from pymemcache.exceptions import MemcacheUnexpectedCloseError
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.contract import PAIRS, TOKEN, form_body, sign
from tests.replay_servers import Server
from tests.test_asgi import AsgiHarness
from tests.test_replay_stores import asgi_post
from tests.test_wsgi import WsgiHarness
from twiliosig.contrib.django import DjangoCacheReplayStore
from twiliosig.replay import MemcachedReplayStore, RedisReplayStore

ORIGIN = "https://example.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _target() -> str:
    return f"/twilio/sms-{uuid.uuid4().hex[:12]}"


def _prefix() -> str:
    return f"attack-{uuid.uuid4().hex[:8]}:"


def _headers(target: str) -> dict[str, str]:
    return {**FORM, "X-Twilio-Signature": sign(ORIGIN + target, PAIRS)}


def _claim_is_set_nx(command: tuple[Any, ...]) -> bool:
    return bool(command) and str(command[0]).upper() == "SET" and "NX" in command


class _LostAnswers:
    """How many SET NX answers are still to be lost, shared by every connection of a test."""

    remaining = 0


class LosesOneAnswer(redis.connection.Connection):
    """A real connection: Redis stores the key, then the answer to the claim times out on the way back."""

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._sent = args
        super().send_command(*args, **kwargs)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().read_response(*args, **kwargs)
        if _claim_is_set_nx(getattr(self, "_sent", ())) and _LostAnswers.remaining:
            _LostAnswers.remaining -= 1
            raise redis.exceptions.TimeoutError("Timeout reading from socket")
        return response


class AsyncLosesOneAnswer(redis.asyncio.connection.Connection):
    """:class:`LosesOneAnswer` for redis-py's asyncio client."""

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._sent = args
        await super().send_command(*args, **kwargs)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        response = await super().read_response(*args, **kwargs)
        if _claim_is_set_nx(getattr(self, "_sent", ())) and _LostAnswers.remaining:
            _LostAnswers.remaining -= 1
            raise redis.exceptions.TimeoutError("Timeout reading from socket")
        return response


@pytest.fixture
def one_lost_answer() -> Iterator[None]:
    _LostAnswers.remaining = 1
    yield
    assert _LostAnswers.remaining == 0, "no answer was lost: the test did not test what it says"


@pytest.mark.usefixtures("one_lost_answer")
def test_redis_client_with_its_own_retries_wsgi(redis_server: Server) -> None:
    """The attacker needs nothing: a timeout on a stock redis.Redis (it retries by default) must not 409 Twilio.

    redis-py re-sends SET NX itself and reads "not stored"; the store must see that
    the value there is its own before calling the first delivery a replay.
    """
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.5)
    client.connection_pool.connection_class = LosesOneAnswer
    assert client.get_retry() is not None  # redis-py's default: retries of its own
    harness = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(client, prefix=_prefix()))
    target = _target()
    first = harness.send("POST", target, headers=_headers(target), body=form_body(PAIRS))
    again = harness.send("POST", target, headers=_headers(target), body=form_body(PAIRS))
    assert (first.status, again.status) == (200, 409)


@pytest.mark.usefixtures("one_lost_answer")
def test_redis_asyncio_client_with_its_own_retries_asgi(redis_server: Server) -> None:
    """The same through the ASGI middleware and redis-py's asyncio client (it retries by default too)."""

    async def scenario() -> tuple[int, int]:
        client = redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.5)
        client.connection_pool.connection_class = AsyncLosesOneAnswer
        try:
            app = AsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(client, prefix=_prefix())).app
            target = _target()
            return await asgi_post(app, target), await asgi_post(app, target)
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == (200, 409)


@pytest.mark.usefixtures("one_lost_answer")
def test_django_cache_with_redis_py_retries(redis_server: Server) -> None:
    """A Django Redis cache whose OPTIONS keep redis-py's retries: a lost answer is still not a replay."""
    location = f"redis://127.0.0.1:{redis_server.port}/4"
    options = {"socket_timeout": 0.5, "connection_class": LosesOneAnswer, "retry": Retry(NoBackoff(), 3)}
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location, "OPTIONS": options}
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}, "r": cache}):
        try:
            store = DjangoCacheReplayStore("r", prefix=_prefix())
            assert (bool(store.claim("k")), store.claim("k")) == (True, None)
        finally:
            caches["r"].close()


@pytest.mark.usefixtures("one_lost_answer")
def test_the_stores_own_retry_recognises_its_write(redis_server: Server) -> None:
    """A client that does not retry: the store's one retry finds the key present and must see it is its own value."""
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    client.connection_pool.connection_class = LosesOneAnswer
    store = RedisReplayStore(client, prefix=_prefix())
    assert (bool(store.claim("k")), store.claim("k")) == (True, None)


@pytest.mark.usefixtures("one_lost_answer")
def test_the_stores_own_retry_recognises_its_write_asyncio(redis_server: Server) -> None:
    async def scenario() -> tuple[str | None, str | None]:
        from redis.asyncio.retry import Retry as AsyncRetry

        client = redis.asyncio.Redis(
            host="127.0.0.1", port=redis_server.port, socket_timeout=0.5, retry=AsyncRetry(NoBackoff(), 0)
        )
        client.connection_pool.connection_class = AsyncLosesOneAnswer
        try:
            store = RedisReplayStore(client, prefix=_prefix())
            return await store.aclaim("k"), await store.aclaim("k")
        finally:
            await client.aclose()

    first, again = asyncio.run(scenario())
    assert (bool(first), again) == (True, None)


class LosesOneAdd(MemcacheClient):  # type: ignore[misc]
    """A real pymemcache client: memcached stores the first add, then the connection closes before its answer."""

    def add(self, *args: Any, **kwargs: Any) -> Any:
        stored = super().add(*args, **kwargs)
        if _LostAnswers.remaining:
            _LostAnswers.remaining -= 1
            self.close()
            raise MemcacheUnexpectedCloseError()
        return stored


@pytest.mark.usefixtures("one_lost_answer")
def test_memcached_retrying_client_lost_answer(memcached_server: Server) -> None:
    """pymemcache's RetryingClient re-sends add itself: the first delivery must still be the first."""
    inner = LosesOneAdd(("127.0.0.1", memcached_server.port), connect_timeout=1, timeout=0.5)
    client = RetryingClient(inner, attempts=3, retry_for=[MemcacheUnexpectedCloseError])
    store = MemcachedReplayStore(client, prefix=_prefix())
    assert (bool(store.claim("k")), store.claim("k")) == (True, None)


def test_a_retrying_client_cannot_smuggle_in_a_hash_client(memcached_server: Server) -> None:
    """HashClient is refused (an outage reads as "already there"); wrapped in RetryingClient it must be too."""
    hashed = HashClient([("127.0.0.1", memcached_server.port)])
    with pytest.raises(TypeError, match="HashClient"):
        MemcachedReplayStore(RetryingClient(hashed))
    with pytest.raises(TypeError, match="HashClient"):
        MemcachedReplayStore(RetryingClient(RetryingClient(hashed)))


PIPELINES = {
    "sync": lambda port: redis.Redis(host="127.0.0.1", port=port).pipeline(),
    "sync-no-transaction": lambda port: redis.Redis(host="127.0.0.1", port=port).pipeline(transaction=False),
    "asyncio": lambda port: redis.asyncio.Redis(host="127.0.0.1", port=port).pipeline(),
}


@pytest.mark.parametrize("make", PIPELINES.values(), ids=PIPELINES.keys())
def test_a_pipeline_is_not_a_client(redis_server: Server, make: Any) -> None:
    """A pipeline has set(nx=, px=), get and delete, but queues them and answers set() with itself (truthy).

    Given one, every claim said "first" and nothing reached Redis: replays passed,
    silently. Refused when the store is made.
    """
    with pytest.raises(TypeError, match="pipeline"):
        RedisReplayStore(make(redis_server.port))


class AsyncioBehindPlainMethods:
    """A thin wrapper a team might write: plain methods that hand back the asyncio client's coroutines."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def set(self, name: str, value: str, nx: bool = False, px: int | None = None) -> Any:
        return self.client.set(name, value, nx=nx, px=px)

    def get(self, name: str) -> Any:
        return self.client.get(name)

    def eval(self, script: str, numkeys: int, *keys_and_args: str) -> Any:
        return self.client.eval(script, numkeys, *keys_and_args)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # "coroutine ... was never awaited": nothing may be left unawaited
def test_an_asyncio_client_taken_for_a_sync_one_fails_closed(redis_server: Server) -> None:
    """Its set() returns a coroutine, which is truthy: every copy passed for the first. Now it is an outage (503)."""
    wrapped = AsyncioBehindPlainMethods(redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port))
    harness = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(wrapped, prefix=_prefix()))
    target = _target()
    first = harness.send("POST", target, headers=_headers(target), body=form_body(PAIRS))
    again = harness.send("POST", target, headers=_headers(target), body=form_body(PAIRS))
    assert (first.status, again.status) == (503, 503)


def test_a_late_release_frees_only_its_own_claim(redis_server: Server) -> None:
    """A slow request outlives its claim; a copy claims the key afresh; the slow one fails and releases.

    The release names the slow request's own claim (a compare-and-delete on the server),
    so the copy's live claim stays and a third copy is refused. (The second copy itself
    got through because the first claim had expired: ttl shorter than the app's slowest
    answer is the operator's to avoid.) Every store: tests/test_replay_lifetimes.py.
    """
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, retry=Retry(NoBackoff(), 0))
    store = RedisReplayStore(client, ttl=0.3, prefix=_prefix())
    first = store.claim("k")  # the slow first delivery
    assert first
    time.sleep(0.4)  # its claim expires while the app still works
    assert store.claim("k")  # a copy, after the ttl: allowed
    store.release("k", first)  # the slow first delivery answers 500: its release
    assert store.claim("k") is None, "a third copy passed while the second copy's claim should still hold"
