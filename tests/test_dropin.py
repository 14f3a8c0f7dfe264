"""``twiliosig.RequestValidator`` is a drop-in for the ``twilio`` package's: swap the import, change nothing else.

Three layers: every public method and argument name of ``twilio``'s class exists here with
the same position and default; the ``twilio`` package's own test scenarios (token ``12345``,
Twilio's published signatures) pass on both classes; and a table of calls, positional and
keyword, gives the same answer (or the same exception type) on both. Where we differ on
purpose, the difference is a test of its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.http import QueryDict
from multidict import MultiDict as AioMultiDict
from werkzeug.datastructures import MultiDict

from tests.oracle import TwilioValidator
from twiliosig import RequestValidator

if not settings.configured:
    settings.configure()

TOKEN = "12345"
URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
BODY = '{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
URI_WITH_BODY = f"{URI}&bodySHA256={BODY_HASH}"
DUPLICATES = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
DUPLICATES_EXPECTED = "IK+Dwps556ElfBT0I3Rgjkr1wJU="

IMPLEMENTATIONS = pytest.mark.parametrize(
    "validator_class", [TwilioValidator, RequestValidator], ids=["twilio", "ours"]
)


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") or name == "__init__"
    }


# --- the same names, positions and defaults --------------------------------------------------


@pytest.mark.parametrize("method", sorted(public_methods(TwilioValidator)))
def test_every_method_and_argument_exists_here(method: str) -> None:
    """Each of twilio's methods is here; each argument works at the same position and under the same name."""
    ours = public_methods(RequestValidator)
    assert method in ours, f"RequestValidator has no {method}()"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ours_params = list(ours[method].parameters.values())
    theirs_params = list(public_methods(TwilioValidator)[method].parameters.values())
    for position, theirs in enumerate(theirs_params):
        at_position = ours_params[position]
        named = ours[method].parameters.get(theirs.name)
        assert at_position.kind in positional, f"{method}: argument {position} cannot be given by position"
        assert named is not None, f"{method}() has no argument named {theirs.name!r}"
        assert named.kind in by_keyword, f"{method}({theirs.name}=...) cannot be given by keyword"
        if theirs.default is not inspect.Parameter.empty:
            assert at_position.default == theirs.default == named.default, f"{method}({theirs.name}) defaults differ"
    # What we add has a default, so no call written for twilio misses an argument.
    for extra in ours_params[len(theirs_params) :]:
        if extra.name not in {theirs.name for theirs in theirs_params}:
            assert extra.default is not inspect.Parameter.empty, f"{method}({extra.name}) is required"


def test_the_token_keyword() -> None:
    """RequestValidator(token=...) as written for twilio; both names at once is a TypeError, not a silent choice."""
    assert RequestValidator(token=TOKEN).validate(URI, PARAMS, EXPECTED)
    with pytest.raises(TypeError, match="not both"):
        RequestValidator("a", token="b")
    with pytest.raises(ValueError, match="no secret configured"):
        RequestValidator()


# --- twilio's own test scenarios, on both classes ----------------------------------------------


@IMPLEMENTATIONS
def test_compute_signature(validator_class: Any) -> None:
    assert validator_class(TOKEN).compute_signature(URI, PARAMS) == EXPECTED


@IMPLEMENTATIONS
def test_compute_hash(validator_class: Any) -> None:
    assert validator_class(TOKEN).compute_hash(BODY) == BODY_HASH


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    "make_params",
    [
        lambda: AioMultiDict(DUPLICATES),
        lambda: QueryDict("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234", encoding="utf-8"),
        lambda: MultiDict(DUPLICATES),
    ],
    ids=["multidict", "django-querydict", "werkzeug-multidict"],
)
def test_compute_signature_with_repeated_names(validator_class: Any, make_params: Callable[[], Any]) -> None:
    """Names sorted, values sorted, a repeated value once: from every multi-dict."""
    assert validator_class(TOKEN).compute_signature(URI, make_params()) == DUPLICATES_EXPECTED


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    ("uri", "signature"),
    [
        (URI, EXPECTED),
        (URI.replace(".com", ".com:1234"), EXPECTED),  # the port removed (https)
        (URI.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        (URI, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443 added
        (URI.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80 added
    ],
    ids=["as-is", "removes-port-https", "removes-port-http", "adds-port-https", "adds-port-http"],
)
def test_validation(validator_class: Any, uri: str, signature: str) -> None:
    assert validator_class(TOKEN).validate(uri, PARAMS, signature)


@IMPLEMENTATIONS
def test_validation_of_a_json_body(validator_class: Any) -> None:
    validator = validator_class(TOKEN)
    assert validator.validate(URI_WITH_BODY, BODY, "a9nBmqA0ju/hNViExpshrM61xv4=")
    assert not validator.validate(URI_WITH_BODY, BODY.replace("true", "false"), "a9nBmqA0ju/hNViExpshrM61xv4=")


# --- a table of calls, the same answer from both --------------------------------------------------

SHA256_SIGNATURE = TwilioValidator(TOKEN).compute_signature(URI, PARAMS, "HMAC_SHA256")

CALLS: dict[str, Callable[[Any], Any]] = {
    "compute_signature positional": lambda v: v.compute_signature(URI, PARAMS),
    "compute_signature keywords": lambda v: v.compute_signature(uri=URI, params=PARAMS),
    "compute_signature no params": lambda v: v.compute_signature(URI, {}),
    "compute_signature params None": lambda v: v.compute_signature(URI, None),
    "compute_signature HMAC_SHA256": lambda v: v.compute_signature(URI, PARAMS, "HMAC_SHA256"),
    "compute_signature algorithm keyword, lower case": lambda v: v.compute_signature(
        uri=URI, params=PARAMS, algorithm="hmac_sha256"
    ),
    "compute_signature algorithm None": lambda v: v.compute_signature(URI, PARAMS, None),
    "compute_signature unknown algorithm": lambda v: v.compute_signature(URI, PARAMS, "HMAC_MD5"),
    "compute_signature blank value": lambda v: v.compute_signature(URI, {"Body": "", "From": "x"}),
    "compute_signature non-ASCII": lambda v: v.compute_signature(URI, {"Body": "héllo ☃ 🎉"}),
    "compute_hash positional": lambda v: v.compute_hash(BODY),
    "compute_hash keyword": lambda v: v.compute_hash(body=BODY),
    "compute_hash empty": lambda v: v.compute_hash(""),
    "compute_hash non-ASCII": lambda v: v.compute_hash('{"a": "é☃"}'),
    "get_values dict": lambda v: v.get_values(PARAMS, "Digits"),
    "get_values keywords": lambda v: v.get_values(param_dict=PARAMS, param_name="From"),
    "get_values dict missing": lambda v: v.get_values(PARAMS, "Nope"),
    "get_values multidict": lambda v: v.get_values(AioMultiDict(DUPLICATES), "Digits"),
    "get_values multidict missing": lambda v: v.get_values(AioMultiDict(DUPLICATES), "Nope"),
    "get_values werkzeug": lambda v: v.get_values(MultiDict(DUPLICATES), "Digits"),
    "get_values werkzeug missing": lambda v: v.get_values(MultiDict(DUPLICATES), "Nope"),
    "get_values querydict": lambda v: v.get_values(QueryDict("a=1&a=2&b=3"), "a"),
    "validate positional": lambda v: v.validate(URI, PARAMS, EXPECTED),
    "validate keywords": lambda v: v.validate(uri=URI, params=PARAMS, signature=EXPECTED),
    "validate keywords, shuffled": lambda v: v.validate(signature=EXPECTED, params=PARAMS, uri=URI),
    "validate wrong signature": lambda v: v.validate(URI, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8X"),
    "validate changed param": lambda v: v.validate(URI, {**PARAMS, "Digits": "1235"}, EXPECTED),
    "validate changed URL": lambda v: v.validate(URI + "&x=1", PARAMS, EXPECTED),
    "validate empty signature": lambda v: v.validate(URI, PARAMS, ""),
    "validate params None": lambda v: v.validate(URI, None, v.compute_signature(URI, {})),
    "validate HMAC_SHA256": lambda v: v.validate(URI, PARAMS, SHA256_SIGNATURE, "HMAC_SHA256"),
    "validate HMAC_SHA256 keyword": lambda v: v.validate(
        uri=URI, params=PARAMS, signature=SHA256_SIGNATURE, algorithm="HMAC_SHA256"
    ),
    "validate SHA-256 signature checked as SHA-1": lambda v: v.validate(URI, PARAMS, SHA256_SIGNATURE),
    "validate unknown algorithm": lambda v: v.validate(URI, PARAMS, EXPECTED, "HMAC_MD5"),
    "validate JSON body": lambda v: v.validate(URI_WITH_BODY, BODY, "a9nBmqA0ju/hNViExpshrM61xv4="),
    "validate JSON body keywords": lambda v: v.validate(
        uri=URI_WITH_BODY, params=BODY, signature="a9nBmqA0ju/hNViExpshrM61xv4="
    ),
    "validate JSON body changed": lambda v: v.validate(URI_WITH_BODY, BODY + " ", "a9nBmqA0ju/hNViExpshrM61xv4="),
    "validate multidict": lambda v: v.validate(URI, AioMultiDict(DUPLICATES), DUPLICATES_EXPECTED),
    "validate querydict": lambda v: v.validate(
        URI, QueryDict("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234"), DUPLICATES_EXPECTED
    ),
}


def outcome(call: Callable[[Any], Any], validator: Any) -> tuple[str, Any]:
    try:
        return "returns", call(validator)
    except Exception as error:
        return "raises", type(error)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_same_answer_as_twilio(name: str) -> None:
    """The same return value, or the same kind of exception, from both classes."""
    call = CALLS[name]
    theirs = outcome(call, TwilioValidator(TOKEN))
    ours = outcome(call, RequestValidator(TOKEN))
    if theirs[0] == "raises":
        assert ours[0] == "raises", f"twilio raises, we return {ours[1]!r}"
        assert issubclass(ours[1], theirs[1]), (theirs, ours)
    else:
        assert ours == theirs


def test_token_keyword_on_both() -> None:
    """The constructor's keyword, on both."""
    assert TwilioValidator(token=TOKEN).compute_signature(URI, PARAMS) == EXPECTED
    assert RequestValidator(token=TOKEN).compute_signature(URI, PARAMS) == EXPECTED


# --- where we differ on purpose --------------------------------------------------------------------


def test_parsed_params_for_a_json_url_are_refused_here_only() -> None:
    """A bodySHA256 URL with the (empty) parsed form a JSON body leaves: twilio accepts any body; we refuse."""
    signature = "a9nBmqA0ju/hNViExpshrM61xv4="
    assert TwilioValidator(TOKEN).validate(URI_WITH_BODY, {}, signature)
    assert not RequestValidator(TOKEN).validate(URI_WITH_BODY, {}, signature)


def test_bad_input_refuses_instead_of_raising() -> None:
    """A missing signature or a raw body without bodySHA256: twilio raises TypeError, we answer False."""
    for args in [(URI, PARAMS, None), (URI, "raw body", EXPECTED)]:
        with pytest.raises(TypeError):
            TwilioValidator(TOKEN).validate(*args)
        assert RequestValidator(TOKEN).validate(*args) is False


def test_what_we_accept_beyond_twilio() -> None:
    """Pairs and mappings of lists are parameters here (twilio needs a multi-dict); bytes hash as they are."""
    validator = RequestValidator(TOKEN)
    assert validator.compute_signature(URI, DUPLICATES) == DUPLICATES_EXPECTED
    assert validator.compute_signature(URI, {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234"]}) == (
        DUPLICATES_EXPECTED
    )
    assert validator.get_values(DUPLICATES, "Digits") == ["5678", "1234", "1234"]
    assert validator.get_values({"Digits": ["5678", "1234"]}, "Digits") == ["5678", "1234"]
    assert validator.compute_hash(BODY.encode()) == BODY_HASH
