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
scheme and host from ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` (a mapping
such as ``{"x_proto": 1, "x_host": 1, "x_prefix": 1}`` names more headers, as
werkzeug's ``ProxyFix`` does). Trust those headers only when a proxy you
control sets them: otherwise a client can make a request signed for another of
your URLs look as if it were sent here.

The middleware imports nothing beyond the standard library.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .guard import CLAIMED_KEY, VERDICT_KEY, Decision, Guard, Head
from .request import decode_target, quote_path, split_target

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

    from .guard import GuardOptions

__all__ = ["TwilioSignatureMiddleware", "environ_head", "read_body", "wsgi_text"]

_CHUNK = 64 * 1024


class TwilioSignatureMiddleware:
    """Answer 403 before an unsigned or forged Twilio webhook reaches a WSGI app.

    Args:
        app: The WSGI application to protect.
        **options: The options of :class:`~twiliosig.guard.Guard`, by name:
            ``auth_token`` (default ``TWILIO_AUTH_TOKEN``), ``shared_keys``,
            ``paths``, ``public_url``, ``trust_forwarded``, ``url_variants``,
            ``max_body_size``, ``methods``, ``report_only``, ``on_reject``,
            ``enabled``, ``replay_guard``, ``on_store_error``, ``require_https``,
            ``basic_auth``.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[GuardOptions]) -> None:
        self.app = app
        self.guard = Guard.from_options(options)
        self.guard.require_mode(asynchronous=False)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        head = environ_head(environ)
        check = self.guard.start(head)
        if check is None:
            return self.app(environ, start_response)
        decision = check.decision
        if decision is None:
            body = read_body(environ, check.body_limit)
            if body is None:
                decision = check.unreadable()
            elif len(body) > check.body_limit:
                decision = check.overflowed()
            else:
                decision = self.guard.claim(check.finish(body), claimed=environ.get(CLAIMED_KEY))
                environ["wsgi.input"] = io.BytesIO(body)
                if body or environ.get("CONTENT_LENGTH"):
                    environ["CONTENT_LENGTH"] = str(len(body))
        refusal = decision.refusal
        if refusal is not None:
            start_response(refusal.status_line, list(refusal.headers))
            return [refusal.body]
        environ[VERDICT_KEY] = decision.verdict
        if decision.replay_key is None:
            return self.app(environ, start_response)
        environ[CLAIMED_KEY] = decision.replay_key
        return _settling(self.app, environ, start_response, self.guard, decision)


def _settling(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse, guard: Guard, decision: Decision
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
        guard.settle(decision, failed=True)
        raise
    return _SettlingIterable(result, lambda: failed, guard, decision)


class _SettlingIterable:
    """The app's response, passed through; on an error or a 5xx the key is released at close()."""

    def __init__(self, result: Iterable[bytes], failed: Callable[[], bool], guard: Guard, decision: Decision) -> None:
        self._result = result
        self._failed = failed
        self._guard = guard
        self._decision = decision
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
            self._guard.settle(self._decision, failed=self._errored or self._failed())


def environ_head(environ: WSGIEnvironment, path: str | None = None) -> Head:
    """The :class:`~twiliosig.guard.Head` of a WSGI request: the raw target when the server keeps it.

    Shared by the middleware and the Flask and Django integrations, so all rebuild the URL alike.

    Args:
        environ: The WSGI environ.
        path: The path the application routes on, when the framework knows it
            better than ``PATH_INFO`` (else ``PATH_INFO``).
    """
    if path is None:
        path = wsgi_text(environ.get("PATH_INFO", ""))

    def header(name: str) -> str | None:
        if name == "content-type":
            value = environ.get("CONTENT_TYPE")
        elif name == "content-length":
            value = environ.get("CONTENT_LENGTH")
        else:
            value = environ.get(_environ_key(name))
        return None if value is None else wsgi_text(value)

    scheme = environ.get("wsgi.url_scheme", "http")
    raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw_target:
        raw_path, query = split_target(wsgi_text(raw_target))
    else:
        full_path = wsgi_text(environ.get("SCRIPT_NAME", "")) + path
        raw_path, query = quote_path(full_path), wsgi_text(environ.get("QUERY_STRING", ""))
    return Head(
        method=wsgi_text(environ.get("REQUEST_METHOD", "")),
        path=path,
        scheme=scheme,
        host=_host(environ),
        raw_path=raw_path,
        query=query,
        header=header,
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


def _host(environ: WSGIEnvironment) -> str | None:
    """The Host header; None without one (Twilio always sends it: no fallback to ``SERVER_NAME``)."""
    host = environ.get("HTTP_HOST")
    return wsgi_text(host) if host else None


def read_body(environ: WSGIEnvironment, limit: int) -> bytes | None:
    """The body, at most ``limit`` + 1 bytes of it (more than ``limit`` means too large); None if unreadable.

    Without a Content-Length only a server that marks the input terminated
    (``wsgi.input_terminated``, for chunked uploads) is read. A body over the
    limit is left readable from the start in ``wsgi.input``, for report-only.
    """
    declared = environ.get("CONTENT_LENGTH")
    if declared and declared.strip().isdigit():
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
        while received < wanted:
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
