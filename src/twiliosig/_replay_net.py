"""What every replay store that lives on a server shares: one claim protocol, one retry, one idea of an outage.

Redis (and its cluster, Sentinel and Valkey clients), Memcached and a Django cache all
offer the same primitive, an atomic "add this key if it is absent, expiring after so
long". :class:`ServerStore` builds the claim on it once:

- a claim writes a random value, and a "not stored" is checked against it: after a lost
  answer, the command sent again (by our retry, or by the client's own retries) finds
  its own write, and a lost answer never turns a first delivery into a replay;
- that value is the claim's token, and a release deletes the key only while it holds
  it (a compare-and-delete, atomic on the server): a request that outlived its ``ttl``
  never frees the claim a later copy made;
- a command that fails on a broken connection or a timeout is sent once more, on a
  fresh connection; anything else, and a second failure, is :class:`StoreUnavailable`
  (the adapters answer as ``on_store_error`` says, never 500);
- a programming error (a ``TypeError``, say) is not an outage and is not hidden.

Each store supplies the primitives (``_add``, ``_get``, ``_delete`` (the compare-and-delete)
and their asyncio forms) and says which adapters it serves (``modes``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = [
    "ASYNC",
    "BOTH_MODES",
    "SOCKET_CONNECT_TIMEOUT",
    "SOCKET_TIMEOUT",
    "SYNC",
    "ServerStore",
    "StoreFull",
    "StoreUnavailable",
    "check_timeout",
    "check_timeouts",
    "check_ttl",
    "holds",
    "is_retried",
    "refuse_timeouts_for_a_client",
    "sync_answer",
]

_T = TypeVar("_T")

# Seconds, for the clients a store makes itself: a webhook must not wait on a silent store
# (see RedisReplayStore); a client the user passes keeps its own.
SOCKET_TIMEOUT = 0.5
SOCKET_CONNECT_TIMEOUT = 1.0

logger = logging.getLogger("twiliosig")

SYNC = "sync"
ASYNC = "async"
BOTH_MODES = frozenset({SYNC, ASYNC})

# Failures that are a configuration or capacity problem, not a broken connection: trying
# again at once cannot help. Matched by class name anywhere in the exception's ancestry,
# so that redis-py, its fork valkey-py and their versions need no import here.
_NEVER_RETRIED = frozenset(
    {
        "AuthenticationError",
        "AuthorizationError",
        "BusyLoadingError",
        "ExternalAuthProviderError",
        "MaxConnectionsError",
    }
)

# A broken connection or a timeout, as the client libraries name it: redis-py's and
# valkey-py's ConnectionError and TimeoutError, pymemcache's "the server closed the
# connection", django-redis's ConnectionInterrupted. Every OSError counts too (refused,
# reset, socket timeout).
_RETRIED = frozenset({"ConnectionError", "TimeoutError", "MemcacheUnexpectedCloseError", "ConnectionInterrupted"})

# Errors of code, ours or the client library's, not of the store's network: never retried, and
# logged with their traceback so they are seen; the request is still answered as an outage
# (``on_store_error``), never with a 500. (redis-py's asyncio cluster client, used by many
# coroutines at once, has been seen to raise AttributeError from inside a send.)
_BUGS = (TypeError, AttributeError, NameError, ImportError, AssertionError, NotImplementedError)


class StoreUnavailable(Exception):
    """The replay store could not be reached; the middleware applies ``on_store_error``."""


class StoreFull(StoreUnavailable):
    """The store holds as many live claims as it may: refused (503) even under ``on_store_error="allow"``.

    Unlike a store that cannot be reached, a full one is a state any sender of
    signed requests can bring about (a tenant signs as many webhooks as it likes
    with its own token): were it let through, one tenant could fill the store and
    then replay another's captured requests for as long as it stays full.
    """


def check_ttl(ttl: float) -> float:
    """``ttl`` as a float, or ValueError if it is not a positive number of seconds."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < float("inf"):
        raise ValueError("ttl must be a positive number of seconds")
    return float(ttl)


def check_timeout(name: str, seconds: float) -> float:
    """``seconds`` as a float, or ValueError naming the option if it is not a finite positive number."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds")
    return float(seconds)


def check_timeouts(socket_timeout: float, socket_connect_timeout: float) -> tuple[float, float]:
    """Both timeouts of a store that makes its own clients, checked (ValueError naming the bad one)."""
    return check_timeout("socket_timeout", socket_timeout), check_timeout(
        "socket_connect_timeout", socket_connect_timeout
    )


def refuse_timeouts_for_a_client(store: str, source: str, timeouts: tuple[float, float]) -> None:
    """TypeError when timeouts were set but a ready client was given: they would silently do nothing."""
    if timeouts != (SOCKET_TIMEOUT, SOCKET_CONNECT_TIMEOUT):
        raise TypeError(
            f"socket_timeout and socket_connect_timeout apply to the clients {store} makes from {source}; "
            "a client you pass keeps its own: set them on that client"
        )


def is_retried(error: BaseException) -> bool:
    """True for a broken connection or a timeout, which a second try on a fresh connection may get past."""
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & _NEVER_RETRIED:
        return False
    return isinstance(error, OSError) or bool(names & _RETRIED)


def running_asyncio_loop() -> asyncio.AbstractEventLoop:
    """The running asyncio loop, for a store that hands its sync client to a worker thread.

    Raises:
        StoreUnavailable: the app runs on another event loop (trio): the request is answered as
            ``on_store_error`` says, never with a 500.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise StoreUnavailable("this store serves ASGI apps on asyncio only (the app runs another loop)") from None


def _bug(error: Exception) -> StoreUnavailable:
    """A programming error in the store's client or its configuration: logged with its traceback, then an outage."""
    logger.error(
        "twiliosig: the replay store's client raised %s (a bug in it, or in how it is configured)",
        type(error).__name__,
        exc_info=error,
    )
    return _unavailable(error)


def sync_answer(answer: _T) -> _T:
    """A sync client's answer, checked: an awaitable means an asyncio client was taken for a sync one.

    Its coroutine is truthy, so a claim would read it as "stored" and let every copy
    through; it is closed unawaited instead, and the TypeError is answered as an outage.
    """
    if inspect.isawaitable(answer):
        close = getattr(answer, "close", None)
        if callable(close):
            close()
        raise TypeError(
            "the replay store's client answered with an awaitable where a sync client answers: it is an "
            "asyncio client, which a sync (WSGI) adapter cannot use; pass a sync client"
        )
    return answer


def _unavailable(error: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


def holds(stored: object, token: str) -> bool:
    """Whether a value read back is the token this claim wrote (clients return str or bytes)."""
    return stored in (token, token.encode())


class ServerStore:
    """A replay store on a server: the claim, its one retry and the outage rule, over a store's primitives.

    Subclasses set ``ttl`` and ``prefix`` (through ``__init__``), implement the six
    primitives and ``modes``, and may override :meth:`_mode_error` to say what a
    store that cannot serve an adapter holds and how to fix it.
    """

    ttl: float
    prefix: str

    def __init__(self, *, ttl: float, prefix: str) -> None:
        self.ttl = check_ttl(ttl)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        self.prefix = prefix

    @property
    def modes(self) -> frozenset[str]:
        """``"sync"``, ``"async"`` or both: which adapters this store can serve (see ``require_mode``)."""
        return BOTH_MODES

    def _mode_error(self, *, asynchronous: bool) -> str | None:
        """The message for an adapter this store cannot serve, or None for the generic one."""
        return None

    # --- the primitives each store provides ---------------------------------------------------

    def _add(self, name: str, token: str) -> bool:
        """Store ``token`` under ``name`` for ``ttl`` seconds unless ``name`` exists, atomically; True if stored."""
        raise NotImplementedError

    def _get(self, name: str) -> object:
        raise NotImplementedError

    def _delete(self, name: str, token: str) -> None:
        """Delete ``name`` if it still holds ``token``, atomically: never another claim's key."""
        raise NotImplementedError

    async def _aadd(self, name: str, token: str) -> bool:
        raise NotImplementedError

    async def _aget(self, name: str) -> object:
        raise NotImplementedError

    async def _adelete(self, name: str, token: str) -> None:
        raise NotImplementedError

    def _new_token(self) -> str:
        """The value a claim writes: random, so that no other claim of the key holds it."""
        return secrets.token_hex(16)

    # --- the claim ----------------------------------------------------------------------------

    def claim(self, key: str) -> str | None:
        """Remember ``key`` for ``ttl`` seconds: the claim's token, or None if it was claimed; StoreUnavailable."""
        name, token = self.prefix + key, self._new_token()

        def attempt() -> bool:
            if self._add(name, token):
                return True
            # "Not stored" may answer our own write: its first answer was lost and the command
            # sent again, by our retry or by the client's own (redis-py retries by default).
            return holds(self._get(name), token)

        return token if self._call(attempt) else None

    def release(self, key: str, token: str) -> None:
        """Forget ``key`` if it still holds this claim's ``token`` (the app failed: Twilio's retry must pass)."""
        name = self.prefix + key
        self._call(lambda: self._delete(name, token))

    async def aclaim(self, key: str) -> str | None:
        """:meth:`claim` for ASGI apps."""
        name, token = self.prefix + key, self._new_token()

        async def attempt() -> bool:
            if await self._aadd(name, token):
                return True
            return holds(await self._aget(name), token)

        return token if await self._acall(attempt) else None

    async def arelease(self, key: str, token: str) -> None:
        """:meth:`release` for ASGI apps."""
        name = self.prefix + key

        async def attempt() -> None:
            await self._adelete(name, token)

        await self._acall(attempt)

    @staticmethod
    def _call(command: Callable[[], _T]) -> _T:
        """``command()``; after a broken connection, once more; StoreUnavailable if that fails too.

        The command is the same both times: a claim recognises its own earlier
        write by the value it stored, whoever sent the command again.
        """
        try:
            try:
                return command()
            except _BUGS:
                raise
            except Exception as error:
                if not is_retried(error):
                    raise _unavailable(error) from error
            # The client dropped the broken connection; the retry takes a fresh one.
            return command()
        except StoreUnavailable:
            raise
        except _BUGS as error:
            raise _bug(error) from error
        except Exception as error:
            raise _unavailable(error) from error

    @staticmethod
    async def _acall(command: Callable[[], Awaitable[_T]]) -> _T:
        """:meth:`_call` for asyncio clients."""
        try:
            try:
                return await command()
            except _BUGS:
                raise
            except Exception as error:
                if not is_retried(error):
                    raise _unavailable(error) from error
            return await command()
        except StoreUnavailable:
            raise
        except _BUGS as error:
            raise _bug(error) from error
        except Exception as error:
            raise _unavailable(error) from error
