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
    └── MalformedRequest           the URL, parameters, body or header are unusable

Every error carries the :class:`~twiliosig.Verdict` that explains it as
``error.verdict`` and its :class:`~twiliosig.Reason` as ``error.reason``. The
message is the verdict's detail: safe to log, never holding a secret, a
computed signature or a password. Which class a reason raises is
:attr:`Reason.error <twiliosig.Reason.error>`, in the same table as its HTTP status.

The middlewares raise none of these: they answer a refusal with its status
(a body too large, a request not over HTTPS, no credentials, another method or a
replay have a :class:`~twiliosig.Reason` and a status, and no exception).

Configuration mistakes (no secret, an empty token, wrong types) are not
``SignatureError``: they raise ``ValueError`` or ``TypeError`` when the
validator or middleware is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # verdict.py imports this module: its Reason table names these classes
    from .verdict import Reason, Verdict

__all__ = [
    "BodyHashMismatch",
    "MalformedRequest",
    "MalformedSignature",
    "MissingSignature",
    "RawBodyRequired",
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


class MalformedRequest(SignatureError):
    """The URL, the parameters, the body or the settings header cannot be used (or name two accounts)."""


def _error_for(verdict: Verdict) -> SignatureError:
    """The exception that explains a verdict the validator refused (its reason's :attr:`~twiliosig.Reason.error`)."""
    error = verdict.reason.error  # raises ValueError for a valid verdict
    if error is None:
        raise ValueError(f"{verdict.reason.value} is refused by a middleware, never by verify()")
    return error(verdict)
