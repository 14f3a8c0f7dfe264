"""The options every adapter takes: the one list of them, what each means, and its check.

:class:`GuardOptions` names each option once, with its type and a docstring that says
what it means and what is refused; :data:`OPTIONS` gives each its default and the
function that checks it; :func:`parse_options` runs those checks when a guard is built
(a bad value is a ``ValueError`` or ``TypeError`` then, never a quiet default later) and
hands :class:`~twiliosig._guard.Guard` the parsed values. README's option table and
docs/options.md are generated from this module (``scripts/options_docs.py``), and
``tests/test_options_docs.py`` fails when they are not current.

Adding an option: its key and docstring in :class:`GuardOptions`, its row in
:data:`OPTIONS` (default, check), its field in :class:`ParsedOptions`; then run
``python scripts/options_docs.py`` and read the parsed value where the guard uses it.
"""

from __future__ import annotations

import difflib
import enum
import inspect
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypedDict

from ._auth import Authenticator, BasicLayer, BearerLayer, Layer, TokenVerifier
from ._digest import DigestAuth, DigestHA1, DigestLayer
from ._keys import AuthToken
from ._origin import ForwardedTrust, PublicUrl, parse_public_url, parse_trust
from ._paths import PathMatcher, path_matcher
from ._urls import DEFAULT_VARIANTS, UrlVariant
from .replay import ReplayStore, check_protocol
from .signature import RequestValidator

if TYPE_CHECKING:
    from ._guard import RejectCallback

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_METHODS",
    "FROM_ENVIRONMENT",
    "GUARD_OPTIONS",
    "OPTIONS",
    "TOKEN_ENVIRONMENT_VARIABLE",
    "GuardOptions",
    "Option",
    "ParsedOptions",
    "check_option_names",
    "parse_options",
]

logger = logging.getLogger("twiliosig")

#: The largest body read before a request is refused with 413: Twilio's form
#: webhooks are a few KiB, and its JSON event batches well under this.
DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024
#: The methods Twilio sends: POST and GET for webhooks, GET for WebSocket handshakes.
DEFAULT_METHODS: Final = ("GET", "POST")
TOKEN_ENVIRONMENT_VARIABLE: Final = "TWILIO_AUTH_TOKEN"  # noqa: S105 - a variable's name, not a secret


class _FromEnvironment(enum.Enum):
    TOKEN = TOKEN_ENVIRONMENT_VARIABLE

    def __repr__(self) -> str:
        return "FROM_ENVIRONMENT"


#: The default ``auth_token``: read ``TWILIO_AUTH_TOKEN`` when the guard is built.
FROM_ENVIRONMENT: Final = _FromEnvironment.TOKEN


class GuardOptions(TypedDict, total=False):
    """The options every adapter takes, by name: the one list of them.

    Each key's docstring is what it means (its first paragraph is the line in
    README's table) and what is refused; its default is in :data:`OPTIONS`.
    Boolean options take True or False only: a string such as ``"false"`` read
    from the environment is a ``TypeError``, never a quiet True.
    """

    auth_token: AuthToken | _FromEnvironment
    """One auth token, several (primary and secondary while rotating), or ``callable(account_sid)`` for subaccounts.

    The callable answers the token(s) of the account that signed (the request's
    ``AccountSid``). The default reads the ``TWILIO_AUTH_TOKEN`` environment
    variable when the guard is built, never at import.

    Refused: bytes (decode the token first); ``None`` while ``TWILIO_AUTH_TOKEN``
    is set (it would be ignored); no token and no ``shared_keys`` at all.
    """

    shared_keys: Mapping[str, str] | None
    """``{key_id: secret}``, chosen by ``X-Twilio-Webhooks-Signature-Settings``, for webhooks signed with a shared key.

    See [shared keys](shared-keys.md). Refused: anything but a mapping of str key
    ids to non-empty str secrets.
    """

    paths: Iterable[str] | PathMatcher | None
    """Path prefixes (whole segments) or a callable ``path -> bool`` that must be signed;
    every reading of a path (dot segments, ``//``, percent-encoding) is tested.

    Other requests pass untouched. Refused: a str (``paths="/twilio/"``: give a
    list), an entry not starting with ``/`` or written as a pattern (``/twilio/*``),
    an empty list (``None`` protects every path).
    """

    public_url: str | None
    """The scheme, host, port and path prefix Twilio calls, when the app cannot see them.

    ``"https://example.com/api"``: the path is prepended to the one the app sees.
    Required when several hosts share one token. Refused: a URL without scheme
    or host, a query or fragment, and together with ``trust_forwarded``.
    """

    trust_forwarded: bool | int | Mapping[str, int]
    """``True``: one proxy's ``X-Forwarded-Proto``/``-Host``; a mapping such as
    ``{"x_proto": 2, "x_host": 1}`` names each header with the number of proxies that write it.

    ``{"forwarded": 1}`` reads RFC 7239 ``Forwarded``. Counted per header: a bare
    number above 1 is refused, as a proxy that passes a header through would leave
    a client's value where it was counted ([count per header](proxies.md#count-per-header)).
    Refused: an unknown header name, a negative count, and together with ``public_url``.
    """

    url_variants: UrlVariant
    """Which URL forms a signature may match besides the one received (``twiliosig.UrlVariant``).

    Refused: anything but a ``UrlVariant`` (combine members with ``|``).
    """

    max_body_size: int
    """Larger bodies get 413 and are never buffered whole.

    A declared ``Content-Length`` over it is refused before a byte is read.
    Refused: anything but a positive int (a bool too).
    """

    methods: Iterable[str]
    """The methods a protected path accepts (``GET`` and ``POST``, all Twilio sends);
    others get 405 before anything else.

    Refused: a str (give a list), an entry that is not an HTTP method, an empty list.
    """

    report_only: bool
    """Log refusals, let requests through: to roll out safely.

    Refused: anything but True or False.
    """

    on_reject: RejectCallback | None
    """``callback(verdict, request_info)`` per refusal (metrics, alerts); its errors are logged, never raised.

    A ``signature_mismatch`` whose signature Twilio made for another reading of the
    request (a forwarding header not trusted, https over http) carries it as
    ``verdict.finding``, a :class:`~twiliosig.Finding` naming the option that fixes
    it; the log line names it too (at ERROR once per fix per five minutes).

    Refused: anything not callable.
    """

    enabled: bool
    """``False`` lets everything through unchecked, with a warning logged at start-up:
    local development only (there is no ``DEBUG`` switch).

    Refused: anything but True or False.
    """

    replay_guard: ReplayStore | None
    """A store from [Replay](replay.md): ``MemoryReplayStore``, ``RedisReplayStore`` (a server,
    Cluster, Sentinel, Valkey), ``MemcachedReplayStore``, Django's ``DjangoCacheReplayStore``:
    a second copy of a handled request gets 409.

    The key is released when the app fails (5xx or raised), so Twilio's retry gets
    through. Refused: anything but a replay store, or one whose ``release`` cannot take
    the claim's token (a store written for the protocol's first form).
    """

    on_store_error: str
    """When the replay store cannot be reached: ``"refuse"`` (503) or ``"allow"`` (let through, logged).

    Refused: any other value.
    """

    require_https: bool
    """Refuse (403) a request whose rebuilt URL is not https (or wss).

    Refused: anything but True or False.
    """

    basic_auth: Mapping[str, str] | None
    """``{user: password}``: 401 with a Basic challenge until Twilio sends them, then the signature.

    Refused: an empty mapping, a user name or password that is empty or not a str, a ``:``
    in a user name.
    """

    digest_auth: Mapping[str, str | DigestHA1] | DigestAuth | None
    """``{user: password}`` or ``{user: DigestHA1(...)}``: 401 with HTTP Digest challenges (SHA-256, MD5) until
    Twilio answers one, then the signature.

    See [authentication](authentication.md). ``DigestAuth(users, realm=..., nonce_lifetime=...,
    require_qop=...)`` sets the realm (``"twilio"``; HA1 values depend on it), how long a
    nonce is accepted (300 s, on every worker: the nonce key is derived from these
    credentials and the signing secrets) and whether RFC 2069's form without ``qop`` is
    refused (accepted by default). Refused: an empty mapping, an empty password, a user
    name that is empty, not a str or holds ``:``, an HA1 value that is not hex of its
    algorithm's length, a lifetime that is not a positive number, auth tokens only looked
    up per account without ``shared_keys`` (nothing to key the nonces with).
    """

    oauth: TokenVerifier | None
    """A verifier from [OAuth](oauth.md) (``twiliosig.oauth.JWTVerifier``, ``IntrospectionVerifier``, ...):
    requires ``Authorization: Bearer`` with a token from your authorization server, then the signature.

    401 without a valid token, 403 without the required scope, 503 while the
    authorization server cannot be reached. Refused: anything but a verifier, and
    together with ``basic_auth`` or ``digest_auth`` (Twilio sends one ``Authorization``
    header: an AuthProfile holds OAuth or a password, never both).
    """


#: The option names every adapter takes, derived from :class:`GuardOptions`.
GUARD_OPTIONS: Final = tuple(GuardOptions.__annotations__)


def check_option_names(names: Iterable[str], spell: Callable[[str], str] = str) -> None:
    """Refuse an unknown option name, suggesting the closest right one (a typo must not go unnoticed).

    Args:
        names: The option names given.
        spell: How the user wrote an option (``"report_only"``, or a config key
            such as ``"TWILIOSIG_REPORT_ONLY"``), for the message.

    Raises:
        TypeError: a name that is not an option.
    """
    for name in names:
        if name not in GUARD_OPTIONS:
            close = difflib.get_close_matches(name, GUARD_OPTIONS, n=1, cutoff=0.6)
            hint = f"did you mean {spell(close[0])!r}?" if close else f"known: {', '.join(map(spell, GUARD_OPTIONS))}"
            raise TypeError(f"twiliosig has no option {spell(name)!r}; {hint}")


# --- one check per option: each returns the parsed value or raises ------------------------


def _flag(name: str) -> Callable[[object], bool]:
    """A boolean option's check: a real bool, never a truthy string such as ``"false"`` from the environment."""

    def check(value: object) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, not {value!r}")
        return value

    return check


def _auth_token(value: object) -> object:
    """Bytes are refused here; whether a secret exists at all is :func:`parse_options`'s (it needs ``shared_keys``)."""
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("auth_token must be a str (the token as Twilio shows it), not bytes: decode it first")
    return value


def _as_given(value: object) -> object:
    """Checked by :class:`~twiliosig.RequestValidator`, which the guard builds from it."""
    return value


def _paths(value: object) -> PathMatcher:
    return path_matcher(value)  # type: ignore[arg-type]  # path_matcher checks the type itself


def _public_url(value: object) -> PublicUrl | None:
    return parse_public_url(value) if value is not None else None  # type: ignore[arg-type]


def _max_body_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("max_body_size must be a positive number of bytes")
    return value


def _methods(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError("methods must be a list of HTTP methods, e.g. methods=['GET', 'POST']")
    allowed = set()
    for method in value:
        if not isinstance(method, str) or not method.isascii() or not method.isalpha():
            raise ValueError(f"methods holds {method!r}, which is not an HTTP method")
        allowed.add(method.upper())
    if not allowed:
        raise ValueError("methods is empty, which would refuse every request")
    return frozenset(allowed)


def _on_reject(value: object) -> RejectCallback | None:
    if value is not None and not callable(value):
        raise TypeError("on_reject must be a callable(verdict, request_info)")
    return value  # any callable: its errors are logged, never raised


def _replay_guard(value: object) -> ReplayStore | None:
    if value is None:
        return None
    if not isinstance(value, ReplayStore):
        raise TypeError("replay_guard must be a replay store such as MemoryReplayStore or RedisReplayStore")
    check_protocol(value)
    return value


def _on_store_error(value: object) -> str:
    if value not in ("refuse", "allow"):
        raise ValueError("on_store_error must be 'refuse' or 'allow'")
    return str(value)


def _basic_auth(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise TypeError("basic_auth must be a non-empty mapping of user name to password")
    for user, password in value.items():
        if not isinstance(user, str) or not isinstance(password, str) or not user or not password or ":" in user:
            raise ValueError("basic_auth needs non-empty str user names (without ':') and passwords")
    return dict(value)


def _digest_auth(value: object) -> DigestAuth | None:
    if value is None:
        return None
    if isinstance(value, DigestAuth):  # checked again: its attributes may have changed since it was built
        return DigestAuth(
            value.users, realm=value.realm, nonce_lifetime=value.nonce_lifetime, require_qop=value.require_qop
        )
    if not isinstance(value, Mapping):
        raise TypeError("digest_auth must be a mapping of user name to password or DigestHA1, or a DigestAuth")
    return DigestAuth(value)


def _oauth(value: object) -> TokenVerifier | None:
    """A verifier instance: a class passes the protocol's isinstance too (its methods unbound), as does an async lookup.

    Either would raise on every request (a 500, each time); both are refused when the guard is built.
    """
    if value is None:
        return None
    if (
        isinstance(value, type)
        or not isinstance(value, TokenVerifier)
        or inspect.iscoroutinefunction(value.lookup)
        or inspect.iscoroutinefunction(value.verify)
    ):
        kind = f"the class {value.__name__}" if isinstance(value, type) else type(value).__name__
        raise TypeError(
            "oauth must be a verifier from twiliosig.oauth (JWTVerifier, IntrospectionVerifier, CallableVerifier), "
            f"built (an instance), with lookup and verify plain functions and averify async; not {kind}"
        )
    return value


def authenticator(
    basic: Mapping[str, str] | None,
    digest: DigestAuth | None = None,
    oauth: TokenVerifier | None = None,
    secrets: Sequence[bytes] = (),
) -> Authenticator | None:
    """The authentication layers the options configure, in challenge order; None when there are none.

    ``secrets`` are the signing secrets: Digest keys its nonces with them (see ``_digest``).
    """
    layers: list[Layer] = []
    if oauth is not None:  # never with a password layer: parse_options refuses the pair
        layers.append(BearerLayer(oauth))
    if digest is not None:  # RFC 7616: Digest's challenges before Basic's
        layers.append(DigestLayer(digest, secrets=secrets))
    if basic is not None:
        layers.append(BasicLayer(basic))
    return Authenticator(layers) if layers else None


class Option(NamedTuple):
    """An option's default and its check; its meaning is its docstring in :class:`GuardOptions`.

    Attributes:
        default: The value when the option is not given.
        check: Takes the given value; returns the parsed one or raises ``TypeError``/``ValueError``.
        shown: The default as the docs show it, when ``repr`` would not say it plainly.
    """

    default: Any
    check: Callable[[Any], object]
    shown: str | None = None


#: Each option's default and check, in :class:`GuardOptions`'s order (a test holds the two together).
OPTIONS: Final[Mapping[str, Option]] = {
    "auth_token": Option(FROM_ENVIRONMENT, _auth_token, "`TWILIO_AUTH_TOKEN`"),
    "shared_keys": Option(None, _as_given),
    "paths": Option(None, _paths, "every path"),
    "public_url": Option(None, _public_url),
    "trust_forwarded": Option(False, parse_trust),
    "url_variants": Option(DEFAULT_VARIANTS, _as_given, "all"),
    "max_body_size": Option(DEFAULT_MAX_BODY_SIZE, _max_body_size, "1 MiB"),
    "methods": Option(DEFAULT_METHODS, _methods, "`GET`, `POST`"),
    "report_only": Option(False, _flag("report_only")),
    "on_reject": Option(None, _on_reject),
    "enabled": Option(True, _flag("enabled")),
    "replay_guard": Option(None, _replay_guard),
    "on_store_error": Option("refuse", _on_store_error),
    "require_https": Option(False, _flag("require_https")),
    "basic_auth": Option(None, _basic_auth),
    "digest_auth": Option(None, _digest_auth),
    "oauth": Option(None, _oauth),
}


def check_given(options: Mapping[str, object]) -> None:
    """Check the names and values of options given before the rest are known (a decorator, before its app).

    What spans options or needs the secret (``public_url`` with ``trust_forwarded``,
    ``oauth`` with a password layer, no secret at all) is :func:`parse_options`'s, when
    the guard is built; everything else fails here, at import, not at the first request.

    Raises:
        TypeError: an unknown name, or a value of the wrong type.
        ValueError: a wrong value.
    """
    check_option_names(options)
    for name, value in options.items():
        OPTIONS[name].check(value)


class ParsedOptions(NamedTuple):
    """What :func:`parse_options` hands the guard: every option checked, in the form the guard reads it."""

    validator: RequestValidator  # from auth_token, shared_keys and url_variants
    diagnosis_validator: RequestValidator  # the same secrets, each URL read as written (no variants)
    protects: PathMatcher
    public_url: PublicUrl | None
    trust: ForwardedTrust
    max_body_size: int
    methods: frozenset[str]
    report_only: bool
    on_reject: RejectCallback | None
    enabled: bool
    replay_guard: ReplayStore | None
    on_store_error: str
    require_https: bool
    authenticator: Authenticator | None  # from basic_auth, digest_auth and oauth


def parse_options(options: Mapping[str, object]) -> ParsedOptions:
    """Check every option (an unknown name too) and the ones that depend on each other.

    Raises:
        TypeError: an unknown name, or a value of the wrong type.
        ValueError: a wrong value, no secret at all, or ``public_url`` with ``trust_forwarded``.
    """
    check_option_names(options)

    def parsed(name: str) -> Any:
        option = OPTIONS[name]
        return option.check(options.get(name, option.default))

    enabled: bool = parsed("enabled")
    report_only: bool = parsed("report_only")
    require_https: bool = parsed("require_https")
    auth_token: object = options.get("auth_token", FROM_ENVIRONMENT)
    shared_keys: Any = options.get("shared_keys")
    if not enabled:
        logger.warning(
            "twiliosig: signature validation is DISABLED (enabled=False): every request is let through "
            "unchecked. This is for local development only; never deploy it."
        )
        # Nothing is checked, but the validator must not hold a secret anyone could know.
        auth_token, shared_keys = secrets.token_urlsafe(32), None
    auth_token = _auth_token(auth_token)
    if auth_token is None and not shared_keys and os.environ.get(TOKEN_ENVIRONMENT_VARIABLE):
        raise ValueError(
            f"auth_token=None was given, so {TOKEN_ENVIRONMENT_VARIABLE} (which is set) is not used and "
            "there is no secret: leave auth_token out to read the variable"
        )
    if auth_token is FROM_ENVIRONMENT:
        auth_token = os.environ.get(TOKEN_ENVIRONMENT_VARIABLE) or None
        if auth_token is None and not shared_keys:
            raise ValueError(
                f"{TOKEN_ENVIRONMENT_VARIABLE} is not set and no auth_token or shared_keys were given: "
                "refusing to start rather than let unsigned requests through"
            )
    validator = RequestValidator(
        auth_token,  # type: ignore[arg-type]  # RequestValidator checks the token's type itself
        shared_keys=shared_keys,
        url_variants=parsed("url_variants"),
    )
    protects: PathMatcher = parsed("paths")
    public_url: PublicUrl | None = parsed("public_url")
    trust: ForwardedTrust = parsed("trust_forwarded")
    if public_url is not None and trust:
        raise ValueError(
            "public_url and trust_forwarded both say where the URL Twilio called comes from: give one "
            "(public_url when the public address is known, trust_forwarded when it varies)"
        )
    oauth: TokenVerifier | None = parsed("oauth")
    passwords = [name for name in ("basic_auth", "digest_auth") if options.get(name) is not None]
    if oauth is not None and passwords:
        raise ValueError(
            f"oauth and {' and '.join(passwords)} cannot both be required: Twilio sends one Authorization header "
            "per request (an AuthProfile holds either OAuth 2.0 or a user and password), so no request could pass"
        )
    return ParsedOptions(
        validator=validator,
        # The same secrets, each reading checked as written: tells a misconfiguration from a forgery.
        diagnosis_validator=RequestValidator(
            auth_token,  # type: ignore[arg-type]
            shared_keys=shared_keys,
            url_variants=UrlVariant.NONE,
        ),
        protects=protects,
        public_url=public_url,
        trust=trust,
        max_body_size=parsed("max_body_size"),
        methods=parsed("methods"),
        report_only=report_only,
        on_reject=parsed("on_reject"),
        enabled=enabled,
        replay_guard=parsed("replay_guard"),
        on_store_error=parsed("on_store_error"),
        require_https=require_https,
        authenticator=authenticator(
            parsed("basic_auth"), parsed("digest_auth"), oauth, secrets=validator._static_secrets()
        ),
    )
