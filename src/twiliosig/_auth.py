"""How Twilio proves it may call the app, beside its signature: one layer per scheme, asked from the head.

Twilio authenticates itself three ways besides the signature (see
docs/authentication.md): HTTP Basic and HTTP Digest (the password schemes: credentials
in the webhook URL, or an AuthProfile), and OAuth 2.0 bearer tokens from the user's own
authorization server. A request carries one ``Authorization`` header, so the guard asks
one :class:`Authenticator`, built once from the options: it picks the layer by the
header's scheme, and answers for a request with no or foreign credentials with every
challenge configured, in the order RFC 7616 asks for (Digest SHA-256, Digest MD5,
Basic). The signature is still checked after any layer accepts.

A layer decides from the head alone. One that needs the network first (a bearer
token not seen before) answers :class:`Waiting`: the adapter resolves it before it
reads the body, blocking in a sync adapter, off the event loop in an async one.

Standard library only: the core and both middlewares import this module.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, NamedTuple, Protocol, runtime_checkable

from .verdict import Reason

__all__ = [
    "ACCEPTED",
    "AuthRequest",
    "Authenticator",
    "BasicLayer",
    "BearerLayer",
    "Denied",
    "Layer",
    "TokenResult",
    "TokenVerifier",
    "Waiting",
    "split_authorization",
]

#: Why a request without an Authorization header is refused under ``oauth``: Twilio sends its token unasked.
_UNASKED_BEARER: Final = (
    "no Authorization header: Twilio sends its bearer token with every request when an AuthProfile with "
    "OAuth applies to this URL (check the Webhook Rule that names it)"
)

#: Why a request without an Authorization header is refused under Basic or Digest: the 401 asks for them.
_NO_CREDENTIALS: Final = "no Authorization header (Twilio sends credentials after the 401 challenge)"

#: The realm every challenge names: Twilio repeats a request with credentials after a 401 carrying one.
REALM: Final = "twilio"


class AuthRequest(NamedTuple):
    """What a layer may read: nothing but the head, and the URL the signature is checked against.

    Attributes:
        method: The HTTP method, as received (Digest hashes it).
        target: The request target Twilio sent: the path and query of the URL the
            signature is checked against (the public URL's, behind a proxy that
            rewrites the path). Digest's ``uri`` must equal it.
        url: That URL, whole (never logged here).
        header: A request header by lower-case name, or None.
    """

    method: str
    target: str
    url: str
    header: Callable[[str], str | None]


class Denied(NamedTuple):
    """A layer's refusal.

    Attributes:
        layer: The option whose layer refused (``"basic_auth"``, ``"digest_auth"``,
            ``"oauth"``): the log's ``twiliosig_layer`` and ``explain`` name it.
        detail: One sentence for the log: what was wrong, never a credential or a token.
        reason: :attr:`Reason.UNAUTHORIZED` (401) unless the layer says otherwise
            (a token without the scope: 403; the authorization server unreachable: 503).
        challenges: The ``WWW-Authenticate`` values to send; empty to send every
            challenge the authenticator has (a Digest nonce that expired sends its own,
            with ``stale=true``).
    """

    layer: str
    detail: str
    reason: Reason = Reason.UNAUTHORIZED
    challenges: tuple[str, ...] = ()


class Waiting(NamedTuple):
    """A layer's answer when it needs the network first (a key set, an introspection).

    The two callables do the same work: ``resolve`` blocks (a sync adapter's worker
    thread), ``aresolve`` never blocks the event loop. Each returns what the layer
    would have answered with the answer in hand.
    """

    layer: str
    resolve: Callable[[], Denied | None]
    aresolve: Callable[[], Awaitable[Denied | None]]


class Layer(Protocol):
    """One authentication scheme: what the authenticator asks of it."""

    #: The option that configures it, as a log and ``explain`` name it.
    option: str
    #: The ``Authorization`` schemes it reads, lower case (``("basic",)``).
    schemes: tuple[str, ...]

    def challenges(self) -> tuple[str, ...]:
        """The ``WWW-Authenticate`` values a 401 offers for this layer (a fresh nonce each time, for Digest)."""
        ...

    def authenticate(self, credentials: str, request: AuthRequest) -> Denied | Waiting | None:
        """None when ``credentials`` (the header after its scheme) prove the caller; else why not, or Waiting."""
        ...


def split_authorization(value: str | None) -> tuple[str, str]:
    """``("digest", 'username="x", ...')``: the scheme in lower case and the rest; ``("", "")`` when absent."""
    if value is None:
        return "", ""
    scheme, _, rest = value.strip().partition(" ")
    return scheme.lower(), rest.strip()


class Authenticator:
    """Every configured layer, chosen by the ``Authorization`` scheme; every challenge when none applies."""

    __slots__ = ("_by_scheme", "_layers", "names")

    def __init__(self, layers: Sequence[Layer]) -> None:
        """Layers in challenge order (RFC 7616: Digest before Basic); one scheme, one layer.

        Raises:
            ValueError: no layer, or two layers for one scheme.
        """
        if not layers:
            raise ValueError("an authenticator needs at least one layer")
        self._layers = tuple(layers)
        self._by_scheme: dict[str, Layer] = {}
        for layer in self._layers:
            for scheme in layer.schemes:
                if scheme in self._by_scheme:
                    raise ValueError(f"two authentication layers read the {scheme!r} scheme")
                self._by_scheme[scheme] = layer
        self.names: tuple[str, ...] = tuple(layer.option for layer in self._layers)

    def challenges(self) -> tuple[str, ...]:
        """Every layer's challenges, in order."""
        return tuple(challenge for layer in self._layers for challenge in layer.challenges())

    def authenticate(self, request: AuthRequest) -> Denied | Waiting | None:
        """None when the request's credentials prove the caller; else the refusal (or Waiting)."""
        scheme, credentials = split_authorization(request.header("authorization"))
        layer = self._by_scheme.get(scheme)
        if layer is None:
            first = self._layers[0]
            if not scheme:
                if isinstance(first, BearerLayer):  # an AuthProfile's token comes with every request, unasked
                    return Denied(first.option, _UNASKED_BEARER)
                return Denied(
                    first.option, "no Authorization header (Twilio sends credentials after the 401 challenge)"
                )
            return Denied(first.option, "credentials of a scheme not configured here")
        return layer.authenticate(credentials, request)

    def challenges_for(self, denied: Denied) -> tuple[str, ...]:
        """The ``WWW-Authenticate`` values a refusal sends: the layer's own, else every challenge."""
        return denied.challenges or self.challenges()


class BasicLayer:
    """HTTP Basic (RFC 7617): every configured user and password compared in constant time."""

    option: str = "basic_auth"
    schemes: tuple[str, ...] = ("basic",)
    _CHALLENGE: Final = (f'Basic realm="{REALM}", charset="UTF-8"',)

    __slots__ = ("_pairs",)

    def __init__(self, users: Mapping[str, str]) -> None:
        """``{user: password}``, already checked by the option (non-empty, no ``:`` in a user)."""
        self._pairs = tuple((user.encode("utf-8"), password.encode("utf-8")) for user, password in users.items())

    def challenges(self) -> tuple[str, ...]:
        """One Basic challenge naming the realm and UTF-8."""
        return self._CHALLENGE

    def authenticate(self, credentials: str, request: AuthRequest) -> Denied | None:
        """Constant-time check against every pair (no early exit on the first that matches)."""
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return Denied(self.option, "Basic credentials that are not base64 of UTF-8 user:password")
        user, _, password = decoded.partition(":")
        found = False
        for known_user, known_password in self._pairs:
            same_user = hmac.compare_digest(known_user, user.encode("utf-8"))
            same_password = hmac.compare_digest(known_password, password.encode("utf-8"))
            found |= same_user & same_password
        return None if found else Denied(self.option, "Basic credentials that match no configured user and password")


class TokenResult(NamedTuple):
    """A bearer-token verifier's answer: :data:`ACCEPTED`, or which RFC 6750 error and why.

    Attributes:
        error: None (accepted), ``"invalid_token"`` (401), ``"insufficient_scope"``
            (403) or ``"unavailable"`` (the authorization server could not be asked: 503).
        detail: One sentence for the log: which check failed, never the token or a claim's value.
        scope: The scope a 403 names in its challenge (``insufficient_scope`` only).
    """

    error: str | None = None
    detail: str = ""
    scope: str = ""


#: A verifier's answer for a token that proves the caller.
ACCEPTED: Final = TokenResult()


@runtime_checkable
class TokenVerifier(Protocol):
    """What the ``oauth`` option takes: the verifiers of :mod:`twiliosig.oauth` (or your own).

    The guard never imports :mod:`twiliosig.oauth` (it needs a JOSE library, the core
    needs none): it asks this protocol. ``lookup`` is the hot path, from memory only;
    ``verify`` and ``averify`` may use the network, and run only when ``lookup``
    answered None.
    """

    def lookup(self, token: str) -> TokenResult | None:
        """The answer from memory (a token seen before, a JWT under keys held); None if the network is needed."""
        ...

    def verify(self, token: str) -> TokenResult:
        """The answer, fetching what it needs; blocks (a sync adapter's worker thread)."""
        ...

    async def averify(self, token: str) -> TokenResult:
        """:meth:`verify` that never blocks the event loop."""
        ...


#: RFC 6750's b64token: what a bearer token may be made of (also bounds what a verifier is handed).
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: The longest token handed to a verifier: JWT access tokens are a few KiB at most.
_TOKEN_LIMIT: Final = 16 * 1024


class BearerLayer:
    """OAuth 2.0 bearer tokens (RFC 6750) from the user's authorization server, verified by a :class:`TokenVerifier`.

    Answers 401 with ``WWW-Authenticate: Bearer realm="twilio"`` without a token
    (no error code, as RFC 6750 section 3.1 asks) and with ``error="invalid_token"``
    for a token that fails; 403 with ``error="insufficient_scope"`` for a valid token
    without the required scope; 503 when the authorization server cannot be asked:
    an outage is never an open door.
    """

    option: str = "oauth"
    schemes: tuple[str, ...] = ("bearer",)
    _CHALLENGE: Final = (f'Bearer realm="{REALM}"',)
    _INVALID: Final = (f'Bearer realm="{REALM}", error="invalid_token"',)

    __slots__ = ("_verifier",)

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def challenges(self) -> tuple[str, ...]:
        """One Bearer challenge naming the realm, without an error (the request had no token)."""
        return self._CHALLENGE

    def authenticate(self, credentials: str, request: AuthRequest) -> Denied | Waiting | None:
        """The token's answer from memory when the verifier has it; else :class:`Waiting` for the network."""
        if not credentials:
            return Denied(self.option, "an Authorization header with the Bearer scheme but no token")
        if len(credentials) > _TOKEN_LIMIT or _B64TOKEN.fullmatch(credentials) is None:
            return Denied(self.option, "a bearer token that is not an RFC 6750 b64token", challenges=self._INVALID)
        verifier = self._verifier
        answer = verifier.lookup(credentials)
        if answer is not None:
            return self.denied(answer)

        def resolve() -> Denied | None:
            return self.denied(verifier.verify(credentials))

        async def aresolve() -> Denied | None:
            return self.denied(await verifier.averify(credentials))

        return Waiting(self.option, resolve, aresolve)

    def denied(self, answer: TokenResult) -> Denied | None:
        """The refusal a verifier's answer makes: 401 invalid_token, 403 insufficient_scope, 503 unavailable."""
        error = answer.error
        if error is None:
            return None
        if error == "insufficient_scope":
            scope = answer.scope.replace("\\", "").replace('"', "")
            challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
            return Denied(self.option, answer.detail, Reason.INSUFFICIENT_SCOPE, (challenge,))
        if error == "unavailable":
            return Denied(self.option, answer.detail, Reason.AUTHORIZATION_SERVER_UNAVAILABLE)
        return Denied(self.option, answer.detail or "an invalid bearer token", challenges=self._INVALID)
