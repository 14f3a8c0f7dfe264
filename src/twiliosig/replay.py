"""Replay protection: the first request with a given signature proceeds, a copy is refused.

A Twilio signature carries no timestamp, so a request captured once (a leaked
log, a compromised proxy) validates forever. With ``replay_guard=`` the
middlewares and integrations remember every accepted request for ``ttl``
seconds, keyed by a hash of the signature (which names the exact bytes Twilio
signed; the signature itself is never stored), and refuse a second one with 409
(``Reason.REPLAYED``).

A retry of the same delivery looks exactly like a replay, so the key is released
when the app answers 5xx or raises: Twilio's retry of a *failed* delivery gets
through, a copy of a *handled* one does not. Concurrent duplicates are decided
atomically: exactly one reaches the app.

- :class:`MemoryReplayStore`: one process, bounded, thread-safe.
- :class:`RedisReplayStore`: shared by every worker and host (``SET NX PX``);
  the sync client serves WSGI apps, the asyncio client ASGI apps, so the event
  loop never blocks on Redis. A command that fails on a broken connection is
  tried once more; the clients it makes from a URL give up on a silent Redis
  after a fraction of a second. Needs the ``redis`` extra.
- :func:`require_mode`: refuses, when an adapter is built, a store that cannot
  serve it (a sync Redis client behind an ASGI app, say).

A store that cannot do its work raises :class:`StoreUnavailable`, and the
middleware answers as ``on_store_error`` says (503 by default), never 500.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = [
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "StoreUnavailable",
    "replay_key",
    "require_mode",
]

_T = TypeVar("_T")

_SYNC = "sync"
_ASYNC = "async"
_BOTH_MODES = frozenset({_SYNC, _ASYNC})

# Seconds; see RedisReplayStore for why these values.
_SOCKET_TIMEOUT = 0.5
_SOCKET_CONNECT_TIMEOUT = 1.0

# Connection-type failures that are configuration or capacity problems, not a broken
# connection: trying again at once cannot help. Looked up by name, as not every redis
# version from 5 on has them all.
_NEVER_RETRIED = (
    "AuthenticationError",
    "AuthorizationError",
    "BusyLoadingError",
    "ExternalAuthProviderError",
    "MaxConnectionsError",
)


class StoreUnavailable(Exception):
    """The replay store could not be reached; the middleware applies ``on_store_error``."""


@runtime_checkable
class ReplayStore(Protocol):
    """What the middlewares need of a store: atomic claim, release, sync and async.

    A store may also have a ``modes`` attribute, a set holding ``"sync"`` (WSGI),
    ``"async"`` (ASGI) or both, to say which adapters it can serve; without one it
    is taken to serve both (see :func:`require_mode`).
    """

    ttl: float

    def claim(self, key: str) -> bool:
        """Remember ``key`` for ``ttl`` seconds; True if it was not already remembered."""
        ...

    def release(self, key: str) -> None:
        """Forget ``key`` (the app failed, so a retry must get through)."""
        ...

    async def aclaim(self, key: str) -> bool:
        """:meth:`claim` for ASGI apps, never blocking the event loop."""
        ...

    async def arelease(self, key: str) -> None:
        """:meth:`release` for ASGI apps."""
        ...


def replay_key(signature: str) -> str:
    """The key a genuine request is remembered by: a SHA-256 of its signature.

    The signature is the HMAC of the exact bytes Twilio signed (the URL and the
    parameters joined, with no boundary between them), and the validator accepts
    only the one base64 string that HMAC gives. So the signature names those bytes
    exactly: moving characters between the URL and a parameter name, reordering or
    re-encoding anything, leaves either a request that fails the check or the very
    same key. A key built from the URL and the parameters hashed apart would not
    have that property (``?order=42`` re-sent as ``?order=4`` plus a parameter
    ``2...`` signs the same bytes but would hash differently).
    """
    digest = hashlib.sha256(b"twiliosig replay key v2\x00")
    digest.update(signature.encode("ascii", "backslashreplace"))
    return digest.hexdigest()


def require_mode(store: ReplayStore, *, asynchronous: bool) -> None:
    """Raise ``TypeError`` if ``store`` cannot serve a sync (WSGI) or an asyncio (ASGI) adapter.

    Adapters call this once, when they are built, so that a mismatch stops the app
    at start-up instead of failing every request. A store says what it serves with a
    ``modes`` attribute (a set of ``"sync"`` and ``"async"``); a store without one
    is taken to serve both. A :class:`RedisReplayStore` made from a URL and a
    :class:`MemoryReplayStore` serve both; one given a client serves only that
    client's mode.

    Args:
        store: The replay store the adapter was given.
        asynchronous: True for an ASGI adapter, which calls ``aclaim``/``arelease``;
            False for a WSGI one, which calls ``claim``/``release``.

    Raises:
        TypeError: The store cannot serve that mode (the message says what it holds
            and what to pass instead), or its ``modes`` is not such a set.
    """
    modes = getattr(store, "modes", _BOTH_MODES)
    if not isinstance(modes, AbstractSet) or not modes <= _BOTH_MODES:
        raise TypeError(f"{type(store).__name__}.modes must be a set of 'sync' and/or 'async', not {modes!r}")
    if (_ASYNC if asynchronous else _SYNC) in modes:
        return
    if isinstance(store, RedisReplayStore):
        raise TypeError(store._mode_error(asynchronous=asynchronous))
    serves = {_SYNC: "only sync (WSGI) adapters", _ASYNC: "only asyncio (ASGI) adapters"}.get(
        next(iter(modes), ""), "no adapter at all"
    )
    needs = "an asyncio (ASGI) adapter needs 'async'" if asynchronous else "a sync (WSGI) adapter needs 'sync'"
    raise TypeError(
        f"this {type(store).__name__} serves {serves} (its modes are {sorted(modes)}), but {needs}: "
        "give the adapter a store that serves it"
    )


def _check_ttl(ttl: float) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds")
    return float(ttl)


def _check_timeout(name: str, seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds")
    return float(seconds)


class MemoryReplayStore:
    """Remembers keys in this process, at most ``max_entries`` of them, each for ``ttl`` seconds.

    When full, the oldest key is forgotten first (and could then be replayed):
    size ``max_entries`` above the number of webhooks you receive in ``ttl``.
    For several workers or hosts use :class:`RedisReplayStore`.
    """

    def __init__(self, ttl: float = 300.0, max_entries: int = 100_000) -> None:
        self.ttl = _check_ttl(ttl)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries <= 0:
            raise ValueError("max_entries must be a positive number")
        self.max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    @property
    def modes(self) -> frozenset[str]:
        """Both ``"sync"`` and ``"async"``: the store serves WSGI and ASGI adapters alike."""
        return _BOTH_MODES

    def claim(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._expiry:
                oldest, expires = next(iter(self._expiry.items()))
                if expires > now and len(self._expiry) < self.max_entries:
                    break
                del self._expiry[oldest]
            if key in self._expiry:
                return False
            self._expiry[key] = now + self.ttl
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._expiry.pop(key, None)

    async def aclaim(self, key: str) -> bool:
        return self.claim(key)  # a lock held for microseconds: no need to leave the loop

    async def arelease(self, key: str) -> None:
        self.release(key)


class RedisReplayStore:
    """Remembers keys in Redis, shared by every process that points at it.

    **Broken connections.** When Redis restarts, or a firewall forgets an idle
    connection, the pooled connections are dead and the next command on each fails.
    So a command that fails with a connection error or a timeout is sent once more,
    on a fresh connection; if that fails too, :class:`StoreUnavailable` is raised
    (and the middleware answers 503, or lets the request through, as
    ``on_store_error`` says). Nothing else is retried: an error Redis answered, a
    refused password, a full pool. A claim whose first answer was lost may have
    been stored all the same, so each claim writes a random value and its retry
    recognises its own write: a lost answer never turns a first request into a
    replay.

    **Timeouts.** The clients made from a URL wait at most ``socket_connect_timeout``
    (1 s) to connect and ``socket_timeout`` (0.5 s) for an answer, instead of
    redis-py's own default (5 s in redis-py 8, no limit at all in redis-py 5) and
    without redis-py's own retries, so our one retry is the only one. A healthy
    Redis answers ``SET`` in well under a millisecond on a local network and in a
    few across zones: half a second is hundreds of times that, so only a Redis
    that is stuck (or a network that is) trips it. Connecting happens only when the
    pool opens a connection, so it gets more room. With the one retry, a hung Redis
    holds a webhook for about a second (three at the very worst: two connections
    and two answers) before the 503, far inside the 15 s Twilio waits for an
    answer; with redis-py's defaults every worker would sit on every webhook for
    ten seconds, or for ever. Timeouts written in the URL (``?socket_timeout=2``)
    win over these arguments.

    A client you pass is used as it is: its timeouts (and redis-py's retries, which
    multiply them) are yours to set, e.g.
    ``redis.Redis(host=..., socket_timeout=0.5, socket_connect_timeout=1.0)``.

    Args:
        redis: A ``redis://`` (or ``rediss://``, ``unix://``) URL, a ``redis.Redis``
            client (WSGI), or a ``redis.asyncio.Redis`` client (ASGI). With a URL
            both clients are made, each used where it belongs.
        ttl: Seconds a request is remembered.
        prefix: Prepended to every key, to share a Redis database.
        socket_timeout: Seconds to wait for Redis to answer, for the clients made
            from a URL (a client you pass keeps its own).
        socket_connect_timeout: Seconds to wait for a connection, likewise.

    Raises:
        TypeError: ``redis`` is neither a URL nor a client, or timeouts were given
            with a client (set them on the client).
        ValueError: A ttl or timeout that is not a positive number of seconds.
    """

    def __init__(
        self,
        redis: Any,
        *,
        ttl: float = 300.0,
        prefix: str = "twiliosig:replay:",
        socket_timeout: float = _SOCKET_TIMEOUT,
        socket_connect_timeout: float = _SOCKET_CONNECT_TIMEOUT,
    ) -> None:
        self.ttl = _check_ttl(ttl)
        self.prefix = prefix
        socket_timeout = _check_timeout("socket_timeout", socket_timeout)
        socket_connect_timeout = _check_timeout("socket_connect_timeout", socket_connect_timeout)
        self._sync: Any = None
        self._async: Any = None
        try:
            import redis as redis_module  # noqa: PLC0415 - the optional 'redis' extra
            import redis.asyncio as redis_asyncio  # noqa: PLC0415
            from redis.asyncio.retry import Retry as AsyncRetry  # noqa: PLC0415
            from redis.backoff import NoBackoff  # noqa: PLC0415
            from redis.retry import Retry  # noqa: PLC0415
        except ImportError:  # pragma: no cover - the extra is missing
            raise ImportError("RedisReplayStore needs the redis package: pip install 'twiliosig[redis]'") from None
        if isinstance(redis, str):
            # redis-py lets the URL's own query parameters win over these keyword arguments.
            self._sync = redis_module.Redis.from_url(
                redis,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_connect_timeout,
                retry=Retry(NoBackoff(), 0),
            )
            self._async = redis_asyncio.Redis.from_url(
                redis,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_connect_timeout,
                retry=AsyncRetry(NoBackoff(), 0),
            )
        elif isinstance(redis, (redis_asyncio.Redis, redis_module.Redis)):
            if (socket_timeout, socket_connect_timeout) != (_SOCKET_TIMEOUT, _SOCKET_CONNECT_TIMEOUT):
                raise TypeError(
                    "socket_timeout and socket_connect_timeout apply to the clients RedisReplayStore makes "
                    "from a URL; a client you pass keeps its own: set them on that client"
                )
            if isinstance(redis, redis_asyncio.Redis):
                self._async = redis
            else:
                self._sync = redis
        else:
            raise TypeError("redis must be a redis:// URL, a redis.Redis or a redis.asyncio.Redis client")
        self._px = max(1, int(self.ttl * 1000))
        exceptions = redis_module.exceptions
        self._errors: tuple[type[BaseException], ...] = (redis_module.RedisError, OSError)
        self._retried: tuple[type[BaseException], ...] = (
            redis_module.ConnectionError,
            redis_module.TimeoutError,
            ConnectionError,
            TimeoutError,
        )
        self._never_retried: tuple[type[BaseException], ...] = tuple(
            getattr(exceptions, name) for name in _NEVER_RETRIED if hasattr(exceptions, name)
        )

    @property
    def modes(self) -> frozenset[str]:
        """``"sync"``, ``"async"`` or both: which adapters this store can serve (see :func:`require_mode`)."""
        return frozenset(mode for mode, client in ((_SYNC, self._sync), (_ASYNC, self._async)) if client is not None)

    def _mode_error(self, *, asynchronous: bool) -> str:
        held = self._sync if asynchronous else self._async
        held_name = f"{type(held).__module__}.{type(held).__qualname__}"
        if asynchronous:
            needs, other = "an asyncio (ASGI) adapter calls aclaim/arelease", "redis.asyncio.Redis"
        else:
            needs, other = "a sync (WSGI) adapter calls claim/release", "redis.Redis"
        return (
            f"this RedisReplayStore holds only a {held_name} client, but {needs}, which need a {other} client: "
            f"pass a redis:// URL instead (the store makes both clients) or a {other} client"
        )

    def _client(self, *, asynchronous: bool) -> Any:
        client = self._async if asynchronous else self._sync
        if client is None:
            raise TypeError(self._mode_error(asynchronous=asynchronous))
        return client

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _retries(self, error: BaseException) -> bool:
        return isinstance(error, self._retried) and not isinstance(error, self._never_retried)

    def _call(self, command: Callable[[bool], _T]) -> _T:
        """``command(False)``; after a connection failure, ``command(True)`` once; StoreUnavailable if that fails."""
        try:
            try:
                return command(False)
            except self._errors as error:
                if not self._retries(error):
                    raise
            # redis-py dropped the failed connection; the retry takes a fresh one.
            return command(True)
        except self._errors as error:
            raise StoreUnavailable(str(error) or type(error).__name__) from error

    async def _acall(self, command: Callable[[bool], Awaitable[_T]]) -> _T:
        """:meth:`_call` for the asyncio client."""
        try:
            try:
                return await command(False)
            except self._errors as error:
                if not self._retries(error):
                    raise
            return await command(True)
        except self._errors as error:
            raise StoreUnavailable(str(error) or type(error).__name__) from error

    def claim(self, key: str) -> bool:
        client, name, token = self._client(asynchronous=False), self._key(key), secrets.token_hex(16)

        def attempt(retry: bool) -> bool:
            if client.set(name, token, nx=True, px=self._px):
                return True
            # On the retry the key may hold our own first write, stored before its answer was lost.
            return retry and client.get(name) in (token, token.encode())

        return self._call(attempt)

    def release(self, key: str) -> None:
        client, name = self._client(asynchronous=False), self._key(key)
        self._call(lambda _retry: client.delete(name))

    async def aclaim(self, key: str) -> bool:
        client, name, token = self._client(asynchronous=True), self._key(key), secrets.token_hex(16)

        async def attempt(retry: bool) -> bool:
            if await client.set(name, token, nx=True, px=self._px):
                return True
            return retry and await client.get(name) in (token, token.encode())

        return await self._acall(attempt)

    async def arelease(self, key: str) -> None:
        client, name = self._client(asynchronous=True), self._key(key)

        async def attempt(_retry: bool) -> None:
            await client.delete(name)

        await self._acall(attempt)
