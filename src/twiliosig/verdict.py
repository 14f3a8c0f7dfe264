"""The outcome of checking one request: whether it is genuine, and why.

A bare ``False`` is the top complaint about webhook validators: a proxy, a port,
a trailing slash and a wrong token all look the same. A :class:`Verdict` says
which :class:`Reason` applies, which URL form matched (or how many were tried),
and which configured secret signed it, without ever holding a secret or a
computed signature.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

from ._urls import redact
from .exceptions import (
    BodyHashMismatch,
    MalformedRequest,
    MalformedSignature,
    MissingSignature,
    RawBodyRequired,
    SignatureError,
    SignatureMismatch,
    UnknownSigningKey,
    UnsignedBody,
    UnsupportedAlgorithm,
)

__all__ = ["Finding", "Reason", "Verdict"]


class Reason(str, enum.Enum):
    """Why a request was accepted or refused. The value is a stable log token."""

    VALID = "valid"
    #: Let through unchecked: the guard is disabled (``enabled=False``), for local development.
    NOT_CHECKED = "not_checked"
    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    SIGNATURE_MISMATCH = "signature_mismatch"
    BODY_HASH_MISMATCH = "body_hash_mismatch"
    UNSIGNED_BODY = "unsigned_body"
    RAW_BODY_REQUIRED = "raw_body_required"
    UNKNOWN_KEY = "unknown_key"
    UNKNOWN_ACCOUNT = "unknown_account"
    AMBIGUOUS_ACCOUNT = "ambiguous_account"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    MALFORMED_SETTINGS = "malformed_settings"
    MALFORMED_URL = "malformed_url"
    MALFORMED_PARAMS = "malformed_params"
    MALFORMED_BODY = "malformed_body"
    BODY_TOO_LARGE = "body_too_large"
    NOT_HTTPS = "not_https"
    UNAUTHORIZED = "unauthorized"
    #: A valid OAuth bearer token without the scope the ``oauth`` verifier requires (403, RFC 6750).
    INSUFFICIENT_SCOPE = "insufficient_scope"
    #: The OAuth authorization server (its keys, its introspection) could not be reached: an outage, never a pass.
    AUTHORIZATION_SERVER_UNAVAILABLE = "authorization_server_unavailable"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    REPLAYED = "replayed"
    REPLAY_STORE_UNAVAILABLE = "replay_store_unavailable"

    @property
    def status(self) -> int:
        """The HTTP status every middleware and integration refuses a request with for this reason.

        Raises:
            ValueError: :attr:`VALID` and :attr:`NOT_CHECKED`, which refuse nothing.
        """
        return _refusal(self)[0]

    @property
    def error(self) -> type[SignatureError] | None:
        """The exception :meth:`RequestValidator.verify <twiliosig.RequestValidator.verify>` raises for this reason.

        None for a reason only a middleware decides (a body too large, not HTTPS, no
        credentials, another method, a replay): ``verify`` checks a signature, so it
        never meets one, and a middleware answers with :attr:`status` instead of raising.

        Raises:
            ValueError: :attr:`VALID` and :attr:`NOT_CHECKED`, which refuse nothing.
        """
        return _refusal(self)[1]

    def __str__(self) -> str:
        return self.value


class Finding(NamedTuple):
    """What a refused request's signature does match: a reading of the request the guard must not accept.

    The middlewares look for one when a well-formed signature matches no URL form
    (a few HMACs, a few times a minute at most): the URL rebuilt from a forwarding
    header the app does not trust, or with ``https`` for a request that arrived over
    ``http``. The request is refused all the same; the finding says it was Twilio's,
    signed for another URL, and which option makes the app rebuild that URL. A
    forged signature never has one.

    Attributes:
        signed_url: The URL Twilio signed (password redacted; the query kept, as
            ``on_reject`` gets it; the log line leaves the query out).
        cause: Why the app rebuilt another URL (``"the app does not trust the
            proxy's X-Forwarded-Proto"``).
        fix: The option that fixes it, as written in code
            (``trust_forwarded={"x_proto": 1}``, ``public_url="https://example.com"``).
    """

    signed_url: str
    cause: str
    fix: str


class Verdict(NamedTuple):
    """Whether a request carries a genuine Twilio signature, and why.

    A verdict is immutable and truthy exactly when it is valid, so
    ``if validator.check(...)`` reads as it should.

    Attributes:
        valid: True when the signature (and the body hash, if any) matched.
        reason: Why; :attr:`Reason.VALID` when valid.
        detail: One sentence for a developer: what failed and what to look at.
            Never holds a secret, a computed signature or a password.
        matched_url: The URL form that matched, or None.
        variant: How ``matched_url`` differs from the URL as received
            (``"as received"``, ``"with the port 443 removed"``, ...), or None.
        secret: Which configured secret signed it (``"auth token 2 of 2"``,
            ``"shared key 'webhooks_sharedkey_x'"``), never the secret itself.
        algorithm: ``"HMAC_SHA1"`` or ``"HMAC_SHA256"``, or None if never chosen.
        urls_tried: How many distinct URL forms were tried.
        finding: For a :attr:`Reason.SIGNATURE_MISMATCH` from a middleware or an
            integration: the :class:`Finding` when the signature is Twilio's for a
            URL the configuration does not rebuild; None otherwise (and always from
            :meth:`RequestValidator.check <twiliosig.RequestValidator.check>`).
    """

    valid: bool
    reason: Reason
    detail: str = ""
    matched_url: str | None = None
    variant: str | None = None
    secret: str | None = None
    algorithm: str | None = None
    urls_tried: int = 0
    finding: Finding | None = None

    def __bool__(self) -> bool:
        return self.valid

    def __repr__(self) -> str:
        url = None if self.matched_url is None else redact(self.matched_url)
        return (
            f"Verdict(valid={self.valid}, reason={self.reason.value!r}, matched_url={url!r}, "
            f"variant={self.variant!r}, secret={self.secret!r}, algorithm={self.algorithm!r}, "
            f"urls_tried={self.urls_tried}" + ("" if self.finding is None else f", finding={self.finding!r}") + ")"
        )


#: Every refusing reason: its HTTP status, and the exception ``verify`` raises (None: only a middleware
#: refuses it). The one table; :attr:`Reason.status` and :attr:`Reason.error` read it.
_REFUSALS: Final[dict[Reason, tuple[int, type[SignatureError] | None]]] = {
    Reason.MISSING_SIGNATURE: (403, MissingSignature),
    Reason.MALFORMED_SIGNATURE: (403, MalformedSignature),
    Reason.SIGNATURE_MISMATCH: (403, SignatureMismatch),
    Reason.BODY_HASH_MISMATCH: (403, BodyHashMismatch),
    Reason.UNSIGNED_BODY: (403, UnsignedBody),
    Reason.RAW_BODY_REQUIRED: (403, RawBodyRequired),
    Reason.UNKNOWN_KEY: (403, UnknownSigningKey),
    Reason.UNKNOWN_ACCOUNT: (403, UnknownSigningKey),
    Reason.AMBIGUOUS_ACCOUNT: (403, MalformedRequest),
    Reason.UNSUPPORTED_ALGORITHM: (403, UnsupportedAlgorithm),
    Reason.MALFORMED_SETTINGS: (403, MalformedRequest),
    Reason.MALFORMED_URL: (400, MalformedRequest),
    Reason.MALFORMED_PARAMS: (400, MalformedRequest),
    Reason.MALFORMED_BODY: (400, MalformedRequest),
    Reason.BODY_TOO_LARGE: (413, None),
    Reason.NOT_HTTPS: (403, None),
    Reason.UNAUTHORIZED: (401, None),
    Reason.INSUFFICIENT_SCOPE: (403, None),
    Reason.AUTHORIZATION_SERVER_UNAVAILABLE: (503, None),
    Reason.METHOD_NOT_ALLOWED: (405, None),
    Reason.REPLAYED: (409, None),
    Reason.REPLAY_STORE_UNAVAILABLE: (503, None),
}


def _refusal(reason: Reason) -> tuple[int, type[SignatureError] | None]:
    try:
        return _REFUSALS[reason]
    except KeyError:
        raise ValueError(f"{reason.value} is not a refusal") from None
