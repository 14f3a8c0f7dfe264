"""The validator's three faces, its configuration checks and its refusals."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest

from twiliosig import (
    BodyHashMismatch,
    MalformedRequest,
    MalformedSignature,
    MissingSignature,
    RawBodyRequired,
    Reason,
    RequestValidator,
    SignatureError,
    SignatureMismatch,
    UnknownSigningKey,
    UnsignedBody,
    UnsupportedAlgorithm,
    UrlVariant,
    body_sha256,
    compute_signature,
)
from twiliosig.urls import DEFAULT_VARIANTS

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="  # Twilio's documented example


@pytest.fixture
def validator() -> RequestValidator:
    return RequestValidator(TOKEN)


def test_three_faces_agree_on_a_genuine_request(validator: RequestValidator) -> None:
    """verify returns True, validate True, check a valid verdict that says what matched."""
    assert validator.verify(URL, PARAMS, SIGNATURE) is True
    assert validator.validate(URL, PARAMS, SIGNATURE) is True
    verdict = validator.check(URL, PARAMS, SIGNATURE)
    assert verdict
    assert verdict.reason is Reason.VALID
    assert verdict.matched_url == URL
    assert verdict.variant == "as received"
    assert verdict.secret == "auth token"
    assert verdict.algorithm == "HMAC_SHA1"
    assert verdict.urls_tried == 1


def test_three_faces_agree_on_a_forgery(validator: RequestValidator) -> None:
    """A forged signature: verify raises SignatureMismatch, validate False, the verdict is falsy."""
    forged = compute_signature("not-the-token", URL, PARAMS)
    with pytest.raises(SignatureMismatch) as caught:
        validator.verify(URL, PARAMS, forged)
    assert caught.value.reason is Reason.SIGNATURE_MISMATCH
    assert isinstance(caught.value, SignatureError)
    assert validator.validate(URL, PARAMS, forged) is False
    verdict = validator.check(URL, PARAMS, forged)
    assert not verdict
    assert verdict.urls_tried > 1  # every candidate was tried before refusing


@pytest.mark.parametrize(
    ("url", "params", "signature", "reason", "error"),
    [
        pytest.param(URL, PARAMS, None, Reason.MISSING_SIGNATURE, MissingSignature, id="none-signature"),
        pytest.param(URL, PARAMS, "", Reason.MISSING_SIGNATURE, MissingSignature, id="empty-signature"),
        pytest.param(URL, PARAMS, b"", Reason.MISSING_SIGNATURE, MissingSignature, id="empty-bytes-signature"),
        pytest.param(URL, PARAMS, "short", Reason.MALFORMED_SIGNATURE, MalformedSignature, id="short-signature"),
        pytest.param(URL, PARAMS, "é" * 28, Reason.MALFORMED_SIGNATURE, MalformedSignature, id="non-ascii-signature"),
        pytest.param(URL, PARAMS, "!" * 28, Reason.MALFORMED_SIGNATURE, MalformedSignature, id="non-base64-signature"),
        pytest.param(URL, PARAMS, 42, Reason.MALFORMED_SIGNATURE, MalformedSignature, id="int-signature"),
        pytest.param("/myapp.php", PARAMS, SIGNATURE, Reason.MALFORMED_URL, MalformedRequest, id="relative-url"),
        pytest.param(None, PARAMS, SIGNATURE, Reason.MALFORMED_URL, MalformedRequest, id="none-url"),
        pytest.param(b"https://x/\xff", PARAMS, SIGNATURE, Reason.MALFORMED_URL, MalformedRequest, id="bad-utf8-url"),
        pytest.param("https://x/\ud800", PARAMS, SIGNATURE, Reason.MALFORMED_URL, MalformedRequest, id="surrogate-url"),
        pytest.param(URL, {"a": object()}, SIGNATURE, Reason.MALFORMED_PARAMS, MalformedRequest, id="object-value"),
        pytest.param(URL, {"a": b"\xff"}, SIGNATURE, Reason.MALFORMED_PARAMS, MalformedRequest, id="bad-utf8-value"),
        pytest.param(URL, {"a": "\udc80"}, SIGNATURE, Reason.MALFORMED_PARAMS, MalformedRequest, id="surrogate-value"),
        pytest.param(URL, [("a",)], SIGNATURE, Reason.MALFORMED_PARAMS, MalformedRequest, id="not-pairs"),
        pytest.param(URL, 3.5, SIGNATURE, Reason.MALFORMED_PARAMS, MalformedRequest, id="float-params"),
        pytest.param(URL, '{"a":1}', SIGNATURE, Reason.UNSIGNED_BODY, UnsignedBody, id="raw-body-no-hash"),
    ],
)
def test_bad_input_gives_a_verdict_never_an_exception(
    validator: RequestValidator, url: Any, params: Any, signature: Any, reason: Reason, error: type
) -> None:
    """Every kind of bad input is a refusal with its own reason; only verify raises, and with the matching class."""
    verdict = validator.check(url, params, signature)
    assert not verdict.valid
    assert verdict.reason is reason
    assert verdict.detail
    assert validator.validate(url, params, signature) is False
    with pytest.raises(error):
        validator.verify(url, params, signature)


def test_sha256_length_signature_without_settings_gets_a_hint(validator: RequestValidator) -> None:
    """A 44-character signature checked as SHA-1 says the settings header is probably missing."""
    signature = compute_signature(TOKEN, URL, PARAMS, algorithm="HMAC_SHA256")
    verdict = validator.check(URL, PARAMS, signature)
    assert verdict.reason is Reason.MALFORMED_SIGNATURE
    assert "settings header" in verdict.detail
    assert validator.validate(URL, PARAMS, signature, "HMAC_SHA256")  # twilio-style positional algorithm


class TestJsonBodies:
    BODY = '{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}'

    def url(self, body: str | bytes) -> str:
        return f"https://example.com/myapp?bodySHA256={body_sha256(body)}"

    def test_raw_body_with_matching_hash_is_accepted(self, validator: RequestValidator) -> None:
        """The signature covers the URL; the body is checked against bodySHA256, as str or bytes."""
        url = self.url(self.BODY)
        signature = compute_signature(TOKEN, url)
        assert validator.check(url, self.BODY, signature).valid
        assert validator.check(url, self.BODY.encode(), signature).valid
        assert validator.check(url, bytearray(self.BODY.encode()), signature).valid

    def test_changed_body_is_refused(self, validator: RequestValidator) -> None:
        """A genuinely signed URL with another body is a body-hash mismatch."""
        url = self.url(self.BODY)
        signature = compute_signature(TOKEN, url)
        with pytest.raises(BodyHashMismatch):
            validator.verify(url, self.BODY.replace("CA", "CB"), signature)

    @pytest.mark.parametrize("params", [{}, {"a": "1"}, None, [("a", "1")]], ids=["empty", "dict", "none", "pairs"])
    def test_parsed_params_instead_of_raw_body_are_refused(self, validator: RequestValidator, params: Any) -> None:
        """Parsed params for a bodySHA256 URL are refused: the twilio package would leave the body unchecked."""
        url = self.url(self.BODY)
        signature = compute_signature(TOKEN, url)
        with pytest.raises(RawBodyRequired):
            validator.verify(url, params, signature)

    def test_empty_raw_body_without_hash_is_no_params(self, validator: RequestValidator) -> None:
        """An empty body string is the same as no parameters (a GET, or an empty POST)."""
        signature = compute_signature(TOKEN, URL)
        assert validator.check(URL, "", signature).valid
        assert validator.check(URL, b"", signature).valid

    def test_a_body_hash_mismatch_says_what_did_match(self, validator: RequestValidator) -> None:
        """The URL matched, the body did not: the verdict names the URL form, secret and algorithm that matched
        (what an operator needs to see that the signature was right and the body changed), and the hint for a
        hash written in upper case."""
        url = self.url(self.BODY).replace(body_sha256(self.BODY), body_sha256(self.BODY).upper())
        verdict = validator.check(url, self.BODY, compute_signature(TOKEN, url))
        assert verdict.reason is Reason.BODY_HASH_MISMATCH
        assert (verdict.matched_url, verdict.variant, verdict.secret) == (url, "as received", "auth token")
        assert (verdict.algorithm, verdict.urls_tried) == ("HMAC_SHA1", 1)
        assert "lowercase hex" in verdict.detail
        lower = self.url(self.BODY)
        changed = validator.check(lower, self.BODY.replace("CA", "CB"), compute_signature(TOKEN, lower))
        assert "lowercase hex" not in changed.detail

    def test_an_accepted_verdict_says_how_it_matched(self, validator: RequestValidator) -> None:
        url = self.url(self.BODY)
        verdict = validator.check(url, self.BODY, compute_signature(TOKEN, url))
        assert verdict.valid
        assert verdict.detail == "signed over the URL as received with the auth token"

    def test_repeated_body_hash_is_refused(self, validator: RequestValidator) -> None:
        """Two bodySHA256 values in one URL are ambiguous and refused."""
        digest = body_sha256(self.BODY)
        url = f"https://example.com/myapp?bodySHA256={digest}&bodySHA256={digest}"
        assert validator.check(url, self.BODY, compute_signature(TOKEN, url)).reason is Reason.BODY_HASH_MISMATCH


class TestSecrets:
    def test_compute_signature_with_a_lookup_reads_the_account_from_the_query(self) -> None:
        """A GET webhook carries AccountSid in its query: a validator with a token lookup signs with that account's."""
        validator = RequestValidator(lambda account: {"AC1": "token-of-ac1"}.get(account or ""))
        url = "https://example.com/twilio/voice?AccountSid=AC1&CallSid=CA1"
        assert validator.compute_signature(url) == compute_signature("token-of-ac1", url)
        assert validator.compute_signature(url, {"AccountSid": "AC1"}) == compute_signature(
            "token-of-ac1", url, {"AccountSid": "AC1"}
        )
        with pytest.raises(ValueError, match="no auth token"):
            validator.compute_signature("https://example.com/twilio/voice?CallSid=CA1")

    def test_rotation_tries_every_token_and_names_the_one_that_matched(self) -> None:
        """During rotation both tokens validate, and the verdict names which, never showing it."""
        validator = RequestValidator(["old-token", TOKEN])
        verdict = validator.check(URL, PARAMS, SIGNATURE)
        assert verdict.valid
        assert verdict.secret == "auth token 2 of 2"
        assert TOKEN not in repr(validator)
        assert TOKEN not in repr(verdict)

    def test_shared_keys_are_chosen_by_the_settings_header(self) -> None:
        """The settings header picks the shared key and the algorithm."""
        validator = RequestValidator(TOKEN, shared_keys={"webhooks_sharedkey_a": "secret-a", "b": "secret-b"})
        signature = compute_signature("secret-a", URL, PARAMS, algorithm="HMAC_SHA256")
        settings = "key=webhooks_sharedkey_a, algorithm=HMAC_SHA256"
        verdict = validator.check(URL, PARAMS, signature, signature_settings=settings)
        assert verdict.valid
        assert verdict.secret == "shared key 'webhooks_sharedkey_a'"
        assert verdict.algorithm == "HMAC_SHA256"
        # The same signature without the header, or naming the other key, is refused.
        assert not validator.check(URL, PARAMS, signature).valid
        other = "key=b,algorithm=HMAC_SHA256"
        assert validator.check(URL, PARAMS, signature, signature_settings=other).reason is Reason.SIGNATURE_MISMATCH

    @pytest.mark.parametrize(
        ("settings", "reason", "error"),
        [
            ("key=unknown,algorithm=HMAC_SHA1", Reason.UNKNOWN_KEY, UnknownSigningKey),
            ("key=k,algorithm=HMAC_MD5", Reason.UNSUPPORTED_ALGORITHM, UnsupportedAlgorithm),
            ("garbage", Reason.MALFORMED_SETTINGS, MalformedRequest),
            ("key=k,key=j", Reason.MALFORMED_SETTINGS, MalformedRequest),
        ],
    )
    def test_settings_header_refusals(self, settings: str, reason: Reason, error: type) -> None:
        """An unknown key, an unknown algorithm or an unreadable header each have their own reason."""
        validator = RequestValidator(TOKEN, shared_keys={"k": "secret"})
        assert validator.check(URL, PARAMS, SIGNATURE, signature_settings=settings).reason is reason
        with pytest.raises(error):
            validator.verify(URL, PARAMS, SIGNATURE, signature_settings=settings)

    def test_only_shared_keys_refuses_a_request_without_the_header(self) -> None:
        """With no auth token configured, a request naming no key cannot be checked and is refused."""
        validator = RequestValidator(None, shared_keys={"k": "secret"})
        assert validator.check(URL, PARAMS, SIGNATURE).reason is Reason.UNKNOWN_KEY
        with pytest.raises(ValueError, match="no auth token"):
            validator.compute_signature(URL, PARAMS)

    def test_token_lookup_by_account_sid(self) -> None:
        """A callable token receives the AccountSid from the params, else from the query, else None."""
        tokens = {"AC1": "token-one", "AC2": ["old", "token-two"], None: "token-none"}
        seen: list[str | None] = []

        def lookup(account: str | None) -> Any:
            seen.append(account)
            return tokens.get(account)

        validator = RequestValidator(lookup)
        params = {**PARAMS, "AccountSid": "AC2"}
        verdict = validator.check(URL, params, compute_signature("token-two", URL, params))
        assert verdict.valid
        assert verdict.secret == "auth token for AC2 2 of 2"
        query_url = URL + "&AccountSid=AC1"
        assert validator.validate(query_url, PARAMS, compute_signature("token-one", query_url, PARAMS))
        assert validator.validate(URL, PARAMS, compute_signature("token-none", URL, PARAMS))
        assert seen == ["AC2", "AC1", None]
        unknown = {**PARAMS, "AccountSid": "AC9"}
        assert validator.check(URL, unknown, SIGNATURE).reason is Reason.UNKNOWN_ACCOUNT
        assert validator.compute_signature(URL, params) == compute_signature("old", URL, params)

    def test_token_lookup_that_raises_refuses_and_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        """A lookup that raises fails closed: the request is refused and the error logged once."""

        def lookup(account: str | None) -> str:
            raise RuntimeError("database down")

        validator = RequestValidator(lookup)
        with caplog.at_level(logging.ERROR, logger="twiliosig"):
            assert validator.check(URL, PARAMS, SIGNATURE).reason is Reason.UNKNOWN_ACCOUNT
        assert len(caplog.records) == 1

    @pytest.mark.parametrize(
        ("token", "shared", "error"),
        [
            (None, None, ValueError),
            ("", None, ValueError),
            ("   ", None, ValueError),
            ([], None, ValueError),
            (["ok", ""], None, ValueError),
            (12345, None, TypeError),
            ([12345], None, TypeError),
            (None, {}, ValueError),
            (None, {"k": ""}, ValueError),
            (None, {"k": 1}, TypeError),
            (None, ["k"], TypeError),
        ],
    )
    def test_bad_configuration_fails_at_construction(self, token: Any, shared: Any, error: type) -> None:
        """No secret, an empty secret or a wrong type raises when the validator is built, never later."""
        with pytest.raises(error):
            RequestValidator(token, shared_keys=shared)

    def test_url_variants_must_be_a_flag(self) -> None:
        """A misspelt variant option is a TypeError at construction."""
        with pytest.raises(TypeError):
            RequestValidator(TOKEN, url_variants="port")  # type: ignore[arg-type]


class TestParamShapes:
    PAIRS: ClassVar[list[tuple[str, str]]] = [("To", "+1"), ("Body", "b"), ("Body", "a"), ("Body", "a"), ("Blank", "")]

    def expected(self) -> str:
        return compute_signature(TOKEN, URL, self.PAIRS)

    def test_signed_string_dedupes_and_sorts_repeated_values(self) -> None:
        """Names sorted, each distinct value once, values sorted, blank values keep their name."""
        import base64
        import hashlib
        import hmac

        message = URL + "Blank" + "Bodya" + "Bodyb" + "To+1"
        digest = hmac.new(TOKEN.encode(), message.encode(), hashlib.sha1).digest()
        assert self.expected() == base64.b64encode(digest).decode()

    @pytest.mark.parametrize(
        "shape",
        ["dict-of-lists", "generator", "werkzeug", "django", "starlette", "multidict-getall"],
    )
    def test_every_shape_gives_the_same_signature(self, shape: str) -> None:
        """Pairs, dicts of lists, generators and framework multi-dicts all sign alike."""
        params: Any
        if shape == "dict-of-lists":
            params = {"To": "+1", "Body": ["b", "a", "a"], "Blank": [""]}
        elif shape == "generator":
            params = iter(self.PAIRS)
        elif shape == "werkzeug":
            from werkzeug.datastructures import MultiDict

            params = MultiDict(self.PAIRS)
        elif shape == "django":
            from django.conf import settings

            if not settings.configured:
                settings.configure()
            from django.http import QueryDict

            params = QueryDict("To=%2B1&Body=b&Body=a&Body=a&Blank=")
        elif shape == "starlette":
            from starlette.datastructures import FormData

            params = FormData(self.PAIRS)
        else:

            class GetAll(dict[str, list[str]]):
                def getall(self, name: str) -> list[str]:
                    return self[name]

            params = GetAll({"To": ["+1"], "Body": ["b", "a", "a"], "Blank": [""]})
        assert RequestValidator(TOKEN).validate(URL, params, self.expected())

    def test_a_plain_dict_from_a_form_loses_repeated_names(self) -> None:
        """dict(form) keeps one value per name, so the signature no longer matches: pass pairs."""
        assert not RequestValidator(TOKEN).validate(URL, dict(self.PAIRS), self.expected())

    def test_none_and_numbers_are_text(self) -> None:
        """None signs as a blank value and numbers as their decimal form, like the other SDKs."""
        assert compute_signature(TOKEN, URL, {"a": None, "n": 0}) == compute_signature(TOKEN, URL, {"a": "", "n": "0"})

    def test_compute_signature_rejects_a_raw_body(self) -> None:
        """compute_signature takes form params; a JSON body is signed through bodySHA256 in the URL."""
        with pytest.raises(TypeError, match="bodySHA256"):
            compute_signature(TOKEN, URL, '{"a": 1}')  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("args", "kwargs", "error"),
        [
            ((1, URL), {}, TypeError),
            ((TOKEN, None), {}, TypeError),
            (("", URL), {}, ValueError),
            ((TOKEN, URL), {"algorithm": "MD5"}, ValueError),
        ],
    )
    def test_compute_signature_argument_errors(self, args: tuple[Any, ...], kwargs: Any, error: type) -> None:
        """The signer raises at once on a wrong secret, URL or algorithm."""
        with pytest.raises(error):
            compute_signature(*args, **kwargs)


def test_validator_compute_signature_matches_twilio_package() -> None:
    """RequestValidator.compute_signature is compatible with the twilio package's."""
    from tests.oracle import TwilioValidator

    assert RequestValidator(TOKEN).compute_signature(URL, PARAMS) == TwilioValidator(TOKEN).compute_signature(
        URL, PARAMS
    )


def test_body_sha256_matches_hashlib() -> None:
    """The body hash is lowercase hex over the UTF-8 bytes, same for str and bytes."""
    assert body_sha256("{}") == body_sha256(b"{}") == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_variants_can_be_narrowed() -> None:
    """With every variant off only the URL as received matches."""
    strict = RequestValidator(TOKEN, url_variants=UrlVariant.NONE)
    assert strict.url_variants is UrlVariant.NONE
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert not strict.validate(with_port, PARAMS, SIGNATURE)
    assert RequestValidator(TOKEN).validate(with_port, PARAMS, SIGNATURE)


# --- what no refusal may say, and inputs each face must carry through ------------------

SHARED = {"k": "shared-secret"}


def _refusal(case: str) -> tuple[RequestValidator, Any, Any, Any, Any]:
    """A validator and a request (URL, params, signature, settings header) it must refuse."""
    body = '{"a": 1}'
    body_url = f"https://example.com/myapp?bodySHA256={body_sha256(body)}"
    tokens = {"AC1": "token-one", "AC2": "token-two"}
    if case == "settings-not-text":
        return RequestValidator(TOKEN, shared_keys=SHARED), URL, PARAMS, SIGNATURE, b"key=k"
    if case == "settings-garbage":
        return RequestValidator(TOKEN, shared_keys=SHARED), URL, PARAMS, SIGNATURE, "garbage"
    if case == "unsupported-algorithm":
        return RequestValidator(TOKEN, shared_keys=SHARED), URL, PARAMS, SIGNATURE, "key=k,algorithm=HMAC_MD5"
    if case == "unknown-shared-key":
        return RequestValidator(TOKEN, shared_keys=SHARED), URL, PARAMS, SIGNATURE, "key=other"
    if case == "shared-keys-only-no-header":
        return RequestValidator(None, shared_keys=SHARED), URL, PARAMS, SIGNATURE, None
    if case == "unknown-account":
        return RequestValidator(tokens.get), URL, {**PARAMS, "AccountSid": "AC9"}, SIGNATURE, None
    if case == "two-accounts":
        params = [("AccountSid", "AC1"), ("AccountSid", "AC2")]
        return RequestValidator(tokens.get), URL, params, compute_signature("token-one", URL, params), None
    if case == "parsed-params-for-a-body-hash":
        return RequestValidator(TOKEN), body_url, {"a": "1"}, compute_signature(TOKEN, body_url), None
    if case == "changed-body":
        return RequestValidator(TOKEN), body_url, '{"a": 2}', compute_signature(TOKEN, body_url), None
    if case == "changed-body-at-another-url-form":
        slashed = body_url.replace("/myapp?", "/myapp/?")
        return RequestValidator(TOKEN), body_url, '{"a": 2}', compute_signature(TOKEN, slashed), None
    if case == "unsigned-raw-body":
        return RequestValidator(TOKEN), URL, body, SIGNATURE, None
    if case == "malformed-signature":
        return RequestValidator(TOKEN), URL, PARAMS, "!" * 28, None
    return RequestValidator(TOKEN), URL, PARAMS, compute_signature("not-the-token", URL, PARAMS), None


REFUSED = [
    "settings-not-text",
    "settings-garbage",
    "unsupported-algorithm",
    "unknown-shared-key",
    "shared-keys-only-no-header",
    "unknown-account",
    "two-accounts",
    "parsed-params-for-a-body-hash",
    "changed-body",
    "changed-body-at-another-url-form",
    "unsigned-raw-body",
    "malformed-signature",
    "forged",
]


@pytest.mark.parametrize("case", REFUSED)
def test_a_refusal_is_never_valid_and_always_says_why(case: str) -> None:
    """Every refusal is valid=False with a reason other than VALID and a detail, on all three faces."""
    validator, url, params, signature, settings = _refusal(case)
    verdict = validator.check(url, params, signature, signature_settings=settings)
    assert verdict.valid is False
    assert verdict.reason is not Reason.VALID
    assert verdict.detail
    assert validator.validate(url, params, signature, signature_settings=settings) is False
    with pytest.raises(SignatureError):
        validator.verify(url, params, signature, signature_settings=settings)


def test_a_bug_inside_the_check_refuses(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected error while checking is logged and refused by check and validate, never let through."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(RequestValidator, "_evaluate", broken)
    validator = RequestValidator(TOKEN)
    with caplog.at_level(logging.ERROR, logger="twiliosig"):
        verdict = validator.check(URL, PARAMS, SIGNATURE)
        assert validator.validate(URL, PARAMS, SIGNATURE) is False
    assert verdict.valid is False
    assert verdict.reason is Reason.MALFORMED_PARAMS
    assert verdict.detail
    assert len(caplog.records) == 2


def test_validate_checks_the_body_hash_too() -> None:
    """The bool face, which skips building explanations, still refuses a changed JSON body."""
    body = '{"a": 1}'
    url = f"https://example.com/myapp?bodySHA256={body_sha256(body)}"
    signature = compute_signature(TOKEN, url)
    validator = RequestValidator(TOKEN)
    assert validator.validate(url, body, signature) is True
    assert validator.validate(url, '{"a": 2}', signature) is False


def test_one_shot_params_are_read_once_for_the_account_and_the_signature() -> None:
    """With a token lookup, a generator of pairs gives the AccountSid and is still signed whole."""
    pairs = [("AccountSid", "AC1"), ("Body", "hi")]
    validator = RequestValidator({"AC1": "token-one"}.get)
    signature = compute_signature("token-one", URL, pairs)
    assert validator.validate(URL, iter(pairs), signature)
    assert not validator.validate(URL, iter([*pairs, ("Extra", "1")]), signature)


def _utf16_signature(url: str, params: list[tuple[str, str]]) -> str:
    """The signature of a signer that sorts parameters by UTF-16 code unit (Java, C#, JavaScript)."""
    import base64
    import hashlib
    import hmac

    from twiliosig._params import canonical_params

    message = url + canonical_params(params, utf16_order=True)
    return base64.b64encode(hmac.new(TOKEN.encode(), message.encode(), hashlib.sha1).digest()).decode()


def test_utf16_order_is_tried_on_every_url_form_and_only_when_allowed() -> None:
    """A UTF-16-ordered signature over another URL form is accepted and described; never with the variant off."""
    params = [("Body", "😀"), ("Body", "\uff21")]
    signature = _utf16_signature(URL.replace("/myapp.php?", "/myapp.php/?"), params)
    assert signature != compute_signature(TOKEN, URL.replace("/myapp.php?", "/myapp.php/?"), params)
    verdict = RequestValidator(TOKEN).check(URL, params, signature)
    assert verdict.valid
    assert verdict.matched_url == URL.replace("/myapp.php?", "/myapp.php/?")
    assert verdict.variant == "with a trailing slash added, with the parameters sorted by UTF-16 code unit"
    assert verdict.urls_tried > 1
    no_utf16 = DEFAULT_VARIANTS & ~UrlVariant.UTF16_PARAM_ORDER
    assert not RequestValidator(TOKEN, url_variants=no_utf16).validate(URL, params, signature)
    assert not RequestValidator(TOKEN, url_variants=UrlVariant.NONE).validate(
        URL, params, _utf16_signature(URL, params)
    )


def test_bytes_are_accepted_where_text_is() -> None:
    """A signature, a URL and parameter values given as UTF-8 bytes are read as the text they hold."""
    validator = RequestValidator(TOKEN)
    assert validator.validate(URL.encode(), PARAMS, SIGNATURE.encode())
    text = {"Body": "café"}
    assert validator.validate(URL, {"Body": "café".encode()}, compute_signature(TOKEN, URL, text))


def test_every_face_passes_the_algorithm_and_the_settings_header_on() -> None:
    """verify, validate and check honour a positional algorithm and the signature settings header alike."""
    validator = RequestValidator(TOKEN, shared_keys={"k": "shared-secret"})
    sha256 = compute_signature(TOKEN, URL, PARAMS, algorithm="HMAC_SHA256")
    assert validator.verify(URL, PARAMS, sha256, "HMAC_SHA256") is True
    assert validator.check(URL, PARAMS, sha256, "HMAC_SHA256").valid
    assert validator.validate(URL, PARAMS, sha256, "HMAC_SHA256")
    shared = compute_signature("shared-secret", URL, PARAMS, algorithm="HMAC_SHA256")
    settings = "key=k,algorithm=HMAC_SHA256"
    assert validator.verify(URL, PARAMS, shared, signature_settings=settings) is True
    assert validator.validate(URL, PARAMS, shared, signature_settings=settings)


def test_a_multidict_with_short_names_signs_its_values() -> None:
    """A framework multi-dict whose names are two characters long signs names and values, like pairs."""
    from werkzeug.datastructures import MultiDict

    pairs = [("To", "+1"), ("Id", "7"), ("Id", "8")]
    assert RequestValidator(TOKEN).validate(URL, MultiDict(pairs), compute_signature(TOKEN, URL, pairs))


def test_a_mapping_is_not_a_pair_even_with_two_items() -> None:
    """Params given as a list must hold (name, value) pairs: a two-item mapping inside is refused."""
    params = [{0: "a", 1: "b"}]
    verdict = RequestValidator(TOKEN).check(URL, params, compute_signature(TOKEN, URL, [("a", "b")]))
    assert verdict.reason is Reason.MALFORMED_PARAMS


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        pytest.param("key=k,algorithm=HMAC_SHA256", ("k", "HMAC_SHA256"), id="both"),
        pytest.param(" , key=k, ,algorithm=HMAC_SHA256,", ("k", "HMAC_SHA256"), id="blank-pieces-skipped"),
        pytest.param("key=abc=", ("abc=", None), id="equals-in-value"),
        pytest.param("Key=k,future=1", ("k", None), id="unknown-attribute-ignored"),
        pytest.param("", (None, None), id="blank"),
        pytest.param("k y=1", None, id="name-not-a-token"),
        pytest.param("key=a\x01", None, id="control-character"),
        pytest.param("key", None, id="no-equals"),
    ],
)
def test_signature_settings_header(header: str, parsed: tuple[str | None, str | None] | None) -> None:
    """name=value pairs split at the first '=', blanks skipped, unknown names ignored, anything else refused."""
    from twiliosig._keys import parse_signature_settings

    if parsed is None:
        with pytest.raises(ValueError, match="signature settings"):
            parse_signature_settings(header)
    else:
        assert parse_signature_settings(header) == parsed


# --- the one compare --------------------------------------------------------------------------------------------


class _CountingCompare:
    """Stands in for the ``hmac`` module inside the core: counts every constant-time compare."""

    def __init__(self) -> None:
        import hmac

        self.new = hmac.new
        self._compare = hmac.compare_digest
        self.calls = 0

    def compare_digest(self, a: Any, b: Any) -> bool:
        self.calls += 1
        return self._compare(a, b)


def test_every_signature_is_compared_in_constant_time_once_per_form_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """One loop, one compare: the common request costs one, a refusal every URL form times every secret.

    The compare is ``hmac.compare_digest``: a plain ``==`` (or no compare at all)
    is counted zero times here, and a loop that stopped early counts fewer.
    """
    compares = _CountingCompare()
    monkeypatch.setattr("twiliosig.signature.hmac", compares)
    tokens = ["old-token-1", "old-token-2", TOKEN]
    validator = RequestValidator(tokens)

    verdict = validator.check(URL, PARAMS, compute_signature(tokens[0], URL, PARAMS))
    assert (verdict.valid, compares.calls) == (True, 1)  # the URL as received, the first secret

    compares.calls = 0
    verdict = validator.check(URL, PARAMS, SIGNATURE)
    assert (verdict.valid, verdict.secret, compares.calls) == (True, validator.secret_labels(URL, PARAMS)[2], 3)

    compares.calls = 0
    verdict = validator.check(URL, PARAMS, compute_signature("a-forger", URL, PARAMS))
    assert verdict.reason is Reason.SIGNATURE_MISMATCH
    assert verdict.urls_tried > 1
    assert compares.calls == verdict.urls_tried * len(tokens)  # every form with every secret

    compares.calls = 0
    body = b"&".join(f"{name}={value}".replace("+", "%2B").encode() for name, value in PARAMS.items())
    assert validator.accept_form_body(URL, body, SIGNATURE) == validator.check(URL, PARAMS, SIGNATURE)
    assert compares.calls == 3 + 3  # the pre-check compares through the same loop, then check
