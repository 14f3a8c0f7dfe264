"""FastAPI: a dependency that validates one route, a router, or a WebSocket handshake.

::

    from fastapi import APIRouter, Depends, FastAPI
    from twiliosig.contrib.fastapi import TwilioSignature

    twilio = TwilioSignature(public_url="https://hooks.example.com")

    @app.post("/twilio/sms")
    async def incoming_sms(verdict: Verdict = Depends(twilio)): ...

    router = APIRouter(prefix="/twilio", dependencies=[Depends(twilio)])   # every route of the router

    @app.websocket("/twilio/media")
    async def media(websocket: WebSocket, verdict: Verdict = Depends(twilio)): ...

With ``replay_guard``, an exception from the endpoint releases the request's key
(the dependency cannot see a 5xx the endpoint returns without raising; the ASGI
middleware can). A refused HTTP request raises :class:`TwilioRefusal` (an ``HTTPException``:
403, or 400/405/413) before the endpoint runs, answered with the same short
``text/plain`` body every other adapter sends; a refused WebSocket handshake raises
``WebSocketException(1008)``, which closes it before accept. The dependency
returns the :class:`~twiliosig.Verdict`, also at ``request.state.twiliosig_verdict``.

Options are the middlewares' names; the token defaults to ``TWILIO_AUTH_TOKEN``,
read when the dependency is built. FastAPI parses a form body before it runs
dependencies; the dependency then checks the pairs FastAPI parsed, which are
exactly what the endpoint receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import HTTPException, Response, WebSocketException
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.status import WS_1008_POLICY_VIOLATION

from .._guard import CLAIMED_KEY, Check, Decision, Guard, Refusal
from .._scope import scope_head
from ..asgi import STATE_KEY

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._guard import GuardOptions

from ..verdict import Verdict

__all__ = ["TwilioRefusal", "TwilioSignature"]


class TwilioSignature:
    """A FastAPI dependency that refuses requests not signed by Twilio.

    Takes the middlewares' options as keyword arguments (``auth_token``,
    ``shared_keys``, ``public_url``, ``trust_forwarded``, ``url_variants``,
    ``max_body_size``, ``report_only``, ``on_reject``, ``enabled``; ``paths``
    narrows a router-level dependency). Bad configuration raises here, at start-up.
    """

    def __init__(self, **options: Unpack[GuardOptions]) -> None:
        self.guard = Guard.from_options(options)
        self.guard.require_mode(asynchronous=True)

    async def __call__(self, connection: HTTPConnection) -> AsyncIterator[Verdict | None]:
        # A dependency with yield: after the endpoint, an exception releases the replay key.
        guard = self.guard
        check = guard.start(scope_head(connection.scope))
        if check is None:
            yield None
            return
        websocket = connection.scope["type"] == "websocket"
        decision = check.decision
        if decision is None:
            decision = check.finish() if websocket else await _decide(check, connection)
        decision = await guard.aclaim(decision, claimed=connection.scope.get(CLAIMED_KEY))
        connection.state.__setattr__(STATE_KEY, decision.verdict)
        refusal = decision.refusal
        if refusal is not None:
            if websocket:
                raise WebSocketException(code=WS_1008_POLICY_VIOLATION)
            _send_refusals_as_they_are(connection)
            raise TwilioRefusal(refusal)
        if decision.replay_key is not None:
            connection.scope[CLAIMED_KEY] = decision.replay_key
        try:
            yield decision.verdict
        except BaseException:
            await guard.asettle(decision, failed=True)
            raise


# FastAPI writes its own body for an HTTPException, and the headers that describe it.
_SET_BY_FASTAPI = frozenset({"Content-Type", "Content-Length"})


class TwilioRefusal(HTTPException):
    """The dependency's refusal: an ``HTTPException`` that carries the guard's :class:`~twiliosig._guard.Refusal`.

    Sent as the same short ``text/plain`` response every other adapter sends (see
    :func:`_send_refusals_as_they_are`); where that cannot be arranged, FastAPI's
    own handler answers it like any ``HTTPException``, with the same status and
    headers and a JSON body.
    """

    def __init__(self, refusal: Refusal) -> None:
        headers = {name: value for name, value in refusal.headers if name not in _SET_BY_FASTAPI}
        super().__init__(status_code=refusal.status, detail=refusal.phrase, headers=headers)
        self.refusal = refusal


async def _refusal_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, TwilioRefusal)
    refusal = error.refusal
    return Response(refusal.body, status_code=refusal.status, headers=dict(refusal.headers))


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


async def _decide(check: Check, connection: HTTPConnection) -> Decision:
    # FastAPI passes the endpoint's own Request, so a body read here is cached for it.
    assert isinstance(connection, Request)
    request = connection
    try:
        body = await _bounded_body(request, check.body_limit)
    except ClientDisconnect:
        return check.unreadable()  # the client went away mid-body: refused, never a traceback
    except _StreamConsumed:
        # FastAPI parsed the form for the endpoint already: check those very pairs.
        form = await request.form()
        pairs = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
        return check.finish_parsed(pairs, files=len(pairs) != len(form.multi_items()))
    if body is None:
        return check.overflowed()
    return check.finish(body)


class _StreamConsumed(Exception):
    pass


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, cached on the request for the endpoint; None past ``limit``."""
    cached = getattr(request, "_body", None)
    if cached is not None:
        return bytes(cached)
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
