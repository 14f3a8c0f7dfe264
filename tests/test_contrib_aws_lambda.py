"""AWS Lambda integration, on events written from AWS's documented payload formats."""

from __future__ import annotations

import base64
import copy
from typing import Any
from urllib.parse import urlencode

import pytest

from twiliosig import body_sha256, compute_signature
from twiliosig.contrib.aws_lambda import check_event, twilio_required

TOKEN = "lambda-contrib-token-0123456789a"
PARAMS = [("From", "+15005550006"), ("Body", "héllo & bye"), ("MediaUrl0", "")]
BODY = urlencode(PARAMS)
API_DOMAIN = "abc123xyz.execute-api.us-east-1.amazonaws.com"


def rest_v1(signature: str, *, domain: str = API_DOMAIN, context_path: str = "/prod/twilio/sms") -> dict[str, Any]:
    """API Gateway REST API, proxy integration, payload format 1.0."""
    return {
        "resource": "/twilio/sms",
        "path": "/twilio/sms",
        "httpMethod": "POST",
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": domain,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Port": "443",
            "X-Twilio-Signature": signature,
        },
        "multiValueHeaders": {"X-Twilio-Signature": [signature]},
        "queryStringParameters": {"tenant": "a b", "x": "1"},
        "multiValueQueryStringParameters": {"tenant": ["a b"], "x": ["1"]},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/twilio/sms",
            "httpMethod": "POST",
            "path": context_path,
            "stage": "prod",
            "domainName": domain,
            "apiId": "abc123xyz",
            "protocol": "HTTP/1.1",
        },
        "body": BODY,
        "isBase64Encoded": False,
    }


def http_v2(
    signature: str, *, stage: str = "$default", domain: str = API_DOMAIN, raw_query: str = ""
) -> dict[str, Any]:
    """API Gateway HTTP API (and Lambda function URLs), payload format 2.0, body base64-encoded."""
    raw_path = "/twilio/sms" if stage == "$default" else f"/{stage}/twilio/sms"
    return {
        "version": "2.0",
        "routeKey": "POST /twilio/sms",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "host": domain,
            "x-forwarded-proto": "https",
            "x-twilio-signature": signature,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123xyz",
            "domainName": domain,
            "domainPrefix": domain.split(".", maxsplit=1)[0],
            "http": {"method": "POST", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "stage": stage,
        },
        "body": base64.b64encode(BODY.encode()).decode(),
        "isBase64Encoded": True,
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["twiliosig_verdict"].variant}


protected = twilio_required(handler, auth_token=TOKEN)


def test_rest_v1_event_with_stage_and_query() -> None:
    """1.0 format: the URL is the domain plus requestContext.path (stage included) and the re-encoded query."""
    url = f"https://{API_DOMAIN}/prod/twilio/sms?tenant=a+b&x=1"  # as configured in Twilio, with +
    response = protected(rest_v1(compute_signature(TOKEN, url, PARAMS)), None)
    assert response["statusCode"] == 200
    assert "spaces as +" in response["body"]


@pytest.mark.parametrize(
    "query",
    [
        "tenant=a+b%27s&x=1",  # urlencode / quote_plus
        "tenant=a%20b%27s&x=1",  # quote / rawurlencode
        "tenant=a%20b's&x=1",  # encodeURIComponent
        "tenant=a+b's&x=1",
    ],
)
def test_rest_v1_query_in_every_common_spelling(query: str) -> None:
    """1.0 format keeps only decoded values: however the configured URL spelled the query, it is accepted."""
    url = f"https://{API_DOMAIN}/prod/twilio/sms?{query}"
    event = rest_v1(compute_signature(TOKEN, url, PARAMS))
    event["queryStringParameters"] = {"tenant": "a b's", "x": "1"}
    event["multiValueQueryStringParameters"] = {"tenant": ["a b's"], "x": ["1"]}
    assert protected(event, None)["statusCode"] == 200


def test_http_v2_default_and_named_stage() -> None:
    """2.0 format: rawPath and rawQueryString exactly; a base64 body is decoded."""
    url = f"https://{API_DOMAIN}/twilio/sms?tenant=a+b"
    event = http_v2(compute_signature(TOKEN, url, PARAMS), raw_query="tenant=a+b")
    assert protected(event, None) == {"statusCode": 200, "body": "as received"}
    staged_url = f"https://{API_DOMAIN}/prod/twilio/sms"
    assert protected(http_v2(compute_signature(TOKEN, staged_url, PARAMS), stage="prod"), None)["statusCode"] == 200


def test_function_url_event() -> None:
    """A Lambda function URL uses the 2.0 format with its own domain."""
    domain = "f7ubqyzq3ogdlfhhjyk2h3mzva0rdfks.lambda-url.us-west-2.on.aws"
    event = http_v2(compute_signature(TOKEN, f"https://{domain}/twilio/sms", PARAMS), domain=domain)
    assert protected(event, None)["statusCode"] == 200


def test_custom_domain_base_path_with_public_url() -> None:
    """A custom domain mapping /api: public_url gives the base, followed by the path without the stage."""
    url = "https://hooks.example.com/api/twilio/sms"
    signature = compute_signature(TOKEN, url, PARAMS)
    event = http_v2(signature, stage="prod")  # the request arrived through the API's own stage path
    assert protected(event, None)["statusCode"] == 403
    mapped = twilio_required(handler, auth_token=TOKEN, public_url="https://hooks.example.com/api")
    assert mapped(event, None)["statusCode"] == 200
    v1 = rest_v1(signature, domain="hooks.example.com", context_path="/api/twilio/sms")
    v1["queryStringParameters"] = v1["multiValueQueryStringParameters"] = None
    assert protected(v1, None)["statusCode"] == 200  # 1.0 carries the mapped path itself


def test_json_event_with_body_hash() -> None:
    """A JSON body with bodySHA256 in rawQueryString is hash-checked."""
    body = '{"type":"com.twilio.messaging.message.delivered"}'
    query = f"bodySHA256={body_sha256(body)}"
    event = http_v2(compute_signature(TOKEN, f"https://{API_DOMAIN}/twilio/sms?{query}"), raw_query=query)
    event["headers"]["content-type"] = "application/json"
    event["body"], event["isBase64Encoded"] = body, False
    assert protected(copy.deepcopy(event), None)["statusCode"] == 200
    event["body"] = body.replace("delivered", "failed")
    assert protected(event, None)["statusCode"] == 403


@pytest.mark.parametrize("case", ["forged", "missing", "bad-base64", "oversized"])
def test_refused_events_never_reach_the_handler(case: str) -> None:
    """Forged, unsigned, undecodable and oversized events get a response dict; the handler never runs."""
    calls: list[Any] = []
    guarded = twilio_required(lambda event, context: calls.append(event), auth_token=TOKEN, max_body_size=5000)
    event = http_v2(compute_signature(TOKEN, f"https://{API_DOMAIN}/twilio/sms", PARAMS))
    if case == "forged":
        event["headers"]["x-twilio-signature"] = compute_signature("wrong", f"https://{API_DOMAIN}/twilio/sms", PARAMS)
    elif case == "missing":
        del event["headers"]["x-twilio-signature"]
    elif case == "bad-base64":
        event["body"] = "***not base64***"
    else:
        event["body"] = base64.b64encode(b"x" * 6000).decode()
    response = guarded(event, None)
    assert response["statusCode"] in (400, 403, 413)
    assert response["headers"]["Content-Type"].startswith("text/plain")
    assert calls == []


def test_check_event_returns_the_verdict() -> None:
    """check_event gives the verdict without the decorator."""
    event = rest_v1(compute_signature(TOKEN, f"https://{API_DOMAIN}/prod/twilio/sms?tenant=a%20b&x=1", PARAMS))
    assert check_event(event, auth_token=TOKEN).valid


def test_the_lambda_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/aws_lambda_handler.py answers a signed event and refuses a forged one."""
    import importlib.util
    from pathlib import Path

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    path = Path(__file__).resolve().parent.parent / "examples" / "aws_lambda_handler.py"
    spec = importlib.util.spec_from_file_location("aws_lambda_handler", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    url = f"https://{API_DOMAIN}/twilio/sms"
    response = module.handler(http_v2(compute_signature(TOKEN, url, PARAMS)), None)
    assert response["statusCode"] == 200
    assert "héllo &amp; bye" in response["body"]
    assert module.handler(http_v2(compute_signature("wrong", url, PARAMS)), None)["statusCode"] == 403


def test_replay_guard_in_the_handler_decorator() -> None:
    """A replayed event gets 409; a handler that answers 5xx releases the key for Twilio's retry."""
    from twiliosig.replay import MemoryReplayStore

    guarded = twilio_required(handler, auth_token=TOKEN, replay_guard=MemoryReplayStore())
    event = http_v2(compute_signature(TOKEN, f"https://{API_DOMAIN}/twilio/sms", PARAMS))
    assert guarded(copy.deepcopy(event), None)["statusCode"] == 200
    assert guarded(copy.deepcopy(event), None)["statusCode"] == 409
    failing = twilio_required(lambda e, c: {"statusCode": 502}, auth_token=TOKEN, replay_guard=MemoryReplayStore())
    assert failing(copy.deepcopy(event), None)["statusCode"] == 502
    assert failing(copy.deepcopy(event), None)["statusCode"] == 502


# --- events of a shape API Gateway never builds: a 400, never an exception (issue 21, item 8) ---------


def _set(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``event`` with the field at a dotted ``path`` set to ``value``."""
    *parents, name = path.split(".")
    target = event
    for parent in parents:
        target = target[parent]
    target[name] = value
    return event


ODD_FIELDS = [
    ("headers", ["x-twilio-signature", "abc"]),
    ("headers", "x-twilio-signature: abc"),
    ("headers.x-twilio-signature", 12345),
    ("headers.host", None),
    ("multiValueHeaders", ["a"]),
    ("multiValueHeaders", {"X-Twilio-Signature": "not-a-list"}),
    ("multiValueHeaders", {"X-Twilio-Signature": [1]}),
    ("requestContext", "a string"),
    ("requestContext", ["a", "list"]),
    ("requestContext.domainName", 42),
    ("requestContext.path", {"a": "dict"}),
    ("requestContext.stage", 7),
    ("requestContext.http", "POST"),
    ("requestContext.http.method", ["POST"]),
    ("httpMethod", 1),
    ("path", ["/twilio/sms"]),
    ("rawPath", ["/twilio/sms"]),
    ("rawQueryString", 5),
    ("queryStringParameters", ["tenant=a"]),
    ("multiValueQueryStringParameters", {"x": "12"}),
    ("multiValueQueryStringParameters", {"x": [1]}),
    ("body", {"From": "+15005550006"}),
    ("body", BODY.encode()),
    ("isBase64Encoded", "false"),
    ("isBase64Encoded", 1),
]
V1_ONLY = {"httpMethod", "path", "requestContext.path", "queryStringParameters", "multiValueQueryStringParameters"}
V2_ONLY = {"rawPath", "rawQueryString", "requestContext.http", "requestContext.http.method", "requestContext.stage"}


ALB_LACKS = {"requestContext.domainName", "requestContext.path", "multiValueQueryStringParameters", "multiValueHeaders"}


def alb(signature: str) -> dict[str, Any]:
    """An Application Load Balancer target's event: the 1.0 shape without API Gateway's context, host in headers."""
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "httpMethod": "POST",
        "path": "/twilio/sms",
        "queryStringParameters": {},
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "host": API_DOMAIN,
            "x-twilio-signature": signature,
        },
        "body": BODY,
        "isBase64Encoded": False,
    }


def _odd_cases() -> list[Any]:
    cases = []
    for field, value in ODD_FIELDS:
        for version in ("v1", "v2", "alb"):
            if version == "alb" and (field in V2_ONLY or field in ALB_LACKS):
                continue
            if version != "alb" and field in (V2_ONLY if version == "v1" else V1_ONLY):
                continue
            if field == "multiValueHeaders" and version == "v2":
                continue
            cases.append(pytest.param(version, field, value, id=f"{version}-{field}-{type(value).__name__}"))
    return cases


@pytest.mark.parametrize(("version", "field", "value"), _odd_cases())
def test_an_event_api_gateway_never_builds_is_400(version: str, field: str, value: Any) -> None:
    """Any field of the wrong type: a 4xx from the decorator, a refusing verdict from check_event; no exception."""
    calls: list[Any] = []
    guarded = twilio_required(lambda event, context: calls.append(event), auth_token=TOKEN)
    url = (
        f"https://{API_DOMAIN}/prod/twilio/sms?tenant=a%20b&x=1"
        if version == "v1"
        else f"https://{API_DOMAIN}/twilio/sms"
    )
    make = {"v1": rest_v1, "v2": http_v2, "alb": alb}[version]
    event = _set(make(compute_signature(TOKEN, url, PARAMS)), field, value)
    assert (
        twilio_required(handler, auth_token=TOKEN)(make(compute_signature(TOKEN, url, PARAMS)), None)["statusCode"]
        == 200
    )
    response = guarded(copy.deepcopy(event), None)
    assert calls == []
    verdict = check_event(copy.deepcopy(event), auth_token=TOKEN)
    assert not verdict.valid
    # 400, unless the head alone already refused it: no signature left (403), no method left (405).
    expected = {"malformed_url": 400, "missing_signature": 403, "method_not_allowed": 405}
    assert response["statusCode"] == expected[verdict.reason.value]


@pytest.mark.parametrize("paths", [["/twilio/"], ["/elsewhere/"]])
def test_an_odd_event_is_refused_whatever_its_path(paths: list[str]) -> None:
    """A path read from an odd event decides nothing: refused even where ``paths`` would not protect it."""
    calls: list[Any] = []
    guarded = twilio_required(lambda event, context: calls.append(event), auth_token=TOKEN, paths=paths)
    event = http_v2(compute_signature(TOKEN, f"https://{API_DOMAIN}/twilio/sms", PARAMS))
    event["rawPath"] = ["/twilio/sms"]
    assert guarded(event, None)["statusCode"] == 400
    assert calls == []


def test_invalid_base64_and_null_fields_as_api_gateway_sends_them() -> None:
    """Null headers, query and body are absent, not odd; a body that is not base64 is a 400 (unreadable)."""
    event = rest_v1(compute_signature(TOKEN, f"https://{API_DOMAIN}/prod/twilio/sms", []))
    event.update(queryStringParameters=None, multiValueQueryStringParameters=None, body=None, multiValueHeaders=None)
    assert protected(event, None)["statusCode"] == 200
    bad = http_v2(compute_signature(TOKEN, f"https://{API_DOMAIN}/twilio/sms", PARAMS))
    bad["body"] = "é not base64"
    assert protected(bad, None)["statusCode"] == 400


@pytest.mark.parametrize(
    "trust",
    [True, {"x_host": 1}, {"x_proto": 1}, {"forwarded": 1}, {"x_prefix": 1}],
    ids=["true", "x_host", "x_proto", "forwarded", "x_prefix"],
)
def test_trust_forwarded_fails_at_the_cold_start(trust: object) -> None:
    """API Gateway writes no X-Forwarded-Host: trusting one would believe the client's, so the decorator refuses."""
    with pytest.raises(ValueError, match="does not apply on AWS Lambda"):
        twilio_required(lambda event, context: None, auth_token=TOKEN, trust_forwarded=trust)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not apply on AWS Lambda"):
        check_event(http_v2("x"), auth_token=TOKEN, trust_forwarded=trust)  # type: ignore[arg-type]


def test_a_client_written_forwarded_host_is_not_read() -> None:
    """A webhook signed for another app's host, sent with X-Forwarded-Host naming it, is refused."""
    signature = compute_signature(TOKEN, "https://other-app.example.com/twilio/sms", PARAMS)
    event = http_v2(signature)
    event["headers"]["x-forwarded-host"] = "other-app.example.com"
    assert not check_event(event, auth_token=TOKEN).valid
    assert check_event(http_v2(compute_signature(TOKEN, f"https://{API_DOMAIN}/twilio/sms", PARAMS)), auth_token=TOKEN)


def test_check_event_takes_the_decorators_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_event(event, **options): the token from TWILIO_AUTH_TOKEN by default, options as the decorator has them."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    public = "https://hooks.example.com/api"
    event = http_v2(compute_signature(TOKEN, f"{public}/twilio/sms", PARAMS))
    assert not check_event(event)
    verdict = check_event(event, public_url=public)
    assert verdict.valid
    assert verdict.matched_url == f"{public}/twilio/sms"
    with pytest.raises(TypeError):
        check_event(event, public_uri=public)  # type: ignore[call-arg]
