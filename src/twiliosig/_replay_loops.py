"""Asyncio store clients and event loops: a client serves the one loop its connections were opened on.

An asyncio connection (its stream, its transport) belongs to the event loop that opened
it; used from another loop it fails ("Event loop is closed", "attached to a different
loop"), and a pooled client hands a request whichever connection is idle. One process
may run many loops: Django runs each async view on a new loop under WSGI (asgiref's
``async_to_sync`` runs it with ``asyncio.run`` on a new thread), Flask does the same for
async views, an app may run a loop per thread. So:

- :class:`PerLoop`, for the clients a store makes itself (from a URL, or by calling a
  function the user gave): one client per event loop, made on that loop when it first
  claims, never shared with another, and closed on that loop as it shuts down.
  ``asyncio.run`` (and so asgiref, and uvicorn) cancels every task of a loop before
  closing it: a watcher task per loop, idle until then, closes the loop's client at that
  moment, so a loop per request leaves no socket behind. A loop closed without that (its
  owner called ``loop.close()`` with tasks pending) is forgotten the next time a new loop
  asks, and its client's sockets are closed when the client is collected.
  The mapping holds neither a loop nor its client: each loop holds its own entry (a
  timer far in the future, which ``close()`` drops), and the mapping only finds it, by
  the loop's ``id``. So a loop its owner dropped without closing it (a new loop run per
  request and never closed) is collected with its client and that client's sockets, as
  it would be without a store; held here, every such loop pinned an open connection for
  the life of the process, one more for each request a client sent. (A
  ``WeakKeyDictionary`` would not do: a client holds its loop, every stream does, and
  not every loop, uvloop's, takes a weakref.)
- :class:`OneLoop`, for a client the user made: it is used on the first loop that claims
  with it; a claim from any other loop is an outage (``StoreUnavailable``: 503, or through
  under ``on_store_error="allow"``), its cause logged once, instead of a store that fails
  every other request with a borrowed connection.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ._replay_net import StoreUnavailable, running_asyncio_loop

__all__ = ["LoopClient", "OneLoop", "PerLoop"]

logger = logging.getLogger("twiliosig")

#: Seconds a closing loop waits for its client to close its connections.
CLOSE_TIMEOUT = 2.0
#: The name of each loop's task that closes the loop's client (seen in asyncio's task lists and warnings).
WATCHER = "twiliosig: closes the replay store's client as its event loop shuts down"
#: Seconds until the timer by which a loop holds its client fires (never, in practice: it only holds it).
HOLD = 10 * 365 * 86400.0


class LoopClient:
    """A client for one event loop, with what its first use on that loop sets up (a cluster's map)."""

    __slots__ = ("__weakref__", "client", "lock", "loop", "ready", "watcher")

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.client = client
        self.loop = loop
        self.ready = False
        self.lock: asyncio.Lock | None = None  # made on the loop, when first needed
        self.watcher: asyncio.Task[None] | None = None


async def close_client(client: Any) -> None:
    """Close an asyncio client and its connections (redis-py and valkey-py: ``aclose``; older: ``close``).

    A Sentinel's ``master_for()`` client asks its Sentinel's own clients where the master
    is; those hold connections to the sentinels, which closing the master client leaves
    open: they are closed too (the function that made the client made that Sentinel).
    """
    for name in ("aclose", "close"):
        method = getattr(client, name, None)
        if inspect.iscoroutinefunction(method):
            await method()
            break
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    for watcher in getattr(manager, "sentinels", None) or ():
        await close_client(watcher)


class PerLoop:
    """One client per event loop, made by ``make`` on that loop and closed on it when the loop shuts down.

    ``first`` is a client already made (the store checks what ``make`` returns when it is
    built): the first loop to ask is given it, so nothing made is thrown away.
    """

    def __init__(self, make: Callable[[], Any], first: Any) -> None:
        self._make = make
        self._first: Any = first
        # id(loop) -> its entry, held weakly: the loop holds it (see get).
        self._clients: weakref.WeakValueDictionary[int, LoopClient] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def get(self) -> LoopClient:
        """The running loop's client, made now if this loop has none. StoreUnavailable off asyncio (trio)."""
        loop = running_asyncio_loop()
        found = self._clients.get(id(loop))
        if found is not None and found.loop is loop:
            return found
        with self._lock:
            found = self._clients.get(id(loop))
            if found is not None and found.loop is loop:
                return found
            for key, old in list(self._clients.items()):
                if old.loop is None or old.loop.is_closed():
                    del self._clients[key]
            client, self._first = (self._first, None) if self._first is not None else (self._make(), None)
            found = self._clients[id(loop)] = LoopClient(client, loop)
            loop.call_later(HOLD, _held, found)  # the loop holds its entry until it is closed or dropped
        found.watcher = loop.create_task(self._close_at_shutdown(loop, found), name=WATCHER)
        return found

    async def _close_at_shutdown(self, loop: asyncio.AbstractEventLoop, entry: LoopClient) -> None:
        """Wait until the loop cancels every task as it shuts down; then close its client and forget it.

        Closed only when cancelled, on its still running loop. A task collected unfinished (its
        loop was closed with it pending) can await nothing more: its client is only forgotten.
        """
        try:
            await loop.create_future()  # never set: only the loop's shutdown ends this wait
        except asyncio.CancelledError:
            self._forget(loop, entry)
            try:
                await asyncio.wait_for(close_client(entry.client), CLOSE_TIMEOUT)
            except Exception as error:  # a server already gone: its sockets are closed either way
                logger.debug("twiliosig: closing a replay store client as its loop ended: %r", error)
            raise
        finally:
            self._forget(loop, entry)

    def _forget(self, loop: asyncio.AbstractEventLoop, entry: LoopClient) -> None:
        with self._lock:
            if self._clients.get(id(loop)) is entry:
                del self._clients[id(loop)]

    def loops(self) -> int:
        """How many loops hold a client now (for tests)."""
        return len(self._clients)


def _held(entry: LoopClient) -> None:
    """The timer by which a loop holds its entry: it does nothing, and fires only after :data:`HOLD`."""


class OneLoop:
    """A client the user made: served on the first loop that claims with it, refused on any other."""

    def __init__(self, client: Any, store: str) -> None:
        self._entry = LoopClient(client)
        self._store = store
        # Held strongly: the client's connections hold it anyway, and not every loop (uvloop's) takes a weakref.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._told = False

    def get(self) -> LoopClient:
        """The client, if the running loop is the one it serves; else StoreUnavailable, its cause logged once."""
        loop = running_asyncio_loop()
        bound = self._loop
        if bound is None:
            with self._lock:
                if self._loop is None:
                    self._loop = loop
                bound = self._loop
        if bound is loop:
            return self._entry
        message = (
            f"{self._store}'s asyncio client was first used on another event loop: its connections belong to that "
            "loop, and this request runs on a new one (Django and Flask run each async view on its own loop under "
            "WSGI; so does asyncio.run). Pass a redis:// URL, or a function that makes the client (the store then "
            "makes one per event loop), instead of a client"
        )
        with self._lock:
            told, self._told = self._told, True
        if not told:
            logger.error("twiliosig: %s", message)
        raise StoreUnavailable(
            f"{self._store}'s asyncio client belongs to another event loop (logged once, with the fix)"
        )
