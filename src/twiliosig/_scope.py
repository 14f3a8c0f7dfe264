"""An ASGI request as the guard sees it: its :class:`~twiliosig._guard.Head`.

Private: shared by the ASGI middleware and the FastAPI and Django integrations, so all of
them rebuild the URL alike.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ._guard import Head
from ._origin import decode_target, quote_path

__all__ = ["route_path", "scope_head", "scope_headers", "scope_raw_path"]

Scope = MutableMapping[str, Any]


def scope_head(scope: Scope, headers: dict[str, str] | None = None) -> Head:
    """The :class:`~twiliosig._guard.Head` of an ASGI request: the raw path from ``raw_path``.

    Shared by the middleware and the FastAPI and Django integrations, so all rebuild the URL alike.
    """
    if headers is None:
        headers = scope_headers(scope)
    websocket = scope["type"] == "websocket"
    query = scope.get("query_string", b"")
    return Head(
        scope.get("method", "GET"),
        route_path(scope),
        "wss" if websocket else scope.get("scheme") or "http",
        headers.get("host") or None,  # Twilio always sends it: no fallback to scope["server"]
        scope_raw_path(scope),
        decode_target(query) if query else "",
        headers.get,
        websocket,
    )


def scope_headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; repeated headers joined with commas.

    A repeated header's values are joined once, at the end: joining them as they
    come copies the value so far for each repeat, a cost quadratic in a header
    block the client writes.
    """
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name not in headers:
            headers[name] = value
        elif name in repeated:
            repeated[name].append(value)
        else:
            repeated[name] = [headers[name], value]
    for name, values in repeated.items():
        headers[name] = ",".join(values)
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
    path does not already start with it. The ASGI spec keeps the query out of
    ``raw_path``; one found there is cut off, so a query is only ever the
    ``query_string`` the application reads.
    """
    root: str = scope.get("root_path", "")
    raw = scope.get("raw_path")
    if raw is None:
        full = scope.get("path", "")
        return quote_path(full if not root or full.startswith(root) else root + full)
    if b"?" in raw:  # a server or old test client that left the query here: ``query_string`` is what the app reads
        raw = raw.partition(b"?")[0]
    path = decode_target(raw)
    quoted_root = quote_path(root) if root else ""
    if quoted_root and not path.startswith(quoted_root):
        path = quoted_root + path
    return path
