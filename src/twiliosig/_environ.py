"""A WSGI request as the guard sees it: its :class:`~twiliosig._guard.Head`, and its body read within a bound.

Private: shared by the WSGI middleware and the Flask and Django integrations, so all of
them rebuild the URL and read the body alike.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from ._guard import Head
from ._origin import decode_target, quote_path, split_target

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["environ_head", "environ_target", "read_body", "wsgi_text"]

_CHUNK = 64 * 1024


def environ_head(environ: WSGIEnvironment, path: str | None = None) -> Head:
    """The :class:`~twiliosig._guard.Head` of a WSGI request: the raw target when the server keeps it.

    Shared by the middleware and the Flask and Django integrations, so all rebuild the URL alike.

    Args:
        environ: The WSGI environ.
        path: The path the application routes on, when the framework knows it
            better than ``PATH_INFO`` (else ``PATH_INFO``).
    """
    get = environ.get
    if path is None:
        path = wsgi_text(get("PATH_INFO", ""))

    def header(name: str) -> str | None:
        value = get(_ENVIRON_KEYS.get(name) or _environ_key(name))
        if value is None or value.isascii():
            return value
        return wsgi_text(value)

    raw_path, query = environ_target(environ, path)
    host = get("HTTP_HOST")  # Twilio always sends it: no fallback to SERVER_NAME
    return Head(
        wsgi_text(get("REQUEST_METHOD", "")),
        path,
        get("wsgi.url_scheme", "http"),
        wsgi_text(host) if host else None,
        raw_path,
        query,
        header,
    )


def environ_target(environ: WSGIEnvironment, path: str) -> tuple[str, str]:
    """The path as sent (from ``RAW_URI``/``REQUEST_URI``, else ``path`` quoted) and the query the app reads.

    The query is always ``QUERY_STRING`` when the server sets it, never the raw
    target's: that is the query every framework hands the application, and the
    two differ where something split the target differently (werkzeug's test
    client leaves a ``query_string=`` query out of ``RAW_URI``; an nginx or Apache
    rewrite changes ``QUERY_STRING`` but not ``REQUEST_URI``). A signature is only
    good for the query the application will read.

    Args:
        environ: The WSGI environ.
        path: The decoded path below ``SCRIPT_NAME``, for servers that keep no raw target.
    """
    get = environ.get
    query = get("QUERY_STRING")
    raw_target = get("RAW_URI") or get("REQUEST_URI")
    if raw_target:
        raw_path, raw_query = split_target(wsgi_text(raw_target))
        if query is None:
            return raw_path, raw_query
    else:
        raw_path = quote_path(wsgi_text(get("SCRIPT_NAME", "")) + path)
    return raw_path, wsgi_text(query) if query else ""


def _environ_key(name: str) -> str:
    """``x-twilio-signature`` -> ``HTTP_X_TWILIO_SIGNATURE`` (CGI's names, which two headers do not follow)."""
    return "HTTP_" + name.upper().replace("-", "_")


# The environ keys of the headers the guard reads on every request, looked up once per name.
_ENVIRON_KEYS = {
    "content-type": "CONTENT_TYPE",
    "content-length": "CONTENT_LENGTH",
    **{
        name: _environ_key(name)
        for name in (
            "x-twilio-signature",
            "x-twilio-webhooks-signature-settings",
            "authorization",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "forwarded",
        )
    },
}


def wsgi_text(value: str) -> str:
    """A WSGI "native string" (bytes decoded as latin-1) as the text it encodes in UTF-8."""
    if value.isascii():
        return value
    try:
        return decode_target(value.encode("latin-1"))
    except UnicodeEncodeError:
        return value  # a server that already decoded as UTF-8


def read_body(environ: WSGIEnvironment, limit: int) -> bytes | None:
    """The body, at most ``limit`` + 1 bytes of it (more than ``limit`` means too large); None if unreadable.

    Without a Content-Length only a server that marks the input terminated
    (``wsgi.input_terminated``, for chunked uploads) is read. A body over the
    limit is left readable from the start in ``wsgi.input``, for report-only.
    """
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    if declared.isascii() and declared.isdigit():
        if len(declared) > 18:  # int() refuses over 4,300 digits: more digits than the limit has is over it
            declared = declared.lstrip("0") or "0"
            length = limit + 1 if len(declared) > len(str(limit)) else int(declared)
        else:
            length = int(declared)
    elif environ.get("wsgi.input_terminated"):
        length = limit + 1  # chunked: read to the end, but never past the limit
    else:
        return b""
    stream: Any = environ.get("wsgi.input")
    if length == 0 or stream is None:
        return b""
    wanted = min(length, limit + 1)
    chunks = []
    received = 0
    try:
        while received < wanted:  # one read for a webhook; never more than a chunk at a time
            chunk = stream.read(min(_CHUNK, wanted - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    except Exception:  # the client went away, or the server's stream broke
        return None
    body = b"".join(chunks)
    if received > limit:
        environ["wsgi.input"] = io.BufferedReader(_Replay(body, stream))
        return body
    if received < length and declared:
        return None  # the body ended before Content-Length bytes arrived
    return body


class _Replay(io.RawIOBase):
    """The bytes already read, then the rest of the original stream.

    Only a report-only deployment lets an over-limit chunked body through, and
    then the app must still see it whole.
    """

    def __init__(self, head: bytes, rest: Any) -> None:
        super().__init__()
        self._head = io.BytesIO(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._head.read(len(buffer)) or self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
