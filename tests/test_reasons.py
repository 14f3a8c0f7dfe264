"""A refusal's HTTP status and its exception class belong to its Reason: one table, read by verify() and the guard.

Every exception the package exports is one ``verify()`` can raise: a reason only a
middleware decides (413, 401, 405, 409, 503, not HTTPS) has a status and no class.
"""

from __future__ import annotations

from typing import Any

import pytest

import twiliosig
from twiliosig import Reason, RequestValidator, SignatureError, Verdict, body_sha256, compute_signature
from twiliosig import exceptions as errors
from twiliosig._guard import REFUSAL_STATUSES, Guard

TOKEN = "12345"
URL = "https://example.com/hook?x=1"
PARAMS = {"From": "+15005550006", "Body": "hi"}
HASHED = f"https://example.com/hook?bodySHA256={body_sha256(b'{}')}"
REFUSING = [reason for reason in Reason if reason not in (Reason.VALID, Reason.NOT_CHECKED)]
#: The reasons only a middleware decides: the body, the transport, credentials, the method, replays.
MIDDLEWARE_ONLY = {
    Reason.BODY_TOO_LARGE: 413,
    Reason.NOT_HTTPS: 403,
    Reason.UNAUTHORIZED: 401,
    Reason.INSUFFICIENT_SCOPE: 403,
    Reason.AUTHORIZATION_SERVER_UNAVAILABLE: 503,
    Reason.METHOD_NOT_ALLOWED: 405,
    Reason.REPLAYED: 409,
    Reason.REPLAY_STORE_UNAVAILABLE: 503,
}

#: One call of verify() per exported exception: (url, params, signature, settings).
RAISED: dict[type[SignatureError], tuple[str, Any, str | None, str | None]] = {
    errors.MissingSignature: (URL, PARAMS, None, None),
    errors.MalformedSignature: (URL, PARAMS, "not base64!", None),
    errors.SignatureMismatch: (URL, PARAMS, compute_signature("other", URL, PARAMS), None),
    errors.BodyHashMismatch: (HASHED, b'{"a": 1}', compute_signature(TOKEN, HASHED), None),
    errors.UnsignedBody: (URL, b"{}", compute_signature(TOKEN, URL), None),
    errors.RawBodyRequired: (HASHED, {"a": "1"}, compute_signature(TOKEN, HASHED), None),
    errors.UnknownSigningKey: (URL, PARAMS, compute_signature(TOKEN, URL, PARAMS), "key=unknown,algorithm=HMAC_SHA1"),
    errors.UnsupportedAlgorithm: (URL, PARAMS, compute_signature(TOKEN, URL, PARAMS), "key=k,algorithm=HMAC_MD5"),
    errors.MalformedRequest: ("/relative", PARAMS, compute_signature(TOKEN, URL, PARAMS), None),
}


@pytest.mark.parametrize("reason", REFUSING, ids=str)
def test_every_refusing_reason_has_a_status_the_guard_sends(reason: Reason) -> None:
    """The status comes from the Reason, and the guard's refusal carries exactly it."""
    guard = Guard(auth_token=TOKEN)
    refusal = guard.refusal(Verdict(False, reason, "why"))
    assert refusal.status == reason.status
    assert refusal.status in REFUSAL_STATUSES
    assert refusal.body == f"{refusal.phrase}\n".encode()


def test_the_statuses_are_the_documented_ones() -> None:
    """403 for the signature, 400 for unusable input, and the middleware-only statuses."""
    assert {reason: reason.status for reason in MIDDLEWARE_ONLY} == MIDDLEWARE_ONLY
    for reason in (Reason.MALFORMED_URL, Reason.MALFORMED_PARAMS, Reason.MALFORMED_BODY):
        assert reason.status == 400
    assert Reason.SIGNATURE_MISMATCH.status == Reason.MISSING_SIGNATURE.status == 403
    assert {reason.status for reason in REFUSING} == REFUSAL_STATUSES


@pytest.mark.parametrize("reason", [Reason.VALID, Reason.NOT_CHECKED], ids=str)
def test_a_reason_that_refuses_nothing_has_no_status_or_error(reason: Reason) -> None:
    """Asking a valid reason for its refusal is a programming error, said plainly."""
    with pytest.raises(ValueError, match="not a refusal"):
        _ = reason.status
    with pytest.raises(ValueError, match="not a refusal"):
        _ = reason.error


def test_a_middleware_only_reason_has_no_exception_class() -> None:
    """verify() checks a signature: it never meets a size limit, HTTPS, credentials, a method or a replay."""
    assert {reason for reason in REFUSING if reason.error is None} == set(MIDDLEWARE_ONLY)


def test_every_exported_exception_is_some_reasons_class() -> None:
    """No exported exception class is unreachable from the table, and the base is never a reason's class."""
    exported = {getattr(errors, name) for name in errors.__all__} - {SignatureError}
    assert exported == {reason.error for reason in REFUSING} - {None}
    assert set(RAISED) == exported
    assert not hasattr(twiliosig, "BodyTooLarge")
    assert not hasattr(twiliosig, "RequestRefused")


@pytest.mark.parametrize("error", list(RAISED), ids=lambda error: error.__name__)
def test_verify_raises_every_exported_exception(error: type[SignatureError]) -> None:
    """Each exported class is raised by verify() for a request that earns it, with its reason's class."""
    url, params, signature, settings = RAISED[error]
    validator = RequestValidator(TOKEN, shared_keys={"k": "secret"})
    with pytest.raises(error) as caught:
        validator.verify(url, params, signature, signature_settings=settings)
    assert type(caught.value) is caught.value.reason.error
