"""The middleware options, checked once, and the decision every adapter shares.

Both middlewares and every framework integration build one :class:`Guard` from
the same option names and ask it the same questions (is this path protected,
what URL did Twilio call, what are the parameters, is the request genuine), so
they cannot drift apart. The guard also does the one thing every refusal needs:
log it once, safely, and tell ``on_reject``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Final, NamedTuple, TypedDict

from ._logtext import loggable
from .keys import AuthToken
from .replay import ReplayStore, StoreUnavailable, replay_key
from .request import (
    FORM_CONTENT_TYPE,
    SETTINGS_HEADER,
    SIGNATURE_HEADER,
    BodyParams,
    PathMatcher,
    SignedRequest,
    TrustedOrigin,
    forwarded_origin,
    parse_form,
    parse_public_url,
    path_matcher,
    rebuild_url,
)
from .signature import RequestValidator
from .urls import DEFAULT_VARIANTS, UrlVariant, query_values, redact
from .verdict import Reason, Verdict

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "FROM_ENVIRONMENT",
    "GUARD_OPTIONS",
    "VERDICT_KEY",
    "Guard",
    "GuardOptions",
    "Judgement",
    "RejectCallback",
    "RequestInfo",
]

logger = logging.getLogger("twiliosig")

#: The largest body read before a request is refused with 413: Twilio's form
#: webhooks are a few KiB, and its JSON event batches well under this.
DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024
#: Where an accepted request's verdict is left for the application (WSGI environ, ASGI scope).
VERDICT_KEY: Final = "twiliosig.verdict"
TOKEN_ENVIRONMENT_VARIABLE: Final = "TWILIO_AUTH_TOKEN"  # noqa: S105 - a variable's name, not a secret


#: The option names every adapter takes, the same everywhere.
GUARD_OPTIONS: Final = (
    "auth_token",
    "shared_keys",
    "paths",
    "public_url",
    "trust_forwarded",
    "url_variants",
    "max_body_size",
    "report_only",
    "on_reject",
    "enabled",
    "replay_guard",
    "on_store_error",
    "require_https",
    "basic_auth",
)


class GuardOptions(TypedDict, total=False):
    """The options every adapter takes, by name (see :class:`Guard`)."""

    auth_token: AuthToken | _FromEnvironment
    shared_keys: Mapping[str, str] | None
    paths: Iterable[str] | PathMatcher | None
    public_url: str | None
    trust_forwarded: bool | int
    url_variants: UrlVariant
    max_body_size: int
    report_only: bool
    on_reject: RejectCallback | None
    enabled: bool
    replay_guard: ReplayStore | None
    on_store_error: str
    require_https: bool
    basic_auth: Mapping[str, str] | None


class _FromEnvironment(enum.Enum):
    TOKEN = TOKEN_ENVIRONMENT_VARIABLE

    def __repr__(self) -> str:
        return "FROM_ENVIRONMENT"


#: The default ``auth_token``: read ``TWILIO_AUTH_TOKEN`` when the guard is built.
FROM_ENVIRONMENT: Final = _FromEnvironment.TOKEN


class RequestInfo(NamedTuple):
    """What ``on_reject`` learns about a refused request besides its verdict."""

    method: str
    path: str
    url: str | None  # the rebuilt URL, password redacted; None if it could not be rebuilt


RejectCallback = Callable[[Verdict, RequestInfo], object]


class Judgement(NamedTuple):
    """A verdict, and the replay key to claim for it (None without a replay guard or when refused)."""

    verdict: Verdict
    replay_key: str | None = None


_STATUS = {
    Reason.BODY_TOO_LARGE: (413, "Payload Too Large"),
    Reason.UNAUTHORIZED: (401, "Unauthorized"),
    Reason.REPLAYED: (409, "Conflict"),
    Reason.REPLAY_STORE_UNAVAILABLE: (503, "Service Unavailable"),
    Reason.MALFORMED_BODY: (400, "Bad Request"),
    Reason.MALFORMED_URL: (400, "Bad Request"),
    Reason.MALFORMED_PARAMS: (400, "Bad Request"),
}
_FORBIDDEN = (403, "Forbidden")


def _nothing(path: str) -> bool:
    """The path test of a disabled guard: nothing is protected."""
    return False


def _hops(trust_forwarded: bool | int) -> int:
    if isinstance(trust_forwarded, bool):
        return int(trust_forwarded)
    if isinstance(trust_forwarded, int) and trust_forwarded >= 0:
        return trust_forwarded
    raise TypeError("trust_forwarded must be True, False, or the number of proxies in front of the app")


def _credentials(basic_auth: Mapping[str, str] | None) -> tuple[tuple[bytes, bytes], ...]:
    if basic_auth is None:
        return ()
    if not isinstance(basic_auth, Mapping) or not basic_auth:
        raise TypeError("basic_auth must be a non-empty mapping of user name to password")
    pairs = []
    for user, password in basic_auth.items():
        if not isinstance(user, str) or not isinstance(password, str) or not user or not password or ":" in user:
            raise ValueError("basic_auth needs non-empty str user names (without ':') and passwords")
        pairs.append((user.encode("utf-8"), password.encode("utf-8")))
    return tuple(pairs)


class Guard:
    """The options every adapter takes, checked once when it is built, and the decision they share.

    Raises ``ValueError`` or ``TypeError`` for bad configuration, including no
    secret at all. The options, the same for the middlewares and the integrations:

    - ``auth_token``: the auth token; several during rotation; or a callable
      ``(account_sid) -> token(s)`` for subaccounts. Defaults to
      ``TWILIO_AUTH_TOKEN``, read now; with neither a token nor ``shared_keys``
      construction fails.
    - ``shared_keys``: ``{key_id: secret}`` for webhooks signed with a shared key.
    - ``paths``: path prefixes that must be signed (``["/twilio/"]``), or a callable
      ``path -> bool``; every path when None. Other requests pass untouched.
    - ``public_url``: the scheme, host, port and path prefix Twilio calls, when the
      app cannot see them (``"https://example.com/api"``: the path is prepended to
      the one the app sees).
    - ``trust_forwarded``: take scheme, host, port and prefix from ``Forwarded`` or
      ``X-Forwarded-*``; True for one proxy, or the number of proxies.
    - ``url_variants``: which URL forms a signature may match besides the one
      received (:class:`~twiliosig.UrlVariant`).
    - ``max_body_size``: larger bodies are refused with 413, never buffered whole.
    - ``report_only``: log refusals but let every request through, to roll out safely.
    - ``on_reject``: called as ``on_reject(verdict, request_info)`` for each refusal
      (metrics, alerts); its errors are logged, never raised.
    - ``enabled``: False lets every request through unchecked, with a warning logged
      at construction: for local development only. There is no ``DEBUG`` switch.
    - ``replay_guard``: a replay store (:mod:`twiliosig.replay`): a second copy of a
      handled request is refused with 409; the key is released when the app fails.
    - ``on_store_error``: ``"refuse"`` (503, the default) or ``"allow"`` when the
      replay store cannot be reached.
    - ``require_https``: refuse (403) a request whose rebuilt URL is not https.
    - ``basic_auth``: ``{user: password}``: require HTTP Basic credentials (401 with a
      challenge without them, as Twilio expects), then the signature.
    """

    __slots__ = (
        "basic_auth",
        "enabled",
        "max_body_size",
        "on_reject",
        "on_store_error",
        "protects",
        "proxy_hops",
        "public_url",
        "replay_guard",
        "report_only",
        "require_https",
        "validator",
    )

    def __init__(
        self,
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
        self.enabled = bool(enabled)
        if not self.enabled:
            logger.warning(
                "twiliosig: signature validation is DISABLED (enabled=False): every request is let through "
                "unchecked. This is for local development only; never deploy it."
            )
            # Nothing is checked, but the validator must not hold a secret anyone could know.
            auth_token, shared_keys = secrets.token_urlsafe(32), None
        token: AuthToken
        if auth_token is FROM_ENVIRONMENT:
            token = os.environ.get(TOKEN_ENVIRONMENT_VARIABLE) or None
            if token is None and not shared_keys:
                raise ValueError(
                    f"{TOKEN_ENVIRONMENT_VARIABLE} is not set and no auth_token or shared_keys were given: "
                    "refusing to start rather than let unsigned requests through"
                )
        else:
            token = auth_token
        self.validator = RequestValidator(token, shared_keys=shared_keys, url_variants=url_variants)
        self.protects = path_matcher(paths) if self.enabled else _nothing
        self.public_url = parse_public_url(public_url) if public_url is not None else None
        self.proxy_hops = _hops(trust_forwarded)
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int) or max_body_size <= 0:
            raise ValueError("max_body_size must be a positive number of bytes")
        self.max_body_size = max_body_size
        self.report_only = bool(report_only)
        if on_reject is not None and not callable(on_reject):
            raise TypeError("on_reject must be a callable(verdict, request_info)")
        self.on_reject = on_reject
        if replay_guard is not None and not isinstance(replay_guard, ReplayStore):
            raise TypeError("replay_guard must be a replay store such as MemoryReplayStore or RedisReplayStore")
        self.replay_guard = replay_guard
        if on_store_error not in ("refuse", "allow"):
            raise ValueError("on_store_error must be 'refuse' or 'allow'")
        self.on_store_error = on_store_error
        self.require_https = bool(require_https)
        self.basic_auth = _credentials(basic_auth)

    def url(
        self,
        *,
        scheme: str,
        host: str,
        path: str,
        query: str,
        header: Callable[[str], str | None],
        websocket: bool = False,
    ) -> str | None:
        """The URL Twilio called, from the request's own parts and the configured trust."""
        origin: TrustedOrigin | None = None
        if self.public_url is None and self.proxy_hops:
            origin = forwarded_origin(header, self.proxy_hops)
        return rebuild_url(
            scheme=scheme,
            host=host,
            path=path,
            query=query,
            public_url=self.public_url,
            origin=origin,
            websocket=websocket,
        )

    @staticmethod
    def body_params(url: str, content_type: str | None, body: bytes) -> BodyParams | Verdict:
        """What of the body the signature covers: form pairs, the raw body, or nothing.

        A body with ``bodySHA256`` in the URL goes to the core raw, to be hashed;
        a form body is parsed into pairs; any other non-empty body goes raw too,
        and the core refuses it as unsigned.
        """
        if "bodySHA256" in url and query_values(url, "bodySHA256"):
            return body
        if not body:
            return None
        media_type = (content_type or "").partition(";")[0].strip().lower()
        if media_type == FORM_CONTENT_TYPE:
            try:
                return parse_form(body)
            except ValueError as error:
                return Verdict(False, Reason.MALFORMED_BODY, str(error))
        return body

    def inspect(
        self,
        *,
        method: str,
        path: str,
        scheme: str,
        host: str | None,
        raw_path: str,
        query: str,
        header: Callable[[str], str | None],
        content_type: str | None = None,
        body: bytes = b"",
        form: list[tuple[str, str]] | None = None,
        websocket: bool = False,
    ) -> Judgement:
        """Judge one request from its parts: the single path every adapter takes.

        Checks, in order: HTTP Basic credentials (``basic_auth``), the URL
        (``require_https``), the body, the signature. A genuine request comes
        back with the key the replay guard must claim for it (:meth:`admit`).

        Args:
            method: The HTTP method (``GET`` for a WebSocket handshake).
            path: The path the application routes on, for ``paths`` and logs.
            scheme: The scheme the server saw.
            host: The Host header, or the server's name and port; None if unknown.
            raw_path: The path as sent, percent-encoding intact, application prefix included.
            query: The raw query string.
            header: Returns a request header by lower-case name, or None.
            content_type: The Content-Type header.
            body: The whole body, already read within ``max_body_size``.
            form: The form pairs, for a framework that parsed the body before
                the check could read it (FastAPI); used instead of ``body``.
            websocket: A WebSocket handshake (signed over ``wss://``, no params).
        """
        url = None
        if host is not None:
            url = self.url(scheme=scheme, host=host, path=raw_path, query=query, header=header, websocket=websocket)
        refusal = self._preconditions(url, header)
        if refusal is not None:
            self.report(refusal, method, path, url)
            return Judgement(refusal)
        assert url is not None  # _preconditions refuses a request without one
        params = form if form is not None else self.body_params(url, content_type, body)
        if isinstance(params, Verdict):
            self.report(params, method, path, url)
            return Judgement(params)
        signature = header(SIGNATURE_HEADER)
        verdict = self.judge(SignedRequest(method, path, url, params, signature, header(SETTINGS_HEADER)))
        if not verdict.valid or self.replay_guard is None or websocket:
            return Judgement(verdict)
        return Judgement(verdict, replay_key(signature or ""))

    def _preconditions(self, url: str | None, header: Callable[[str], str | None]) -> Verdict | None:
        """The refusals that need no signature: bad Host, missing credentials, not HTTPS."""
        if url is None:
            return Verdict(False, Reason.MALFORMED_URL, "the Host header cannot be part of a URL")
        if self.basic_auth and not self._authenticated(header("authorization")):
            return Verdict(False, Reason.UNAUTHORIZED, "no valid HTTP Basic credentials (Twilio sends them on retry)")
        if self.require_https and not url.startswith(("https://", "wss://")):
            return Verdict(False, Reason.NOT_HTTPS, "require_https is set and the URL Twilio called is not https")
        return None

    def _authenticated(self, authorization: str | None) -> bool:
        """Constant-time check of ``Authorization: Basic ...`` against every configured pair."""
        scheme, _, encoded = (authorization or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        found = False
        for known_user, known_password in self.basic_auth:
            same_user = hmac.compare_digest(known_user, user.encode("utf-8"))
            same_password = hmac.compare_digest(known_password, password.encode("utf-8"))
            found |= same_user & same_password
        return found

    def admit(self, judgement: Judgement, method: str = "", path: str = "") -> tuple[Verdict, str | None]:
        """Claim a genuine request's replay key; returns the final verdict and the key to release on failure."""
        verdict, key = judgement
        if key is None or self.replay_guard is None:
            return verdict, None
        try:
            first = self.replay_guard.claim(key)
        except StoreUnavailable as error:
            return self._store_failed(verdict, error, method, path), None
        return self._claimed(verdict, key, first, method, path)

    async def aadmit(self, judgement: Judgement, method: str = "", path: str = "") -> tuple[Verdict, str | None]:
        """:meth:`admit` for ASGI apps: the store's asyncio client, never blocking the loop."""
        verdict, key = judgement
        if key is None or self.replay_guard is None:
            return verdict, None
        try:
            first = await self.replay_guard.aclaim(key)
        except StoreUnavailable as error:
            return self._store_failed(verdict, error, method, path), None
        return self._claimed(verdict, key, first, method, path)

    def _claimed(self, verdict: Verdict, key: str, first: bool, method: str, path: str) -> tuple[Verdict, str | None]:
        if first:
            return verdict, key
        replayed = verdict._replace(
            valid=False, reason=Reason.REPLAYED, detail="this signed request was already handled (a replay)"
        )
        self.report(replayed, method, path, verdict.matched_url)
        return replayed, None

    def _store_failed(self, verdict: Verdict, error: StoreUnavailable, method: str, path: str) -> Verdict:
        if self.on_store_error == "allow":
            logger.warning(
                "twiliosig: the replay store failed (%s); letting %s %s through",
                loggable(error),
                loggable(method, 20),
                loggable(path),
            )
            return verdict
        failed = verdict._replace(
            valid=False, reason=Reason.REPLAY_STORE_UNAVAILABLE, detail="the replay store could not be reached"
        )
        self.report(failed, method, path, verdict.matched_url)
        return failed

    def release(self, key: str | None) -> None:
        """Forget a claimed key after the app failed, so Twilio's retry gets through; never raises."""
        if key is not None and self.replay_guard is not None:
            try:
                self.replay_guard.release(key)
            except StoreUnavailable as error:
                logger.warning("twiliosig: could not release a replay key after a failure: %s", loggable(error))

    async def arelease(self, key: str | None) -> None:
        """:meth:`release` for ASGI apps."""
        if key is not None and self.replay_guard is not None:
            try:
                await self.replay_guard.arelease(key)
            except StoreUnavailable as error:
                logger.warning("twiliosig: could not release a replay key after a failure: %s", loggable(error))

    def declared_length(self, value: str | None) -> int | Verdict | None:
        """The Content-Length as a number, None when absent, or the refusal it earns."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            return Verdict(False, Reason.MALFORMED_BODY, "the Content-Length header is not a number")
        length = int(value)
        if length > self.max_body_size:
            return self.too_large(length)
        return length

    def too_large(self, size: int | None = None) -> Verdict:
        """The refusal for a body over ``max_body_size`` (``size`` when known)."""
        what = "the body" if size is None else f"the body of {size} bytes"
        return Verdict(False, Reason.BODY_TOO_LARGE, f"{what} is over the {self.max_body_size}-byte limit")

    def judge(self, request: SignedRequest) -> Verdict:
        """Check a request; a refusal is logged and reported before it is returned."""
        verdict = self.validator.check(
            request.url, request.params, request.signature, signature_settings=request.signature_settings
        )
        if not verdict.valid:
            self.report(verdict, request.method, request.path, request.url)
        return verdict

    def report(self, verdict: Verdict, method: str, path: str, url: str | None) -> None:
        """Log a refusal once and call ``on_reject``; never raises."""
        origin = "could not be rebuilt"
        if url is not None:
            scheme, _, rest = url.partition("://")
            origin = f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}"
        logger.warning(
            "twiliosig %s %s %s: %s (URL rebuilt as %s..., %d URL forms tried)",
            "let through (report only)" if self.report_only else "refused",
            loggable(method, 20),
            loggable(path),
            verdict.reason.value,
            loggable(origin),
            verdict.urls_tried,
            extra={"twiliosig_reason": verdict.reason.value, "twiliosig_report_only": self.report_only},
        )
        if self.on_reject is not None:
            try:
                self.on_reject(verdict, RequestInfo(method, path, None if url is None else redact(url)))
            except Exception:
                logger.exception("twiliosig: the on_reject callback raised")

    @staticmethod
    def status(verdict: Verdict) -> tuple[int, str]:
        """The HTTP status and its reason phrase for a refusal."""
        return _STATUS.get(verdict.reason, _FORBIDDEN)

    @staticmethod
    def extra_headers(verdict: Verdict) -> list[tuple[str, str]]:
        """Headers a refusal needs besides its content type: the Basic challenge for a 401."""
        if verdict.reason is Reason.UNAUTHORIZED:
            return [("WWW-Authenticate", 'Basic realm="twilio", charset="UTF-8"')]
        return []
