"""WSGI middleware that refuses unsigned or forged Twilio webhooks before the app runs.

Wrap the application the server calls::

    # Flask
    app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, paths=["/twilio/"])

    # Django, in wsgi.py
    application = TwilioSignatureMiddleware(get_wsgi_application(), paths=["/twilio/"])

For each request to a protected path the middleware reads the body once (never
more than ``max_body_size``), rebuilds the URL Twilio called, and checks
``X-Twilio-Signature``. A genuine request reaches the app with a fresh
``wsgi.input`` holding the identical bytes and a matching ``CONTENT_LENGTH``,
and its :class:`~twiliosig.Verdict` at ``environ["twiliosig.verdict"]``. Anything
else gets a short ``text/plain`` 403 (400 for a request too broken to check,
413 for a body over the limit) and the app never runs.

**Behind a proxy.** If a TLS-terminating proxy, load balancer or tunnel sits in
front of the app, the app sees ``http`` and perhaps another host, while Twilio
signed ``https://public-host/...``. Say what Twilio calls with
``public_url="https://example.com"``, the simplest and safest fix; or set
``trust_forwarded=True`` (the number of proxies, if more than one) to take the
scheme and host from ``Forwarded``/``X-Forwarded-*``. Trust those headers only
when a proxy you control sets them: otherwise a client can make a request
signed for another of your URLs look as if it were sent here.

The middleware imports nothing beyond the standard library.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .guard import (
    VERDICT_KEY,
    Guard,
    Judgement,
)
from .request import (
    decode_target,
    quote_path,
    split_target,
)
from .urls import default_port
from .verdict import Reason, Verdict

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

    from .guard import GuardOptions

__all__ = ["TwilioSignatureMiddleware", "inspect_environ", "read_body", "wsgi_text"]

_CHUNK = 64 * 1024


class TwilioSignatureMiddleware:
    """Answer 403 before an unsigned or forged Twilio webhook reaches a WSGI app.

    Args:
        app: The WSGI application to protect.
        **options: The options of :class:`~twiliosig.guard.Guard`, by name:
            ``auth_token`` (default ``TWILIO_AUTH_TOKEN``), ``shared_keys``,
            ``paths``, ``public_url``, ``trust_forwarded``, ``url_variants``,
            ``max_body_size``, ``report_only``, ``on_reject``, ``enabled``,
            ``replay_guard``, ``on_store_error``, ``require_https``, ``basic_auth``.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[GuardOptions]) -> None:
        self.app = app
        self.guard = Guard(**options)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = wsgi_text(environ.get("PATH_INFO", ""))
        if not self.guard.protects(path):
            return self.app(environ, start_response)
        method = wsgi_text(environ.get("REQUEST_METHOD", ""))
        body = read_body(environ, self.guard)
        key = None
        if isinstance(body, Verdict):
            verdict = body
            self.guard.report(verdict, method, path, None)
        else:
            judgement = inspect_environ(self.guard, environ, method=method, path=path, body=body)
            verdict, key = self.guard.admit(judgement, method, path)
            environ["wsgi.input"] = io.BytesIO(body)
            if body or environ.get("CONTENT_LENGTH"):
                environ["CONTENT_LENGTH"] = str(len(body))
        if verdict.valid or self.guard.report_only:
            environ[VERDICT_KEY] = verdict
            if key is None:
                return self.app(environ, start_response)
            return _releasing_on_failure(self.app, environ, start_response, self.guard, key)
        status, phrase = self.guard.status(verdict)
        payload = f"{phrase}\n".encode("ascii")
        start_response(
            f"{status} {phrase}",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(payload))),
                ("Cache-Control", "no-store"),
                *self.guard.extra_headers(verdict),
            ],
        )
        return [payload]


def _releasing_on_failure(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse, guard: Guard, key: str
) -> Iterable[bytes]:
    """Run the app; if it answers 5xx or raises, release the replay key so Twilio's retry gets through."""
    failed = False

    def watching(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        nonlocal failed
        failed = status.startswith("5")
        return start_response(status, headers, exc_info)

    try:
        result = app(environ, watching)
    except BaseException:
        guard.release(key)
        raise
    return _ReleasingIterable(result, lambda: failed, guard, key)


class _ReleasingIterable:
    """The app's response, passed through; on an error or a 5xx the key is released at close()."""

    def __init__(self, result: Iterable[bytes], failed: Any, guard: Guard, key: str) -> None:
        self._result = result
        self._failed = failed
        self._guard = guard
        self._key = key
        self._errored = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._result
        except BaseException:
            self._errored = True
            raise

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            if self._errored or self._failed():
                self._guard.release(self._key)


def inspect_environ(guard: Guard, environ: WSGIEnvironment, *, method: str, path: str, body: bytes) -> Judgement:
    """Judge a WSGI request whose body has been read: the URL from the raw target, then the guard.

    Shared by the middleware and the Flask integration, so both rebuild the URL alike.
    """

    def header(name: str) -> str | None:
        value = environ.get(_environ_key(name))
        return None if value is None else wsgi_text(value)

    scheme = environ.get("wsgi.url_scheme", "http")
    raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw_target:
        raw_path, query = split_target(wsgi_text(raw_target))
    else:
        full_path = wsgi_text(environ.get("SCRIPT_NAME", "")) + path
        raw_path, query = quote_path(full_path), wsgi_text(environ.get("QUERY_STRING", ""))
    return guard.inspect(
        method=method,
        path=path,
        scheme=scheme,
        host=_host(environ, scheme),
        raw_path=raw_path,
        query=query,
        header=header,
        content_type=environ.get("CONTENT_TYPE"),
        body=body,
    )


@functools.lru_cache(maxsize=64)
def _environ_key(name: str) -> str:
    """``x-twilio-signature`` -> ``HTTP_X_TWILIO_SIGNATURE``; the names are few and fixed."""
    return "HTTP_" + name.upper().replace("-", "_")


def wsgi_text(value: str) -> str:
    """A WSGI "native string" (bytes decoded as latin-1) as the text it encodes in UTF-8."""
    if value.isascii():
        return value
    try:
        return decode_target(value.encode("latin-1"))
    except UnicodeEncodeError:
        return value  # a server that already decoded as UTF-8


def _host(environ: WSGIEnvironment, scheme: str) -> str:
    host = environ.get("HTTP_HOST")
    if host:
        return wsgi_text(host)
    name, port = environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", "")
    return name if not port or port == default_port(scheme) else f"{name}:{port}"


def read_body(environ: WSGIEnvironment, guard: Guard) -> bytes | Verdict:
    """Read the whole body, or say why not; never reads past ``max_body_size`` + 1 bytes."""
    declared = guard.declared_length(environ.get("CONTENT_LENGTH"))
    if isinstance(declared, Verdict):
        return declared
    if declared is None:
        if not environ.get("wsgi.input_terminated"):
            return b""
        length = guard.max_body_size + 1  # chunked: read to the end, but never past the limit
    else:
        length = declared
    stream: Any = environ.get("wsgi.input")
    if length == 0 or stream is None:
        return b""
    chunks = []
    received = 0
    try:
        while received < length:
            chunk = stream.read(min(_CHUNK, length - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    except Exception:  # the client went away, or the server's stream broke
        return Verdict(False, Reason.MALFORMED_BODY, "the body could not be read (client disconnected?)")
    if received > guard.max_body_size:
        environ["wsgi.input"] = io.BufferedReader(_Replay(b"".join(chunks), stream))
        return guard.too_large()
    if declared is not None and received < declared:
        return Verdict(False, Reason.MALFORMED_BODY, "the body ended before Content-Length bytes arrived")
    return b"".join(chunks)


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
