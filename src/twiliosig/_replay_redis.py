"""The Redis replay store: a URL, or any client with ``SET NX PX`` (cluster, Sentinel, Valkey), sync or asyncio.

Public as :class:`twiliosig.replay.RedisReplayStore`. Only a URL needs redis-py: a
client is used through its ``set``/``get``/``eval`` methods alone, so a client of
another library with the same commands (valkey-py) works without it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from ._replay_loops import OneLoop, PerLoop
from ._replay_net import (
    ASYNC,
    SOCKET_CONNECT_TIMEOUT,
    SOCKET_TIMEOUT,
    SYNC,
    ServerStore,
    check_timeouts,
    refuse_timeouts_for_a_client,
    sync_answer,
)

__all__ = ["RedisReplayStore"]

_CLIENTS = (
    "redis.Redis, redis.RedisCluster, a Sentinel's master_for() client, valkey.Valkey, valkey.ValkeyCluster, "
    "or the asyncio form of any of them"
)
_LIBRARIES = ("redis", "valkey")

# The release: delete the key only while it holds this claim's token, in one atomic step on the
# server. One key, so a cluster client sends it to the master that owns the key's slot.
RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _missing(client: object) -> str | None:
    """What ``client`` lacks of an atomic set-if-absent with expiry, or None if it has it all."""
    for method in ("set", "get", "eval"):
        if not callable(getattr(client, method, None)):
            return f"no {method}() method"
    if any(cls.__name__.endswith("Pipeline") for cls in type(client).__mro__):
        # A pipeline queues set() until execute() and answers it with itself, always true:
        # every copy would pass for the first, and nothing would reach Redis.
        return "a pipeline's set(), which only queues the command and answers with the pipeline: pass its client"
    try:
        parameters = inspect.signature(client.set).parameters  # type: ignore[attr-defined]
    except (TypeError, ValueError):  # a builtin without a signature: take it on trust
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    absent = [name for name in ("nx", "px") if name not in parameters]
    return f"a set() without {' or '.join(f'{name}=' for name in absent)}" if absent else None


def is_asyncio_client(client: object) -> bool:
    """Whether ``client``'s commands are awaited: ``set`` is a coroutine function, or (redis-py, valkey-py)
    the ``execute_command`` every command goes through is."""
    return inspect.iscoroutinefunction(getattr(client, "set", None)) or inspect.iscoroutinefunction(
        getattr(client, "execute_command", None)
    )


def _is_factory(redis: object) -> bool:
    """Whether ``redis`` is a function (or class) that makes a client, rather than a client itself."""
    return isinstance(redis, type) or (callable(redis) and _missing(redis) is not None)


def _made_by(make: Callable[[], Any]) -> Any:
    """What ``make`` returns, checked now (bad configuration fails here, not at the first webhook).

    The client it returns is the first event loop's; each loop after that gets its own call.
    """
    made = make()
    missing = _missing(made)
    if missing is not None:
        raise TypeError(
            f"a function given to RedisReplayStore must make a client it can use ({_CLIENTS}); "
            f"it made a {_qualified(made)}, which has {missing}"
        )
    if not is_asyncio_client(made):
        raise TypeError(
            "a function given to RedisReplayStore is called once per event loop, for asyncio clients, which "
            f"belong to one loop; it made a {_qualified(made)}, a sync client: pass that client itself"
        )
    return made


def _library_class(client: object) -> type | None:
    """The redis-py or valkey-py class ``client`` is (or derives from), for naming its twin."""
    for cls in type(client).__mro__:
        if cls.__module__.partition(".")[0] in _LIBRARIES:
            return cls
    return None


def _qualified(client: object) -> str:
    return f"{type(client).__module__}.{type(client).__qualname__}"


def _twin(client: object, *, asynchronous: bool) -> str:
    """The client of the other mode from the same library: redis.asyncio.RedisCluster for redis.RedisCluster."""
    cls = _library_class(client)
    if cls is None:
        return "an asyncio client" if asynchronous else "a sync client"
    root = cls.__module__.partition(".")[0]
    return f"a {root}.asyncio.{cls.__name__}" if asynchronous else f"a {root}.{cls.__name__}"


class RedisReplayStore(ServerStore):
    """Remembers keys in Redis (a server, a cluster, a Sentinel-managed master, Valkey), shared by every process.

    **Which client.** Give a ``redis://`` URL and the store makes both a sync and an
    asyncio redis-py client, so it serves WSGI and ASGI apps alike. Or give the client
    you already run: anything with an atomic set-if-absent with expiry, that is
    ``set(name, value, nx=True, px=milliseconds)``, ``get`` and ``eval`` (a release
    runs a short Lua script that deletes the key only while it holds that request's
    claim):
    ``redis.Redis``, ``redis.cluster.RedisCluster``, a Sentinel's ``master_for()``
    client, ``valkey.Valkey`` and ``valkey.cluster.ValkeyCluster``, each sync or
    asyncio. A sync client serves WSGI apps, an asyncio one ASGI apps (the event loop
    never waits on Redis); which one it is is read from the client, and an app it
    cannot serve is refused when its middleware is built. The client is checked when
    the store is made: one without those commands is a ``TypeError`` naming what is
    missing.

    **Event loops.** An asyncio client's connections belong to the event loop that
    opened them, and one process may run many loops (Django runs each async view on
    a new one under WSGI). So the asyncio client made from a URL is one per event
    loop, made when that loop first claims and closed on it as it shuts down. Give a
    function that makes a client (``lambda: redis.asyncio.cluster.RedisCluster(...)``)
    and it is called once per loop in the same way (once more when the store is made,
    to check what it makes). A client you pass serves the first loop that claims with
    it; a claim from any other loop is ``StoreUnavailable``, its cause logged once.

    **Broken connections.** When Redis restarts, fails over, or a firewall forgets an
    idle connection, the pooled connections are dead and the next command on each
    fails. So a command that fails with a connection error or a timeout is sent once
    more, on a fresh connection; if that fails too, ``StoreUnavailable`` is raised
    (and the middleware answers 503, or lets the request through, as
    ``on_store_error`` says). Nothing else is retried: an error Redis answered
    (``CLUSTERDOWN``, out of memory, a read-only replica), a refused password, a full
    pool. A claim whose first answer was lost may have been stored all the same, so
    each claim writes a random value and a "not stored" is checked against it (the
    command may have been sent again by our retry or by the client's own): a lost
    answer never turns a first request into a replay.

    **Timeouts.** The clients made from a URL wait at most ``socket_connect_timeout``
    (1 s) to connect and ``socket_timeout`` (0.5 s) for an answer, instead of
    redis-py's own default (5 s in redis-py 8, no limit at all in redis-py 5) and
    without redis-py's own retries, so our one retry is the only one. A healthy
    Redis answers ``SET`` in well under a millisecond on a local network and in a
    few across zones: half a second is hundreds of times that, so only a Redis that
    is stuck (or a network that is) trips it. With the one retry, a hung Redis holds
    a webhook for about a second (three at the very worst) before the 503, far
    inside the 15 s Twilio waits for an answer. Timeouts written in the URL
    (``?socket_timeout=2``) win over these arguments.

    A client you pass is used as it is: its timeouts and its own retries (which
    multiply them) are yours to set; docs/replay.md shows them for each kind.

    Args:
        redis: A ``redis://`` (or ``rediss://``, ``unix://``) URL, a client as above, or a
            function (or class) that makes an asyncio client, called once per event loop.
        ttl: Seconds a request is remembered.
        prefix: Prepended to every key, to share a database.
        socket_timeout: Seconds to wait for Redis to answer, for the clients made
            from a URL (a client you pass keeps its own).
        socket_connect_timeout: Seconds to wait for a connection, likewise.

    Raises:
        TypeError: ``redis`` is neither a URL nor a client with those commands (nor a
            function that makes an asyncio one), or timeouts were given with a client or
            a function (set them on the client).
        ValueError: A ttl or timeout that is not a positive number of seconds.
        ImportError: A URL without redis-py installed.
    """

    def __init__(
        self,
        redis: Any,
        *,
        ttl: float = 300.0,
        prefix: str = "twiliosig:replay:",
        socket_timeout: float = SOCKET_TIMEOUT,
        socket_connect_timeout: float = SOCKET_CONNECT_TIMEOUT,
    ) -> None:
        super().__init__(ttl=ttl, prefix=prefix)
        timeouts = check_timeouts(socket_timeout, socket_connect_timeout)
        self._sync: Any = None
        self._async: Any = None
        self._loops: PerLoop | OneLoop | None = None
        if isinstance(redis, str):
            self._sync, make = _clients_from_url(redis, *timeouts)
            self._async = make()
            self._loops = PerLoop(make, self._async)
        elif _is_factory(redis):
            refuse_timeouts_for_a_client("RedisReplayStore", "a URL", timeouts)
            self._async = _made_by(redis)
            self._loops = PerLoop(redis, self._async)
        else:
            missing = _missing(redis)
            if missing is not None:
                raise TypeError(
                    "redis must be a redis:// URL or a client with an atomic set-if-absent with expiry, "
                    f"set(name, value, nx=True, px=milliseconds), get(name) and eval(script, 1, name, value) "
                    f"({_CLIENTS}); "
                    f"{_qualified(redis)} has {missing}"
                )
            refuse_timeouts_for_a_client("RedisReplayStore", "a URL", timeouts)
            if is_asyncio_client(redis):
                self._async = redis
                self._loops = OneLoop(redis, "this RedisReplayStore")
            else:
                self._sync = redis
        self._px = max(1, int(self.ttl * 1000))

    @property
    def modes(self) -> frozenset[str]:
        """``"sync"``, ``"async"`` or both: which adapters this store can serve (see ``require_mode``)."""
        return frozenset(mode for mode, client in ((SYNC, self._sync), (ASYNC, self._async)) if client is not None)

    def _mode_error(self, *, asynchronous: bool) -> str:
        held = self._sync if asynchronous else self._async
        if asynchronous:
            needs = "an asyncio (ASGI) adapter calls aclaim/arelease, which need an asyncio client"
        else:
            needs = "a sync (WSGI) adapter calls claim/release, which need a sync client"
        twin = _twin(held, asynchronous=asynchronous)
        return (
            f"this RedisReplayStore holds only a {_qualified(held)} client, but {needs}: "
            f"pass {twin} client instead, or a redis:// URL (the store makes both clients)"
        )

    def _client(self, *, asynchronous: bool) -> Any:
        client = self._async if asynchronous else self._sync
        if client is None:
            raise TypeError(self._mode_error(asynchronous=asynchronous))
        return client

    def _add(self, name: str, token: str) -> bool:
        return bool(sync_answer(self._client(asynchronous=False).set(name, token, nx=True, px=self._px)))

    def _get(self, name: str) -> object:
        return sync_answer(self._client(asynchronous=False).get(name))

    def _delete(self, name: str, token: str) -> None:
        sync_answer(self._client(asynchronous=False).eval(RELEASE_SCRIPT, 1, name, token))

    async def _ready_async_client(self) -> Any:
        """The running event loop's asyncio client, its cluster map read before its first command.

        A client made from a URL or a function is one per event loop (see ``_replay_loops``);
        a client the user passed serves the first loop only. Its set-up, like the client, is per loop.

        redis-py's (and valkey-py's) asyncio cluster client sets itself up on first use;
        twenty webhooks arriving together on a fresh client each start that set-up and
        break each other's connections (seen as "Connection lost" and an AttributeError
        from inside a send). One ``initialize()`` first, behind a lock, and every claim
        after it finds the client ready. A failed set-up is an outage like any other,
        tried again on the next claim.
        """
        if self._loops is None:
            raise TypeError(self._mode_error(asynchronous=True))
        entry = self._loops.get()
        client = entry.client
        initialize = getattr(client, "initialize", None)
        if entry.ready or not inspect.iscoroutinefunction(initialize):
            return client
        if entry.lock is None:
            entry.lock = asyncio.Lock()
        async with entry.lock:
            if not entry.ready:
                await initialize()
                entry.ready = True
        return client

    async def _aadd(self, name: str, token: str) -> bool:
        client = await self._ready_async_client()
        return bool(await client.set(name, token, nx=True, px=self._px))

    async def _aget(self, name: str) -> object:
        return await (await self._ready_async_client()).get(name)

    async def _adelete(self, name: str, token: str) -> None:
        await (await self._ready_async_client()).eval(RELEASE_SCRIPT, 1, name, token)


def _clients_from_url(url: str, socket_timeout: float, socket_connect_timeout: float) -> tuple[Any, Callable[[], Any]]:
    """A sync redis-py client for ``url``, and a function that makes an asyncio one (one per event loop).

    Both with our timeouts and no retries of their own.
    """
    try:
        import redis as redis_module  # noqa: PLC0415 - the optional 'redis' extra
        import redis.asyncio as redis_asyncio  # noqa: PLC0415
        from redis.asyncio.retry import Retry as AsyncRetry  # noqa: PLC0415
        from redis.backoff import NoBackoff  # noqa: PLC0415
        from redis.retry import Retry  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the extra is missing
        raise ImportError(
            "RedisReplayStore needs the redis package for a URL: pip install 'twiliosig[redis]' "
            "(or pass a client you made, such as valkey.Valkey)"
        ) from None
    # redis-py lets the URL's own query parameters win over these keyword arguments.
    sync = redis_module.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
        retry=Retry(NoBackoff(), 0),
    )

    def asynchronous() -> Any:
        return redis_asyncio.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            retry=AsyncRetry(NoBackoff(), 0),
        )

    return sync, asynchronous
