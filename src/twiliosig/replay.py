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
- :class:`RedisReplayStore`: shared by every worker and host (``SET NX PX``):
  a ``redis://`` URL, or the client you run: a Redis server, a Redis Cluster, a
  Sentinel-managed master or Valkey, sync (WSGI) or asyncio (ASGI), each used
  where it belongs, so the event loop never blocks on Redis.
- :class:`MemcachedReplayStore`: shared through Memcached (its atomic ``add``);
  needs the ``memcached`` extra.
- ``twiliosig.contrib.django.DjangoCacheReplayStore``: a cache from Django's
  ``CACHES`` (``cache.add``); refuses at start-up a backend whose ``add`` is not
  atomic across processes.
- :func:`require_mode`: refuses, when an adapter is built, a store that cannot
  serve it (a sync Redis client behind an ASGI app, say).

The stores on a server share one discipline: a command that fails on a broken
connection or a timeout is tried once more, on a fresh connection; a claim whose
answer was lost is recognised by its own random value, whoever sent it again; the clients a store makes itself give
up on a silent server after a fraction of a second. A store that cannot do its
work raises :class:`StoreUnavailable`, and the middleware answers as
``on_store_error`` says (503 by default), never 500.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Set as AbstractSet
from typing import Protocol, runtime_checkable

from ._replay_memcached import MemcachedReplayStore
from ._replay_net import ASYNC, BOTH_MODES, SYNC, ServerStore, StoreUnavailable, check_ttl
from ._replay_redis import RedisReplayStore

__all__ = [
    "MemcachedReplayStore",
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "StoreUnavailable",
    "replay_key",
    "require_mode",
]


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
    is taken to serve both. A :class:`RedisReplayStore` made from a URL, a
    :class:`MemoryReplayStore`, a :class:`MemcachedReplayStore` and a Django cache
    store serve both; a :class:`RedisReplayStore` given a client serves only that
    client's mode.

    Args:
        store: The replay store the adapter was given.
        asynchronous: True for an ASGI adapter, which calls ``aclaim``/``arelease``;
            False for a WSGI one, which calls ``claim``/``release``.

    Raises:
        TypeError: The store cannot serve that mode (the message says what it holds
            and what to pass instead), or its ``modes`` is not such a set.
    """
    modes = getattr(store, "modes", BOTH_MODES)
    if not isinstance(modes, AbstractSet) or not modes <= BOTH_MODES:
        raise TypeError(f"{type(store).__name__}.modes must be a set of 'sync' and/or 'async', not {modes!r}")
    if (ASYNC if asynchronous else SYNC) in modes:
        return
    explained = store._mode_error(asynchronous=asynchronous) if isinstance(store, ServerStore) else None
    if explained is not None:
        raise TypeError(explained)
    serves = {SYNC: "only sync (WSGI) adapters", ASYNC: "only asyncio (ASGI) adapters"}.get(
        next(iter(modes), ""), "no adapter at all"
    )
    needs = "an asyncio (ASGI) adapter needs 'async'" if asynchronous else "a sync (WSGI) adapter needs 'sync'"
    raise TypeError(
        f"this {type(store).__name__} serves {serves} (its modes are {sorted(modes)}), but {needs}: "
        "give the adapter a store that serves it"
    )


class MemoryReplayStore:
    """Remembers keys in this process, at most ``max_entries`` of them, each for ``ttl`` seconds.

    When full, the oldest key is forgotten first (and could then be replayed):
    size ``max_entries`` above the number of webhooks you receive in ``ttl``.
    For several workers or hosts use :class:`RedisReplayStore` or :class:`MemcachedReplayStore`.
    """

    def __init__(self, ttl: float = 300.0, max_entries: int = 100_000) -> None:
        self.ttl = check_ttl(ttl)
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
        return BOTH_MODES

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
