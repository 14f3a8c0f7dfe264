"""Differential tests against the official ``twilio`` package on generated webhooks.

The twilio package is the peer: we sign exactly as it signs, accept whenever it
accepts (on the URLs where it is not known to be wrong, see twilio-signing.md),
and refuse after any single change to a parameter, the URL or the signature.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import urlencode, urlparse

from hypothesis import assume, example, given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.oracle import TwilioValidator
from tests.test_params_order import FIELD, _parsed
from twiliosig import Reason, RequestValidator, compute_signature
from twiliosig._forms import FORM_CONTENT_TYPE
from twiliosig._guard import Guard, Head

# Text Twilio sends: any Unicode scalar (no lone surrogates, which UTF-8 cannot carry).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
tokens = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(str.strip)
url_safe = st.text(st.sampled_from("abcXYZ019-._~%20'+=:@!$*,;"), max_size=10)


@st.composite
def urls(draw: st.DrawFn) -> str:
    """Absolute http(s) URLs with optional port, path and raw query, as Twilio would call them."""
    scheme = draw(st.sampled_from(["https", "http"]))
    host = draw(st.sampled_from(["example.com", "api.example.org", "127.0.0.1", "a-b.example.co.uk"]))
    port = draw(st.sampled_from(["", ":443", ":80", ":8443", ":5000"]))
    path = "/" + "/".join(draw(st.lists(url_safe.filter(lambda s: "%" not in s), max_size=3)))
    query = draw(st.lists(st.tuples(url_safe, url_safe), max_size=3))
    url = f"{scheme}://{host}{port}{path}"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    return url


pairs_lists = st.lists(st.tuples(names, text), max_size=12)


def multidict(pairs: list[tuple[str, str]]) -> MultiDict[str, str]:
    return MultiDict(pairs)


@given(tokens, urls(), pairs_lists)
def test_same_signature_as_twilio(token: str, url: str, pairs: list[tuple[str, str]]) -> None:
    """compute_signature equals the twilio package's, repeated names included."""
    theirs = TwilioValidator(token).compute_signature(url, multidict(pairs))
    assert compute_signature(token, url, pairs) == theirs


@given(tokens, urls(), pairs_lists, st.sampled_from(["", ":443", ":80", ":8443"]), st.data())
def test_accepted_whenever_twilio_accepts(
    token: str, url: str, pairs: list[tuple[str, str]], port: str, data: st.DataObject
) -> None:
    """A signature over any form of the URL the twilio package accepts is accepted here too."""
    signed = url
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    hostname = host.split(":")[0]
    signed = f"{scheme}://{hostname}{port}{slash}{path}"
    signature = TwilioValidator(token).compute_signature(signed, multidict(pairs))
    twilio_accepts = TwilioValidator(token).validate(url, multidict(pairs), signature)
    ours = RequestValidator(token).check(url, pairs, signature)
    if twilio_accepts:
        assert ours.valid, ours.detail
    if signed == url:
        assert ours.valid
        assert ours.variant == "as received"


def _mutate_text(value: str, rng: random.Random) -> str:
    if value and rng.random() < 0.5:
        index = rng.randrange(len(value))
        replacement = "Z" if value[index] != "Z" else "Y"
        return value[:index] + replacement + value[index + 1 :]
    return value + "x"


@given(tokens, urls(), pairs_lists.filter(bool), st.integers(0, 4), st.randoms(use_true_random=False))
def test_any_single_change_is_refused(
    token: str, url: str, pairs: list[tuple[str, str]], what: int, rng: random.Random
) -> None:
    """Changing one parameter name or value, the path, or the signature makes the request fail."""
    signature = compute_signature(token, url, pairs)
    validator = RequestValidator(token)
    assert validator.validate(url, pairs, signature)
    changed_pairs: list[tuple[str, str]] = list(pairs)
    changed_url, changed_signature = url, signature
    index = rng.randrange(len(pairs))
    name, value = pairs[index]
    if what == 0:
        changed_pairs[index] = (_mutate_text(name, rng), value)
    elif what == 1:
        changed_pairs[index] = (name, _mutate_text(value, rng))
    elif what == 2:
        del changed_pairs[index]
    elif what == 3:
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        changed_url = f"{scheme}://{host}/x{path}"
    else:
        position = rng.randrange(len(signature) - 1)  # the final '=' is padding
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        replacement = rng.choice([c for c in alphabet if c != signature[position]])
        changed_signature = signature[:position] + replacement + signature[position + 1 :]
    # Some edits leave the canonical string unchanged (a duplicate pair removed, a value
    # changed into another copy of itself): those are not changes to what was signed.
    assume(compute_signature(token, changed_url, changed_pairs) != signature or changed_signature != signature)
    assume(sorted(set(changed_pairs)) != sorted(set(pairs)) or changed_url != url or changed_signature != signature)
    assert not validator.validate(changed_url, changed_pairs, changed_signature)


@given(tokens, urls(), pairs_lists, st.randoms(use_true_random=False))
def test_parameter_order_never_matters(token: str, url: str, pairs: list[tuple[str, str]], rng: random.Random) -> None:
    """Shuffling the pairs gives the same signature."""
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    assert compute_signature(token, url, shuffled) == compute_signature(token, url, pairs)


@given(tokens, urls(), st.dictionaries(names, text, max_size=12))
def test_plain_dicts_round_trip_with_twilio(token: str, url: str, params: dict[str, Any]) -> None:
    """A dict signed by the twilio package validates here, and ours validates there.

    The second half holds only where the twilio package does not re-serialise the
    URL (it drops an empty ``;``, ``?`` or ``#``: one of its known faults).
    """
    theirs = TwilioValidator(token)
    ours = RequestValidator(token)
    assert ours.validate(url, params, theirs.compute_signature(url, params))
    if urlparse(url).geturl() == url:
        assert theirs.validate(url, params, ours.compute_signature(url, params))


_DEFAULT_PORT = {"https": 443, "http": 80}


@given(
    st.lists(tokens, min_size=1, max_size=2),
    urls(),
    pairs_lists,
    st.sampled_from(["signed", "another form", "other token", "other url", "garbage", "non-ascii", "sha256 settings"]),
    st.booleans(),
)
def test_the_guards_form_lane_decides_as_check(
    secrets: list[str], url: str, pairs: list[tuple[str, str]], how: str, body_hash: bool
) -> None:
    """The guard's one-HMAC lane for form webhooks gives exactly the verdict ``check`` gives, whatever it is handed.

    The pre-check ``accept_form_body`` accepts the common webhook itself from its
    raw body and leaves everything else (None) to ``check`` of the parsed pairs,
    as the guard does: any input on which the two differ is a request one adapter
    would treat differently from ``check``.
    """
    if body_hash:
        url += ("&" if "?" in url else "?") + "bodySHA256=" + "0" * 64
    validator = RequestValidator(secrets)
    settings = None
    signed_with = secrets[-1]
    signature = compute_signature(signed_with, url, pairs)
    if how == "another form":  # the default port written out: the lane passes it on, the general path accepts it
        scheme, _, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        bare_host = host.partition(":")[0]
        url = f"{scheme}://{bare_host}{slash}{path}"
        with_port = f"{scheme}://{bare_host}:{_DEFAULT_PORT[scheme]}{slash}{path}"
        signature = compute_signature(signed_with, with_port, pairs)
    elif how == "other token":
        signature = compute_signature(signed_with + "x", url, pairs)
    elif how == "other url":
        signature = compute_signature(signed_with, url + "x", pairs)
    elif how == "garbage":
        signature = signature[::-1]
    elif how == "non-ascii":
        signature = signature[:-2] + "é="
    elif how == "sha256 settings":
        settings = "algorithm=HMAC_SHA256"
    body = urlencode(pairs).encode("ascii")  # parses back to these pairs
    lane = validator.accept_form_body(url, body, signature, settings) or validator.check(
        url, list(pairs), signature, signature_settings=settings
    )
    general = validator.check(url, list(pairs), signature, signature_settings=settings)
    assert lane == general
    if how == "signed" and not body_hash:
        assert lane.valid
        assert lane.variant == "as received"
    if how == "another form" and not body_hash:
        assert lane.valid, lane.detail
        assert lane.variant != "as received"


@given(
    tokens,
    st.lists(st.tuples(FIELD, FIELD), min_size=1, max_size=70),
    st.sampled_from(["parsed pairs", "escapes left in", "forged", "one pair dropped"]),
)
@example(token="t", fields=[("a", "b")], how="one pair dropped")  # signed over the URL alone: refused
@example(token="t", fields=[("a", "%41"), ("a", "A")], how="one pair dropped")  # a repeat signed once: accepted
@example(token="t", fields=[("a", "%41")], how="escapes left in")  # signed over the escape, not the letter
def test_the_guards_one_pass_form_reading_decides_as_the_parsed_pairs(
    token: str, fields: list[tuple[str, str]], how: str
) -> None:
    """The guard reads a plain form body in one pass; its decision is the one ``check`` gives the parsed pairs.

    The bodies hold every odd escape (NUL, U+0001, escaped separators, broken
    and non-UTF-8 escapes), so some take the one pass and some the parser: either
    way the verdict is what ``check`` says of the pairs the application reads.
    """
    body = "&".join(f"{name}={value}" for name, value in fields).encode("latin-1")
    url = "https://example.com/sms"
    parsed = _parsed(body)
    signed_over = {
        "parsed pairs": parsed or [],
        "escapes left in": fields,
        "forged": [("From", "+15005550006")],
        "one pair dropped": (parsed or [])[1:],
    }[how]
    signature = compute_signature(token, url, signed_over)
    headers = {"x-twilio-signature": signature, "content-type": FORM_CONTENT_TYPE, "content-length": str(len(body))}
    check = Guard(auth_token=token).start(Head("POST", "/sms", "https", "example.com", "/sms", "", headers.get))
    assert check is not None
    assert check.decision is None
    verdict = check.finish(body).verdict
    if parsed is None:
        assert verdict.reason is Reason.MALFORMED_BODY
    else:
        assert verdict == RequestValidator(token).check(url, parsed, signature)
    if how == "parsed pairs" and parsed is not None:
        assert verdict.valid, verdict.detail
