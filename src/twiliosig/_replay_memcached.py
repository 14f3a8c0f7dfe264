"""The Memcached replay store: memcached's ``add`` is the atomic set-if-absent with expiry.

Public as :class:`twiliosig.replay.MemcachedReplayStore`. An address needs pymemcache
(the ``memcached`` extra); a client you pass is used through ``add``, ``get``, ``gets``
and ``cas`` alone.
"""

from __future__ import annotations

import inspect
import math
import threading
import zlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._replay_net import (
    SOCKET_CONNECT_TIMEOUT,
    SOCKET_TIMEOUT,
    ServerStore,
    check_timeouts,
    holds,
    is_retried,
    refuse_timeouts_for_a_client,
    running_asyncio_loop,
    sync_answer,
)

_T = TypeVar("_T")

__all__ = ["MemcachedReplayStore"]

#: The longest ttl: memcached reads an expiry above 30 days as a Unix time, not a number of
#: seconds, and the store asks for one second more than the ttl.
MAX_TTL = 30 * 24 * 3600 - 1
#: memcached's limit on a key's length, in bytes; our keys are the prefix and 64 hex digits.
MAX_KEY = 250


def _check_prefix(prefix: str) -> None:
    if not (prefix.isascii() and prefix.isprintable()) or " " in prefix or len(prefix) + 64 > MAX_KEY:
        raise ValueError(
            "prefix must be printable ASCII without spaces and at most "
            f"{MAX_KEY - 64} characters: memcached keys allow no more (got {prefix!r})"
        )


def _unwrapped(client: object) -> object:
    """The client inside pymemcache's ``RetryingClient`` (which forwards every call), however deep."""
    seen = 0
    while any(cls.__name__ == "RetryingClient" for cls in type(client).__mro__) and seen < 10:
        client, seen = getattr(client, "_client", None), seen + 1
    return client


def _missing(client: object) -> str | None:
    """What ``client`` lacks of a memcached client this store can use, or None."""
    for method in ("add", "get", "gets", "cas"):
        if not callable(getattr(client, method, None)):
            return f"has no {method}() method"
    if inspect.iscoroutinefunction(client.add):  # type: ignore[attr-defined]
        return "is an asyncio client; pass a pymemcache client (the store serves ASGI apps from a worker thread)"
    if any(cls.__name__ == "HashClient" for cls in type(_unwrapped(client)).__mro__):
        return (
            "is a HashClient, which answers add() with False, as if the key were already there, for a server "
            "that failed in the last few seconds, and moves a dead server's keys to another: an outage would "
            "refuse genuine webhooks with 409 and forget claims; pass the servers' addresses as a list instead"
        )
    return None


class _Connections:
    """Connections to one memcached server, one per concurrent caller, replaced after a broken one.

    pymemcache's own pool hands out idle connections as they are: after memcached
    restarts, every one of them is dead, and a retry would only find the next dead one.
    Here a broken connection marks every connection opened before it as stale, and a
    stale one is closed instead of used (an in-use one only once it is back).
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._idle: list[tuple[Any, int]] = []
        self._lock = threading.Lock()
        self._generation = 0

    def run(self, command: Callable[[Any], _T]) -> _T:
        with self._lock:
            current = self._generation
            client, generation = self._idle.pop() if self._idle else (None, current)
        if client is not None and generation != current:
            client.close()
            client = None
        if client is None:
            client, generation = self._make(), current
        try:
            result = command(client)
        except Exception as error:
            client.close()
            if is_retried(error):
                with self._lock:
                    if generation == self._generation:
                        self._generation += 1
            raise
        with self._lock:
            self._idle.append((client, generation))
        return result


class _Given:
    """A client the user passed, used as it is."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, command: Callable[[Any], _T]) -> _T:
        return command(self.client)


class MemcachedReplayStore(ServerStore):
    """Remembers keys in Memcached, shared by every process that points at it.

    A claim is memcached's ``add``, which stores a key only if it is absent, in one
    atomic step on the server: of concurrent duplicates exactly one is stored. Keys
    are ours (the prefix and a SHA-256, never the signature) and expire after ``ttl``
    seconds, rounded up to whole seconds (memcached's unit), plus one: memcached's
    clock ticks once a second, so an expiry of ``n`` seconds lasts between ``n - 1``
    and ``n``, and a claim must never be forgotten before ``ttl``. A ttl above 30
    days is refused, as memcached would read it as a date.

    **Servers.** Give an address (``"cache:11211"``, ``"[::1]:11211"``,
    ``"/run/memcached.sock"``) and the store keeps its own pymemcache connections to
    it, one per concurrent caller, safe across threads; after a broken connection it
    replaces every connection opened before it, so a restarted memcached costs no
    request anything. Give a list of addresses and each key lives on one of them,
    chosen by its hash; when a server is down, the claims that belong to it fail
    (``on_store_error`` decides) instead of moving to another server, where they
    would be forgotten. Or give a pymemcache ``Client`` or ``PooledClient`` you made,
    used as it is (pymemcache's pool keeps its idle connections after a restart, so
    each may fail one request: prefer an address). pymemcache's ``HashClient`` is
    refused: while a server fails it answers ``add`` with False, which would read as
    a replay.

    **Outages, timeouts.** As :class:`~twiliosig.replay.RedisReplayStore`: a command
    that fails on a broken connection or a timeout is sent once more on a fresh
    connection, then ``StoreUnavailable``; a lost answer is recognised, whoever retried;
    the clients made from addresses wait at most ``socket_connect_timeout`` (1 s) to
    connect and ``socket_timeout`` (0.5 s) for an answer.

    **ASGI.** pymemcache has no asyncio client, so ``aclaim``/``arelease`` run the
    same calls on a worker thread of the running asyncio loop: the event loop never
    waits on Memcached, and no connection belongs to a loop, so any loop may claim
    (a new one per request, as Django's async views get under WSGI, too).

    Args:
        memcached: An address, a list of addresses, or a pymemcache client.
        ttl: Seconds a request is remembered (whole seconds, rounded up; at most 30 days).
        prefix: Prepended to every key: printable ASCII, no spaces, at most 186 characters.
        socket_timeout: Seconds to wait for an answer, for the clients made from addresses.
        socket_connect_timeout: Seconds to wait for a connection, likewise.

    Raises:
        TypeError: ``memcached`` is not an address or a usable client (the message
            says what it lacks), or timeouts were given with a client.
        ValueError: A ttl, timeout or prefix memcached cannot take.
        ImportError: An address without pymemcache installed.
    """

    def __init__(
        self,
        memcached: Any,
        *,
        ttl: float = 300.0,
        prefix: str = "twiliosig:replay:",
        socket_timeout: float = SOCKET_TIMEOUT,
        socket_connect_timeout: float = SOCKET_CONNECT_TIMEOUT,
    ) -> None:
        super().__init__(ttl=ttl, prefix=prefix)
        if math.ceil(self.ttl) > MAX_TTL:
            raise ValueError("ttl must be at most 30 days for Memcached, which reads a longer expiry as a date")
        _check_prefix(prefix)
        timeouts = check_timeouts(socket_timeout, socket_connect_timeout)
        # memcached's clock ticks once a second, and an item expires at a tick: "2 seconds" lasts
        # between 1 and 2. One second more, so that a claim is never forgotten before ttl.
        self._expire = math.ceil(self.ttl) + 1
        if isinstance(memcached, (str, tuple)):
            addresses: Sequence[Any] = [memcached]
        elif isinstance(memcached, list) and memcached:
            addresses = memcached
        else:
            addresses = []
        if addresses:
            self._servers: list[_Connections | _Given] = [_connections(address, *timeouts) for address in addresses]
            return
        missing = _missing(memcached)
        if missing is not None:
            raise TypeError(
                "memcached must be an address ('host:port'), a list of addresses, or a pymemcache client "
                f"with add(key, value, expire=, noreply=False), get, gets and cas; {type(memcached).__module__}."
                f"{type(memcached).__qualname__} {missing}"
            )
        refuse_timeouts_for_a_client("MemcachedReplayStore", "addresses", timeouts)
        self._servers = [_Given(memcached)]

    def _server(self, name: str) -> _Connections | _Given:
        """The one server a key lives on: fixed by its hash, so an outage never moves it elsewhere."""
        found = self._servers
        return found[zlib.crc32(name.encode()) % len(found)] if len(found) > 1 else found[0]

    def _add(self, name: str, token: str) -> bool:
        # noreply=False: pymemcache's default is not to wait for the answer, and then add() is always True.
        return bool(
            self._server(name).run(lambda c: sync_answer(c.add(name, token, expire=self._expire, noreply=False)))
        )

    def _get(self, name: str) -> object:
        return self._server(name).run(lambda c: c.get(name))

    def _delete(self, name: str, token: str) -> None:
        self._server(name).run(lambda c: _delete_if_holds(c, name, token))

    async def aclaim(self, key: str) -> str | None:
        """:meth:`claim` on a worker thread, so the event loop never waits on Memcached."""
        return await running_asyncio_loop().run_in_executor(None, self.claim, key)

    async def arelease(self, key: str, token: str) -> None:
        """:meth:`release` on a worker thread."""
        await running_asyncio_loop().run_in_executor(None, self.release, key, token)


def _delete_if_holds(client: Any, name: str, token: str) -> None:
    """Delete ``name`` only while it holds ``token``: memcached's compare-and-set, with an expiry in the past.

    ``gets`` reads the value and its CAS number; ``cas`` then writes only if nothing
    wrote the key since, and an expiry of -1 makes memcached drop what it wrote at
    once. A key that expired and was claimed again by a copy holds another value (or
    another CAS number), and is left alone.
    """
    value, cas = client.gets(name)
    if value is not None and holds(value, token):
        client.cas(name, b"", cas, expire=-1, noreply=False)


def _connections(address: Any, socket_timeout: float, socket_connect_timeout: float) -> _Connections:
    try:
        from pymemcache.client.base import Client, normalize_server_spec  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the extra is missing
        raise ImportError(
            "MemcachedReplayStore needs the pymemcache package for an address: pip install 'twiliosig[memcached]'"
        ) from None
    try:
        server = normalize_server_spec(address)
    except ValueError as error:  # pymemcache's own words for an address it cannot read
        raise ValueError(f"memcached address {address!r}: {error}") from None
    return _Connections(
        lambda: Client(
            server,
            connect_timeout=socket_connect_timeout,
            timeout=socket_timeout,
            no_delay=True,
            default_noreply=False,
        )
    )
