"""The Django cache replay store: ``cache.add`` on a cache from ``settings.CACHES``.

Public as :class:`twiliosig.contrib.django.DjangoCacheReplayStore` (it imports Django,
so it lives with the Django integration, not in :mod:`twiliosig.replay`).
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import InvalidCacheBackendError, caches
from django.core.exceptions import ImproperlyConfigured

from ._replay_net import BOTH_MODES, ServerStore, holds, running_asyncio_loop

__all__ = ["DjangoCacheReplayStore"]

#: Django's own backends whose ``add`` cannot stand for a claim shared by processes, and why.
NOT_ATOMIC = {
    "django.core.cache.backends.locmem.LocMemCache": (
        "keeps its keys in each process's own memory, so a copy sent to another worker or host finds nothing there; "
        "and past MAX_ENTRIES it culls entries that have not expired, so a flood of webhooks forgets claims"
    ),
    "django.core.cache.backends.dummy.DummyCache": (
        "stores nothing and answers every add() with True, so every copy passes for the first"
    ),
    "django.core.cache.backends.filebased.FileBasedCache": (
        "checks that a file is absent and then writes it, two steps another process can run between, "
        "so two copies can both get through; and past MAX_ENTRIES it deletes files at random, expired or not"
    ),
    "django.core.cache.backends.db.DatabaseCache": (
        "answers add() with False on any database error, as if the key were already there (an outage would "
        "refuse every genuine webhook with 409, which Twilio does not retry), and two processes adding an "
        "expired key can both succeed; and past MAX_ENTRIES it culls rows that have not expired"
    ),
    "django.core.cache.backends.memcached.PyMemcacheCache": (
        "goes through pymemcache's HashClient, which answers add() with False, as if the key were already "
        "there, for a server that failed in the last second (an outage would refuse genuine webhooks with 409); "
        "use twiliosig.replay.MemcachedReplayStore with the same server addresses"
    ),
}


def _refusal(backend: object) -> str | None:
    for cls in type(backend).__mro__:
        why = NOT_ATOMIC.get(f"{cls.__module__}.{cls.__qualname__}")
        if why is not None:
            return f"{cls.__module__}.{cls.__qualname__} {why}"
    return None


class DjangoCacheReplayStore(ServerStore):
    """Remembers keys in a cache from Django's ``CACHES``, shared by every process that uses it.

    A claim is ``cache.add(key, value, timeout)``, which stores a key only if it is
    absent. On Django's Redis backend (``django.core.cache.backends.redis.RedisCache``)
    that is one ``SET NX EX``, atomic on the server, so of concurrent duplicates
    exactly one is stored. A backend whose ``add`` is not atomic across processes is
    refused with ``ImproperlyConfigured`` saying why: local memory, dummy, file-based,
    database, and ``PyMemcacheCache`` (which reads an outage as "already there"). A
    third-party backend (django-redis) is taken at its word.

    The cache is checked when the store is made, or, if Django's settings are not
    configured yet (the store is built inside ``settings.py``), when the middleware
    or decorator is built. Each thread uses its own cache connection, as Django hands
    them out (``caches[alias]``).

    Keys are the prefix and a SHA-256 (never the signature), under the cache's own
    ``KEY_PREFIX`` and ``VERSION``, and expire after ``ttl`` seconds, rounded up to
    whole seconds (Django's cache timeouts are whole seconds on Redis).

    **Outages, timeouts.** As :class:`~twiliosig.replay.RedisReplayStore`: a command
    that fails on a broken connection or a timeout is sent once more, then
    ``StoreUnavailable`` (and ``on_store_error`` decides); a lost answer is recognised,
    whoever retried. The cache's timeouts are Django's ``OPTIONS`` (docs/replay.md shows
    the ones to set). ASGI apps and async views run each claim on a worker thread,
    with Django's sync cache client: no connection belongs to an event loop, so any
    loop may claim (a new one per request, as async views get under WSGI, too).

    Args:
        alias: The cache's name in ``settings.CACHES``.
        ttl: Seconds a request is remembered (whole seconds, rounded up).
        prefix: Prepended to every key (inside the cache's own ``KEY_PREFIX``).

    Raises:
        ImproperlyConfigured: no such cache, or a backend that cannot hold a claim.
        ValueError: A ttl that is not a positive number of seconds.
    """

    def __init__(self, alias: str = "default", *, ttl: float = 300.0, prefix: str = "twiliosig:replay:") -> None:
        super().__init__(ttl=ttl, prefix=prefix)
        if not isinstance(alias, str):
            raise TypeError(f"alias must be the name of a cache in settings.CACHES, not {alias!r}")
        self.alias = alias
        self._timeout = math.ceil(self.ttl)
        self._checked = False
        if settings.configured:
            self._check()

    def _check(self) -> None:
        """Refuse a missing cache or one whose add() is not atomic across processes."""
        try:
            backend = caches[self.alias]
        except InvalidCacheBackendError as error:
            raise ImproperlyConfigured(
                f"twiliosig: DjangoCacheReplayStore({self.alias!r}): settings.CACHES has no cache named {self.alias!r}"
            ) from error
        why = _refusal(backend)
        if why is not None:
            raise ImproperlyConfigured(
                f"twiliosig: DjangoCacheReplayStore cannot keep replay claims in CACHES[{self.alias!r}]: {why}. "
                "Point it at a cache on Redis (django.core.cache.backends.redis.RedisCache)."
            )
        self._checked = True

    def _cache(self) -> Any:
        if not self._checked:
            self._check()
        return caches[self.alias]

    @property
    def modes(self) -> frozenset[str]:
        """Both: WSGI apps call the cache directly, ASGI apps on a worker thread. Checks the cache first."""
        if not self._checked:
            self._check()
        return BOTH_MODES

    def _add(self, name: str, token: str) -> bool:
        return bool(self._cache().add(name, token, timeout=self._timeout))

    def _get(self, name: str) -> object:
        return self._cache().get(name)

    def _new_token(self) -> str:
        """A random value that also says when the claim was made (this process's monotonic clock)."""
        return f"{time.monotonic():.6f}:{secrets.token_hex(12)}"

    def _delete(self, name: str, token: str) -> None:
        """Delete the key only while it is surely this claim's: Django's cache API has no compare-and-delete.

        A ``get`` then a ``delete`` are two steps: the key could expire between them
        and a copy claim it afresh, and the ``delete`` would free that copy's claim. So
        the claim is released only in the first half of its ``ttl`` and only if the
        key still holds its token: the ``delete`` would have to be held up for half
        the ``ttl`` to reach a later claim. Later than that it is kept, which is the
        safe side (docs/replay.md, "Releasing only your own claim"): it expires by
        itself within the other half.
        """
        made = float(token.partition(":")[0])
        if time.monotonic() - made >= self._timeout / 2:
            return
        cache = self._cache()
        if holds(cache.get(name), token):
            cache.delete(name)

    async def aclaim(self, key: str) -> str | None:
        """:meth:`claim` on a worker thread (Django's cache backends are sync), in parallel with others."""
        running_asyncio_loop()  # asgiref's worker threads need asyncio: under trio, StoreUnavailable
        return await sync_to_async(self.claim, thread_sensitive=False)(key)

    async def arelease(self, key: str, token: str) -> None:
        """:meth:`release` on a worker thread."""
        running_asyncio_loop()
        await sync_to_async(self.release, thread_sensitive=False)(key, token)
