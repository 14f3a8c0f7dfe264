"""Prove that an HTTP request really came from Twilio.

The core (this package's top level) is pure standard library: compute and check
``X-Twilio-Signature``, with a reason for every refusal. The WSGI and ASGI
middlewares live in :mod:`twiliosig.wsgi` and :mod:`twiliosig.asgi` and need
nothing beyond the standard library either; nothing here imports a web framework.

``__version__`` below is the one place the version is written: the package
metadata (hatch) and ``twiliosig --version`` read it.
"""

from ._digest import DigestAuth, DigestHA1
from ._keys import HMAC_SHA1, HMAC_SHA256
from ._urls import DEFAULT_VARIANTS, UrlVariant
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
from .signature import RequestValidator, body_sha256, compute_signature
from .verdict import Finding, Reason, Verdict

__version__ = "0.1.0"
"""This release's version, as the package metadata and ``twiliosig --version`` give it."""

__all__ = [
    "DEFAULT_VARIANTS",
    "HMAC_SHA1",
    "HMAC_SHA256",
    "BodyHashMismatch",
    "DigestAuth",
    "DigestHA1",
    "Finding",
    "MalformedRequest",
    "MalformedSignature",
    "MissingSignature",
    "RawBodyRequired",
    "Reason",
    "RequestValidator",
    "SignatureError",
    "SignatureMismatch",
    "UnknownSigningKey",
    "UnsignedBody",
    "UnsupportedAlgorithm",
    "UrlVariant",
    "Verdict",
    "__version__",
    "body_sha256",
    "compute_signature",
]
