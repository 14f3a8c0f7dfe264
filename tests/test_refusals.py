"""Every adapter answers a refusal with the same status, headers and bytes (the guard builds it once).

The middlewares, the Django middleware and decorator, the Flask decorator and extension, the
FastAPI dependency and the Lambda decorator: one table of cases, the same outcome from each.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from twiliosig import compute_signature

TOKEN = "refusals-test-token-0123456789ab"
PARAMS = [("From", "+15005550006"), ("Body", "hello")]
OPTIONS: dict[str, Any] = {"auth_token": TOKEN, "max_body_size": 1000}

# One refused request, as (method, extra headers, body).
Case = tuple[str, dict[str, str], bytes]
CASES: dict[str, Case] = {
    "forged": ("POST", {"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, urlencode(PARAMS).encode()),
    "unsigned": ("POST", {}, urlencode(PARAMS).encode()),
    "too-large": ("POST", {"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, b"Body=" + b"x" * 2000),
    "method": ("DELETE", {"X-Twilio-Signature": compute_signature(TOKEN, "http://testserver/twilio/sms")}, b""),
    "raw-non-ascii": ("POST", {"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "Body=é".encode()),
}
EXPECTED = {"forged": 403, "unsigned": 403, "too-large": 413, "method": 405, "raw-non-ascii": 400}
# What a refusal carries, whatever the adapter: status, the headers that describe it, the body.
Seen = tuple[int, str | None, str | None, str | None, str | None, bytes]


def _wsgi(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from twiliosig.wsgi import TwilioSignatureMiddleware

    app = TwilioSignatureMiddleware(Response("ok"), **options)
    response = Client(app).open("/twilio/sms", method=method, headers=_form(headers), data=body)
    return _seen(response.status_code, response.headers.get, response.data)


def _asgi(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from twiliosig.asgi import TwilioSignatureMiddleware

    inner = Starlette(routes=[Route("/{p:path}", lambda r: PlainTextResponse("ok"), methods=["POST", "DELETE"])])
    client = TestClient(TwilioSignatureMiddleware(inner, **options), base_url="http://testserver")
    response = client.request(method, "/twilio/sms", headers=_form(headers), content=body)
    return _seen(response.status_code, response.headers.get, response.content)


def _django(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from django.test import Client, override_settings

    middleware = ["twiliosig.contrib.django.TwilioSignatureMiddleware"]
    with override_settings(MIDDLEWARE=middleware, TWILIOSIG={**options, "paths": ["/twilio/"]}):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        response = Client(HTTP_HOST="testserver").generic(
            method, "/twilio/sms", body, content_type="application/x-www-form-urlencoded", **extra
        )
    return _seen(response.status_code, response.headers.get, response.content)


def _django_decorator(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from django.test import Client, override_settings

    with override_settings(MIDDLEWARE=[], TWILIOSIG=options):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        response = Client(HTTP_HOST="testserver").generic(
            method, "/decorated/twilio/sms", body, content_type="application/x-www-form-urlencoded", **extra
        )
    return _seen(response.status_code, response.headers.get, response.content)


def _flask_extension(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from flask import Flask

    from twiliosig.contrib.flask import TwilioSignature

    app = Flask(__name__)
    app.add_url_rule("/twilio/sms", "sms", lambda: "ok", methods=["POST", "DELETE"])
    TwilioSignature(app, **{**options, "paths": ["/twilio/"]})
    response = app.test_client().open("/twilio/sms", method=method, headers=_form(headers), data=body)
    return _seen(response.status_code, response.headers.get, response.data)


def _flask(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from flask import Flask

    from twiliosig.contrib.flask import twilio_required

    app = Flask(__name__)

    @app.route("/twilio/sms", methods=["POST", "DELETE"])
    @twilio_required(**options)
    def sms() -> str:
        return "ok"

    response = app.test_client().open("/twilio/sms", method=method, headers=_form(headers), data=body)
    return _seen(response.status_code, response.headers.get, response.data)


def _fastapi(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from twiliosig.contrib.fastapi import TwilioSignature

    app = FastAPI()
    app.add_api_route(
        "/twilio/sms", lambda: "ok", methods=["POST", "DELETE"], dependencies=[Depends(TwilioSignature(**options))]
    )
    response = TestClient(app).request(method, "/twilio/sms", headers=_form(headers), content=body)
    return _seen(response.status_code, response.headers.get, response.content)


def _lambda(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from twiliosig.contrib.aws_lambda import twilio_required

    handler = twilio_required(lambda event, context: {"statusCode": 200, "body": "ok"}, **options)
    event = {
        "version": "2.0",
        "rawPath": "/twilio/sms",
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in _form(headers).items()} | {"host": "testserver"},
        "requestContext": {"domainName": "testserver", "http": {"method": method}, "stage": "$default"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    response = handler(event, None)
    found = {name.lower(): value for name, value in response["headers"].items()}
    return _seen(response["statusCode"], found.get, response["body"].encode())


ADAPTERS: dict[str, Callable[[dict[str, Any], str, dict[str, str], bytes], Seen]] = {
    "wsgi": _wsgi,
    "asgi": _asgi,
    "django": _django,
    "django-decorator": _django_decorator,
    "flask": _flask,
    "flask-extension": _flask_extension,
    "fastapi": _fastapi,
    "lambda": _lambda,
}


def _form(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded", **headers}


def _seen(status: int, header: Callable[[str], str | None], body: bytes) -> Seen:
    return status, header("content-type"), header("cache-control"), header("allow"), header("www-authenticate"), body


@pytest.mark.parametrize("case", CASES)
def test_every_adapter_sends_the_same_refusal(case: str) -> None:
    """Status, Content-Type, Cache-Control, Allow and body are identical from all eight adapters."""
    method, headers, body = CASES[case]
    seen = {name: adapter(OPTIONS, method, headers, body) for name, adapter in ADAPTERS.items()}
    first = seen["wsgi"]
    assert first[0] == EXPECTED[case]
    assert first[1] == "text/plain; charset=utf-8"
    assert first[2] == "no-store"
    assert all(other == first for other in seen.values()), seen


@pytest.mark.parametrize("case", CASES)
def test_every_adapter_logs_once_and_reports_once_alike(case: str, caplog: pytest.LogCaptureFixture) -> None:
    """One log record and one on_reject call per refusal, with the same reason, method and path, from every adapter."""
    method, headers, body = CASES[case]
    for name, adapter in ADAPTERS.items():
        calls: list[tuple[str, str, str]] = []
        options = {
            **OPTIONS,
            "on_reject": lambda verdict, info, calls=calls: calls.append(
                (verdict.reason.value, info.method, info.path)
            ),
        }
        caplog.clear()
        with caplog.at_level("WARNING", logger="twiliosig"):
            adapter(options, method, headers, body)
        records = [record for record in caplog.records if record.name == "twiliosig"]
        assert len(records) == 1, (name, [record.getMessage() for record in records])
        reason = records[0].twiliosig_reason  # type: ignore[attr-defined]
        path = "/decorated/twilio/sms" if name == "django-decorator" else "/twilio/sms"
        assert f" {method} {path}: {reason} " in records[0].getMessage(), name
        assert calls == [(reason, method, path)], name


def test_basic_auth_challenge_is_the_same_everywhere() -> None:
    """The 401 and its WWW-Authenticate challenge are identical from every adapter."""
    options = {**OPTIONS, "basic_auth": {"twilio": "secret"}}
    seen = {name: adapter(options, *CASES["forged"]) for name, adapter in ADAPTERS.items()}
    assert {result[0] for result in seen.values()} == {401}
    assert seen["wsgi"][4] == 'Basic realm="twilio", charset="UTF-8"'
    assert len(set(seen.values())) == 1, seen
