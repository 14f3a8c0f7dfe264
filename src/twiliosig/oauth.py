"""Verify the OAuth 2.0 bearer tokens Twilio sends when a Webhook AuthProfile uses OAuth (the ``oauth`` option).

Twilio gets an access token from *your* authorization server (client credentials
grant) and sends it as ``Authorization: Bearer <token>``. This module verifies it:

- :class:`JWTVerifier`: JWT access tokens (RFC 9068 and the like), checked against
  the server's published keys: signature, ``iss``, ``aud``, ``exp``/``nbf``, the
  client the token was issued to, and a required scope.
- :class:`IntrospectionVerifier`: opaque tokens, asked of the server's RFC 7662
  introspection endpoint.
- :class:`CallableVerifier`: any function of yours.

Each answers from memory when it can (keys held, a token seen before) and uses the
network only when the guard hands it the request's :class:`~twiliosig._auth.Waiting`
(a sync adapter's worker thread, or a thread off the event loop). An authorization
server that cannot be reached is an outage (503), never a pass.

Needs the ``oauth`` extra (``pip install "twiliosig[oauth]"``: PyJWT with its
``cryptography`` backend); the guard itself never imports this module. See
docs/oauth.md for the choice of PyJWT, the mapping from Twilio's AuthProfile fields,
and what happens during an outage.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

if TYPE_CHECKING:
    import jwt

    _HAS_CRYPTO: bool
else:
    try:
        import jwt
        from jwt.algorithms import has_crypto as _HAS_CRYPTO
    except ImportError:  # the [oauth] extra is not installed: only JWTVerifier needs it, and says so when built
        jwt, _HAS_CRYPTO = None, False

from ._auth import ACCEPTED, TokenResult, TokenVerifier

__all__ = [
    "ACCEPTED",
    "AuthorizationServerUnavailable",
    "CallableVerifier",
    "InsufficientScope",
    "IntrospectionVerifier",
    "InvalidToken",
    "JWTVerifier",
    "TokenResult",
    "TokenVerifier",
]

#: The asymmetric algorithms a JWT may be signed with, and the key each needs: ``(kty, curves)``.
#: HMAC is never among them (a verifier holds the server's public keys, and an HMAC keyed with
#: one is the classic forgery); ``none`` is never a signature.
_KEY_TYPES: Final[Mapping[str, tuple[str, frozenset[str]]]] = {
    "RS256": ("RSA", frozenset()),
    "RS384": ("RSA", frozenset()),
    "RS512": ("RSA", frozenset()),
    "PS256": ("RSA", frozenset()),
    "PS384": ("RSA", frozenset()),
    "PS512": ("RSA", frozenset()),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
#: The default allow-list: every asymmetric algorithm above.
DEFAULT_ALGORITHMS: Final = tuple(_KEY_TYPES)
#: Seconds of clock skew allowed on ``exp`` and ``nbf``.
DEFAULT_LEEWAY: Final = 30.0
#: Seconds one network call to the authorization server may take.
DEFAULT_TIMEOUT: Final = 5.0
#: Tokens remembered (accepted ones until they expire): enough for every live token of a busy account.
DEFAULT_CACHE_SIZE: Final = 10_000
#: Seconds after a failed fetch of the key set during which new tokens get 503 without a call (at most).
_RETRY_AFTER: Final = 5.0
#: The largest response read from the authorization server (metadata, key set, introspection).
_RESPONSE_LIMIT: Final = 1024 * 1024


class InvalidToken(Exception):
    """Raise from a :class:`CallableVerifier`'s function: the token is not valid (401 invalid_token)."""


class InsufficientScope(Exception):
    """Raise from a :class:`CallableVerifier`'s function: a valid token without the scope needed (403).

    Args:
        detail: Why, for the log.
        scope: The scope the 403's challenge names.
    """

    def __init__(self, detail: str = "the token lacks the required scope", scope: str = "") -> None:
        super().__init__(detail)
        self.scope = scope


class AuthorizationServerUnavailable(Exception):
    """The authorization server could not be asked (or answered nonsense): 503, never a pass."""


# --- configuration ------------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _server_url(name: str, url: object) -> str:
    """An authorization server URL: https, or http on loopback only (a test server, a sidecar); else ValueError.

    A token's keys fetched over plain http from another host could be anyone's: a
    configuration that would do so fails when the guard is built, not at the first request.
    """
    if not isinstance(url, str) or not url:
        raise TypeError(f"{name} must be a URL (a non-empty str)")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return url
    raise ValueError(f"{name} must be an https URL (http only on loopback, for tests): {url!r}")


def _strings(name: str, value: object, *, required: bool) -> tuple[str, ...]:
    """One str or several, each non-empty."""
    if value is None and not required:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Iterable) else None
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"{name} must be a non-empty str (or a list of them), not {value!r}")
    return items


def _scopes(value: object) -> frozenset[str]:
    """The scopes a token must hold: ``"a b"``, or a list of them."""
    if value is None:
        return frozenset()
    scopes = _strings("scope", value, required=True)
    return frozenset(part for scope in scopes for part in scope.split())


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, not {value!r}")
    return value


# --- the network: urllib, bounded, no redirects ---------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is refused: it could lead from https to http, or to another host's keys."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


def _fetch_json(url: str, timeout: float, data: bytes | None = None, headers: Mapping[str, str] = {}) -> Any:
    """GET (or POST ``data``) and parse a JSON answer; :class:`AuthorizationServerUnavailable` for anything else."""
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **headers})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(_RESPONSE_LIMIT + 1)
    except urllib.error.HTTPError as error:
        error.close()
        raise AuthorizationServerUnavailable(f"the authorization server answered {error.code} at {url}") from None
    except (OSError, ValueError) as error:  # URLError, timeouts, refused connections, a bad URL
        raise AuthorizationServerUnavailable(f"the authorization server could not be reached at {url}") from error
    if len(body) > _RESPONSE_LIMIT:
        raise AuthorizationServerUnavailable(f"the authorization server's answer at {url} is over 1 MiB")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested past the stack, a 1 MiB answer holds plenty
        raise AuthorizationServerUnavailable(f"the authorization server's answer at {url} is not JSON") from None


def _metadata_urls(issuer: str) -> tuple[str, ...]:
    """Where an issuer's metadata is: RFC 8414 (the well-known part before the issuer's path), then OpenID's."""
    parts = urllib.parse.urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    return (
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    )


def discover(issuer: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """The issuer's metadata (RFC 8414, else OpenID discovery), after checking it names this issuer.

    Raises:
        AuthorizationServerUnavailable: neither document could be fetched, or the one
            found names another issuer (RFC 8414 section 3.3: it must not be used).
    """
    failures = []
    for url in _metadata_urls(issuer):
        try:
            metadata = _fetch_json(url, timeout)
        except AuthorizationServerUnavailable as error:
            failures.append(str(error))
            continue
        if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
            raise AuthorizationServerUnavailable(f"the metadata at {url} names another issuer than {issuer}")
        return metadata
    raise AuthorizationServerUnavailable("; ".join(failures))


class _Remembered(NamedTuple):
    result: TokenResult
    until: float  # time.monotonic() after which the answer is asked again


class _Answers:
    """Bounded maps of token digests to answers, each kept until its time; the oldest go first when full.

    Accepted answers and refusals are kept apart, each map holding ``size``: anyone can
    have refusals remembered (an introspection of each made-up token), and a flood of them
    must never push Twilio's accepted token out of memory (it would cost a call again, and
    during an outage a 503).
    """

    __slots__ = ("_items", "_lock", "_refused", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, _Remembered] = OrderedDict()  # accepted
        self._refused: OrderedDict[bytes, _Remembered] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str) -> bytes:
        """A token is remembered by its digest: the cache holds no bearer credential."""
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, key: bytes, now: float) -> TokenResult | None:
        with self._lock:
            for items in (self._items, self._refused):
                remembered = items.get(key)
                if remembered is None:
                    continue
                if now >= remembered.until:
                    del items[key]
                    return None
                return remembered.result
            return None

    def put(self, key: bytes, result: TokenResult, until: float) -> None:
        items = self._items if result.error is None else self._refused
        with self._lock:
            items[key] = _Remembered(result, until)
            items.move_to_end(key)
            while len(items) > self.size:
                items.popitem(last=False)


def _until_exp(claims: Mapping[str, Any], leeway: float, cap: float | None) -> float | None:
    """The monotonic time an accepted answer is kept: the token's ``exp`` (plus leeway), at most ``cap`` seconds."""
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None if cap is None else time.monotonic() + cap
    try:
        seconds = float(exp)
    except OverflowError:  # an int past a float's range (JSON numbers have no bound): as far as infinity
        seconds = math.inf if exp > 0 else -math.inf
    if math.isnan(seconds):
        return None if cap is None else time.monotonic() + cap
    left = seconds + leeway - time.time()
    if cap is not None:
        left = min(left, cap)
    return time.monotonic() + left if left > 0 else None


def _issued_to(claims: Mapping[str, Any]) -> object:
    """The client a token was issued to, as servers write it: ``client_id`` (RFC 9068), else ``azp``, else ``sub``."""
    for name in ("client_id", "azp"):
        if name in claims:
            return claims[name]
    return claims.get("sub")


def _token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """A token's scopes: ``scope`` as a space-separated str (RFC 9068, RFC 7662), or ``scp`` as a list (Okta, Entra)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, str):
        return frozenset(scp.split())
    if isinstance(scp, list):
        return frozenset(item for item in scp if isinstance(item, str))
    return frozenset()


def _client_and_scope(claims: Mapping[str, Any], client_id: str, scopes: frozenset[str]) -> TokenResult:
    """The checks after the signature (or the introspection): issued to Twilio's client, holding the scope."""
    if _issued_to(claims) != client_id:
        return TokenResult("invalid_token", "a token issued to another client than the configured client_id")
    if not scopes <= _token_scopes(claims):
        return TokenResult("insufficient_scope", "a valid token without the required scope", " ".join(sorted(scopes)))
    return ACCEPTED


class _Verifier:
    """What every verifier shares: the answers remembered, and ``averify`` as ``verify`` in a thread."""

    __slots__ = ()
    _answers: _Answers

    def verify(self, token: str) -> TokenResult:
        raise NotImplementedError

    async def averify(self, token: str) -> TokenResult:
        """:meth:`verify` in a worker thread: the blocking call never holds the event loop."""
        return await asyncio.to_thread(self.verify, token)


# --- JWT access tokens ----------------------------------------------------------------------------


class _KeySet(NamedTuple):
    keys: tuple[dict[str, Any], ...]
    fetched: float  # time.monotonic()
    usable: dict[tuple[int, str], jwt.PyJWK]  # each key loaded for an algorithm, once, for this set only


class JWTVerifier(_Verifier):
    """JWT access tokens verified against the authorization server's published keys.

    Args:
        issuer: The server's issuer identifier, exactly as tokens carry it in ``iss``
            (and as its metadata names it): ``https://auth.example.com/``.
        audience: The AuthProfile's ``audience``: what the token's ``aud`` must hold
            (one str, or several of which one is enough).
        client_id: The AuthProfile's ``clientId``: the client Twilio's tokens are
            issued to. A token is accepted only when its ``client_id`` claim (RFC
            9068), else ``azp``, else ``sub`` is this: another client of the same
            server is refused.
        jwks_url: The key set's URL; by default found in the issuer's metadata
            (RFC 8414 ``/.well-known/oauth-authorization-server``, else OpenID
            ``/.well-known/openid-configuration``), on the first request.
        algorithms: The allow-list, asymmetric only (RSA, RSA-PSS, ECDSA, EdDSA):
            ``none`` and the HMAC algorithms are refused here.
        scope: A scope the token must hold (``"twilio:webhooks"``, space-separated
            or a list for several); a valid token without it gets 403.
        leeway: Seconds of clock skew allowed on ``exp`` and ``nbf``.
        timeout: Seconds each network operation of a call may wait (the connection,
            each read): a server that answers, but slowly, can take longer.
        refresh_interval: An unknown key id fetches the key set again at most once
            per this many seconds (a server rotating its keys; never a way to make
            this app call the server at will).
        keys_max_age: The key set is fetched again when older than this, so a key
            the server withdrew stops verifying.
        cache_size: Tokens remembered: an accepted one until it expires (and as
            many refusals, apart, so that they never push an accepted one out).

    Raises:
        ValueError: an issuer or key-set URL that is not https (http is allowed on
            loopback only), no audience or client id, an algorithm outside the allow-list.
    """

    __slots__ = (
        "_answers",
        "_failure",
        "_jwks_url",
        "_keys",
        "_lock",
        "_refreshed",
        "algorithms",
        "audience",
        "client_id",
        "issuer",
        "keys_max_age",
        "leeway",
        "refresh_interval",
        "scopes",
        "timeout",
    )

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Iterable[str],
        client_id: str,
        jwks_url: str | None = None,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        scope: str | Iterable[str] | None = None,
        leeway: float = DEFAULT_LEEWAY,
        timeout: float = DEFAULT_TIMEOUT,
        refresh_interval: float = 60.0,
        keys_max_age: float = 3600.0,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if jwt is None or not _HAS_CRYPTO:
            raise ImportError(
                "JWTVerifier needs PyJWT with its crypto extra (RSA, EC and EdDSA keys): "
                "pip install 'twiliosig[oauth]' (IntrospectionVerifier and CallableVerifier need nothing)"
            )
        self.issuer = _server_url("issuer", issuer)
        self._jwks_url = None if jwks_url is None else _server_url("jwks_url", jwks_url)
        self.audience = _strings("audience", audience, required=True)
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be the client id Twilio's AuthProfile uses (a non-empty str)")
        self.client_id = client_id
        allowed = _strings("algorithms", algorithms, required=True)
        foreign = [name for name in allowed if name not in _KEY_TYPES]
        if foreign:
            raise ValueError(
                f"algorithms may hold only asymmetric JWS algorithms ({', '.join(_KEY_TYPES)}), not {foreign}: "
                "'none' is no signature, and an HMAC could be keyed with the server's public key"
            )
        self.algorithms = frozenset(allowed)
        self.scopes = _scopes(scope)
        if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or not 0 <= leeway <= 300:
            raise ValueError(f"leeway must be between 0 and 300 seconds, not {leeway!r}")
        self.leeway = float(leeway)
        self.timeout = _positive("timeout", timeout)
        self.refresh_interval = _positive("refresh_interval", refresh_interval)
        self.keys_max_age = _positive("keys_max_age", keys_max_age)
        self._answers = _Answers(_count("cache_size", cache_size))
        self._keys: _KeySet | None = None
        self._refreshed = -math.inf  # when the key set was last asked for (successfully or not)
        self._failure: str | None = None  # why the last fetch failed, until one succeeds
        self._lock = threading.Lock()  # one fetch of the key set at a time; the others wait for its answer

    def __repr__(self) -> str:
        return f"JWTVerifier(issuer={self.issuer!r}, audience={self.audience!r}, client_id={self.client_id!r})"

    # The hot path: memory only.

    def lookup(self, token: str) -> TokenResult | None:
        """A token seen before, or a new one under keys held; None when the key set must be fetched first."""
        key = _Answers.key(token)
        now = time.monotonic()
        remembered = self._answers.get(key, now)
        if remembered is not None:
            return remembered
        header = self._header(token)
        if isinstance(header, TokenResult):
            return header
        keys = self._keys
        if keys is None or now - keys.fetched > self.keys_max_age:
            return self._outage(now)  # None: fetch the key set
        candidates = self._candidates(keys, header)
        if not candidates:
            # An unknown key id: the server may have rotated its keys. Fetch them at most once per interval.
            # When another thread's fetch replaced the set while this one searched the old, the fresh
            # _refreshed says nothing of the old set: ask again (verify searches the new set) rather than 401.
            if self._keys is keys and self._failure is None and now - self._refreshed < self.refresh_interval:
                return TokenResult("invalid_token", "a token signed with a key the server does not publish")
            return self._outage(now)
        return self._decode(token, key, header, candidates)

    def verify(self, token: str) -> TokenResult:
        """:meth:`lookup`, fetching the key set first when it must (blocking)."""
        answer = self.lookup(token)
        if answer is not None:
            return answer
        with self._lock:  # one fetch at a time; a thread that waited for another's reads its answer
            answer = self.lookup(token)
            if answer is not None:
                return answer
            try:
                self._refresh()
            except AuthorizationServerUnavailable as error:
                return TokenResult("unavailable", str(error))
        answer = self.lookup(token)
        if answer is None:  # still no key right after a refresh (another thread's, which failed, or this one's)
            failure = self._failure
            if failure is not None:
                return TokenResult("unavailable", failure)
            return TokenResult("invalid_token", "a token signed with a key the server does not publish")
        return answer

    def _outage(self, now: float) -> TokenResult | None:
        """503 from memory for a while after a failed fetch: an outage costs one call per pause, not one per request."""
        failure = self._failure
        if failure is not None and now - self._refreshed < min(self.refresh_interval, _RETRY_AFTER):
            return TokenResult("unavailable", failure)
        return None

    # The steps.

    def _header(self, token: str) -> dict[str, Any] | TokenResult:
        """The token's header, when its algorithm is allowed; else the refusal (no key is looked at)."""
        # Read here rather than with jwt.get_unverified_header, which decodes (and checks) all three
        # segments: PyJWT decodes the whole token again, once the key is chosen, before anything is trusted.
        encoded, dot, _ = token.partition(".")
        try:
            header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (ValueError, TypeError, RecursionError):  # binascii.Error and JSON errors are ValueErrors;
            header = None  # JSON nested thousands deep (a 16 KiB token holds 12 KiB of brackets) exhausts the stack
        if not dot or not isinstance(header, dict):
            return TokenResult("invalid_token", "a bearer token that is not a JWS (JWTVerifier takes JWT tokens)")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:  # a list or object is unhashable: TypeError
            return TokenResult("invalid_token", "a token signed with an algorithm outside the allow-list")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            return TokenResult("invalid_token", "a token whose key id is not a str")
        return header

    def _candidates(self, keys: _KeySet, header: Mapping[str, Any]) -> list[jwt.PyJWK]:
        """The server's keys that may verify this token: its ``kid`` (or any, without one), a type fit for its ``alg``.

        The algorithm is bound to each key here (a key's own ``alg``, when it names one,
        must be the token's): the token's header never chooses how a key is used.
        """
        alg: str = header["alg"]
        kid = header.get("kid")
        kty, curves = _KEY_TYPES[alg]
        found = []
        for index, jwk in enumerate(keys.keys):
            if kid is not None and jwk.get("kid") != kid:
                continue
            crv = jwk.get("crv")  # a list or object (any JSON) is unhashable: never looked up in the set as it is
            if jwk.get("kty") != kty or (curves and (not isinstance(crv, str) or crv not in curves)):
                continue
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
                continue
            ops = jwk.get("key_ops")  # "verify" by RFC 7517; some servers publish the private key's "sign"
            if ops is not None and (not isinstance(ops, list) or not ("verify" in ops or "sign" in ops)):
                continue
            usable = keys.usable.get((index, alg))
            if usable is None:
                try:
                    usable = jwt.PyJWK(jwk, algorithm=alg)
                except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                    continue  # a key this library cannot load verifies nothing
                keys.usable[(index, alg)] = usable
            found.append(usable)
        return found

    def _decode(self, token: str, key: bytes, header: Mapping[str, Any], candidates: list[jwt.PyJWK]) -> TokenResult:
        """The signature under one of ``candidates``, then the claims; the answer is remembered until ``exp``."""
        alg: str = header["alg"]
        claims = None
        failure = "a token whose signature does not verify under the server's keys"
        for candidate in candidates:
            try:
                claims = jwt.decode(
                    token,
                    key=candidate,
                    algorithms=[alg],
                    audience=list(self.audience),
                    issuer=self.issuer,
                    leeway=self.leeway,
                    options={"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True},
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except Exception as error:  # PyJWT's errors, and anything a hostile token provokes: never a 500
                failure = _jwt_failure(error)
                break
        if claims is None:
            return TokenResult("invalid_token", failure)
        answer = _client_and_scope(claims, self.client_id, self.scopes)
        until = _until_exp(claims, self.leeway, None)
        if until is not None:  # a refusal for the scope is remembered too: it cannot change before exp
            self._answers.put(key, answer, until)
        return answer

    def _refresh(self) -> None:
        """Fetch the key set (and the metadata, the first time); the caller holds the lock.

        Raises:
            AuthorizationServerUnavailable: the server could not be asked, or its
                answer is not a key set.
        """
        try:
            self._keys = self._fetch_keys()
        except AuthorizationServerUnavailable as error:
            self._failure = str(error)
            raise
        else:
            self._failure = None
        finally:  # when it ended: a thread that found an unknown key id meanwhile waits for this answer
            self._refreshed = time.monotonic()

    def _fetch_keys(self) -> _KeySet:
        url = self._jwks_url
        if url is None:
            found = discover(self.issuer, self.timeout).get("jwks_uri")
            try:
                url = self._jwks_url = _server_url("the metadata's jwks_uri", found)
            except (TypeError, ValueError) as error:
                raise AuthorizationServerUnavailable(str(error)) from None
        document = _fetch_json(url, self.timeout)
        listed = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            raise AuthorizationServerUnavailable(f"the key set at {url} has no list of keys")
        return _KeySet(tuple(item for item in listed if isinstance(item, dict)), time.monotonic(), {})


def _jwt_failure(error: Exception) -> str:
    """One sentence per failed check, never a claim's value."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return "an expired token (exp is past, beyond the leeway)"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "a token not valid yet (nbf or iat in the future)"
    if isinstance(error, jwt.InvalidAudienceError):
        return "a token for another audience than the configured one"
    if isinstance(error, jwt.InvalidIssuerError):
        return "a token from another issuer than the configured one"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"a token without the {error.claim} claim"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "a token signed with an algorithm its key does not allow"
    return "a malformed token"


# --- opaque tokens: RFC 7662 introspection --------------------------------------------------------


class IntrospectionVerifier(_Verifier):
    """Tokens asked of the authorization server's introspection endpoint (RFC 7662): opaque ones, or any.

    Args:
        url: The introspection endpoint; or give ``issuer`` to find it in the
            issuer's metadata (``introspection_endpoint``), on the first request.
        issuer: The server's issuer identifier; when given, an answer's ``iss`` (when
            present) must be it.
        audience: The AuthProfile's ``audience``: the answer's ``aud`` must hold it.
        client_id: The AuthProfile's ``clientId``: the client Twilio's tokens are
            issued to (the answer's ``client_id``, else ``azp``, else ``sub``).
        introspection_client_id: This app's own client id at the server, with which it
            authenticates to the endpoint (RFC 7662 requires it).
        introspection_client_secret: Its secret (sent as HTTP Basic).
        scope: A scope the token must hold; a valid token without it gets 403.
        timeout: Seconds each network operation of a call may wait (the connection,
            each read): a server that answers, but slowly, can take longer.
        cache_size: Answers remembered: an active token's until its ``exp`` (at most
            ``max_age``), an inactive one's for ``inactive_for`` seconds.
        max_age: The longest an active answer is trusted without asking again (a
            token the server revokes stops working within it).
        inactive_for: How long a refused token is answered from memory (one token
            sent again and again costs one call; each new made-up token still costs one).

    Raises:
        ValueError: neither or both of ``url`` and ``issuer`` without https, no
            audience, client id or introspection credentials.
    """

    __slots__ = (
        "_answers",
        "_authorization",
        "_discovery_failed",
        "_lock",
        "_url",
        "audience",
        "client_id",
        "inactive_for",
        "issuer",
        "max_age",
        "scopes",
        "timeout",
    )

    def __init__(
        self,
        *,
        audience: str | Iterable[str],
        client_id: str,
        introspection_client_id: str,
        introspection_client_secret: str,
        url: str | None = None,
        issuer: str | None = None,
        scope: str | Iterable[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        cache_size: int = DEFAULT_CACHE_SIZE,
        max_age: float = 300.0,
        inactive_for: float = 60.0,
    ) -> None:
        if url is None and issuer is None:
            raise ValueError("IntrospectionVerifier needs the endpoint's url, or the issuer whose metadata names it")
        self._url = None if url is None else _server_url("url", url)
        self.issuer = None if issuer is None else _server_url("issuer", issuer)
        self.audience = frozenset(_strings("audience", audience, required=True))
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be the client id Twilio's AuthProfile uses (a non-empty str)")
        self.client_id = client_id
        for name, value in (
            ("introspection_client_id", introspection_client_id),
            ("introspection_client_secret", introspection_client_secret),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty str: the endpoint authenticates this app")
        # RFC 6749 section 2.3.1: each part form-encoded, then HTTP Basic.
        pair = (
            f"{urllib.parse.quote_plus(introspection_client_id)}:{urllib.parse.quote_plus(introspection_client_secret)}"
        )
        self._authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        self.scopes = _scopes(scope)
        self.timeout = _positive("timeout", timeout)
        self.max_age = _positive("max_age", max_age)
        self.inactive_for = _positive("inactive_for", inactive_for)
        self._answers = _Answers(_count("cache_size", cache_size))
        self._lock = threading.Lock()  # one discovery at a time; the others wait for its answer
        self._discovery_failed: tuple[float, str] | None = None  # when and why the metadata could not be had

    def __repr__(self) -> str:
        where = self._url or self.issuer
        return f"IntrospectionVerifier({where!r}, audience={sorted(self.audience)!r}, client_id={self.client_id!r})"

    def lookup(self, token: str) -> TokenResult | None:
        """A token asked about before, from memory; None to ask the server."""
        return self._answers.get(_Answers.key(token), time.monotonic())

    def verify(self, token: str) -> TokenResult:
        """Ask the endpoint (blocking), check its answer, remember it."""
        key = _Answers.key(token)
        remembered = self._answers.get(key, time.monotonic())
        if remembered is not None:
            return remembered
        try:
            answer = _fetch_json(
                self._endpoint(),
                self.timeout,
                urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode("ascii"),
                {"Authorization": self._authorization, "Content-Type": "application/x-www-form-urlencoded"},
            )
        except AuthorizationServerUnavailable as error:
            return TokenResult("unavailable", str(error))
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            return TokenResult("unavailable", "the introspection endpoint's answer has no active member")
        result = self._judge(answer)
        if result.error is None or result.error == "insufficient_scope":
            until = _until_exp(answer, 0.0, self.max_age)
        else:
            until = time.monotonic() + self.inactive_for
        if until is not None:
            self._answers.put(key, result, until)
        return result

    def _judge(self, answer: Mapping[str, Any]) -> TokenResult:
        if answer["active"] is not True:
            return TokenResult("invalid_token", "a token the server says is not active (expired, revoked or unknown)")
        exp = answer.get("exp")
        # "not exp > now" rather than "exp <= now": NaN compares false both ways, and is no future exp.
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not exp > time.time():
            return TokenResult("invalid_token", "an active token without a future exp in its introspection")
        if self.issuer is not None and "iss" in answer and answer["iss"] != self.issuer:
            return TokenResult("invalid_token", "a token from another issuer than the configured one")
        aud = answer.get("aud")
        listed = aud if isinstance(aud, list) else [aud]  # items of any JSON type: only a str is hashable
        if not any(isinstance(item, str) and item in self.audience for item in listed):
            return TokenResult("invalid_token", "a token for another audience than the configured one")
        return _client_and_scope(answer, self.client_id, self.scopes)

    def _endpoint(self) -> str:
        url = self._url
        if url is not None:
            return url
        assert self.issuer is not None
        with self._lock:
            if self._url is None:
                # A failed discovery is answered from memory for a pause, as a failed key-set fetch is: it does
                # not depend on the token, and without the pause every new token during an outage queued here
                # for a discovery of its own (two calls, up to timeout each), one thread after another.
                failed = self._discovery_failed
                if failed is not None and time.monotonic() - failed[0] < _RETRY_AFTER:
                    raise AuthorizationServerUnavailable(failed[1])
                try:
                    found = discover(self.issuer, self.timeout).get("introspection_endpoint")
                    self._url = _server_url("the metadata's introspection_endpoint", found)
                except (AuthorizationServerUnavailable, TypeError, ValueError) as error:
                    self._discovery_failed = (time.monotonic(), str(error))
                    raise AuthorizationServerUnavailable(str(error)) from None
            return self._url


# --- anything else ------------------------------------------------------------------------------


class CallableVerifier(_Verifier):
    """Your own function as the verifier: ``check(token)`` returns the token's claims, or raises.

    ``check`` may block (it runs in the sync adapter's worker thread, or in a thread off
    the event loop): call your authorization server as you need. It returns a mapping
    of claims when the token is valid (``exp``, when present, says how long the answer
    is remembered; else ``max_age``); it raises :class:`InvalidToken` (401),
    :class:`InsufficientScope` (403) or :class:`AuthorizationServerUnavailable` (503).
    Any other exception is a 503 too, logged by the guard as an outage: a bug in
    ``check`` never lets a request through.

    Args:
        check: The function.
        max_age: The longest an accepted answer is remembered.
        cache_size: Answers remembered.
    """

    __slots__ = ("_answers", "_check", "max_age")

    def __init__(
        self, check: Callable[[str], Mapping[str, Any]], *, max_age: float = 300.0, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        if not callable(check):
            raise TypeError("CallableVerifier takes a function check(token) -> claims")
        self._check = check
        self.max_age = _positive("max_age", max_age)
        self._answers = _Answers(_count("cache_size", cache_size))

    def lookup(self, token: str) -> TokenResult | None:
        """An accepted token remembered; None to call the function."""
        return self._answers.get(_Answers.key(token), time.monotonic())

    def verify(self, token: str) -> TokenResult:
        """Call the function (blocking) and remember what it accepted."""
        try:
            claims: object = self._check(token)
        except InvalidToken as error:
            return TokenResult("invalid_token", str(error) or "the verifier function refused the token")
        except InsufficientScope as error:
            return TokenResult("insufficient_scope", str(error), error.scope)
        except AuthorizationServerUnavailable as error:
            return TokenResult("unavailable", str(error) or "the verifier function could not reach the server")
        except Exception as error:  # a bug in the function is an outage, never a pass
            return TokenResult("unavailable", f"the verifier function raised {type(error).__name__}")
        if not isinstance(claims, Mapping):  # a function typed loosely (or not at all)
            return TokenResult("unavailable", "the verifier function returned no claims (a mapping) and raised nothing")
        until = _until_exp(claims, 0.0, self.max_age)
        if until is None:
            return TokenResult("invalid_token", "the verifier function accepted a token whose exp is past")
        self._answers.put(_Answers.key(token), ACCEPTED, until)
        return ACCEPTED
