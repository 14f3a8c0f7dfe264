"""Secrets and algorithms: which key signed a webhook, and with which HMAC.

Twilio signs with the account's auth token (HMAC-SHA1) unless the request
carries ``X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=<name>``, in
which case the named SharedKey signs with the named HMAC. The key is always the
UTF-8 bytes of the secret exactly as given: no hex or base64 decoding.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Union

__all__ = [
    "ALGORITHMS",
    "HMAC_SHA1",
    "HMAC_SHA256",
    "AuthToken",
    "Digest",
    "Secret",
    "TokenLookup",
    "digest_for",
    "parse_signature_settings",
    "shared_secrets",
    "token_secrets",
]

HMAC_SHA1 = "HMAC_SHA1"
"""Twilio's default algorithm: every auth-token signature, and a shared key's unless its settings name another."""
HMAC_SHA256 = "HMAC_SHA256"
"""The algorithm a webhook shared key may name in ``X-Twilio-Webhooks-Signature-Settings``."""


class Digest(NamedTuple):
    """An HMAC algorithm as Twilio names it, as hashlib names it, and its output length."""

    algorithm: str
    hashlib_name: str
    signature_length: int  # base64 characters, padding included


ALGORITHMS: dict[str, Digest] = {
    HMAC_SHA1: Digest(HMAC_SHA1, "sha1", 28),
    HMAC_SHA256: Digest(HMAC_SHA256, "sha256", 44),
}

#: Looks up the token(s) for an account: gets the request's ``AccountSid``
#: (None when it carries none) and returns a token, several, or None.
TokenLookup = Callable[[Union[str, None]], Union[str, Sequence[str], None]]
#: One token, several (rotation: each is tried), or a lookup by account.
AuthToken = Union[str, Sequence[str], TokenLookup, None]


# HMAC's inner and outer pads (RFC 2104): the key XORed with 0x36 or 0x5C, byte by byte.
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def _keyed_hashes(key: bytes, hashlib_name: str) -> tuple[Any, Any]:
    """HMAC's two hashes with the padded key already absorbed, as RFC 2104 section 4 suggests.

    ``HMAC(K, m) = H(K ^ opad || H(K ^ ipad || m))``: both hashes start with one
    block that depends on the key alone, so they are computed once and copied
    per signature. This is the standard library's ``hmac`` construction on
    public ``hashlib`` objects: ``hmac.HMAC.copy()`` runs in Python and costs a
    third more per signature, and the faster C object behind it lives in a
    private module.
    """
    constructor = getattr(hashlib, hashlib_name)
    block_size = constructor().block_size
    if len(key) > block_size:
        key = constructor(key).digest()
    key = key.ljust(block_size, b"\0")
    return constructor(key.translate(_INNER_PAD)), constructor(key.translate(_OUTER_PAD))


class Secret:
    """A key to try, with a label that names it without revealing it.

    A secret keeps HMAC's keyed state per algorithm (see :func:`_keyed_hashes`)
    and copies it for each signature: the key's blocks are hashed once, which
    nearly halves the cost of signing a webhook, and a refusal signs once per
    URL form.

    Args:
        label: How messages name the secret.
        key: The secret's bytes.
        reusable: Kept for callers that build a secret for one request; the
            keyed state costs less than a one-shot HMAC even for a single
            signature, so every secret keeps it.
    """

    __slots__ = ("_keyed", "key", "label")

    def __init__(self, label: str, key: bytes, *, reusable: bool = True) -> None:
        self.label = label
        self.key = key
        self._keyed: dict[str, tuple[Any, Any]] = {}

    def __repr__(self) -> str:
        return f"Secret({self.label!r})"

    def sign(self, message: bytes, digest: Digest, suffix: bytes = b"") -> bytes:
        """The base64 signature of ``message`` followed by ``suffix`` (ASCII bytes).

        The suffix is hashed where it lies: a refusal signs each URL form
        followed by the same parameter string of up to a mebibyte, which is
        then never copied into one message per form.
        """
        keyed = self._keyed.get(digest.hashlib_name)
        if keyed is None:
            keyed = self._keyed[digest.hashlib_name] = _keyed_hashes(self.key, digest.hashlib_name)
        inner = keyed[0].copy()
        inner.update(message)
        inner.update(suffix)
        outer = keyed[1].copy()
        outer.update(inner.digest())
        return binascii.b2a_base64(outer.digest(), newline=False)


def digest_for(algorithm: str | None) -> Digest:
    """The digest for a Twilio algorithm name (case-insensitive; None means HMAC-SHA1).

    Raises:
        ValueError: the algorithm is not HMAC_SHA1 or HMAC_SHA256.
    """
    name = HMAC_SHA1 if algorithm is None else str(algorithm).strip().upper()
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unsupported signature algorithm {algorithm!r}; use HMAC_SHA1 or HMAC_SHA256") from None


def token_secrets(
    tokens: str | Sequence[str], what: str = "auth token", *, reusable: bool = True
) -> tuple[Secret, ...]:
    """Validate one token or several and label them ``auth token 1 of 2`` and so on.

    Raises:
        TypeError: a token is not a str.
        ValueError: no token, or an empty or blank one.
    """
    if isinstance(tokens, str):
        items: Sequence[object] = (tokens,)
    elif isinstance(tokens, Sequence):
        items = tokens
    else:
        raise TypeError(f"the {what} must be a str or a sequence of str, not {type(tokens).__name__}")
    if not items:
        raise ValueError(f"no {what} given")
    secrets = []
    for index, token in enumerate(items, 1):
        if not isinstance(token, str):
            raise TypeError(f"each {what} must be a str, not {type(token).__name__}")
        if not token.strip():
            raise ValueError(f"an empty {what} would let anyone sign; give the real one")
        label = what if len(items) == 1 else f"{what} {index} of {len(items)}"
        secrets.append(Secret(label, token.encode("utf-8"), reusable=reusable))
    return tuple(secrets)


def shared_secrets(shared_keys: Mapping[str, str]) -> dict[str, Secret]:
    """Validate ``{key_id: secret}`` and label each secret by its key id.

    Raises:
        TypeError: not a mapping of str to str.
        ValueError: an empty key id or secret.
    """
    if not isinstance(shared_keys, Mapping):
        raise TypeError(f"shared_keys must be a mapping of key id to secret, not {type(shared_keys).__name__}")
    secrets = {}
    for key_id, secret in shared_keys.items():
        if not isinstance(key_id, str) or not isinstance(secret, str):
            raise TypeError("shared_keys must map str key ids to str secrets")
        if not key_id.strip() or not secret.strip():
            raise ValueError("shared_keys holds an empty key id or secret")
        secrets[key_id] = Secret(f"shared key {key_id!r}", secret.encode("utf-8"))
    return secrets


# An attribute name in the signature settings header.
_SETTINGS_NAME = re.compile(r"[a-z0-9_.-]+")


def parse_signature_settings(header: str) -> tuple[str | None, str | None]:
    """Read ``key=<id>,algorithm=<name>`` into ``(key_id, algorithm)``.

    Unknown attributes are ignored, so Twilio may add some; but each must be a
    ``token=value`` pair of printable text, so that garbage is refused rather
    than read as "no settings". A blank header gives ``(None, None)``.

    Raises:
        ValueError: a piece without ``=``, a name that is not a token, a value
            with control characters, or an attribute given twice.
    """
    found: dict[str, str] = {}
    for piece in header.split(","):
        if not piece.strip():
            continue
        name, equals, value = piece.partition("=")
        name = name.strip().lower()
        if not equals or _SETTINGS_NAME.fullmatch(name) is None or not value.strip().isprintable():
            raise ValueError("the signature settings header is not a list of name=value pairs")
        if name in found:
            raise ValueError(f"the signature settings header names {name!r} twice")
        found[name] = value.strip()
    return found.get("key") or None, found.get("algorithm") or None
