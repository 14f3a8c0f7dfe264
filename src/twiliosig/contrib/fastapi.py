"""FastAPI: a route class that checks the head before FastAPI reads the body, and a dependency.

For routes with ``Form()``, ``File()`` or ``Body`` parameters (every Twilio form
webhook written the FastAPI way), give their router the route class::

    from fastapi import APIRouter, Depends, Form, Request
    from twiliosig.contrib.fastapi import TwilioSignature

    twilio = TwilioSignature(public_url="https://hooks.example.com")
    router = APIRouter(prefix="/twilio", route_class=twilio.route_class, dependencies=[Depends(twilio)])

    @router.post("/sms")
    async def incoming_sms(request: Request, Body: str = Form("")): ...  # request.state.twiliosig_verdict

FastAPI reads and parses a route's body *before* it resolves dependencies, so a
dependency alone sees an unsigned 20 MB form only after it has been read in full.
The route class runs the guard on the request's head first, exactly as the ASGI
middleware does (it wraps the route in that middleware): no signature, no body
read; a declared ``Content-Length`` over ``max_body_size`` is 413 unread; the body
is read at most ``max_body_size`` + 1 bytes, checked, and handed to FastAPI byte
for byte, which parses it as usual. A 5xx the endpoint returns releases the
replay key, as in the middleware.

The dependency is enough where FastAPI reads no body before it (routes without
body parameters, which read ``request`` themselves) and for WebSocket handshakes::

    @app.post("/twilio/status")
    async def status(request: Request, verdict: Verdict = Depends(twilio)): ...

    @app.websocket("/twilio/media")
    async def media(websocket: WebSocket, verdict: Verdict = Depends(twilio)): ...

The route class is only the class of the routes the router declares itself: a
router included in it keeps its own class, and a WebSocket route is no ``APIRoute``.
``dependencies=[Depends(twilio)]`` beside it checks those too (and returns the
route class's verdict on its own routes, without judging again).

On a route whose body FastAPI read first, the dependency still checks what the
endpoint receives (the pairs FastAPI parsed, or its cached body) but cannot have
refused before the read; it logs a warning once per route that says so. On a
route of the route class it returns the route's verdict without judging again.

With ``replay_guard``, an exception from the endpoint releases the request's key
(the dependency cannot see a 5xx the endpoint returns without raising; the route
class and the ASGI middleware can). A refused HTTP request raises :class:`TwilioRefusal` (an ``HTTPException``:
403, or 400/405/413) before the endpoint runs, answered with the same short
``text/plain`` body every other adapter sends; a refused WebSocket handshake raises
``WebSocketException(1008)``, which closes it before accept. The dependency
returns the :class:`~twiliosig.Verdict`, also at ``request.state.twiliosig_verdict``.

Options are the middlewares' names (docs/options.md lists them); the token defaults
to ``TWILIO_AUTH_TOKEN``, read when the dependency is built.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Response, WebSocketException
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.status import WS_1008_POLICY_VIOLATION

from .._guard import CLAIMED_KEY, OVERFLOWED, UNREADABLE, VERDICT_KEY, BodyLost, Check, Guard, Parsed, fold_headers
from .._scope import scope_head
from ..asgi import STATE_KEY, Receive, Scope, Send, TwilioSignatureMiddleware

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._guard import GuardOptions

from ..verdict import Verdict

__all__ = ["TwilioRefusal", "TwilioSignature"]

logger = logging.getLogger("twiliosig")

#: Where a route of the route class leaves the guard that judged the request, for the dependency.
_JUDGED_BY = "twiliosig.fastapi.guard"


class TwilioSignature:
    """Refuses requests not signed by Twilio: a route class for form routes, and a FastAPI dependency.

    Takes every option the middlewares take, as keyword arguments (docs/options.md
    lists them; ``paths`` narrows a router-level route class or dependency). Bad
    configuration raises here, at start-up.

    Attributes:
        route_class: An ``APIRoute`` subclass for ``APIRouter(route_class=...)``:
            every HTTP route the router declares itself is checked from the head
            before FastAPI reads its body (see the module's docstring). Use it for
            routes with ``Form``, ``File`` or ``Body`` parameters, with the
            dependency on the router too for its WebSocket and included routes.
    """

    def __init__(self, **options: Unpack[GuardOptions]) -> None:
        self._guard: Guard = Guard.from_options(options)
        self._guard.require_mode(asynchronous=True)
        self.route_class: type[APIRoute] = _route_class(self._guard)
        self._warned: set[tuple[str, str]] = set()

    async def __call__(self, connection: HTTPConnection) -> AsyncIterator[Verdict | None]:
        # A dependency with yield: after the endpoint, an exception releases the replay key.
        guard = self._guard
        scope = connection.scope
        if scope.get(_JUDGED_BY) is guard:  # a route of this route_class judged it before the body was read
            yield scope.get(VERDICT_KEY)
            return
        check = guard.start(scope_head(scope))
        if check is None:
            yield None
            return
        if check.waiting is not None:
            await check.aauthenticate()
        websocket = scope["type"] == "websocket"
        if not websocket and VERDICT_KEY not in scope and _body_read(connection):
            self._read_first(connection)  # no middleware of ours read it bounded first: FastAPI read it whole
        check.decide(b"" if websocket or check.decision is not None else await _body(check, connection))
        claimed = scope.get(CLAIMED_KEY)
        decision = await check.aclaim(claimed)
        if claimed is None and decision.replay_token is not None and not websocket:
            self._holds_the_claim(connection)
        connection.state.__setattr__(STATE_KEY, decision.verdict)
        refusal = decision.refusal
        if refusal is not None:
            if websocket:
                raise WebSocketException(code=WS_1008_POLICY_VIOLATION)
            _send_refusals_as_they_are(connection)
            raise TwilioRefusal(decision.verdict, refusal.status, refusal.headers, refusal.body)
        if decision.replay_key is not None:
            scope[CLAIMED_KEY] = decision.replay_key
        try:
            yield decision.verdict
        except BaseException as error:
            # HTTPException(404) is FastAPI's way to answer 404: an answer keeps the claim, as a returned 404 does.
            await check.asettle(error.status_code if isinstance(error, StarletteHTTPException) else error)
            raise

    def _read_first(self, connection: HTTPConnection) -> None:
        """Warn, once per route, that FastAPI read a body before the dependency could refuse it unread."""
        where = self._once_per_route(connection, "read")
        if where is None:
            return
        logger.warning(
            "twiliosig: FastAPI read the body of a request to %s before the TwilioSignature dependency ran "
            "(the route has Form, File or Body parameters), so an unsigned body is read in full before it "
            "is refused; give its router route_class=twilio.route_class, or use the ASGI middleware",
            where,
        )

    def _once_per_route(self, connection: HTTPConnection, what: str) -> str | None:
        """The route's path the first time ``what`` is said of it; None after that."""
        route = connection.scope.get("route")
        where = str(getattr(route, "path", None) or "this route")
        if (what, where) in self._warned:
            return None
        self._warned.add((what, where))
        return where

    def _holds_the_claim(self, connection: HTTPConnection) -> None:
        """Warn, once per route, that the dependency holds a replay claim it cannot settle by the route's status.

        A dependency sees what the endpoint raises, never the response it returns
        (FastAPI gives a dependency's exit code nothing of it): a returned 5xx keeps
        the claim, so Twilio's retry of that webhook would be refused as a replay.
        The route class and the middleware see the status and settle by it.
        """
        where = self._once_per_route(connection, "claim")
        if where is not None:
            logger.warning(
                "twiliosig: the TwilioSignature dependency holds the replay claim of requests to %s but cannot "
                "see the status the route returns: a returned 5xx keeps the claim, and Twilio's retry is refused "
                "as a replay; give its router route_class=twilio.route_class, or use the ASGI middleware",
                where,
            )


def _route_class(guard: Guard) -> type[APIRoute]:
    """An ``APIRoute`` subclass whose routes run ``guard`` in the ASGI middleware around FastAPI's own handling."""

    class TwilioSignedRoute(APIRoute):
        """A route checked from its head before FastAPI reads the body, then read bounded and replayed.

        Wraps :meth:`handle` (which FastAPI calls for the route wherever its
        router is included) in the ASGI middleware with the dependency's guard:
        the same reading of the body, the same refusals, the same settling of the
        replay key, and the verdict at ``request.state.twiliosig_verdict``.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._twiliosig = TwilioSignatureMiddleware._around(self._signed, guard)

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self._twiliosig(scope, receive, send)

        async def _signed(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope[_JUDGED_BY] = guard  # judged (or not protected): the dependency need not judge again
            await super().handle(scope, receive, send)

    return TwilioSignedRoute


# FastAPI writes its own body for an HTTPException, and the headers that describe it.
_SET_BY_FASTAPI = frozenset({"Content-Type", "Content-Length"})


class TwilioRefusal(HTTPException):
    """The dependency's refusal: an ``HTTPException`` that carries the verdict and the response to send.

    Sent as the same short ``text/plain`` response every other adapter sends (see
    :func:`_send_refusals_as_they_are`); where that cannot be arranged, FastAPI's
    own handler answers it like any ``HTTPException``, with the same status and
    headers and a JSON body. A handler of your own reads why from ``verdict``.

    Attributes:
        verdict: Why the request was refused (``verdict.reason``).
        response_headers: Every header of the refusal, ``Content-Type`` included
            (``headers`` leaves out the two FastAPI writes itself).
        body: The refusal's short ``text/plain`` body.
    """

    def __init__(self, verdict: Verdict, status_code: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.verdict = verdict
        self.response_headers = tuple(headers)
        self.body = body
        # One value per name in an HTTPException: a 401's several WWW-Authenticate challenges folded into one.
        kept = {name: value for name, value in fold_headers(self.response_headers) if name not in _SET_BY_FASTAPI}
        super().__init__(status_code=status_code, detail=body.decode("utf-8").strip(), headers=kept)


async def _refusal_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, TwilioRefusal)
    response = Response(error.body, status_code=error.status_code)
    # Every header as the guard built it, a repeated one (a 401's challenges) on its own lines: a dict keeps one.
    response.raw_headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in error.response_headers
    ]
    return response


def _send_refusals_as_they_are(connection: HTTPConnection) -> None:
    """Have Starlette's exception middleware answer a :class:`TwilioRefusal` with the guard's own bytes.

    Starlette hands the running request its exception handlers in
    ``scope["starlette.exception_handlers"]`` (the app's, copied when its
    middleware stack was built); the handler is added there once. A handler the
    app registered for ``TwilioRefusal`` itself is left alone.
    """
    handlers = connection.scope.get("starlette.exception_handlers")
    if isinstance(handlers, tuple) and handlers and isinstance(handlers[0], dict):
        handlers[0].setdefault(TwilioRefusal, _refusal_response)


async def _body(check: Check, connection: HTTPConnection) -> bytes | Parsed | BodyLost:
    # FastAPI passes the endpoint's own Request, so a body read here is cached for it.
    assert isinstance(connection, Request)
    request = connection
    try:
        body = await _bounded_body(request, check.body_limit)
    except ClientDisconnect:
        return UNREADABLE  # the client went away mid-body: refused, never a traceback
    except _StreamConsumed:
        # FastAPI parsed the form for the endpoint already: check those very pairs.
        form = await request.form()
        pairs = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
        return Parsed(pairs, files=len(pairs) != len(form.multi_items()))
    return OVERFLOWED if body is None else body


def _body_read(connection: HTTPConnection) -> bool:
    """Whether the request's body was read before the dependency ran (FastAPI does so for body parameters)."""
    return getattr(connection, "_body", None) is not None or bool(getattr(connection, "_stream_consumed", False))


class _StreamConsumed(Exception):
    pass


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, cached on the request for the endpoint; None past ``limit``."""
    cached = getattr(request, "_body", None)
    if cached is not None:  # FastAPI read it whole for a Body parameter: refused all the same if too large
        return bytes(cached) if len(cached) <= limit else None
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except RuntimeError as error:  # "Stream consumed": FastAPI read it as a form
        raise _StreamConsumed from error
    body = b"".join(chunks)
    request._body = body  # where Starlette caches request.body(), so the endpoint can read it again
    return body
