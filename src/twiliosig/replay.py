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
  loop never blocks on Redis. Needs the ``redis`` extra.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

__all__ = ["MemoryReplayStore", "RedisReplayStore", "ReplayStore", "StoreUnavailable", "replay_key"]


class StoreUnavailable(Exception):
    """The replay store could not be reached; the middleware applies ``on_store_error``."""


@runtime_checkable
class ReplayStore(Protocol):
    """What the middlewares need of a store: atomic claim, release, sync and async."""

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


def _check_ttl(ttl: float) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds")
    return float(ttl)


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

    Args:
        redis: A ``redis://`` URL, a ``redis.Redis`` client (WSGI), or a
            ``redis.asyncio.Redis`` client (ASGI). With a URL both clients are
            made, each used where it belongs.
        ttl: Seconds a request is remembered.
        prefix: Prepended to every key, to share a Redis database.
    """

    def __init__(self, redis: Any, *, ttl: float = 300.0, prefix: str = "twiliosig:replay:") -> None:
        self.ttl = _check_ttl(ttl)
        self.prefix = prefix
        self._sync: Any = None
        self._async: Any = None
        try:
            import redis as redis_module  # noqa: PLC0415 - the optional 'redis' extra
            import redis.asyncio as redis_asyncio  # noqa: PLC0415
        except ImportError:  # pragma: no cover - the extra is missing
            raise ImportError("RedisReplayStore needs the redis package: pip install 'twiliosig[redis]'") from None
        if isinstance(redis, str):
            self._sync = redis_module.Redis.from_url(redis)
            self._async = redis_asyncio.Redis.from_url(redis)
        elif isinstance(redis, redis_asyncio.Redis):
            self._async = redis
        elif isinstance(redis, redis_module.Redis):
            self._sync = redis
        else:
            raise TypeError("redis must be a redis:// URL, a redis.Redis or a redis.asyncio.Redis client")
        self._errors: tuple[type[BaseException], ...] = (redis_module.RedisError, OSError)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def claim(self, key: str) -> bool:
        if self._sync is None:
            raise TypeError("this RedisReplayStore holds an asyncio client: use it with the ASGI middleware")
        try:
            return bool(self._sync.set(self._key(key), b"1", nx=True, px=int(self.ttl * 1000)))
        except self._errors as error:
            raise StoreUnavailable(str(error)) from error

    def release(self, key: str) -> None:
        if self._sync is None:
            raise TypeError("this RedisReplayStore holds an asyncio client: use it with the ASGI middleware")
        try:
            self._sync.delete(self._key(key))
        except self._errors as error:
            raise StoreUnavailable(str(error)) from error

    async def aclaim(self, key: str) -> bool:
        if self._async is None:
            raise TypeError("this RedisReplayStore holds a sync client: use it with the WSGI middleware")
        try:
            return bool(await self._async.set(self._key(key), b"1", nx=True, px=int(self.ttl * 1000)))
        except self._errors as error:
            raise StoreUnavailable(str(error)) from error

    async def arelease(self, key: str) -> None:
        if self._async is None:
            raise TypeError("this RedisReplayStore holds a sync client: use it with the WSGI middleware")
        try:
            await self._async.delete(self._key(key))
        except self._errors as error:
            raise StoreUnavailable(str(error)) from error
