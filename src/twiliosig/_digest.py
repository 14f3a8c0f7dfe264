"""HTTP Digest (RFC 7616): Twilio proves it knows a password without sending it.

Twilio sends Digest credentials when the webhook URL carries them
(``https://user:password@host/...``) or an AuthProfile names Digest: first the request
without an ``Authorization`` header, then, after a 401 whose challenge names a realm,
the same request with credentials; it "remains logged in for the duration of the call",
so later requests of the call present the same nonce with a growing ``nc``, on any
worker of any host.

So nonces need no shared state: a nonce is a timestamp, eight random bytes and a MAC of
both under a key every worker derives alike from the configured Digest credentials
(their HA1 values and the realm) and a signing secret. Never from the credentials alone:
an HA1 is a fast hash of a password, often a short one, and every 401 carries a nonce
and an opaque, so a key derived from the passwords alone would let whoever asked once
check guesses offline. One key per signing secret is accepted (an auth token being
rotated does not log Twilio out); the first issues. A nonce whose MAC fails was not
issued here (forged or altered): refused with a fresh challenge. One older than ``nonce_lifetime``, presented
with the right response, gets a new challenge with ``stale=true``, which tells a client
its password was right. ``nc`` is not tracked (that would need shared state): a
captured ``Authorization`` header replays until its nonce expires, for the same method
and URL; the signature is still checked, and ``replay_guard`` refuses a second copy.

The header is parsed once, left to right, with regular expressions that cannot
backtrack (each character is read one way), after a size bound; a parameter given
twice is refused. Every secret comparison is constant-time. A refusal's detail names
the check that failed, never a value from the request.

Standard library only: the core and both middlewares import this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, NamedTuple
from urllib.parse import unquote_to_bytes

from ._auth import REALM, AuthRequest, Denied

__all__ = ["DEFAULT_NONCE_LIFETIME", "MAX_CREDENTIALS", "DigestAuth", "DigestHA1", "DigestLayer", "parse_credentials"]

#: How long a nonce is accepted (seconds): a few minutes; a later request gets ``stale=true`` and a new nonce.
DEFAULT_NONCE_LIFETIME: Final = 300.0
#: The longest ``Authorization: Digest`` value read (characters after the scheme): a real one is a few hundred
#: plus the request target it repeats, which a server bounds at about 8 KiB anyway.
MAX_CREDENTIALS: Final = 12 * 1024
#: How far a nonce's time may be ahead of this host's clock (another host issued it).
_CLOCK_SKEW: Final = 60

_HASHES: Final[Mapping[str, Callable[[bytes], str]]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
_HEX_LENGTH: Final = {"MD5": 32, "SHA-256": 64}
#: The algorithms challenged, in RFC 7616's order of preference.
_OFFERED: Final = ("SHA-256", "MD5")

_TCHARS: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
#: One ``name=value`` (a token or a quoted string, its loop unrolled: runs of plain characters between escapes),
#: then a comma or the end. Each character can be read one way only, so a failed match costs one pass: a
#: backslash is always an escape, a quote always ends the string.
#: Spaces and empty list elements before it (RFC 9110's ``#rule`` allows ``a=1, , b=2``) are read with it.
_PARAM: Final = re.compile(
    rf'[ \t,]*({_TCHARS})[ \t]*=[ \t]*(?:({_TCHARS})|"([^"\\]*(?:\\.[^"\\]*)*)")[ \t]*(?:,|\Z)', re.S
)
_SEPARATORS: Final = re.compile(r"[ \t,]*")
_ESCAPE: Final = re.compile(r"\\(.)", re.S)
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_NONCE_CHARACTERS: Final = re.compile(r"[A-Za-z0-9_-]{43}")
#: A realm is written into a quoted string of every challenge: printable ASCII without a quote or backslash.
_REALM_CHARACTERS: Final = re.compile(r"[ !#-\[\]-~]+")


class DigestHA1(NamedTuple):
    """A user's precomputed HA1 values, so the password itself need not be in the configuration.

    HA1 is ``H(user:realm:password)`` in hex, one per hash algorithm: it depends on the
    realm (``"twilio"`` unless :class:`DigestAuth` says otherwise). A client that chooses
    an algorithm without a value here is refused; only algorithms some user has are
    challenged. ``DigestHA1.of(user, password)`` computes both, once, on a trusted machine.

    Attributes:
        md5: 32 hex digits, or None.
        sha256: 64 hex digits, or None.
    """

    md5: str | None = None
    sha256: str | None = None

    def __repr__(self) -> str:
        # Never the values: an HA1 answers any challenge of its realm, as the password does.
        shown = ("None" if value is None else "<set>" for value in self)
        return "DigestHA1(md5={}, sha256={})".format(*shown)

    @classmethod
    def of(cls, user: str, password: str, realm: str = REALM) -> DigestHA1:
        """Both HA1 values of ``user`` and ``password`` in ``realm``: what to store instead of the password."""
        text = f"{user}:{realm}:{password}".encode()
        return cls(_HASHES["MD5"](text), _HASHES["SHA-256"](text))


class DigestAuth:
    """The ``digest_auth`` option when a plain ``{user: password}`` mapping is not enough.

    Args:
        users: ``{user: password}`` or ``{user: DigestHA1(...)}`` (the two may be mixed).
        realm: The realm every challenge names; HA1 values depend on it.
        nonce_lifetime: Seconds a nonce is accepted, on every worker (a positive number).
        require_qop: Refuse credentials without ``qop`` (RFC 2069's form, which RFC 2617
            clients may still send); by default they are accepted.

    Raises:
        TypeError: ``users`` not a mapping, a user or value of the wrong type, ``require_qop`` not a bool.
        ValueError: no users, an empty user or password, a ``:`` in a user, an HA1 value that is
            not hex of its algorithm's length, a realm with a quote, backslash or control
            character, a lifetime that is not a positive finite number. Messages never
            repeat a password or an HA1 value.
    """

    __slots__ = ("nonce_lifetime", "realm", "require_qop", "users")

    def __init__(
        self,
        users: Mapping[str, str | DigestHA1],
        *,
        realm: str = REALM,
        nonce_lifetime: float = DEFAULT_NONCE_LIFETIME,
        require_qop: bool = False,
    ) -> None:
        if not isinstance(realm, str) or not _REALM_CHARACTERS.fullmatch(realm):
            raise ValueError("digest_auth's realm must be printable ASCII without a quote or backslash")
        if isinstance(nonce_lifetime, bool) or not isinstance(nonce_lifetime, (int, float)):
            raise TypeError("digest_auth's nonce_lifetime must be a number of seconds")
        if not math.isfinite(nonce_lifetime) or nonce_lifetime <= 0:
            raise ValueError("digest_auth's nonce_lifetime must be a positive number of seconds")
        if not isinstance(require_qop, bool):
            raise TypeError("digest_auth's require_qop must be True or False")
        if not isinstance(users, Mapping):
            raise TypeError("digest_auth must be a mapping of user name to password or DigestHA1")
        if not users:
            raise ValueError("digest_auth holds no user")
        checked: dict[str, DigestHA1] = {}
        for user, secret in users.items():
            if not isinstance(user, str):
                raise TypeError("digest_auth's user names must be str")
            if not user or ":" in user:
                raise ValueError("digest_auth's user names must be non-empty and without ':'")
            checked[user] = _ha1(user, secret, realm)
        self.users: Mapping[str, DigestHA1] = checked
        self.realm = realm
        self.nonce_lifetime = float(nonce_lifetime)
        self.require_qop = require_qop

    def __repr__(self) -> str:
        # Never the HA1 values: a repr ends up in logs and tracebacks.
        return (
            f"DigestAuth(<{len(self.users)} user(s)>, realm={self.realm!r}, "
            f"nonce_lifetime={self.nonce_lifetime!r}, require_qop={self.require_qop!r})"
        )


def _ha1(user: str, secret: object, realm: str) -> DigestHA1:
    """A user's HA1 values from a password or a :class:`DigestHA1`, checked (no value in a message)."""
    if isinstance(secret, DigestHA1):
        if secret.md5 is None and secret.sha256 is None:
            raise ValueError("a DigestHA1 in digest_auth holds no value (give md5, sha256 or both)")
        values = {}
        for algorithm, value in (("MD5", secret.md5), ("SHA-256", secret.sha256)):
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError(f"a DigestHA1's {algorithm} value must be a hex str")
            if len(value) != _HEX_LENGTH[algorithm] or not _HEX.fullmatch(value):
                raise ValueError(f"a DigestHA1's {algorithm} value must be {_HEX_LENGTH[algorithm]} hex digits")
            values[algorithm] = value.lower()
        return DigestHA1(values.get("MD5"), values.get("SHA-256"))
    if not isinstance(secret, str):
        raise TypeError("digest_auth's values must be a password (str) or a DigestHA1")
    if not secret:
        raise ValueError("digest_auth holds an empty password")
    return DigestHA1.of(user, secret, realm)


def parse_credentials(text: str) -> dict[str, str] | str:
    """The parameters of ``Digest``'s credentials by lower-case name, or a sentence saying why they are not.

    One pass, left to right; quoted strings unescaped; a name given twice refused (which
    of two ``uri`` a server reads must never be a question). Linear in ``text``.
    """
    params: dict[str, str] = {}
    end = len(text)
    position = 0
    while position < end:
        match = _PARAM.match(text, position)
        if match is None:
            if _SEPARATORS.fullmatch(text, position):  # only empty list elements left
                break
            return "Digest credentials that are not a list of name=value parameters"
        name = match[1].lower()
        if name in params:
            return "Digest credentials that name a parameter twice"
        token, quoted = match[2], match[3]
        if token is not None:
            params[name] = token
        elif "\\" in quoted:
            params[name] = _ESCAPE.sub(r"\1", quoted)
        else:
            params[name] = quoted
        position = match.end()
    return params


def _bytes(value: str) -> bytes:
    """A header's text as the bytes the client hashed: servers hand headers over as Latin-1.

    Text that is not Latin-1 came from an adapter that decoded it (UTF-8); a lone
    surrogate (a Lambda event's JSON may hold one) is kept as surrogatepass writes it,
    bytes no valid UTF-8 name, realm or digest equals: refused, never raised (a 500).
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


class _User(NamedTuple):
    name: bytes  # the user name as hashed (UTF-8)
    hashed: str  # H(user:realm), what a client sends with userhash=true
    ha1: str


class DigestLayer:
    """The Digest layer of the authenticator: challenges with stateless nonces, and the check of credentials."""

    option: str = "digest_auth"
    schemes: tuple[str, ...] = ("digest",)

    __slots__ = ("_clock", "_keys", "_offered", "_opaques", "_realm", "_users", "lifetime", "require_qop")

    def __init__(
        self, settings: DigestAuth, clock: Callable[[], float] = time.time, *, secrets: Sequence[bytes]
    ) -> None:
        """Everything per request is computed here once: each user's HA1 and user hash per algorithm, the nonce keys.

        Args:
            settings: The checked ``digest_auth`` option.
            clock: Wall-clock seconds (shared by every host, unlike a monotonic clock); tests move it.
            secrets: The signing secrets (auth tokens, shared keys), high-entropy: each keys
                the nonces with the credentials, the first issues them.

        Raises:
            ValueError: no secret (auth tokens only looked up per account, and no shared key).
        """
        if not secrets:
            raise ValueError(
                "digest_auth keys its nonces with a signing secret: give an auth_token (not only a lookup) "
                "or shared_keys"
            )
        self._realm = settings.realm
        self.lifetime = settings.nonce_lifetime
        self.require_qop = settings.require_qop
        self._clock = clock
        self._users: dict[str, tuple[_User, ...]] = {}
        for algorithm in _OFFERED:
            digest = _HASHES[algorithm]
            self._users[algorithm] = tuple(
                _User(user.encode("utf-8"), digest(f"{user}:{self._realm}".encode()), ha1)
                for user, values in settings.users.items()
                if (ha1 := values.sha256 if algorithm == "SHA-256" else values.md5) is not None
            )
        self._offered = tuple(algorithm for algorithm in _OFFERED if self._users[algorithm])
        # The same on every worker and host given the same options: the realm, every HA1 and a signing secret.
        # The HA1 values alone are a fast hash of a guessable password: a nonce or an opaque keyed by them
        # alone would confirm a guess offline. One key per secret, so that a token being rotated keeps
        # the nonces its predecessor issued.
        material = json.dumps([self._realm, sorted((user, *values) for user, values in settings.users.items())])
        label = b"twiliosig digest nonce key v2\0" + material.encode()
        self._keys = tuple(hmac.digest(secret, label, "sha256") for secret in secrets)
        self._opaques = tuple(hmac.new(key, b"opaque", hashlib.sha256).hexdigest()[:32] for key in self._keys)

    # --- challenges -------------------------------------------------------------------

    def _nonce(self, now: float) -> str:
        """A timestamp, 8 random bytes and their MAC, base64url: 43 characters."""
        head = int(now).to_bytes(8, "big") + os.urandom(8)
        mac = hmac.digest(self._keys[0], b"nonce" + head, "sha256")[:16]
        return base64.urlsafe_b64encode(head + mac).decode("ascii").rstrip("=")

    def _issued(self, nonce: str) -> int | None:
        """The time a nonce of ours was issued; None when it is not one (forged, altered, malformed)."""
        if not _NONCE_CHARACTERS.fullmatch(nonce):
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "=")
        except (binascii.Error, ValueError):
            return None
        head, mac = raw[:16], raw[16:]
        ours = False
        for key in self._keys:  # every key compared: the time does not say which one issued it
            ours |= hmac.compare_digest(mac, hmac.digest(key, b"nonce" + head, "sha256")[:16])
        # The string too: two spellings of one base64 value are two nonces, and only ours was issued.
        canonical = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        if not (ours & hmac.compare_digest(canonical, nonce)):
            return None
        return int.from_bytes(head[:8], "big")

    def challenges(self) -> tuple[str, ...]:
        """One challenge per algorithm some user has, SHA-256 first, sharing one fresh nonce."""
        return self._challenges(stale=False)

    def _challenges(self, *, stale: bool) -> tuple[str, ...]:
        # One nonce for both: clients that fold several WWW-Authenticate headers into one read the last one's.
        nonce = self._nonce(self._clock())
        tail = ", stale=true" if stale else ""
        return tuple(
            f'Digest realm="{self._realm}", qop="auth", algorithm={algorithm}, nonce="{nonce}", '
            f'opaque="{self._opaques[0]}"{tail}'
            for algorithm in self._offered
        )

    # --- credentials ------------------------------------------------------------------

    def _deny(self, detail: str) -> Denied:
        return Denied(self.option, detail)

    def authenticate(self, credentials: str, request: AuthRequest) -> Denied | None:
        """None when the credentials answer a nonce of ours for this request's method and target.

        The order of the checks is the order of their details' usefulness: the form,
        then what the request itself fixes (realm, ``uri``, ``qop``), then the nonce's
        MAC, then the response, and only for a right response the nonce's age (so
        ``stale=true`` tells the client its password was right, as RFC 7616 asks).
        """
        if len(credentials) > MAX_CREDENTIALS:
            return self._deny(f"Digest credentials over {MAX_CREDENTIALS} characters")
        params = parse_credentials(credentials)
        if isinstance(params, str):
            return self._deny(params)
        algorithm = params.get("algorithm", "MD5").upper()
        sess = algorithm.endswith("-SESS")
        base = algorithm[: -len("-SESS")] if sess else algorithm
        if base not in self._offered:
            return self._deny("a Digest algorithm not offered here (SHA-256 and MD5, and their -sess forms)")
        for name in ("realm", "nonce", "uri", "response"):
            if name not in params:
                return self._deny(f"Digest credentials without {name}")
        if ("username" in params) == ("username*" in params):
            return self._deny("Digest credentials without exactly one of username and username*")
        if not hmac.compare_digest(_bytes(params["realm"]), self._realm.encode()):
            return self._deny("Digest credentials for another realm")
        if not hmac.compare_digest(_bytes(params["uri"]), _bytes(request.target)):
            return self._deny("a Digest uri that is not the request target (the path and query Twilio called)")
        qop = params.get("qop")
        nc = params.get("nc", "")
        cnonce = params.get("cnonce", "")
        if qop is None:
            if self.require_qop:
                return self._deny("Digest credentials without qop (RFC 2069's form), refused by require_qop")
            if sess:
                return self._deny("a Digest -sess algorithm without qop (it needs a cnonce)")
        elif qop.lower() != "auth":
            return self._deny('a Digest qop other than "auth" (auth-int is not offered)')
        elif len(nc) != 8 or not _HEX.fullmatch(nc) or not cnonce:
            return self._deny("Digest qop=auth without an 8-hex-digit nc and a cnonce")
        opaque = params.get("opaque")
        if opaque is not None:
            given, issued_here = _bytes(opaque), False
            for ours in self._opaques:
                issued_here |= hmac.compare_digest(given, ours.encode())
            if not issued_here:
                return self._deny(
                    "a Digest opaque that was not issued here (forged, or issued with another password, realm or "
                    "signing secret)"
                )
        nonce = params["nonce"]
        issued = self._issued(nonce)
        if issued is None:
            return self._deny(
                "a Digest nonce that was not issued here (forged or altered, or issued with another password, "
                "realm or signing secret)"
            )
        user = self._user(params, base)
        if user is None:
            return self._deny("Digest credentials whose user name is not valid UTF-8 percent-encoding")
        digest = _HASHES[base]
        ha1 = user.ha1
        if sess:
            ha1 = digest(_bytes(f"{ha1}:{nonce}:{cnonce}"))
        ha2 = digest(_bytes(f"{request.method}:{params['uri']}"))
        if qop is None:
            expected = digest(_bytes(f"{ha1}:{nonce}:{ha2}"))
        else:
            expected = digest(_bytes(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
        if not hmac.compare_digest(expected.encode(), _bytes(params["response"].lower())) or not user.name:
            return self._deny("a Digest response that matches no configured user and password")
        age = self._clock() - issued
        if age > self.lifetime or age < -_CLOCK_SKEW:
            return Denied(
                self.option,
                f"an expired Digest nonce (older than {self.lifetime:g} s): a new one is sent with stale=true",
                challenges=self._challenges(stale=True),
            )
        return None

    def _user(self, params: Mapping[str, str], algorithm: str) -> _User | None:
        """The configured user the credentials name (every one compared); a nameless stand-in when none.

        The stand-in has an empty name, so the response is still computed (the time
        does not say whether the user exists) and then refused.
        """
        if "username*" in params:
            charset, _, encoded = params["username*"].partition("''")
            if charset.lower() != "utf-8" or not _:
                return None
            try:
                given = unquote_to_bytes(encoded).decode("utf-8").encode("utf-8")
            except UnicodeError:  # not UTF-8 once decoded, or a lone surrogate before (unquote encodes it)
                return None
        else:
            given = _bytes(params["username"])
        hashed = params.get("userhash", "false").lower() == "true"
        found = _User(b"", "", "0" * _HEX_LENGTH[algorithm])
        for user in self._users[algorithm]:
            known = user.hashed.encode() if hashed else user.name
            if hmac.compare_digest(known, given.lower() if hashed else given):
                found = user
        return found
