"""Every adapter answers a request with the same status, headers and bytes (the guard builds it once).

The middlewares, the Django middleware and decorator, the Flask decorator and extension, the
FastAPI dependency and the Lambda decorator: one table of cases, the same outcome from each,
from a genuine request (the app answers, nothing is logged) to every refusal, including a
body too large by its Content-Length and one too large only as it streams in (chunked, no
Content-Length); and every authentication refusal (Basic, Digest with Basic, a bearer token
missing, invalid, without its scope, or its server down) with the same challenges.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from twiliosig import compute_signature

TOKEN = "refusals-test-token-0123456789ab"
PARAMS = [("From", "+15005550006"), ("Body", "hello")]
OPTIONS: dict[str, Any] = {"auth_token": TOKEN, "max_body_size": 1000}

# One request, as (method, extra headers, body). A body of STREAMED type goes without Content-Length.
Case = tuple[str, dict[str, str], "bytes | Streamed"]


class Streamed(bytes):
    """A body sent without Content-Length (chunked, or a terminated WSGI input): its size is known only once read."""


URL = "http://testserver/twilio/sms"
CASES: dict[str, Case] = {
    "genuine": ("POST", {"X-Twilio-Signature": compute_signature(TOKEN, URL, PARAMS)}, urlencode(PARAMS).encode()),
    "genuine-streamed": (
        "POST",
        {"X-Twilio-Signature": compute_signature(TOKEN, URL, PARAMS)},
        Streamed(urlencode(PARAMS).encode()),
    ),
    "forged": ("POST", {"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, urlencode(PARAMS).encode()),
    "unsigned": ("POST", {}, urlencode(PARAMS).encode()),
    "too-large": ("POST", {"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, b"Body=" + b"x" * 2000),
    "too-large-streamed": (
        "POST",
        {"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        Streamed(b"Body=" + b"x" * 2000),
    ),
    "method": ("DELETE", {"X-Twilio-Signature": compute_signature(TOKEN, "http://testserver/twilio/sms")}, b""),
    "raw-non-ascii": ("POST", {"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "Body=é".encode()),
}
EXPECTED = {
    "genuine": 200,
    "genuine-streamed": 200,
    "forged": 403,
    "unsigned": 403,
    "too-large": 413,
    "too-large-streamed": 413,
    "method": 405,
    "raw-non-ascii": 400,
}
REFUSED = [case for case, status in EXPECTED.items() if status != 200]
# What a refusal carries, whatever the adapter: status, the headers that describe it, the body.
Seen = tuple[int, str | None, str | None, str | None, str | None, bytes]


def _wsgi(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from twiliosig.wsgi import TwilioSignatureMiddleware

    app = TwilioSignatureMiddleware(Response("ok"), **options)
    return _werkzeug(Client(app), method, headers, body)


def _asgi(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from twiliosig.asgi import TwilioSignatureMiddleware

    inner = Starlette(routes=[Route("/{p:path}", lambda r: PlainTextResponse("ok"), methods=["POST", "DELETE"])])
    client = TestClient(TwilioSignatureMiddleware(inner, **options), base_url="http://testserver")
    return _httpx(client, method, headers, body)


def _django(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from django.test import override_settings

    middleware = ["twiliosig.contrib.django.TwilioSignatureMiddleware"]
    with override_settings(MIDDLEWARE=middleware, TWILIOSIG={**options, "paths": ["/twilio/"]}):
        return _django_client("/twilio/sms", method, headers, body)


def _django_decorator(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from django.test import override_settings

    with override_settings(MIDDLEWARE=[], TWILIOSIG=options, ROOT_URLCONF=__name__):
        return _django_client("/twilio/sms", method, headers, body)


def _flask_extension(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from flask import Flask

    from twiliosig.contrib.flask import TwilioSignature

    app = Flask(__name__)
    app.add_url_rule("/twilio/sms", "sms", lambda: "ok", methods=["POST", "DELETE"])
    TwilioSignature(app, **{**options, "paths": ["/twilio/"]})
    return _werkzeug(app.test_client(), method, headers, body)


def _flask(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from flask import Flask

    from twiliosig.contrib.flask import twilio_required

    app = Flask(__name__)

    @app.route("/twilio/sms", methods=["POST", "DELETE"])
    @twilio_required(**options)
    def sms() -> str:
        return "ok"

    return _werkzeug(app.test_client(), method, headers, body)


def _fastapi(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from twiliosig.contrib.fastapi import TwilioSignature

    app = FastAPI()
    app.add_api_route(
        "/twilio/sms", lambda: "ok", methods=["POST", "DELETE"], dependencies=[Depends(TwilioSignature(**options))]
    )
    return _httpx(TestClient(app), method, headers, body)


def _lambda(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    from twiliosig.contrib.aws_lambda import twilio_required

    handler = twilio_required(lambda event, context: {"statusCode": 200, "body": "ok"}, **options)
    event = {
        "version": "2.0",
        "rawPath": "/twilio/sms",
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in _form(headers).items()}
        | {"host": "testserver"}
        | ({} if isinstance(body, Streamed) else {"content-length": str(len(body))}),
        "requestContext": {"domainName": "testserver", "http": {"method": method}, "stage": "$default"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    response = handler(event, None)
    found = {name.lower(): value for name, value in response.get("headers", {}).items()}
    return _seen(response["statusCode"], found.get, response["body"].encode())


def _lambda_v1(options: dict[str, Any], method: str, headers: dict[str, str], body: bytes) -> Seen:
    """A REST API (payload 1.0) event: its response may carry a repeated header in ``multiValueHeaders``."""
    from twiliosig.contrib.aws_lambda import twilio_required

    handler = twilio_required(lambda event, context: {"statusCode": 200, "body": "ok"}, **options)
    sent = _form(headers) | {"Host": "testserver"}
    event = {
        "resource": "/twilio/sms",
        "path": "/twilio/sms",
        "httpMethod": method,
        "headers": sent,
        "multiValueHeaders": {name: [value] for name, value in sent.items()},
        "requestContext": {"domainName": "testserver", "path": "/twilio/sms", "stage": "$default"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    response = handler(event, None)
    found = {name.lower(): ", ".join(values) for name, values in response.get("multiValueHeaders", {}).items()}
    found |= {name.lower(): value for name, value in response.get("headers", {}).items()}
    return response["statusCode"], None, None, None, found.get("www-authenticate"), response["body"].encode()


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


def _werkzeug(client: Any, method: str, headers: dict[str, str], body: bytes) -> Seen:
    """Through werkzeug's test client; a streamed body as a terminated input without CONTENT_LENGTH (as gunicorn)."""
    if isinstance(body, Streamed):
        from werkzeug.test import EnvironBuilder

        builder = EnvironBuilder("/twilio/sms", "http://testserver", method=method, headers=_form(headers))
        environ = builder.get_environ()
        del environ["CONTENT_LENGTH"]
        environ.update({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
        response = client.open(environ)
    else:
        response = client.open(
            "/twilio/sms", base_url="http://testserver", method=method, headers=_form(headers), data=body
        )
    return _seen(response.status_code, response.headers.get, response.data, response.headers.getlist)


def _httpx(client: Any, method: str, headers: dict[str, str], body: bytes) -> Seen:
    """Through an httpx-based test client; a streamed body goes chunked, without Content-Length."""
    content: Any = iter([bytes(body)]) if isinstance(body, Streamed) else body
    response = client.request(method, "/twilio/sms", headers=_form(headers), content=content)
    return _seen(response.status_code, response.headers.get, response.content, response.headers.get_list)


def _django_client(path: str, method: str, headers: dict[str, str], body: bytes) -> Seen:
    """Through Django's test client; a streamed body as a terminated input without CONTENT_LENGTH."""
    from django.test import Client

    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    client = Client(HTTP_HOST="testserver")
    if isinstance(body, Streamed):
        environ = {
            "PATH_INFO": path,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "wsgi.input": io.BytesIO(body),  # a server's stream: read() to the end is fine, as under gunicorn
            "wsgi.input_terminated": True,
            **extra,
        }
        response = client.request(**environ)
    else:
        response = client.generic(method, path, body, content_type="application/x-www-form-urlencoded", **extra)
    return _seen(response.status_code, response.headers.get, response.content)


def _form(headers: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded", **headers}


def _seen(
    status: int, header: Callable[[str], str | None], body: bytes, every: Callable[[str], list[str]] | None = None
) -> Seen:
    """What a response carries; ``every`` gives each line of a repeated header (the challenges), else ``header``."""
    challenges = header("www-authenticate") if every is None else ", ".join(every("www-authenticate")) or None
    return status, header("content-type"), header("cache-control"), header("allow"), challenges, body


@pytest.mark.parametrize("case", REFUSED)
def test_every_adapter_sends_the_same_refusal(case: str) -> None:
    """Status, Content-Type, Cache-Control, Allow and body are identical from all eight adapters."""
    method, headers, body = CASES[case]
    seen = {name: adapter(OPTIONS, method, headers, body) for name, adapter in ADAPTERS.items()}
    first = seen["wsgi"]
    assert first[0] == EXPECTED[case]
    assert first[1] == "text/plain; charset=utf-8"
    assert first[2] == "no-store"
    assert all(other == first for other in seen.values()), seen


@pytest.mark.parametrize("case", ["genuine", "genuine-streamed"])
def test_every_adapter_lets_a_genuine_request_reach_the_app(case: str, caplog: pytest.LogCaptureFixture) -> None:
    """The app answers, with nothing logged at warning level and no on_reject call, from all eight adapters."""
    method, headers, body = CASES[case]
    for name, adapter in ADAPTERS.items():
        calls: list[object] = []
        caplog.clear()
        with caplog.at_level("WARNING", logger="twiliosig"):
            options = {**OPTIONS, "on_reject": lambda *args, calls=calls: calls.append(args)}
            status, *_, answer = adapter(options, method, _signed_for(name, headers), body)
        assert (status, calls) == (200, []), (name, status, answer)
        # The app ran and saw the body that was sent, byte for byte (the Django decorator's view reports its hash).
        assert answer in (b"ok", b'"ok"') or json.loads(answer)["sha256"] == hashlib.sha256(body).hexdigest(), name
        assert [record for record in caplog.records if record.name == "twiliosig"] == [], name


def _signed_for(adapter: str, headers: dict[str, str]) -> dict[str, str]:
    """The genuine signature for the URL this adapter sees: API Gateway serves only HTTPS."""
    if adapter != "lambda":
        return headers
    return {**headers, "X-Twilio-Signature": compute_signature(TOKEN, URL.replace("http:", "https:"), PARAMS)}


def _decorated_urlconf() -> list[Any]:
    """The Django decorator's route for this table (``ROOT_URLCONF`` is this module): the same path as the others."""
    from django.urls import path

    from tests.django_site import decorated_sync

    return [path("twilio/sms", decorated_sync)]


urlpatterns = _decorated_urlconf()


@pytest.mark.parametrize("case", REFUSED)
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
        assert f" {method} /twilio/sms: {reason} " in records[0].getMessage(), name
        assert calls == [(reason, method, "/twilio/sms")], name


def test_basic_auth_challenge_is_the_same_everywhere() -> None:
    """The 401 and its WWW-Authenticate challenge are identical from every adapter."""
    options = {**OPTIONS, "basic_auth": {"twilio": "secret"}}
    seen = {name: adapter(options, *CASES["forged"]) for name, adapter in ADAPTERS.items()}
    assert {result[0] for result in seen.values()} == {401}
    assert seen["wsgi"][4] == 'Basic realm="twilio", charset="UTF-8"'
    assert len(set(seen.values())) == 1, seen


def _challenges(value: str | None) -> list[str]:
    """The challenges of WWW-Authenticate, on their own lines or folded into one (RFC 9110 §11.6.1), nonce masked."""
    masked = re.sub(r'nonce="[^"]*"', 'nonce="N"', value or "")
    return [challenge for challenge in re.split(r", (?=(?:Digest|Basic) )", masked) if challenge]


def test_every_challenge_reaches_the_client_from_every_adapter() -> None:
    """Digest's SHA-256 and MD5 challenges and Basic's, in that order, from every adapter (none keeps only the last).

    Django and the Lambda's payload 2.0 cannot send a header twice: they fold the challenges into one line.
    """
    options = {**OPTIONS, "digest_auth": {"twilio": "secret"}, "basic_auth": {"twilio": "secret"}}
    adapters = {**ADAPTERS, "lambda-v1": _lambda_v1}
    seen = {name: _challenges(adapter(options, *CASES["forged"])[4]) for name, adapter in adapters.items()}
    digest = 'Digest realm="twilio", qop="auth", algorithm={}, nonce="N", opaque="'
    expected = seen["wsgi"]
    assert [challenge.partition('opaque="')[0] + 'opaque="' for challenge in expected[:2]] == [
        digest.format("SHA-256"),
        digest.format("MD5"),
    ]
    assert expected[2] == 'Basic realm="twilio", charset="UTF-8"'
    assert {name: challenges for name, challenges in seen.items() if challenges != expected} == {}


def _cli(method: str, headers: dict[str, str], body: bytes, tmp_path: Any, capsys: Any) -> tuple[int, str]:
    """``twiliosig explain --request`` over the same request, saved as raw HTTP: its exit code and what it printed."""
    from twiliosig.cli import main

    lines = [f"{method} /twilio/sms HTTP/1.1", "Host: testserver", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in _form(headers).items()]
    saved = tmp_path / "request.http"
    saved.write_bytes("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
    code = main(["explain", "--request", str(saved), "--scheme", "http", "--token", TOKEN])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("case", [case for case in CASES if not isinstance(CASES[case][2], Streamed)])
def test_the_cli_names_the_reason_and_status_the_adapters_send(case: str, tmp_path: Any, capsys: Any) -> None:
    """The seventh adapter: ``explain`` of a saved request gives the guard's reason, and its status when it

    refuses before any signature is compared (the CLI has the default limit, so "too-large" is 2 MB here).
    """
    method, headers, body = CASES[case]
    if case == "too-large":
        body = b"Body=" + b"x" * 2_000_000
    reasons: list[str] = []
    options = {**OPTIONS, "max_body_size": 1_000_000, "on_reject": lambda verdict, info: reasons.append(verdict)}
    status = _wsgi(options, method, headers, body)[0]
    code, printed = _cli(method, headers, body, tmp_path, capsys)
    if status == 200:
        assert (code, printed.split(":")[0]) == (0, "GENUINE"), printed
        return
    assert code == 1, printed
    reason = reasons[0].reason.value
    assert printed.startswith(f"REFUSED ({reason}): "), printed
    if reason != "signature_mismatch":
        assert f"answer {status} " in printed, printed


def test_an_http_exception_carries_every_challenge_folded() -> None:
    """FastAPI's own handler (where the dependency cannot install its own) sends ``headers``: one line, all three."""
    from twiliosig.contrib.fastapi import TwilioRefusal
    from twiliosig.verdict import Reason, Verdict

    challenges = ("Digest a=1", "Digest b=2", 'Basic realm="twilio"')
    headers = [("Content-Type", "text/plain"), *(("WWW-Authenticate", value) for value in challenges)]
    refusal = TwilioRefusal(Verdict(False, Reason.UNAUTHORIZED, "x"), 401, headers, b"Unauthorized\n")
    assert refusal.headers == {"WWW-Authenticate": ", ".join(challenges)}
    assert refusal.response_headers == tuple(headers)


# --- authentication: the 401s (and the bearer layer's 403 and 503), from the head, in every adapter -----------------


def _token_check(token: str) -> dict[str, Any]:
    """A CallableVerifier's function: ``good`` passes, ``narrow`` lacks the scope, ``down`` is an outage."""
    from twiliosig.oauth import AuthorizationServerUnavailable, InsufficientScope, InvalidToken

    if token == "good":
        return {}
    if token == "narrow":
        raise InsufficientScope("the token lacks the webhooks scope", scope="webhooks")
    if token == "down":
        raise AuthorizationServerUnavailable("the authorization server could not be reached")
    raise InvalidToken("a token the server never issued")


def _auth_options(layer: str) -> dict[str, Any]:
    from twiliosig.oauth import CallableVerifier

    if layer == "oauth":
        return {**OPTIONS, "oauth": CallableVerifier(_token_check)}
    if layer == "digest":
        return {**OPTIONS, "digest_auth": {"twilio": "pw"}, "basic_auth": {"twilio": "pw"}}
    return {**OPTIONS, "basic_auth": {"twilio": "pw"}}


SIGNED = {"X-Twilio-Signature": compute_signature(TOKEN, URL, PARAMS)}
BASIC_CHALLENGE = 'Basic realm="twilio", charset="UTF-8"'
#: (layer, Authorization header or None, status, the challenges with any nonce and opaque blanked)
AUTH_CASES: dict[str, tuple[str, str | None, int, str]] = {
    "basic-missing": ("basic", None, 401, BASIC_CHALLENGE),
    "basic-wrong": ("basic", "Basic " + base64.b64encode(b"twilio:other").decode(), 401, BASIC_CHALLENGE),
    "digest-and-basic-missing": (
        "digest",
        None,
        401,
        'Digest realm="twilio", qop="auth", algorithm=SHA-256, nonce="*", opaque="*", '
        'Digest realm="twilio", qop="auth", algorithm=MD5, nonce="*", opaque="*", ' + BASIC_CHALLENGE,
    ),
    "bearer-missing": ("oauth", None, 401, 'Bearer realm="twilio"'),
    "bearer-invalid": ("oauth", "Bearer forged", 401, 'Bearer realm="twilio", error="invalid_token"'),
    "bearer-without-scope": (
        "oauth",
        "Bearer narrow",
        403,
        'Bearer realm="twilio", error="insufficient_scope", scope="webhooks"',
    ),
    "bearer-server-down": ("oauth", "Bearer down", 503, ""),
}


def _blank_nonces(challenges: str | None) -> str:
    import re

    return re.sub(r'(nonce|opaque)="[^"]*"', r'\1="*"', challenges or "")


@pytest.mark.parametrize("case", AUTH_CASES)
def test_every_adapter_refuses_an_authentication_failure_the_same_way(case: str) -> None:
    """The same status, challenges (every line, in order) and body from every adapter."""
    layer, authorization, status, challenges = AUTH_CASES[case]
    headers = SIGNED if authorization is None else {**SIGNED, "Authorization": authorization}
    body = urlencode(PARAMS).encode()
    seen = {}
    for name, adapter in ADAPTERS.items():
        sent = _signed_for(name, headers)
        found = adapter(_auth_options(layer), "POST", sent, body)
        seen[name] = (*found[:4], _blank_nonces(found[4]), found[5])
    first = seen["wsgi"]
    assert first[0] == status
    assert first[4] == challenges
    assert all(other == first for other in seen.values()), seen


@pytest.mark.parametrize("layer", ["basic", "oauth"])
def test_every_adapter_lets_an_authenticated_genuine_request_through(layer: str) -> None:
    authorization = "Bearer good" if layer == "oauth" else "Basic " + base64.b64encode(b"twilio:pw").decode()
    for name, adapter in ADAPTERS.items():
        headers = _signed_for(name, {**SIGNED, "Authorization": authorization})
        status, *_ = adapter(_auth_options(layer), "POST", headers, urlencode(PARAMS).encode())
        assert status == 200, name
