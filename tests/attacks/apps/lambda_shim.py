"""AWS Lambda behind a pretend API Gateway: a WSGI shim, served by gunicorn, that builds the events.

There is no Lambda here, so this shim does what API Gateway does: it turns each
HTTP request into a Lambda proxy event, calls the handler (decorated with
``twiliosig.contrib.aws_lambda.twilio_required``, ``paths`` set), and turns the
response dict back into HTTP. Two mounts, as two APIs would be deployed:

- ``/prod/...``: a REST API, stage ``prod``, payload format 1.0: ``httpMethod``,
  ``path`` (without the stage, percent-encoding kept), ``requestContext.path``
  (with the stage), ``headers`` (the last value of a repeated header) and
  ``multiValueHeaders``, ``queryStringParameters`` and
  ``multiValueQueryStringParameters`` (decoded), a text body.
- anything else: an HTTP API, ``$default`` stage, payload format 2.0:
  ``rawPath`` (percent-decoded, as HTTP APIs deliver it: honojs/hono#2156,
  middleapi/standard-server#93), ``rawQueryString`` (as sent), header names
  lower-cased and repeats comma-joined, ``requestContext.http``, a base64 body
  (``isBase64Encoded``) unless the content type is text.

``requestContext.domainName`` is API Gateway's own host name, whatever Host the
client sent (API Gateway routes on it, so another Host never reaches the
function); the event's ``host`` header is that name too. API Gateway sets
``X-Forwarded-Proto`` and ``X-Forwarded-Port`` itself and appends the client to
``X-Forwarded-For``. A handler that raises becomes a 502, as API Gateway answers.

gunicorn joins a repeated header with commas before the shim sees it; for the
1.0 event the shim splits the headers whose values never hold a comma (the
signature, host, content type) back into their values.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

from tests.attacks.apps.common import (
    ADAPTER,
    configure_logging,
    event_status,
    guard_options,
    record,
    should_raise,
)
from tests.attacks.profiles import LAMBDA_DOMAIN, LAMBDA_STAGE

FORM = "application/x-www-form-urlencoded"
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
# Headers whose values never legitimately hold a comma: a comma there came from gunicorn joining repeats.
_NO_COMMA = {"x-twilio-signature", "host", "content-type", "content-length"}
_SKIP = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}
_STAGE = f"/{LAMBDA_STAGE}"


def _function(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The user's Lambda function: a small router over the event's path."""
    v2 = event.get("version") == "2.0"
    path = event["rawPath"] if v2 else event["path"]
    method = event["requestContext"]["http"]["method"] if v2 else event["httpMethod"]
    body = (event.get("body") or "").encode("utf-8", "surrogateescape")
    if event.get("isBase64Encoded"):
        body = base64.b64decode(event["body"])
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    form: list[tuple[str, str]] = []
    if headers.get("content-type", "").lower().startswith(FORM):
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if v2:
        query = parse_qsl(event.get("rawQueryString") or "", keep_blank_values=True)
    else:
        multi = event.get("multiValueQueryStringParameters") or {}
        query = [(name, value) for name, values in multi.items() for value in values]
    verdict = event.get("twiliosig_verdict")
    if path.startswith("/twilio/"):
        route, status = "twilio", event_status(path)
    elif path == "/status":
        route, status = "status", 200
    elif path.startswith("/admin/"):
        route, status = "admin", 200
    else:
        return {"statusCode": 404, "headers": {"Content-Type": "text/plain"}, "body": "Not Found\n"}
    seen = record(route, method, path, body, form, query, verdict)
    if route == "twilio" and should_raise(path):
        raise RuntimeError("the function failed")
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": seen.decode()}


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The request's headers as (lower-case name, value), repeats split where gunicorn joined them."""
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in _SKIP:
            name = _SKIP[key]
        else:
            continue
        text = value.encode("latin-1").decode("utf-8", "replace")
        if name in _NO_COMMA and "," in text:
            pairs.extend((name, piece.strip()) for piece in text.split(","))
        else:
            pairs.append((name, text))
    return pairs


def _gateway_headers(headers: list[tuple[str, str]], environ: dict[str, Any]) -> list[tuple[str, str]]:
    """What API Gateway forwards: its own Host and X-Forwarded-Proto/Port, the client appended to X-Forwarded-For."""
    out = [(name, value) for name, value in headers if name not in ("host", "x-forwarded-proto", "x-forwarded-port")]
    forwarded_for = [value for name, value in headers if name == "x-forwarded-for"]
    out = [(name, value) for name, value in out if name != "x-forwarded-for"]
    client = environ.get("REMOTE_ADDR", "127.0.0.1")
    out += [
        ("host", LAMBDA_DOMAIN),
        ("x-forwarded-for", ", ".join([*forwarded_for, client])),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-port", "443"),
    ]
    return out


def _v1_query(query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def build_event(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The event API Gateway would hand the function for this request."""
    target = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
    raw_path, _, query = target.partition("?")
    raw_path = raw_path.encode("latin-1").decode("utf-8", "surrogateescape")
    method = environ["REQUEST_METHOD"]
    headers = _gateway_headers(_headers(environ), environ)
    content_type = next((value for name, value in headers if name == "content-type"), "")
    request_id = str(uuid.uuid4())
    if raw_path == _STAGE or raw_path.startswith(_STAGE + "/"):
        text = body.decode("utf-8", "replace")
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name.title(), []).append(value)
        single_query, multi_query = _v1_query(query)
        path = raw_path[len(_STAGE) :] or "/"
        return {
            "version": "1.0",
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": single_query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": LAMBDA_DOMAIN.split(".", 1)[0],
                "domainName": LAMBDA_DOMAIN,
                "domainPrefix": LAMBDA_DOMAIN.split(".", 1)[0],
                "httpMethod": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "resourcePath": "/{proxy+}",
                "stage": LAMBDA_STAGE,
                "identity": {"sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1")},
            },
            "body": text if body else None,
            "isBase64Encoded": False,
        }
    joined: dict[str, str] = {}
    for name, value in headers:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    decoded_path = unquote(raw_path, errors="surrogateescape")
    binary = bool(body) and not content_type.lower().startswith(_TEXT_TYPES)
    query_parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_parameters[name] = f"{query_parameters[name]},{value}" if name in query_parameters else value
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": decoded_path,
        "rawQueryString": query,
        "headers": joined,
        "queryStringParameters": query_parameters or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": LAMBDA_DOMAIN.split(".", 1)[0],
            "domainName": LAMBDA_DOMAIN,
            "domainPrefix": LAMBDA_DOMAIN.split(".", 1)[0],
            "http": {
                "method": method,
                "path": decoded_path,
                "protocol": "HTTP/1.1",
                "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": (base64.b64encode(body).decode("ascii") if binary else body.decode("utf-8", "replace")) or None,
        "isBase64Encoded": binary,
    }


def _read(environ: dict[str, Any]) -> bytes:
    """The whole body, as API Gateway buffers it before invoking the function."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return bytes(stream.read(int(length)))
    return bytes(stream.read()) if environ.get("wsgi.input_terminated") else b""


def _reply(result: Any, start_response: Any) -> Iterable[bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        result = {"statusCode": 502, "body": json.dumps({"message": "Internal server error"})}
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    headers.append(("Content-Length", str(len(payload))))
    status = int(result["statusCode"])
    start_response(f"{status} {_PHRASES.get(status, 'Status')}", headers)
    return [payload]


_PHRASES = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
_PHRASES |= {409: "Conflict", 413: "Payload Too Large", 500: "Internal Server Error", 502: "Bad Gateway"}
_PHRASES |= {503: "Service Unavailable", 401: "Unauthorized"}


def build() -> Any:
    from twiliosig.contrib.aws_lambda import twilio_required

    handler = twilio_required(**guard_options(paths=True))(_function)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        event = build_event(environ, _read(environ))
        try:
            result = handler(event, None)
        except Exception:
            result = {"statusCode": 502, "body": json.dumps({"message": "Internal server error"})}
        return _reply(result, start_response)

    return app


configure_logging()
app = build() if ADAPTER == "lambda" else None
