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
TLS proxy that hands the app ``ws`` changes nothing. A refused handshake gets a
real 403 where the server offers the ``websocket.http.response`` extension
(uvicorn, hypercorn) and is closed with 1008 before accept otherwise; either
way the app never sees it.

The verdict of an accepted request is at ``scope["twiliosig.verdict"]`` and, for
Starlette and FastAPI, ``request.state.twiliosig_verdict``. Options, proxies and
logging are as for :class:`twiliosig.wsgi.TwilioSignatureMiddleware`. The replay
guard never applies to WebSocket handshakes: every stream to one URL carries the
same signature. The
middleware imports nothing beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .guard import (
    VERDICT_KEY,
    Guard,
    Judgement,
)
from .request import decode_target, quote_path
from .urls import default_port
from .verdict import Verdict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .guard import GuardOptions

__all__ = [
    "STATE_KEY",
    "TwilioSignatureMiddleware",
    "inspect_scope",
    "route_path",
    "scope_headers",
    "scope_host",
    "scope_raw_path",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The verdict's name in ``scope["state"]``: ``request.state.twiliosig_verdict``.
STATE_KEY = "twiliosig_verdict"
_WEBSOCKET_RESPONSE = "websocket.http.response"


class TwilioSignatureMiddleware:
    """Answer 403 before an unsigned or forged Twilio webhook reaches an ASGI app.

    Args:
        app: The ASGI application to protect.
        **options: The options of :class:`~twiliosig.guard.Guard`, by name, the
            same as the WSGI middleware's.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[GuardOptions]) -> None:
        self.app = app
        self.guard = Guard(**options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or not self.guard.protects(route_path(scope)):
            await self.app(scope, receive, send)
        elif kind == "http":
            await self._http(scope, receive, send)
        else:
            await self._websocket(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope_headers(scope)
        method, path = scope.get("method", ""), route_path(scope)
        body = await self._read_body(headers.get("content-length"), receive)
        if body is None:
            return  # the client went away: nobody to answer, nothing for the app
        key = None
        if isinstance(body, bytes):
            judgement = inspect_scope(self.guard, scope, headers, body)
            verdict, key = await self.guard.aadmit(judgement, method, path)
            replay = _replay_message({"type": "http.request", "body": body, "more_body": False}, receive)
        else:
            verdict, consumed = body
            self.guard.report(verdict, method, path, None)
            # Report-only lets an unread or half-read body through: what was read comes first.
            replay = _replay_message({"type": "http.request", "body": consumed, "more_body": True}, receive)
        if verdict.valid or self.guard.report_only:
            if key is None:
                await self.app(_with_verdict(scope, verdict), replay, send)
            else:
                await self._call_releasing(_with_verdict(scope, verdict), replay, send, key)
            return
        status, phrase = self.guard.status(verdict)
        headers_out = _refusal_headers(phrase, self.guard.extra_headers(verdict))
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        await send({"type": "http.response.body", "body": f"{phrase}\n".encode("ascii")})

    async def _call_releasing(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        """Run the app; if it answers 5xx or raises, release the replay key so Twilio's retry gets through."""
        status = 0

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except BaseException:
            await self.guard.arelease(key)
            raise
        if status >= 500 or status == 0:
            await self.guard.arelease(key)

    async def _read_body(self, declared: str | None, receive: Receive) -> bytes | tuple[Verdict, bytes] | None:
        """The whole body; a refusal (with the bytes read so far) if too large; None if the client left."""
        length = self.guard.declared_length(declared)
        if isinstance(length, Verdict):
            return length, b""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            if chunk:
                received += len(chunk)
                chunks.append(chunk)
                if received > self.guard.max_body_size:
                    return self.guard.too_large(), b"".join(chunks)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return  # disconnected before the handshake finished
        verdict = inspect_scope(self.guard, scope, scope_headers(scope), b"", websocket=True).verdict
        if verdict.valid or self.guard.report_only:
            await self.app(_with_verdict(scope, verdict), _replay_message(connect, receive), send)
            return
        if _WEBSOCKET_RESPONSE in scope.get("extensions", {}):
            status, phrase = self.guard.status(verdict)
            headers = _refusal_headers(phrase, self.guard.extra_headers(verdict))
            start = {"type": "websocket.http.response.start", "status": status, "headers": headers}
            await send(start)
            await send({"type": "websocket.http.response.body", "body": f"{phrase}\n".encode("ascii")})
        else:
            await send({"type": "websocket.close", "code": 1008})


def inspect_scope(
    guard: Guard,
    scope: Scope,
    headers: dict[str, str],
    body: bytes,
    *,
    form: list[tuple[str, str]] | None = None,
    websocket: bool = False,
) -> Judgement:
    """Judge an ASGI request whose body has been read: the URL from ``raw_path``, then the guard.

    Shared by the middleware and the FastAPI integration, so both rebuild the URL alike.
    """
    scheme = scope.get("scheme") or ("ws" if websocket else "http")
    query = scope.get("query_string", b"")
    return guard.inspect(
        method=scope.get("method", "GET"),
        path=route_path(scope),
        scheme="wss" if websocket else scheme,
        host=scope_host(headers, scope, scheme),
        raw_path=scope_raw_path(scope),
        query=decode_target(query) if query else "",
        header=headers.get,
        content_type=headers.get("content-type"),
        body=body,
        form=form,
        websocket=websocket,
    )


def scope_headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; repeated headers joined with commas."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def route_path(scope: Scope) -> str:
    """The path the application routes on: ``path`` without ``root_path`` when it holds it."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def scope_raw_path(scope: Scope) -> str:
    """The path as the client sent it, with the mount prefix exactly once.

    uvicorn and granian include ``root_path`` in ``raw_path``, hypercorn does not,
    and Starlette's ``Mount`` extends ``root_path``: prepend it only when the raw
    path does not already start with it.
    """
    root: str = scope.get("root_path", "")
    raw = scope.get("raw_path")
    if raw is None:
        full = scope.get("path", "")
        return quote_path(full if not root or full.startswith(root) else root + full)
    path = decode_target(raw)
    quoted_root = quote_path(root) if root else ""
    if quoted_root and not path.startswith(quoted_root):
        path = quoted_root + path
    return path


def scope_host(headers: dict[str, str], scope: Scope, scheme: str) -> str | None:
    host = headers.get("host")
    if host:
        return host
    server = scope.get("server")
    if not server or server[1] is None:
        return None
    name, port = server[0], str(server[1])
    return name if port == default_port(scheme) else f"{name}:{port}"


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


def _refusal_headers(phrase: str, extra: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(phrase) + 1).encode("ascii")),
        (b"cache-control", b"no-store"),
        *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra),
    ]
