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
atomically: exactly one reaches the app. A claim hands back a token, and a release
names it: only the claim that request made is released, never a later copy's claim
of the same key (a request slower than ``ttl`` that then fails).

- :class:`MemoryReplayStore`: one process, bounded, thread-safe; when full of live
  claims it answers as an outage (``on_store_error``), never by forgetting one.
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
import inspect
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Set as AbstractSet
from typing import Protocol, runtime_checkable

from ._replay_memcached import MemcachedReplayStore
from ._replay_net import ASYNC, BOTH_MODES, SYNC, ServerStore, StoreFull, StoreUnavailable, check_ttl
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
    """What the middlewares need of a store: an atomic claim that hands back a token, and its release.

    A claim is one atomic "remember this key for ``ttl`` seconds unless it is
    remembered". Its answer is a token, a non-empty ``str`` that no other claim of
    that key holds, or None when the key was already claimed (the request is a
    replay). The guard keeps the token with the request and, if the app fails,
    hands it back to :meth:`release`, which forgets the key only while the key
    still holds that claim: a request slower than ``ttl`` must not free the claim
    a later copy made after its own had expired. A store that cannot do its work
    raises :class:`StoreUnavailable`, and a store must never drop an unexpired
    claim to make room for another.

    A store may also have a ``modes`` attribute, a set holding ``"sync"`` (WSGI),
    ``"async"`` (ASGI) or both, to say which adapters it can serve; without one it
    is taken to serve both (see :func:`require_mode`).
    """

    ttl: float

    def claim(self, key: str) -> str | None:
        """Remember ``key`` for ``ttl`` seconds: this claim's token, or None if ``key`` was already claimed."""
        ...

    def release(self, key: str, token: str) -> None:
        """Forget ``key`` if it still holds the claim ``token`` names (the app failed: Twilio's retry must pass)."""
        ...

    async def aclaim(self, key: str) -> str | None:
        """:meth:`claim` for ASGI apps, never blocking the event loop."""
        ...

    async def arelease(self, key: str, token: str) -> None:
        """:meth:`release` for ASGI apps."""
        ...


def check_protocol(store: object) -> None:
    """Raise ``TypeError`` if ``store``'s ``release``/``arelease`` cannot take the claim's token.

    A store written for the first form of the protocol (``release(key)``) would
    fail every release at request time; a guard calls this when it is built.
    """
    for name in ("release", "arelease"):
        method = getattr(store, name, None)
        try:
            inspect.signature(method).bind("key", "token")  # type: ignore[arg-type]
        except (TypeError, ValueError) as error:
            if isinstance(error, ValueError) or not callable(method):  # no signature to read: taken on trust
                continue
            raise TypeError(
                f"{type(store).__name__}.{name} must take (key, token): a claim answers with its token "
                "(or None for a replay) and a release names it, so that only that claim is released"
            ) from None


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


# What one claim costs a MemoryReplayStore, in bytes, measured with tracemalloc
# (tests/test_replay_capacity.py holds it to that), the key included: 100,000 claims are about 24 MB.
_BYTES_PER_CLAIM = 240

logger = logging.getLogger("twiliosig")


class MemoryReplayStore:
    """Remembers keys in this process, at most ``max_entries`` of them, each for ``ttl`` seconds.

    A claim is never forgotten before its ``ttl`` runs out to make room for another:
    anyone with a Twilio account can send signed webhooks, and forgetting the oldest
    claims would let a sender flush another tenant's claims and replay its requests.
    When every one of the ``max_entries`` claims is still live, a new claim raises
    :class:`StoreUnavailable` (a ``StoreFull``, answered 503 even under
    ``on_store_error="allow"``: a sender that filled the store would otherwise have
    every replay let through) and the reason is logged. Size ``max_entries`` above the number of
    webhooks you receive in ``ttl`` (each claim costs about 240 bytes: the default
    bound is about 24 MB); for several workers or hosts use :class:`RedisReplayStore` or
    :class:`MemcachedReplayStore`.

    A claim costs O(1): claims expire in the order they were made (one ``ttl``, a
    monotonic clock), so the expired ones are always at the front.
    """

    def __init__(self, ttl: float = 300.0, max_entries: int = 100_000) -> None:
        self.ttl = check_ttl(ttl)
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries <= 0:
            raise ValueError("max_entries must be a positive number")
        self.max_entries = max_entries
        self._ttl_ns = max(1, round(self.ttl * 1e9))
        # key -> its expiry, in nanoseconds on the monotonic clock. No two claims share one
        # (see claim), so the expiry also names the claim: its token is the number as a str.
        self._claims: OrderedDict[str, int] = OrderedDict()
        self._latest = 0
        self._lock = threading.Lock()
        self._full = False  # logged once each time the store fills up

    def __len__(self) -> int:
        return len(self._claims)

    @property
    def modes(self) -> frozenset[str]:
        """Both ``"sync"`` and ``"async"``: the store serves WSGI and ASGI adapters alike."""
        return BOTH_MODES

    def claim(self, key: str) -> str | None:
        """Remember ``key`` for ``ttl`` seconds: the claim's token, or None if it is claimed.

        Raises:
            StoreFull: ``max_entries`` claims are held and none has expired (a ``StoreUnavailable``).
        """
        now = time.monotonic_ns()
        with self._lock:
            claims = self._claims
            while claims:
                if next(iter(claims.values())) > now:
                    break
                claims.popitem(last=False)
            if key in claims:
                return None
            if len(claims) >= self.max_entries:
                raise self._overflow(claims)
            self._full = False
            expires = now + self._ttl_ns
            if expires <= self._latest:  # the clock has not moved since the last claim
                expires = self._latest + 1
            self._latest = claims[key] = expires
            return str(expires)

    def _overflow(self, claims: OrderedDict[str, int]) -> StoreFull:
        """The outage a full store answers with, logged once each time the store fills up."""
        free_in = (next(iter(claims.values())) - time.monotonic_ns()) / 1e9
        why = (
            f"MemoryReplayStore is full: {self.max_entries} claims, none expired yet (the oldest expires in "
            f"{free_in:.0f} s); a claim is never forgotten early. Raise max_entries (about "
            f"{_BYTES_PER_CLAIM} bytes each) above the webhooks you receive in ttl, or use a shared store"
        )
        if not self._full:
            self._full = True
            logger.error("twiliosig: %s (docs/replay.md, 'Sizing the memory store')", why)
        return StoreFull(why)

    def release(self, key: str, token: str) -> None:
        """Forget ``key`` if it still holds the claim ``token`` names."""
        with self._lock:
            held = self._claims.get(key)
            if held is not None and str(held) == token:
                del self._claims[key]

    async def aclaim(self, key: str) -> str | None:
        return self.claim(key)  # a lock held for microseconds: no need to leave the loop

    async def arelease(self, key: str, token: str) -> None:
        self.release(key, token)
