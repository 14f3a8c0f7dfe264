"""AWS Lambda: validate API Gateway (REST v1, HTTP v2) and function-URL events.

::

    from twiliosig.contrib.aws_lambda import twilio_required

    @twilio_required                      # or @twilio_required(public_url="https://hooks.example.com")
    def handler(event, context):
        verdict = event["twiliosig_verdict"]
        return {"statusCode": 200, "headers": {"Content-Type": "text/xml"}, "body": "<Response/>"}

A refused event gets ``{"statusCode": 403, ...}`` (400 or 413 for a broken or
oversized body) and the handler never runs. :func:`check_event` gives the verdict
without the decorator.

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

Options are the middlewares' names (``paths`` filters by the path without the
stage); the token defaults to ``TWILIO_AUTH_TOKEN``, read when the decorator is
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

from .._guard import CLAIMED_KEY, Check, Decision, Guard, Head, Refusal

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._guard import GuardOptions

from ..verdict import Verdict

__all__ = ["EVENT_VERDICT_KEY", "check_event", "twilio_required"]

#: Where the decorator leaves the verdict in the event for the handler.
EVENT_VERDICT_KEY = "twiliosig_verdict"

Handler = Callable[[Any, Any], Any]
_P = ParamSpec("_P")
_R = TypeVar("_R")


def check_event(guard: Guard, event: Mapping[str, Any]) -> Verdict:
    """Judge one API Gateway or function-URL event, its path protected or not; refusals are logged by the guard."""
    return _decide(guard.check(_event_head(guard, event)), event).verdict


def _event_head(guard: Guard, event: Mapping[str, Any]) -> Head:
    """The :class:`~twiliosig._guard.Head` of an API Gateway (1.0 or 2.0) or function-URL event."""
    context = event.get("requestContext") or {}
    headers = _headers(event)
    v2 = _is_v2(event)
    method = (context.get("http") or {}).get("method") if v2 else event.get("httpMethod")
    app_path = _app_path(event, context, v2)
    if guard.public_url is not None:
        raw_path = app_path
    elif v2:
        raw_path = str(event.get("rawPath") or "/")
    else:
        raw_path = str(context.get("path") or event.get("path") or "/")
    raw_path = _encoded_path(raw_path)
    return Head(
        method=str(method or ""),
        path=app_path,
        scheme="https",
        host=str(context.get("domainName") or headers.get("host") or "") or None,
        raw_path=raw_path,
        query=str(event.get("rawQueryString") or "") if v2 else _v1_query(event),
        header=headers.get,
    )


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    """Headers by lower-case name, a repeated one joined with commas as a server joins it.

    The 1.0 format keeps only the last value of a repeated header in ``headers``;
    ``multiValueHeaders`` has them all, so a duplicated signature is seen as one
    (and refused), not quietly reduced to whichever copy came last.
    """
    headers: dict[str, str] = {}
    for name, value in (event.get("headers") or {}).items():
        headers[str(name).lower()] = str(value)
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if isinstance(values, list) and values:
            headers[str(name).lower()] = ",".join(str(value) for value in values)
    return headers


# Characters that stand for themselves in an encoded path; a '%' only before two hex digits.
_ENCODED_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")


def _encoded_path(path: str) -> str:
    """The path percent-encoded as sent, whichever way the event carries it.

    REST APIs and function URLs keep the path encoded; HTTP APIs decode it (a
    ``%3F`` arrives as ``?``, ``%C3%A9`` as ``é``). Characters that can never
    stand literally in an encoded path are encoded again, and nothing else, so
    an encoded path is unchanged and a decoded one cannot turn part of itself
    into a query.
    """
    out = []
    position = 0
    while position < len(path):
        match = _ENCODED_PATH.match(path, position)
        assert match is not None  # the pattern matches the empty string
        out.append(match.group())
        position = match.end()
        if position < len(path):
            out.append(quote(_utf8(path[position]), safe=""))
            position += 1
    return "".join(out)


def _utf8(char: str) -> bytes:
    """A character's UTF-8 bytes; a lone surrogate (never valid, then refused) encoded as it stands."""
    try:
        return char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return char.encode("utf-8", "surrogatepass")


def _is_v2(event: Mapping[str, Any]) -> bool:
    return event.get("version") == "2.0" or "rawPath" in event


def _decide(check: Check, event: Mapping[str, Any]) -> Decision:
    if check.decision is not None:
        return check.decision
    body = _body(event)
    if body is None:
        return check.unreadable()
    if len(body) > check.body_limit:
        return check.overflowed(len(body))
    return check.finish(body)


def _app_path(event: Mapping[str, Any], context: Mapping[str, Any], v2: bool) -> str:
    """The path without the stage: what routes inside the function."""
    if not v2:
        return str(event.get("path") or "/")
    path = str(event.get("rawPath") or "/")
    stage = str(context.get("stage") or "$default")
    prefix = f"/{stage}"
    if stage != "$default" and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :] or "/"
    return path


def _v1_query(event: Mapping[str, Any]) -> str:
    """The 1.0 format keeps only decoded query values: encode them again, in order."""
    multi = event.get("multiValueQueryStringParameters") or {}
    single = event.get("queryStringParameters") or {}
    pieces = []
    for name, values in (multi or {name: [value] for name, value in single.items()}).items():
        for value in values:
            pieces.append(f"{quote(str(name), safe='')}={quote(str(value), safe='')}")
    return "&".join(pieces)


def _body(event: Mapping[str, Any]) -> bytes | None:
    """The body as bytes; None when its base64 does not decode."""
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            return None
    return str(body).encode("utf-8", "surrogateescape")


def _response(refusal: Refusal) -> dict[str, Any]:
    return {
        "statusCode": refusal.status,
        "headers": dict(refusal.headers),
        "body": refusal.body.decode("ascii"),
        "isBase64Encoded": False,
    }


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

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not isinstance(event, dict):
            return handler(event, context)  # not an HTTP event: a direct invocation, authorised by IAM
        check = guard.start(_event_head(guard, event))
        if check is None:
            return handler(event, context)
        decision = guard.claim(_decide(check, event), claimed=event.get(CLAIMED_KEY))
        event[EVENT_VERDICT_KEY] = decision.verdict
        if decision.refusal is not None:
            return _response(decision.refusal)
        if decision.replay_key is not None:
            event[CLAIMED_KEY] = decision.replay_key
        try:
            result = handler(event, context)
        except BaseException:
            guard.settle(decision, failed=True)
            raise
        guard.settle(decision, failed=isinstance(result, Mapping) and _status(result) >= 500)
        return result

    return wrapper


def _status(result: Mapping[str, Any]) -> int:
    """The handler's status code; an unreadable one counts as a failure."""
    try:
        return int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        return 500
