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

import io
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .guard import (
    DEFAULT_MAX_BODY_SIZE,
    FROM_ENVIRONMENT,
    VERDICT_KEY,
    Guard,
    Judgement,
    RejectCallback,
    _FromEnvironment,
)
from .keys import AuthToken
from .replay import ReplayStore
from .request import (
    PathMatcher,
    decode_target,
    quote_path,
    split_target,
)
from .urls import DEFAULT_VARIANTS, UrlVariant, default_port
from .verdict import Reason, Verdict

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["TwilioSignatureMiddleware", "inspect_environ", "read_body", "wsgi_text"]

_CHUNK = 64 * 1024


class TwilioSignatureMiddleware:
    """Answer 403 before an unsigned or forged Twilio webhook reaches a WSGI app.

    Args:
        app: The WSGI application to protect.
        auth_token: The auth token; several during rotation; or a callable
            ``(account_sid) -> token(s)`` for subaccounts. Defaults to
            ``TWILIO_AUTH_TOKEN``, read now; with neither a token nor
            ``shared_keys`` the constructor raises ``ValueError``.
        shared_keys: ``{key_id: secret}`` for webhooks signed with a shared key.
        paths: Path prefixes that must be signed (``["/twilio/"]``), or a
            callable ``path -> bool``; every path when None. Other requests pass
            untouched.
        public_url: The scheme, host, port and path prefix Twilio calls, when
            the app cannot see them (``"https://example.com/api"``: the path is
            prepended to the one the app sees).
        trust_forwarded: Take scheme, host, port and prefix from ``Forwarded``
            or ``X-Forwarded-*``; True for one proxy, or the number of proxies.
        url_variants: Which URL forms a signature may match besides the one
            received (:class:`~twiliosig.UrlVariant`).
        max_body_size: Larger bodies are refused with 413, never buffered whole.
        report_only: Log refusals but let every request through, to roll out safely.
        on_reject: Called as ``on_reject(verdict, request_info)`` for each
            refusal (metrics, alerts); its errors are logged, never raised.
        enabled: False lets every request through unchecked, with a warning
            logged when the middleware is built: for local development only.
            There is no ``DEBUG`` switch; this is the only way to turn it off.
        replay_guard: A replay store (:mod:`twiliosig.replay`): a second copy of
            a handled request is refused with 409; released when the app fails.
        on_store_error: ``"refuse"`` (503, the default) or ``"allow"`` when the
            replay store cannot be reached.
        require_https: Refuse (403) a request whose rebuilt URL is not https.
        basic_auth: ``{user: password}``: require HTTP Basic credentials (401
            with a challenge without them, as Twilio expects), then the signature.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        auth_token: AuthToken | _FromEnvironment = FROM_ENVIRONMENT,
        shared_keys: Mapping[str, str] | None = None,
        paths: Iterable[str] | PathMatcher | None = None,
        public_url: str | None = None,
        trust_forwarded: bool | int = False,
        url_variants: UrlVariant = DEFAULT_VARIANTS,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        report_only: bool = False,
        on_reject: RejectCallback | None = None,
        enabled: bool = True,
        replay_guard: ReplayStore | None = None,
        on_store_error: str = "refuse",
        require_https: bool = False,
        basic_auth: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.guard = Guard(
            auth_token=auth_token,
            shared_keys=shared_keys,
            paths=paths,
            public_url=public_url,
            trust_forwarded=trust_forwarded,
            url_variants=url_variants,
            max_body_size=max_body_size,
            report_only=report_only,
            on_reject=on_reject,
            enabled=enabled,
            replay_guard=replay_guard,
            on_store_error=on_store_error,
            require_https=require_https,
            basic_auth=basic_auth,
        )

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
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
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
