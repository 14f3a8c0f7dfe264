"""ASGI middleware that refuses unsigned or forged Twilio webhooks before the app runs.

A pure ASGI middleware (never ``BaseHTTPMiddleware``, which cannot read a body
and hand it on intact)::

    # FastAPI
    app.add_middleware(TwilioSignatureMiddleware, paths=["/twilio/"])

    # Starlette
    app = Starlette(routes=..., middleware=[Middleware(TwilioSignatureMiddleware, paths=["/twilio/"])])

**HTTP.** For a protected path the middleware reads the ``http.request``
messages (refusing with 413 once they pass ``max_body_size``, and before
reading when ``Content-Length`` already says so), rebuilds the URL Twilio called
from ``raw_path`` and ``query_string``, and checks the signature. A genuine
request reaches the app with a ``receive`` that yields the buffered body once
and then the server's own ``receive``, so ``http.disconnect`` and streaming
responses behave as before. If the client disconnects mid-body the app is not
called at all.

**WebSocket** (Media Streams, ConversationRelay). The handshake is checked over
the ``wss://`` URL with no parameters: Twilio connects only over ``wss``, so a
TLS proxy that hands the app ``ws`` changes nothing. A refused handshake is
closed (1008) before accept, which every ASGI server answers with an HTTP 403
and none logs as an error. Only a refusal with another status (401 with its
Basic challenge, 400) goes through the ``websocket.http.response`` extension,
where the server offers it, so the client sees that status. Either way the app
never sees the handshake.

The verdict of an accepted request is at ``scope["twiliosig.verdict"]`` and, for
Starlette and FastAPI, ``request.state.twiliosig_verdict``. Options, proxies and
logging are as for :class:`twiliosig.wsgi.TwilioSignatureMiddleware`. The replay
guard never applies to WebSocket handshakes: every stream to one URL carries the
same signature. The
middleware imports nothing beyond the standard library.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from ._guard import CLAIMED_KEY, NO_ANSWER, VERDICT_KEY, Check, Guard
from ._logtext import loggable
from ._paths import path_matcher
from ._scope import route_path, scope_head
from .verdict import Verdict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._guard import GuardOptions

__all__ = ["STATE_KEY", "TwilioSignatureMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("twiliosig")

#: The verdict's name in ``scope["state"]``: ``request.state.twiliosig_verdict``.
STATE_KEY = "twiliosig_verdict"
_WEBSOCKET_RESPONSE = "websocket.http.response"
#: What every ASGI server answers to a ``websocket.close`` sent before ``websocket.accept``.
_CLOSE_STATUS = 403


class TwilioSignatureMiddleware:
    """Answer 403 before an unsigned or forged Twilio webhook reaches an ASGI app.

    Args:
        app: The ASGI application to protect.
        **options: The options every adapter takes, by name: listed with their
            meanings and defaults in docs/options.md (from
            :class:`~twiliosig._options.GuardOptions`). Bad ones raise here.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[GuardOptions]) -> None:
        self.app = app
        self._misconfigured: _Misconfigured | None = None
        try:
            self._guard: Guard = Guard.from_options(options)  # private: a public attribute would name a private type
            self._guard.require_mode(asynchronous=True)
        except (TypeError, ValueError) as error:
            if not _built_by_a_running_app():
                raise
            # Starlette and FastAPI build their middleware on the app's first call (the
            # lifespan startup), where an exception only makes uvicorn decide "lifespan
            # unsupported" and then fail every request. Fail the startup instead.
            self._misconfigured = _Misconfigured(error, options.get("paths"))

    @classmethod
    def _around(cls, app: ASGIApp, guard: Guard) -> TwilioSignatureMiddleware:
        """The middleware over ``app`` with a guard already built and checked.

        For an adapter that wraps a part of an app in this middleware (the
        FastAPI route class wraps one route) with the guard its other pieces share.
        """
        middleware = cls.__new__(cls)
        middleware.app = app
        middleware._guard = guard
        middleware._misconfigured = None
        return middleware

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._misconfigured is not None:
            await self._misconfigured(self.app, scope, receive, send)
            return
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        guard = self._guard
        check = guard.start(scope_head(scope))
        if check is None:
            await self.app(scope, receive, send)
            return
        if check.waiting is not None:
            await check.aauthenticate()  # a layer needs the network (a new bearer token), off the event loop
        if kind != "http":
            await self._websocket(check, scope, receive, send)
            return
        # HTTP, in this one coroutine: each further await of a helper costs a coroutine per request.
        decision = check.decision
        replay = receive
        if decision is None:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body, more = message.get("body") or b"", False  # the whole body in one message, as usual
            else:
                read = await _read_body(receive, check.body_limit, message)
                if read is None:
                    return  # the client went away: nobody to answer, nothing for the app
                body, more = read
            decision = check.decide(body)
            if decision.replay_key is not None:
                decision = await check.aclaim(scope.get(CLAIMED_KEY))
            # The app reads exactly what was sent: what was read, then whatever is left.
            replay = _replay_message({"type": "http.request", "body": body, "more_body": more}, receive)
        refusal = decision.refusal
        if refusal is not None:
            await send({"type": "http.response.start", "status": refusal.status, "headers": _raw(refusal.headers)})
            await send({"type": "http.response.body", "body": refusal.body})
            return
        scope = _with_verdict(scope, decision.verdict)
        if decision.replay_key is None:
            await self.app(scope, replay, send)
            return
        scope[CLAIMED_KEY] = decision.replay_key
        status = 0

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if status >= 500:
                    # Settled before the 5xx leaves: a retry sent the moment it arrives finds the key free.
                    await check.asettle(status)
            await send(message)

        try:
            await self.app(scope, replay, watching)
        except BaseException as error:
            await check.asettle(error)  # after a 5xx started, settled already: nothing more
            raise
        await check.asettle(status or NO_ANSWER)

    async def _websocket(self, check: Check, scope: Scope, receive: Receive, send: Send) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return  # disconnected before the handshake finished
        decision = check.decide()
        refusal = decision.refusal
        if refusal is None:
            await self.app(_with_verdict(scope, decision.verdict), _replay_message(connect, receive), send)
        elif refusal.status != _CLOSE_STATUS and _WEBSOCKET_RESPONSE in scope.get("extensions", {}):
            # Only the extension can tell the client 401 (and Basic's challenge) or 400. For a
            # 403 a close is the same answer, and uvicorn's default WebSocket implementation
            # (websockets-sansio, 0.54) logs "ASGI callable returned without completing
            # handshake" at ERROR after every extension response, so 403s never come here.
            headers = _raw(refusal.headers)
            await send({"type": "websocket.http.response.start", "status": refusal.status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": refusal.body})
        else:
            await send({"type": "websocket.close", "code": 1008})


def _built_by_a_running_app() -> bool:
    """Whether an event loop is running: the middleware is being built lazily by a framework."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return True
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


class _Misconfigured:
    """What a middleware built with bad options does when it could not refuse to be built.

    The lifespan startup fails with the cause (uvicorn then exits: "Application
    startup failed"), a request to a protected path gets a 500 without reaching the
    app, and any other request passes untouched: a mistake in twiliosig's options
    never turns the rest of the app into errors.
    """

    def __init__(self, error: Exception, paths: object) -> None:
        self.message = f"twiliosig is misconfigured: {error}"
        logger.error("%s", self.message)
        try:
            self.protects: Callable[[str], bool] = path_matcher(paths)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.protects = lambda path: True  # paths itself is the mistake: every path is protected

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": self.message})
            raise RuntimeError(self.message)  # after startup.failed, as Starlette's own lifespan does
        if kind not in ("http", "websocket") or not self.protects(route_path(scope)):
            await app(scope, receive, send)
            return
        logger.error("%s; refusing %s", self.message, loggable(route_path(scope)))
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1011})
            return
        body = b"Internal Server Error\n"
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int, first: Message) -> tuple[bytes, bool] | None:
    """The body and whether more of it is still unread: at most ``limit`` + 1 bytes; None if the client left.

    Args:
        receive: The server's ``receive``.
        limit: The body limit.
        first: The message already received (a whole body nearly always comes in one).
    """
    chunks: list[bytes] = []
    received = 0
    message = first
    while True:
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if chunk:
            received += len(chunk)
            chunks.append(chunk)
        if received > limit or not more:
            return b"".join(chunks), more
        message = await receive()


def _with_verdict(scope: Scope, verdict: Verdict) -> Scope:
    state = dict(scope.get("state") or {})
    state[STATE_KEY] = verdict
    return {**scope, VERDICT_KEY: verdict, "state": state}


def _replay_message(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that yields ``first`` once, then the server's own messages."""
    pending: list[Message] = [first]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


def _raw(headers: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
