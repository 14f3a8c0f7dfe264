"""Numbers in request headers of any length: a clear 4xx in every adapter, never a ValueError.

Python refuses to convert a string of more than 4,300 digits to an int (a
``ValueError``). A Content-Length of 5,000 digits raised out of the WSGI middleware
called in process; servers we tried answer 400 before, but not every server does,
and test clients and Lambda events never do. A port of 5,000 digits in the Host
header reached the same limit while the URL forms were built.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import subprocess
import sys
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client as DjangoClient
from django.test import override_settings
from fastapi import Depends, FastAPI
from flask import Flask

from tests.django_site import TOKEN as DJANGO_TOKEN
from tests.test_asgi import http_scope, status_of
from twiliosig import compute_signature
from twiliosig._environ import read_body
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.contrib import aws_lambda
from twiliosig.contrib import fastapi as tfastapi
from twiliosig.contrib import flask as tflask
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "numeric-headers-token-0123456789"
FORM = [("From", "+15005550006"), ("Body", "hi")]
BODY = urlencode(FORM).encode()
FORM_TYPE = "application/x-www-form-urlencoded"
HUGE = "9" * 5000
PADDED = "0" * 5000 + str(len(BODY))  # the body's true length, zero-padded past int()'s limit
LONG_PORT = "example.com:" + "1" * 5000


def wsgi_status(host: str, length: str, token: str = TOKEN) -> int:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [body]

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/sms",
        "QUERY_STRING": "",
        "RAW_URI": "/sms",
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(BODY),
        "CONTENT_TYPE": FORM_TYPE,
        "CONTENT_LENGTH": length,
        "HTTP_X_TWILIO_SIGNATURE": compute_signature(token, f"http://{host}/sms", FORM),
    }
    statuses: list[str] = []
    WsgiMiddleware(app, auth_token=TOKEN)(environ, lambda status, *_: statuses.append(status))
    return int(statuses[0][:3])


def asgi_status(host: str, length: str, token: str = TOKEN) -> int:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [
        (b"host", host.encode()),
        (b"content-type", FORM_TYPE.encode()),
        (b"content-length", length.encode()),
        (b"x-twilio-signature", compute_signature(token, f"http://{host}/sms", FORM).encode()),
    ]
    scope = http_scope("/sms", headers, scheme="http")
    return status_of(AsgiMiddleware(app, auth_token=TOKEN), scope, BODY)


@override_settings(
    MIDDLEWARE=["twiliosig.contrib.django.TwilioSignatureMiddleware"],
    TWILIOSIG={"auth_token": DJANGO_TOKEN, "paths": ["/mw/"]},
)
def django_status(host: str, length: str, token: str = DJANGO_TOKEN) -> int:
    headers = {"X-Twilio-Signature": compute_signature(token, f"http://{host}/mw/x", FORM)}
    client = DjangoClient(raise_request_exception=False)
    response = client.post("/mw/x", BODY, FORM_TYPE, headers=headers, CONTENT_LENGTH=length, HTTP_HOST=host)
    return int(response.status_code)


def flask_status(host: str, length: str, token: str = TOKEN) -> int:
    app = Flask(__name__)
    app.add_url_rule("/sms", "sms", tflask.twilio_required(lambda: "ok", auth_token=TOKEN), methods=["POST"])
    headers = {"X-Twilio-Signature": compute_signature(token, f"http://{host}/sms", FORM), "Host": host}
    overrides = {"CONTENT_LENGTH": length}
    response = app.test_client().post(
        "/sms", data=BODY, content_type=FORM_TYPE, headers=headers, environ_overrides=overrides
    )
    return response.status_code


def fastapi_status(host: str, length: str, token: str = TOKEN) -> int:
    app = FastAPI()

    @app.post("/sms", dependencies=[Depends(tfastapi.TwilioSignature(auth_token=TOKEN))])
    async def sms() -> str:
        return "ok"

    headers = [
        (b"host", host.encode()),
        (b"content-type", FORM_TYPE.encode()),
        (b"content-length", length.encode()),
        (b"x-twilio-signature", compute_signature(token, f"http://{host}/sms", FORM).encode()),
    ]
    return status_of(app, http_scope("/sms", headers, scheme="http", server=("testserver", 80)), BODY)


def lambda_status(host: str, length: str, token: str = TOKEN) -> int:
    handler = aws_lambda.twilio_required(lambda event, context: {"statusCode": 200}, auth_token=TOKEN)
    event = {
        "version": "2.0",
        "rawPath": "/sms",
        "rawQueryString": "",
        "headers": {
            "content-type": FORM_TYPE,
            "content-length": length,
            "host": host,
            "x-twilio-signature": compute_signature(token, f"https://{host}/sms", FORM),
        },
        "requestContext": {"domainName": host, "http": {"method": "POST"}, "stage": "$default"},
        "body": base64.b64encode(BODY).decode(),
        "isBase64Encoded": True,
    }
    return int(handler(event, None)["statusCode"])


ADAPTERS = {
    "wsgi": wsgi_status,
    "asgi": asgi_status,
    "django": django_status,
    "flask": flask_status,
    "fastapi": fastapi_status,
    "aws-lambda": lambda_status,
}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_content_length_past_ints_limit_is_413(adapter: str) -> None:
    """5,000 nines: 413 before the body is read, in every adapter."""
    assert ADAPTERS[adapter]("example.com", HUGE) == 413


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_zero_padded_content_length_is_no_exception(adapter: str) -> None:
    """The true length behind 5,000 zeros: never an exception (a framework may not read such a body: then 400)."""
    assert ADAPTERS[adapter]("example.com", PADDED) in (200, 400)


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_a_zero_padded_content_length_is_read_as_its_number(adapter: str) -> None:
    """The middlewares read the body a zero-padded length declares: a genuine request is accepted."""
    assert ADAPTERS[adapter]("example.com", PADDED) == 200
    assert ADAPTERS[adapter]("example.com", PADDED, token="another-token-0123456789abcdefgh") == 403


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_host_port_past_ints_limit_is_refused_quietly(adapter: str, caplog: pytest.LogCaptureFixture) -> None:
    """A 5,000-digit port: refused as forged, with no 'unexpected error' traceback in the log."""
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        status = ADAPTERS[adapter](LONG_PORT, str(len(BODY)), token="another-token-0123456789abcdefgh")
    assert status in (400, 403)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("length", "limit", "expected"),
    [
        pytest.param(HUGE, 100, 101, id="huge-is-over-the-limit"),
        pytest.param(PADDED, 100, len(BODY), id="zero-padded"),
        pytest.param("0" * 30, 100, 0, id="zeros"),
        pytest.param("1" + "0" * 19, 10**21, None, id="long-but-under-a-huge-limit"),
    ],
)
def test_read_body_reads_any_length(length: str, limit: int, expected: int | None) -> None:
    """read_body never converts more digits than matter; a body shorter than its length is unreadable."""
    environ = {"CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(BODY + b"x" * 200)}
    body = read_body(environ, limit)  # type: ignore[arg-type]
    assert (None if body is None else len(body)) == expected


def test_cli_reads_a_saved_request_with_any_content_length(tmp_path: Any) -> None:
    """``twiliosig explain --request`` on a file whose Content-Length is 5,000 digits: no traceback."""
    saved = tmp_path / "request.http"
    saved.write_bytes(
        b"POST /sms HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"X-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\nContent-Length: " + HUGE.encode() + b"\r\n\r\n" + BODY
    )
    result = subprocess.run(
        [sys.executable, "-m", "twiliosig", "explain", "--request", str(saved)],
        env={**os.environ, "TWILIO_AUTH_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1)


def _one_answer_server(answer: bytes) -> Any:
    """A server on 127.0.0.1 that answers one connection with ``answer`` and closes it."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(answer)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_websocket_client_reads_any_content_length() -> None:
    """``twiliosig send``'s WebSocket client: a refusal with a 5,000-digit Content-Length is read, not a ValueError."""
    from twiliosig._wsclient import Connection

    port = _one_answer_server(b"HTTP/1.1 403 Forbidden\r\nContent-Length: " + HUGE.encode() + b"\r\n\r\nForbidden\n")
    handshake = Connection(f"ws://127.0.0.1:{port}/media", [], timeout=5).open()
    assert handshake.status == 403
    assert handshake.body == b"Forbidden\n"


@pytest.mark.parametrize("status", [HUGE, "²00"], ids=["5000-digits", "superscript-two"])
def test_websocket_client_refuses_a_status_that_is_not_three_digits(status: str) -> None:
    """A status of 5,000 digits, or a digit int() cannot read: the client's own error, never a ValueError."""
    from twiliosig._wsclient import Connection, WebSocketError

    port = _one_answer_server(b"HTTP/1.1 " + status.encode("latin-1") + b" X\r\n\r\n")
    with pytest.raises(WebSocketError):
        Connection(f"ws://127.0.0.1:{port}/media", [], timeout=5).open()


@pytest.mark.parametrize(
    "header",
    [("HTTP_X_FORWARDED_HOST", LONG_PORT, {"x_host": 1}), ("HTTP_FORWARDED", f'host="{LONG_PORT}"', {"forwarded": 1})],
    ids=["x-forwarded-host", "forwarded"],
)
def test_a_trusted_forwarded_port_past_ints_limit_is_refused_quietly(
    header: tuple[str, str, dict[str, int]], caplog: pytest.LogCaptureFixture
) -> None:
    """The port of a trusted proxy's host header: the same quiet refusal as the Host header's."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/sms",
        "QUERY_STRING": "",
        "HTTP_HOST": "internal:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(BODY),
        "CONTENT_TYPE": FORM_TYPE,
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_X_TWILIO_SIGNATURE": compute_signature("another-token-0123456789abcdefgh", "https://x/sms", FORM),
        header[0]: header[1],
    }
    statuses: list[str] = []
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        middleware = WsgiMiddleware(app, auth_token=TOKEN, trust_forwarded=header[2])
        middleware(environ, lambda status, *_: statuses.append(status))
    assert statuses[0][:3] in ("400", "403")
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
