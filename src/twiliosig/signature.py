"""Compute and check ``X-Twilio-Signature``: the pure, standard-library core.

The signed string is the URL Twilio requested followed by every POST parameter
(name then value, names sorted, each distinct value of a repeated name once,
values sorted). The signature is the base64 HMAC of its UTF-8 bytes, keyed with
the auth token (HMAC-SHA1) or a webhook shared key (HMAC-SHA1 or HMAC-SHA256).
For a JSON body Twilio adds ``bodySHA256=<hex>`` to the URL and signs the URL
alone, so the body is checked against that hash.

:class:`RequestValidator` has one implementation and three faces:
:meth:`~RequestValidator.verify` raises a :class:`~twiliosig.SignatureError`,
:meth:`~RequestValidator.check` returns a :class:`~twiliosig.Verdict` that says
why, and :meth:`~RequestValidator.validate` returns a bool and is a drop-in for
the ``twilio`` package's ``RequestValidator.validate``. Every face reaches its
verdict one way: one loop over the URL forms and the secrets with one
constant-time compare (``_match``), the URL as received first. The middlewares
put one pre-check in front of it, :meth:`~RequestValidator.accept_form_body`,
which reads a raw form body in one pass and tries only that first form.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, Literal

from ._forms import form_signing_text
from ._keys import (
    HMAC_SHA1,
    AuthToken,
    Digest,
    Secret,
    TokenLookup,
    digest_for,
    parse_signature_settings,
    shared_secrets,
    token_secrets,
)
from ._logtext import loggable
from ._params import (
    Params,
    _pairs,
    all_values,
    canonical_params,
    first_value,
    sorted_params,
    utf16_order_may_differ,
    utf16_params,
)
from ._urls import DEFAULT_VARIANTS, Candidate, UrlVariant, candidate_urls, query_values, redact
from .exceptions import _error_for
from .verdict import Reason, Verdict

__all__ = ["RequestValidator", "body_sha256", "compute_signature"]

logger = logging.getLogger("twiliosig")

_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}\Z")
_BODY_HASH_PARAM = "bodySHA256"
_WEB_SCHEMES = ("https://", "http://")  # what the pre-check takes without the regex check() runs
_UTF16_CHANGE = "with the parameters sorted by UTF-16 code unit"
_AS_RECEIVED = "as received"
_SHA1 = digest_for(HMAC_SHA1)
# One form of a request a signature may cover: the URL's bytes, the parameter string's
# bytes, the URL, how it differs from the URL as received, and how many URL forms that makes.
_SignedForm = tuple[bytes, bytes, str, str, int]
# What validate() gets for a plain acceptance: it reads only .valid, so the
# common request skips building a verdict of its own.
_ACCEPTED = Verdict(True, Reason.VALID, "signed over the URL as received")


def compute_signature(
    secret: str,
    url: str,
    params: Params = None,
    *,
    algorithm: str = HMAC_SHA1,
) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for this URL and these parameters.

    Args:
        secret: The auth token, or a shared key's secret.
        url: The exact URL Twilio requests, query string included. For a JSON
            body, include ``bodySHA256=`` + :func:`body_sha256` of the body in
            the query and pass no params.
        params: The form parameters: a mapping (values may be lists), a
            multi-dict, or (name, value) pairs. Repeated names are kept.
        algorithm: ``"HMAC_SHA1"`` (auth tokens) or ``"HMAC_SHA256"``.

    Raises:
        TypeError: a non-str secret or URL, or parameters that are not text.
        ValueError: an empty secret or an unknown algorithm.
    """
    digest = digest_for(algorithm)
    if not isinstance(secret, str) or not isinstance(url, str):
        raise TypeError("secret and url must be str")
    if not secret:
        raise ValueError("the secret is empty")
    if isinstance(params, (str, bytes)):
        raise TypeError("params must be form parameters; for a JSON body put bodySHA256 in the URL and pass no params")
    message = (url + canonical_params(params)).encode("utf-8")
    return Secret("secret", secret.encode("utf-8"), reusable=False).sign(message, digest).decode("ascii")


def body_sha256(body: bytes | str) -> str:
    """The lowercase hex SHA-256 of a raw body, as Twilio writes it in ``?bodySHA256=``.

    A str is hashed as its UTF-8 bytes.
    """
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return hashlib.sha256(data).hexdigest()


class RequestValidator:
    """Checks that a request was signed by Twilio, and explains every refusal.

    Args:
        auth_token: The account's auth token; several tokens (during rotation
            each is tried: only the primary signs, so keep the old primary and
            the new one until Twilio has switched); or a callable that receives
            the request's ``AccountSid`` (from the parameters, else the query;
            None when absent) and returns the token(s) for that account or None.
            May be None only when ``shared_keys`` is given.
        shared_keys: ``{key_id: secret}`` for webhooks signed with a SharedKey,
            chosen by the ``X-Twilio-Webhooks-Signature-Settings`` header.
        url_variants: Which alternatives to the URL as received a signature may
            match (see :class:`~twiliosig.UrlVariant`); all by default.
        token: The ``twilio`` package's name for ``auth_token``, so that
            ``RequestValidator(token=...)`` written for it works unchanged; give
            one of the two.

    Every method and argument of the ``twilio`` package's ``RequestValidator``
    works the same here (``compute_signature``, ``compute_hash``,
    ``get_values``, ``validate``, under the same names), so swapping the import
    is enough; where the two differ, this one accepts what that one wrongly
    refuses (ports with userinfo or IPv6, re-encoded queries) and refuses what
    it wrongly accepts (parsed parameters for a ``bodySHA256`` URL, whose body
    it never checks).

    Raises:
        ValueError: no secret at all, or an empty one.
        TypeError: a token, key or option of the wrong type, or both
            ``auth_token`` and ``token``.
    """

    __slots__ = ("_lookup", "_shared", "_tokens", "_variants")

    def __init__(
        self,
        auth_token: AuthToken = None,
        *,
        shared_keys: Mapping[str, str] | None = None,
        url_variants: UrlVariant = DEFAULT_VARIANTS,
        token: AuthToken = None,
    ) -> None:
        if token is not None:
            if auth_token is not None:
                raise TypeError("give auth_token or token (the twilio package's name for it), not both")
            auth_token = token
        self._lookup: TokenLookup | None = None
        self._tokens: tuple[Secret, ...] = ()
        if callable(auth_token):
            self._lookup = auth_token
        elif auth_token is not None:
            self._tokens = token_secrets(auth_token)
        self._shared = shared_secrets(shared_keys) if shared_keys is not None else {}
        if not self._tokens and self._lookup is None and not self._shared:
            raise ValueError(
                "no secret configured: give the auth token (TWILIO_AUTH_TOKEN) or shared_keys; "
                "validation never runs open"
            )
        if not isinstance(url_variants, UrlVariant):
            raise TypeError("url_variants must be a twiliosig.UrlVariant (combine members with |)")
        self._variants = url_variants

    def _static_secrets(self) -> tuple[bytes, ...]:
        """The configured secrets' bytes, auth tokens first (none looked up): what keys Digest's nonces."""
        return tuple(secret.key for secret in (*self._tokens, *self._shared.values()))

    def __repr__(self) -> str:
        if self._lookup is not None:
            tokens = "auth tokens looked up by account"
        else:
            tokens = f"{len(self._tokens)} auth token(s)"
        return f"<RequestValidator {tokens}, shared keys {sorted(self._shared)}, {self._variants}>"

    @property
    def url_variants(self) -> UrlVariant:
        """The URL alternatives this validator tries."""
        return self._variants

    # --- the three faces -------------------------------------------------------

    def verify(
        self,
        url: str,
        params: Params | str | bytes,
        signature: str | bytes | None,
        algorithm: str | None = None,
        *,
        signature_settings: str | None = None,
    ) -> Literal[True]:
        """Return True if the request is genuine; raise otherwise.

        Takes the same arguments as :meth:`check`.

        Raises:
            SignatureError: the subclass that says why (see
                :mod:`twiliosig.exceptions`); ``error.verdict`` has the details.
        """
        verdict = self.check(url, params, signature, algorithm, signature_settings=signature_settings)
        if not verdict.valid:
            raise _error_for(verdict)
        return True

    def validate(
        self,
        uri: str,
        params: Params | str | bytes,
        signature: str | bytes | None,
        algorithm: str | None = None,
        *,
        signature_settings: str | None = None,
    ) -> bool:
        """Return whether the request is genuine.

        A drop-in for ``twilio.request_validator.RequestValidator.validate``:
        the arguments of :meth:`check` under the ``twilio`` package's names
        (``uri`` is the URL), so keyword calls written for it work too.
        """
        try:
            return self._evaluate(uri, params, signature, algorithm, signature_settings, explain=False).valid
        except Exception:  # pragma: no cover - a bug here must refuse, not open the door
            logger.exception("twiliosig: unexpected error while checking a signature")
            return False

    def check(
        self,
        url: str,
        params: Params | str | bytes,
        signature: str | bytes | None,
        algorithm: str | None = None,
        *,
        signature_settings: str | None = None,
    ) -> Verdict:
        """Return a :class:`~twiliosig.Verdict`: whether the request is genuine, and why.

        Never raises for bad input: a ``None``, an empty or non-base64
        signature, a relative URL, invalid UTF-8 or parameters that are not
        text all give a refusing verdict.

        Args:
            url: The full URL Twilio requested, query string included.
            params: The form parameters (a mapping, a multi-dict or (name,
                value) pairs), or the raw body (str or bytes) when the URL
                carries ``bodySHA256``.
            signature: The ``X-Twilio-Signature`` header.
            algorithm: ``"HMAC_SHA1"`` (the default) or ``"HMAC_SHA256"``, for
                callers that read the settings header themselves.
            signature_settings: The ``X-Twilio-Webhooks-Signature-Settings``
                header, which names the shared key and algorithm.
        """
        try:
            return self._evaluate(url, params, signature, algorithm, signature_settings, explain=True)
        except Exception:  # pragma: no cover - a bug here must refuse, not open the door
            logger.exception("twiliosig: unexpected error while checking a signature")
            return Verdict(False, Reason.MALFORMED_PARAMS, "the request could not be checked")

    def accept_form_body(
        self,
        url: str,
        body: bytes,
        signature: str,
        signature_settings: str | None = None,
    ) -> Verdict | None:
        """The pre-check for a raw form body: the accepting verdict :meth:`check` gives, or None to ask :meth:`check`.

        Reads an ``application/x-www-form-urlencoded`` body in one pass, straight
        into the string the signature covers, and tries the one form of the
        request almost every genuine webhook is signed over: the URL as received,
        an auth token, HMAC-SHA1 (one HMAC per configured token). What it
        accepts, :meth:`check` accepts with the same verdict for the pairs the
        body parses to. It never refuses: None means "not decided here" (a
        signature settings header, a looked-up token, a ``bodySHA256`` URL, a
        body it could read differently from the parser, another URL form, any
        refusal), and the caller parses the body and calls :meth:`check`, which
        decides and explains. The middlewares run it once per request, in front
        of :meth:`check`.

        Args:
            url: The full URL Twilio requested, query string included.
            body: The raw request body.
            signature: The ``X-Twilio-Signature`` header.
            signature_settings: The ``X-Twilio-Webhooks-Signature-Settings`` header.
        """
        if (
            signature_settings
            or type(url) is not str
            or type(signature) is not str
            or type(body) is not bytes
            or not self._tokens  # a token lookup or shared keys only: the general path chooses the secret
            or not url.startswith(_WEB_SCHEMES)  # absolute; any other scheme is check's to judge
            or ("?" in url and query_values(url, _BODY_HASH_PARAM))
        ):
            return None
        text = form_signing_text(body)
        if text is None:
            return None  # a body the one pass could read differently from the parser
        try:
            sig = signature.encode("ascii")
            message = url.encode("utf-8")
            suffix = text.encode("utf-8")
        except UnicodeEncodeError:
            return None  # not ASCII, not text: the general path names the fault
        matched = self._match(sig, _SHA1, self._tokens, ((message, suffix, url, _AS_RECEIVED, 1),), None, [], True)
        return matched if isinstance(matched, Verdict) else None

    def compute_signature(self, uri: str, params: Params = None, algorithm: str | None = None) -> str:
        """The signature Twilio would send, with the primary auth token.

        Compatible with ``twilio.request_validator.RequestValidator.compute_signature``,
        argument names included.

        Args:
            uri: The exact URL Twilio requests, query string included.
            params: The form parameters (a mapping, a multi-dict or pairs).
            algorithm: ``"HMAC_SHA1"`` (None, the default) or ``"HMAC_SHA256"``,
                in any case.

        Raises:
            ValueError: an unknown algorithm, or no auth token configured for
                the request's account.
            TypeError: parameters that are not text.
        """
        digest = digest_for(algorithm)
        if self._lookup is not None:
            secrets = self._looked_up(first_value(params, "AccountSid") or _query_account(uri))
            if isinstance(secrets, Verdict):
                raise ValueError(secrets.detail)
        else:
            secrets = self._tokens
        if not secrets:
            raise ValueError("no auth token configured (only shared keys)")
        message = (uri + canonical_params(params)).encode("utf-8")
        return secrets[0].sign(message, digest).decode("ascii")

    def compute_hash(self, body: str | bytes) -> str:
        """The lowercase hex SHA-256 of a raw body: :func:`body_sha256`, under the ``twilio`` package's name."""
        return body_sha256(body)

    def get_values(self, param_dict: Any, param_name: str) -> list[Any]:
        """Every value of one parameter, as the ``twilio`` package's ``get_values`` reads it.

        A multi-dict's ``getall`` (multidict) or ``getlist`` (werkzeug, Django)
        answers; a mapping gives its value in a list (a list value is already
        several values here) and raises ``KeyError`` for a missing name, as
        that package does; (name, value) pairs give every value of the name.
        """
        for method in ("getall", "getlist"):
            getter = getattr(param_dict, method, None)
            if callable(getter):
                return list(getter(param_name))
        if isinstance(param_dict, Mapping):
            param_dict = {param_name: param_dict[param_name]}
        return [value for name, value in _pairs(param_dict) if name == param_name]

    def secret_labels(self, url: str, params: Params | str | bytes, signature_settings: str | None = None) -> list[str]:
        """The labels of the secrets a check of this request tries (never the secrets), for explanations."""
        chosen = self._secrets_for(url, params, None, signature_settings)
        return [] if isinstance(chosen, Verdict) else [secret.label for secret in chosen[0]]

    # --- the one implementation --------------------------------------------------

    def _evaluate(
        self,
        url: Any,
        params: Any,
        signature: Any,
        algorithm: str | None,
        settings: str | None,
        *,
        explain: bool,
    ) -> Verdict:
        """Check a request. With ``explain`` False a plain acceptance skips building its verdict."""
        # The signature: present, and ASCII (base64 always is).
        if isinstance(signature, str):
            try:
                sig = signature.encode("ascii")
            except UnicodeEncodeError:
                return Verdict(False, Reason.MALFORMED_SIGNATURE, "the signature is not base64 (non-ASCII)")
        elif isinstance(signature, (bytes, bytearray)):
            sig = bytes(signature)
        elif signature is None:
            sig = b""  # pragma: no mutate (None and b"" both fail the emptiness check below)
        else:
            return Verdict(False, Reason.MALFORMED_SIGNATURE, f"the signature is a {type(signature).__name__}")
        if not sig:
            return Verdict(False, Reason.MISSING_SIGNATURE, "the request carries no X-Twilio-Signature")

        # The URL: absolute text.
        if isinstance(url, (bytes, bytearray)):
            try:
                url = bytes(url).decode("utf-8")
            except UnicodeDecodeError:
                return Verdict(False, Reason.MALFORMED_URL, "the URL is not valid UTF-8")
        if not isinstance(url, str) or _ABSOLUTE_URL.match(url) is None:
            return Verdict(
                False,
                Reason.MALFORMED_URL,
                "the URL is not absolute: give scheme://host/path?query as Twilio called it",
            )
        try:
            url_bytes = url.encode("utf-8")
        except UnicodeEncodeError:
            return Verdict(False, Reason.MALFORMED_URL, "the URL holds characters that are not valid Unicode")

        if type(params) not in (dict, list) and isinstance(params, Iterator):
            params = list(params)  # read a one-shot iterator once, for every use below

        # The body: a raw body only with bodySHA256 in the URL, and then only a raw body.
        body: str | bytes | None = None  # pragma: no mutate (read only when body_hashes is set, which assigns it)
        body_hashes: list[str] = []  # pragma: no mutate (every read tests its truth, and None is falsy too)
        if "?" in url:  # the name may arrive escaped (bodySHA%32%356): read it decoded, as the SDKs do
            body_hashes = query_values(url, _BODY_HASH_PARAM)
        if body_hashes:
            if not isinstance(params, (str, bytes, bytearray)):
                return Verdict(
                    False,
                    Reason.RAW_BODY_REQUIRED,
                    "the URL carries bodySHA256, so pass the raw request body (str or bytes) as params, "
                    "not parsed parameters: otherwise nothing checks the body",
                )
            body, params = bytes(params) if isinstance(params, bytearray) else params, None
        elif isinstance(params, (str, bytes, bytearray)):
            if params:
                return Verdict(
                    False,
                    Reason.UNSIGNED_BODY,
                    "a raw body was given but the URL carries no bodySHA256, so the signature does not cover it",
                )
            params = None  # pragma: no mutate ("" and None both sign as no parameters)

        # The secrets and the algorithm.
        if settings or algorithm is not None or not self._tokens:
            chosen = self._secrets_for(url, params, algorithm, settings)
            if isinstance(chosen, Verdict):
                return chosen
            secrets, digest = chosen
        else:
            secrets, digest = self._tokens, _SHA1

        try:
            text, ordered = sorted_params(params)
            suffix = text.encode("utf-8")
        except (TypeError, UnicodeEncodeError) as error:
            return Verdict(False, Reason.MALFORMED_PARAMS, f"the parameters cannot be signed: {error}")

        if len(sig) != digest.signature_length:
            return self._malformed(sig, digest)

        matched = self._match(
            sig, digest, secrets, self._forms(url, url_bytes, suffix, ordered), body, body_hashes, explain
        )
        if isinstance(matched, Verdict):
            return matched
        tried = matched  # every form and every secret tried: a refusal
        if _BASE64.match(sig) is None:
            return self._malformed(sig, digest)
        labels = ", ".join(secret.label for secret in secrets)
        return Verdict(
            False,
            Reason.SIGNATURE_MISMATCH,
            f"no form of the URL ({tried} tried) gives this signature with the {labels}: compare the URL "
            f"rebuilt here, {redact(url)}, with the one Twilio calls (scheme behind a proxy, host, port, "
            "path, query), and check the secret",
            algorithm=digest.algorithm,
            urls_tried=tried,
        )

    def _forms(self, url: str, url_bytes: bytes, suffix: bytes, ordered: Any) -> Iterator[_SignedForm]:
        """Every form of the request a signature may cover, the most likely first, lazily.

        The URL as received first (the common request never builds another),
        then each alternative URL this validator accepts, then, where the two
        orders of the parameters differ (only where an astral character meets
        U+E000..U+FFFF), every URL again with the parameters in UTF-16 order.
        Each is (URL bytes, parameter bytes, URL, how it differs, URL forms tried so far).
        """
        yield url_bytes, suffix, url, _AS_RECEIVED, 1
        tried = 1
        urls = [(url_bytes, Candidate(url))]  # kept for the UTF-16 order below
        for candidate in islice(candidate_urls(url, self._variants), 1, None):
            tried += 1
            candidate_bytes = candidate.url.encode("utf-8", "surrogatepass")
            urls.append((candidate_bytes, candidate))
            yield candidate_bytes, suffix, candidate.url, candidate.description, tried
        if UrlVariant.UTF16_PARAM_ORDER in self._variants and utf16_order_may_differ(suffix):
            utf16_suffix = utf16_params(ordered).encode("utf-8")
            if utf16_suffix != suffix:
                for candidate_bytes, candidate in urls:
                    changes = ", ".join((*candidate.changes, _UTF16_CHANGE))
                    yield candidate_bytes, utf16_suffix, candidate.url, changes, tried

    def _match(
        self,
        sig: bytes,
        digest: Digest,
        secrets: tuple[Secret, ...],
        forms: Iterable[_SignedForm],
        body: str | bytes | None,
        body_hashes: list[str],
        explain: bool,
    ) -> Verdict | int:
        """The one place a signature is compared: the accepting verdict, or how many URL forms were tried.

        Every secret on each form before the next form, in order: the first form
        is the most likely, so the common request costs one HMAC, and a refusal
        costs every form times every secret (the compare is constant-time, and
        nothing stops early on a near miss). A match of a ``bodySHA256`` URL is
        then refused if the body does not match it. With ``explain`` False a
        plain acceptance skips building its verdict.
        """
        tried = 0
        for message, params, url, variant, tried in forms:
            for secret in secrets:
                if hmac.compare_digest(secret.sign(message, digest, params), sig):
                    if body_hashes:
                        refused = self._body_mismatch(url, variant, secret, digest, tried, body, body_hashes)
                        if refused is not None:
                            return refused
                    elif not explain:
                        return _ACCEPTED
                    # Built here, not in a helper: the middlewares reach this once per request, where
                    # every extra function is fetched cold (docs/architecture.md, "The hot path").
                    detail = f"signed over the URL {variant} with the {secret.label}"
                    return Verdict(True, Reason.VALID, detail, url, variant, secret.label, digest.algorithm, tried)
        return tried

    def _malformed(self, sig: bytes, digest: Digest) -> Verdict:
        hint = ""
        for other in (digest_for("HMAC_SHA1"), digest_for("HMAC_SHA256")):
            if other != digest and len(sig) == other.signature_length:
                hint = f"; it has the length of an {other.algorithm} signature: pass the signature settings header"
        return Verdict(
            False,
            Reason.MALFORMED_SIGNATURE,
            f"the signature is not {digest.signature_length} characters of base64 as {digest.algorithm} "
            f"gives (it has {len(sig)}){hint}",
            algorithm=digest.algorithm,
        )

    def _body_mismatch(
        self,
        url: str,
        variant: str,
        secret: Secret,
        digest: Digest,
        tried: int,
        body: str | bytes | None,
        body_hashes: list[str],
    ) -> Verdict | None:
        """The refusal of a genuinely signed ``bodySHA256`` URL whose body does not match it; None: it matches."""
        detail = ""
        if body is None or len(body_hashes) != 1:
            detail = "the URL carries bodySHA256 more than once"
        elif not hmac.compare_digest(
            body_sha256(body).encode("ascii"), body_hashes[0].encode("utf-8", "surrogatepass")
        ):
            hint = " (Twilio writes it in lowercase hex)" if body_hashes[0] != body_hashes[0].lower() else ""
            detail = (
                "the URL is genuinely signed but the body's SHA-256 differs from its bodySHA256"
                f"{hint}: the body was changed, or re-serialised before it reached the validator"
            )
        if not detail:
            return None
        return Verdict(False, Reason.BODY_HASH_MISMATCH, detail, url, variant, secret.label, digest.algorithm, tried)

    def _secrets_for(
        self, url: str, params: Any, algorithm: str | None, settings: Any
    ) -> tuple[tuple[Secret, ...], Digest] | Verdict:
        key_id = None
        if settings:
            if not isinstance(settings, str):
                return Verdict(False, Reason.MALFORMED_SETTINGS, "the signature settings header is not text")
            try:
                key_id, named = parse_signature_settings(settings)
            except ValueError as error:
                return Verdict(False, Reason.MALFORMED_SETTINGS, str(error))
            algorithm = named or algorithm
        try:
            digest = digest_for(algorithm)
        except ValueError:
            return Verdict(
                False, Reason.UNSUPPORTED_ALGORITHM, "the signature algorithm is neither HMAC_SHA1 nor HMAC_SHA256"
            )
        account = None  # pragma: no mutate (reassigned before it is read whenever a lookup is configured)
        if self._lookup is not None:
            # Every AccountSid the app could read: the body's, and the query's with its
            # name decoded (``Account%53id`` is ``AccountSid`` to every framework).
            accounts = set(all_values(params, "AccountSid")) | set(query_values(url, "AccountSid"))
            if len(accounts) > 1:
                # The token chosen for one account while the app reads another: a tenant
                # could sign as itself and be handled as someone else.
                return Verdict(
                    False,
                    Reason.AMBIGUOUS_ACCOUNT,
                    f"the request names {len(accounts)} different AccountSid values (body and query), "
                    "so the token to check it with is ambiguous; Twilio sends one",
                    algorithm=digest.algorithm,
                )
            account = next(iter(accounts), None) or None
        if key_id is not None:
            shared = self._shared.get(key_id)
            if shared is None:
                return Verdict(
                    False,
                    Reason.UNKNOWN_KEY,
                    f"the request is signed with shared key {loggable(key_id, 64)!r}, which is not configured",
                    algorithm=digest.algorithm,
                )
            return (shared,), digest
        if self._lookup is not None:
            found = self._looked_up(account)
            if isinstance(found, Verdict):
                return found
            return found, digest
        if not self._tokens:
            return Verdict(
                False,
                Reason.UNKNOWN_KEY,
                "the request names no shared key and no auth token is configured",
                algorithm=digest.algorithm,
            )
        return self._tokens, digest

    def _looked_up(self, account: str | None) -> tuple[Secret, ...] | Verdict:
        assert self._lookup is not None
        shown = loggable(account, 64)
        refusal = Verdict(False, Reason.UNKNOWN_ACCOUNT, f"no auth token is configured for account {shown}")
        who = shown if account else "a request without AccountSid"
        try:
            tokens = self._lookup(account)
        except Exception as error:
            # No traceback: its text could carry the request's AccountSid unescaped.
            logger.error(
                "twiliosig: the auth token lookup raised %s for %s: %s",
                type(error).__name__,
                who,
                loggable(error),
            )
            return refusal
        if tokens is None or (not isinstance(tokens, str) and not tokens):
            return refusal
        label = f"auth token for {shown}" if account else "auth token for requests without AccountSid"
        try:
            return token_secrets(tokens, label, reusable=False)
        except (TypeError, ValueError):
            logger.error("twiliosig: the auth token lookup returned an unusable token for %s", who)
            return refusal


def _query_account(url: str) -> str | None:
    values = query_values(url, "AccountSid")
    return values[0] if values else None
