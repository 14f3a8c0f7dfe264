"""AWS Lambda: validate API Gateway (REST v1, HTTP v2) and function-URL events.

::

    from twiliosig.contrib.aws_lambda import twilio_required

    @twilio_required                      # or @twilio_required(public_url="https://hooks.example.com")
    def handler(event, context):
        verdict = event["twiliosig_verdict"]
        return {"statusCode": 200, "headers": {"Content-Type": "text/xml"}, "body": "<Response/>"}

A refused event gets ``{"statusCode": 403, ...}`` (400 or 413 for a broken or
oversized body; 400 too for an event of a shape API Gateway never builds) and the
handler never runs. ``check_event(event, **options)`` gives the verdict without the decorator.

The URL Twilio called is rebuilt from the event: ``https://`` (API Gateway and
function URLs only serve HTTPS), ``requestContext.domainName``, and the path
and query as the client sent them: ``rawPath`` and ``rawQueryString`` in the
2.0 format (HTTP APIs, function URLs); ``requestContext.path`` (stage included)
and the query parameters in the 1.0 format (REST APIs), which carry no raw query
string, so the query is re-encoded there and the encoding variants absorb the
difference. Behind a custom domain whose base path mapping hides part of the
path, set ``public_url`` to the public base (``"https://hooks.example.com/api"``):
it is then followed by the path without its stage. A base64-encoded body is
decoded before it is checked.

Options are the middlewares' names (docs/options.md lists them; ``paths``
filters by the path without the stage); the token defaults to ``TWILIO_AUTH_TOKEN``, read when the decorator is
applied (a Lambda's cold start), so a missing token fails the deployment's first
invocation loudly instead of letting requests through.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload
from urllib.parse import quote

from .._guard import CLAIMED_KEY, NO_ANSWER, UNREADABLE, Check, Decision, Guard, Head, Outcome, Refusal

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._guard import GuardOptions

from ..verdict import Reason, Verdict

__all__ = ["EVENT_VERDICT_KEY", "check_event", "twilio_required"]

#: Where the decorator leaves the verdict in the event for the handler.
EVENT_VERDICT_KEY = "twiliosig_verdict"

Handler = Callable[[Any, Any], Any]
_P = ParamSpec("_P")
_R = TypeVar("_R")


def check_event(event: Mapping[str, Any], **options: Unpack[GuardOptions]) -> Verdict:
    """Judge one API Gateway or function-URL event, its path protected or not, without the decorator.

    For a handler that decides for itself what a refusal looks like: the
    options are the decorator's (the token defaults to ``TWILIO_AUTH_TOKEN``),
    read on every call; a refusal is logged and reported to ``on_reject`` as the
    decorator's are, and no replay key is claimed (use the decorator for that).

    Raises:
        TypeError, ValueError: an unknown option or a wrong value, no secret at
            all, or ``trust_forwarded`` (nothing in front of a Lambda writes it).
    """
    guard = Guard.from_options(options)
    _refuse_forwarding_trust(guard)
    head, problems = _event_head(guard, event)
    return _decide(guard.check(head), event, problems).verdict


def _refuse_forwarding_trust(guard: Guard) -> None:
    """Fail at the cold start when ``trust_forwarded`` is set: nothing in front of a Lambda writes what it would read.

    API Gateway and function URLs serve HTTPS only and name their domain in
    ``requestContext.domainName``; they write no ``X-Forwarded-Host``,
    ``-Prefix`` or ``Forwarded``, so any such header in an event is the client's,
    and believing it would accept a webhook Twilio signed for another app on the
    same token.

    Raises:
        ValueError: ``trust_forwarded`` trusts any header.
    """
    guard.refuse_forwarding_trust(
        "trust_forwarded does not apply on AWS Lambda: API Gateway and function URLs write no "
        "X-Forwarded-Host, -Prefix or Forwarded header (any such header in an event is the client's), and "
        "the URL is rebuilt from requestContext.domainName over https; leave trust_forwarded off, and set "
        "public_url='https://your.custom.domain' behind a custom domain"
    )


def _event_head(guard: Guard, event: Mapping[str, Any]) -> tuple[Head, list[str]]:
    """The :class:`~twiliosig._guard.Head` of an API Gateway (1.0 or 2.0) or function-URL event.

    And the fields of a type API Gateway never gives them (``headers`` a list,
    ``requestContext`` a string): read as absent for the head, and each named in the
    list, which makes the request a 400 wherever its path is (a test harness, a
    hand-built invocation; never an ``AttributeError`` out of the decorator).
    """
    problems: list[str] = []
    context = _field(event, "requestContext", dict, problems) or {}
    headers = _headers(event, problems)
    v2 = _is_v2(event)
    if v2:
        method = _field(_field(context, "http", dict, problems, "requestContext.") or {}, "method", str, problems)
    else:
        method = _field(event, "httpMethod", str, problems)
    app_path = _app_path(event, context, v2, problems)
    if guard.sets_the_origin():  # public_url (trust_forwarded is refused): its path, then the app's
        raw_path = app_path
    elif v2:
        raw_path = _field(event, "rawPath", str, []) or "/"  # noted by _app_path
    else:
        raw_path = _field(context, "path", str, problems, "requestContext.") or _field(event, "path", str, []) or "/"
    raw_path = _encoded_path(raw_path)
    domain = _field(context, "domainName", str, problems, "requestContext.")
    query = (_field(event, "rawQueryString", str, problems) or "") if v2 else _v1_query(event, problems)
    for name, kind in (("body", str), ("isBase64Encoded", bool)):
        _field(event, name, kind, problems)
    head = Head(
        method=method or "",
        path=app_path,
        scheme="https",
        host=domain or headers.get("host") or None,
        raw_path=raw_path,
        query=query,
        header=headers.get,
    )
    return head, problems


def _field(mapping: Mapping[str, Any], name: str, kind: type, problems: list[str], where: str = "") -> Any:
    """``mapping[name]`` when it is a ``kind`` (None when absent or null); another type is noted in ``problems``."""
    value = mapping.get(name)
    if value is None or isinstance(value, kind):
        return value
    problems.append(f"{where}{name} is a {type(value).__name__}, not a {kind.__name__}")
    return None


def _headers(event: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    """Headers by lower-case name, a repeated one joined with commas as a server joins it.

    The 1.0 format keeps only the last value of a repeated header in ``headers``;
    ``multiValueHeaders`` has them all, so a duplicated signature is seen as one
    (and refused), not quietly reduced to whichever copy came last.
    """
    headers: dict[str, str] = {}
    for name, value in (_field(event, "headers", dict, problems) or {}).items():
        if isinstance(name, str) and isinstance(value, str):
            headers[name.lower()] = value
        else:
            problems.append("headers holds a name or value that is not a str")
    for name, values in (_field(event, "multiValueHeaders", dict, problems) or {}).items():
        if not (isinstance(name, str) and isinstance(values, list) and all(isinstance(v, str) for v in values)):
            problems.append("multiValueHeaders holds a name that is not a str or values that are not a list of str")
        elif values:
            headers[name.lower()] = ",".join(values)
    return headers


# A '%' that starts no escape: it stands for itself, so it is encoded as %25.
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What stands for itself in an encoded path besides letters, digits and '_.-~' (which quote keeps),
# and '%', every one of which starts an escape once the lone ones are encoded.
_PATH_SAFE = "!$&'()*+,;=:@/%"


def _encoded_path(path: str) -> str:
    """The path percent-encoded as sent, whichever way the event carries it.

    REST APIs and function URLs keep the path encoded; HTTP APIs decode it (a
    ``%3F`` arrives as ``?``, ``%C3%A9`` as ``é``). Characters that can never
    stand literally in an encoded path are encoded again, and nothing else, so
    an encoded path is unchanged and a decoded one cannot turn part of itself
    into a query. One regex substitution and one ``quote``, both over the whole
    path: no Python step per character a client chose.
    """
    path = _LONE_PERCENT.sub("%25", path)
    try:
        data = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate (never valid, then refused): each one as _utf8 encodes it
        data = _ESCAPED_BYTES.sub(_one_byte, path.encode("utf-8", "surrogatepass"))
    return quote(data, safe=_PATH_SAFE)


# What surrogatepass makes of U+DC80..U+DCFF, which surrogateescape makes one byte each (as _utf8 does).
_ESCAPED_BYTES = re.compile(rb"(?:\xed[\xb2\xb3][\x80-\xbf])+")


def _one_byte(match: re.Match[bytes]) -> bytes:
    return match.group().decode("utf-8", "surrogatepass").encode("utf-8", "surrogateescape")


def _utf8(char: str) -> bytes:
    """A character's UTF-8 bytes; a lone surrogate (never valid, then refused) encoded as it stands."""
    try:
        return char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return char.encode("utf-8", "surrogatepass")


def _is_v2(event: Mapping[str, Any]) -> bool:
    return event.get("version") == "2.0" or "rawPath" in event


def _decide(check: Check, event: Mapping[str, Any], problems: list[str]) -> Decision:
    check.authenticate()  # before the body: a layer that needs the network waits here (a handler is sync)
    if check.decision is not None:
        return check.decision
    if problems:
        return check.refuse(Verdict(False, Reason.MALFORMED_URL, f"not an event API Gateway builds: {problems[0]}"))
    body = _body(event)
    return check.decide(UNREADABLE if body is None else body)


def _app_path(event: Mapping[str, Any], context: Mapping[str, Any], v2: bool, problems: list[str]) -> str:
    """The path without the stage: what routes inside the function."""
    if not v2:
        return _field(event, "path", str, problems) or "/"
    path: str = _field(event, "rawPath", str, problems) or "/"
    stage: str = _field(context, "stage", str, problems, "requestContext.") or "$default"
    prefix = f"/{stage}"
    if stage != "$default" and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :] or "/"
    return path


def _v1_query(event: Mapping[str, Any], problems: list[str]) -> str:
    """The 1.0 format keeps only decoded query values: encode them again, in order."""
    multi = _field(event, "multiValueQueryStringParameters", dict, problems) or {}
    single = _field(event, "queryStringParameters", dict, problems) or {}
    pieces = []
    for name, values in (multi or {name: [value] for name, value in single.items()}).items():
        if not (isinstance(name, str) and isinstance(values, list) and all(isinstance(v, str) for v in values)):
            problems.append("the query parameters hold a name or value that is not a str")
            return ""
        for value in values:
            pieces.append(f"{quote(name, safe='')}={quote(value, safe='')}")
    return "&".join(pieces)


def _body(event: Mapping[str, Any]) -> bytes | None:
    """The body as bytes; None when its base64 does not decode."""
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    return str(body).encode("utf-8", "surrogateescape")


def _response(refusal: Refusal, event: Mapping[str, Any]) -> dict[str, Any]:
    """The refusal as the response dict the event's source takes, every header with all its values.

    A 401 has one ``WWW-Authenticate`` line per challenge. An event with ``multiValueHeaders``
    (a REST API, an ALB with multi-value headers on) is answered the same way, and such an
    ALB reads nothing else; any other (payload 2.0, a plain ALB) keeps one value per name in
    ``headers``, so the challenges are folded into one line there.
    """
    response: dict[str, Any] = {"statusCode": refusal.status}
    if isinstance(event.get("multiValueHeaders"), dict):
        every: dict[str, list[str]] = {}
        for name, value in refusal.headers:
            every.setdefault(name, []).append(value)
        response["multiValueHeaders"] = every
    else:
        response["headers"] = dict(refusal.folded_headers())
    response.update(body=refusal.body.decode("ascii"), isBase64Encoded=False)
    return response


@overload
def twilio_required(handler: Callable[_P, _R], **options: Unpack[GuardOptions]) -> Callable[_P, _R]: ...


@overload
def twilio_required(
    handler: None = None, **options: Unpack[GuardOptions]
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def twilio_required(handler: Handler | None = None, **options: Unpack[GuardOptions]) -> Any:
    """Decorate a Lambda handler: refused events get a 403 response dict before it runs.

    The verdict of an event that gets through is at ``event["twiliosig_verdict"]``.
    Type checkers see the handler as it was, parameters and return type (a
    refusal is the response dict API Gateway takes from any handler).
    """
    if handler is None:
        return functools.partial(twilio_required, **options)
    guard = Guard.from_options(options)
    guard.require_mode(asynchronous=False)
    _refuse_forwarding_trust(guard)

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not isinstance(event, dict):
            return handler(event, context)  # not an HTTP event: a direct invocation, authorised by IAM
        head, problems = _event_head(guard, event)
        check = guard.start(head, always=bool(problems))  # a path read from an odd event decides nothing
        if check is None:
            return handler(event, context)
        _decide(check, event, problems)
        decision = check.claim(event.get(CLAIMED_KEY))
        event[EVENT_VERDICT_KEY] = decision.verdict
        if decision.refusal is not None:
            return _response(decision.refusal, event)
        if decision.replay_key is not None:
            event[CLAIMED_KEY] = decision.replay_key
        try:
            result = handler(event, context)
        except BaseException as error:
            check.settle(error)
            raise
        check.settle(_outcome(result))
        return result

    return wrapper


def _outcome(result: Any) -> Outcome:
    """The handler's answer: its status code (200 for a bare body, as API Gateway reads it), or none at all.

    A handler that returned None gets a 502 from API Gateway; an unreadable status code is no answer either.
    """
    if result is None:
        return NO_ANSWER
    if not isinstance(result, Mapping):
        return 200
    try:
        return int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        return NO_ANSWER
