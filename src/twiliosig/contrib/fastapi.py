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
middleware can). A refused HTTP request raises ``HTTPException(403)`` (400 or 413 for a broken or
oversized body) before the endpoint runs; a refused WebSocket handshake raises
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

from fastapi import HTTPException, WebSocketException
from starlette.requests import HTTPConnection, Request
from starlette.status import WS_1008_POLICY_VIOLATION

from ..asgi import STATE_KEY, inspect_scope, route_path, scope_headers
from ..guard import Guard, Judgement

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..guard import GuardOptions

from ..verdict import Reason, Verdict

__all__ = ["TwilioSignature"]


class TwilioSignature:
    """A FastAPI dependency that refuses requests not signed by Twilio.

    Takes the middlewares' options as keyword arguments (``auth_token``,
    ``shared_keys``, ``public_url``, ``trust_forwarded``, ``url_variants``,
    ``max_body_size``, ``report_only``, ``on_reject``, ``enabled``; ``paths``
    narrows a router-level dependency). Bad configuration raises here, at start-up.
    """

    def __init__(self, **options: Unpack[GuardOptions]) -> None:
        self.guard = Guard(**options)

    async def __call__(self, connection: HTTPConnection) -> AsyncIterator[Verdict | None]:
        # A dependency with yield: after the endpoint, an exception releases the replay key.
        guard = self.guard
        if not guard.protects(route_path(connection.scope)):
            yield None
            return
        headers = scope_headers(connection.scope)
        websocket = connection.scope["type"] == "websocket"
        if websocket:
            judgement = inspect_scope(guard, connection.scope, headers, b"", websocket=True)
        else:
            judgement = await self._check_http(connection, headers)
        scope = connection.scope
        verdict, key = await guard.aadmit(judgement, scope.get("method", "GET"), route_path(scope))
        connection.state.__setattr__(STATE_KEY, verdict)
        if not verdict.valid and not guard.report_only:
            if websocket:
                raise WebSocketException(code=WS_1008_POLICY_VIOLATION)
            status, phrase = guard.status(verdict)
            headers_out = {"Cache-Control": "no-store", **dict(guard.extra_headers(verdict))}
            raise HTTPException(status_code=status, detail=phrase, headers=headers_out)
        try:
            yield verdict
        except BaseException:
            await guard.arelease(key)
            raise

    async def _check_http(self, connection: HTTPConnection, headers: dict[str, str]) -> Judgement:
        guard = self.guard
        # FastAPI passes the endpoint's own Request, so a body read here is cached for it.
        assert isinstance(connection, Request)
        request = connection
        method, path = request.method, route_path(request.scope)
        declared = guard.declared_length(headers.get("content-length"))
        if isinstance(declared, Verdict):
            guard.report(declared, method, path, None)
            return Judgement(declared)
        try:
            body = await _bounded_body(request, guard.max_body_size)
        except _StreamConsumed:
            # FastAPI parsed the form for the endpoint already: check those very pairs.
            form = await request.form()
            pairs = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
            if len(pairs) != len(form.multi_items()):
                verdict = Verdict(False, Reason.MALFORMED_BODY, "the form carries files, which Twilio never sends")
                guard.report(verdict, method, path, None)
                return Judgement(verdict)
            return inspect_scope(guard, request.scope, headers, b"", form=pairs)
        if body is None:
            verdict = guard.too_large()
            guard.report(verdict, method, path, None)
            return Judgement(verdict)
        return inspect_scope(guard, request.scope, headers, body)


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
