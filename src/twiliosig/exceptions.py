"""Errors raised by :meth:`RequestValidator.verify <twiliosig.RequestValidator.verify>`.

The tree is small and flat, so callers catch as broadly as they like::

    SignatureError                 base class, never raised itself
    ├── MissingSignature           no X-Twilio-Signature at all
    ├── MalformedSignature         not a signature the algorithm could produce
    ├── SignatureMismatch          no URL form with any secret gives this signature
    ├── BodyHashMismatch           signature fine, body differs from bodySHA256
    ├── UnsignedBody               a raw body the signature does not cover
    ├── RawBodyRequired            bodySHA256 in the URL, but no raw body given
    ├── UnknownSigningKey          no secret for the named key or account
    ├── UnsupportedAlgorithm       the settings header names an unknown HMAC
    ├── BodyTooLarge               the body is over the configured limit
    ├── RequestRefused             HTTPS, HTTP authentication or replay rules said no
    └── MalformedRequest           the URL, parameters, body or header are unusable

Every error carries the :class:`~twiliosig.Verdict` that explains it as
``error.verdict`` and its :class:`~twiliosig.Reason` as ``error.reason``. The
message is the verdict's detail: safe to log, never holding a secret, a
computed signature or a password.

Configuration mistakes (no secret, an empty token, wrong types) are not
``SignatureError``: they raise ``ValueError`` or ``TypeError`` when the
validator or middleware is built.
"""

from __future__ import annotations

from .verdict import Reason, Verdict

__all__ = [
    "BodyHashMismatch",
    "BodyTooLarge",
    "MalformedRequest",
    "MalformedSignature",
    "MissingSignature",
    "RawBodyRequired",
    "RequestRefused",
    "SignatureError",
    "SignatureMismatch",
    "UnknownSigningKey",
    "UnsignedBody",
    "UnsupportedAlgorithm",
]


class SignatureError(Exception):
    """A request that does not prove it came from Twilio. Never raised itself."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.detail or verdict.reason.value)
        self.verdict = verdict

    @property
    def reason(self) -> Reason:
        """Why the request was refused."""
        return self.verdict.reason


class MissingSignature(SignatureError):
    """The request carries no ``X-Twilio-Signature``."""


class MalformedSignature(SignatureError):
    """The signature is not base64 of the length the algorithm produces."""


class SignatureMismatch(SignatureError):
    """No candidate URL with any configured secret yields this signature."""


class BodyHashMismatch(SignatureError):
    """The URL is genuinely signed, but the body is not the one it describes."""


class UnsignedBody(SignatureError):
    """A raw body arrived without ``bodySHA256``, so nothing vouches for it."""


class RawBodyRequired(SignatureError):
    """The URL carries ``bodySHA256`` but parsed parameters were given instead of the body."""


class UnknownSigningKey(SignatureError):
    """No secret is configured for the shared key or account the request names."""


class UnsupportedAlgorithm(SignatureError):
    """The signature settings header names an algorithm we do not implement."""


class BodyTooLarge(SignatureError):
    """The body is larger than the configured ``max_body_size``."""


class RequestRefused(SignatureError):
    """Not HTTPS under ``require_https``, no valid Basic credentials, a method Twilio never sends, or a replay."""


class MalformedRequest(SignatureError):
    """The URL, the parameters, the body or the settings header cannot be used (or name two accounts)."""


_ERRORS: dict[Reason, type[SignatureError]] = {
    Reason.MISSING_SIGNATURE: MissingSignature,
    Reason.MALFORMED_SIGNATURE: MalformedSignature,
    Reason.SIGNATURE_MISMATCH: SignatureMismatch,
    Reason.BODY_HASH_MISMATCH: BodyHashMismatch,
    Reason.UNSIGNED_BODY: UnsignedBody,
    Reason.RAW_BODY_REQUIRED: RawBodyRequired,
    Reason.UNKNOWN_KEY: UnknownSigningKey,
    Reason.UNKNOWN_ACCOUNT: UnknownSigningKey,
    Reason.AMBIGUOUS_ACCOUNT: MalformedRequest,
    Reason.UNSUPPORTED_ALGORITHM: UnsupportedAlgorithm,
    Reason.BODY_TOO_LARGE: BodyTooLarge,
    Reason.NOT_HTTPS: RequestRefused,
    Reason.UNAUTHORIZED: RequestRefused,
    Reason.METHOD_NOT_ALLOWED: RequestRefused,
    Reason.REPLAYED: RequestRefused,
    Reason.REPLAY_STORE_UNAVAILABLE: RequestRefused,
    Reason.MALFORMED_SETTINGS: MalformedRequest,
    Reason.MALFORMED_URL: MalformedRequest,
    Reason.MALFORMED_PARAMS: MalformedRequest,
    Reason.MALFORMED_BODY: MalformedRequest,
}


def _error_for(verdict: Verdict) -> SignatureError:
    """The exception that explains a refused verdict."""
    if verdict.valid:
        raise ValueError("a valid verdict has no error")
    return _ERRORS[verdict.reason](verdict)
