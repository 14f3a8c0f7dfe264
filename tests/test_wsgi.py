"""The WSGI middleware: the shared contract, plus what only WSGI has (RAW_URI, chunked input)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes
from wsgiref.validate import validator

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from tests.contract import (
    FORM,
    PAIRS,
    TOKEN,
    Harness,
    MiddlewareContract,
    Outcome,
    ReplayContract,
    Seen,
    form_body,
    sign,
)
from twiliosig import Reason
from twiliosig.wsgi import TwilioSignatureMiddleware


def recording_app(seen: list[Seen]) -> Any:
    """A werkzeug app that records the body and form it sees, and answers 200."""

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        body = request.get_data(cache=True)
        seen.append(Seen(body, list(request.form.items(multi=True)), request.environ.get("twiliosig.verdict")))
        if request.path == "/twilio/raise":
            raise RuntimeError("the app failed")
        return Response("ok", status=500 if request.path == "/twilio/fail500" else 200, content_type="text/plain")

    return app


class WsgiHarness(Harness):
    def __init__(self, **options: Any) -> None:
        self.seen: list[Seen] = []
        self.app = TwilioSignatureMiddleware(recording_app(self.seen), **options)

    def environ(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        scheme: str,
        host: str,
        chunks: list[bytes] | None,
    ) -> dict[str, Any]:
        path, _, query = target.partition("?")
        name, _, port = host.partition(":")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": target,
            "SERVER_NAME": name,
            "SERVER_PORT": port or ("443" if scheme == "https" else "80"),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": host,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(b"".join(chunks) if chunks is not None else body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if chunks is not None:
            environ["wsgi.input_terminated"] = True
        else:
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ["HTTP_" + key] = value.encode("utf-8").decode("latin-1")
        return environ

    def call(self, environ: dict[str, Any], *, validate: bool = True) -> Outcome:
        """Run the app; wsgiref's validator checks both sides unless the environ is broken on purpose."""
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        start = len(self.seen)
        app = validator(self.app) if validate else self.app
        result: Iterable[bytes] = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        headers = {k.lower(): v for k, v in captured["headers"]}
        return Outcome(int(captured["status"].split()[0]), body, headers, self.seen[start:])

    def send(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        scheme: str = "https",
        host: str = "example.com",
        chunks: list[bytes] | None = None,
    ) -> Outcome:
        return self.call(self.environ(method, target, headers or {}, body, scheme, host, chunks))


class TestWsgiContract(MiddlewareContract):
    def harness(self, **options: Any) -> WsgiHarness:
        return WsgiHarness(**options)


class TestWsgiDefenses(ReplayContract):
    def harness(self, **options: Any) -> WsgiHarness:
        return WsgiHarness(**options)


URL = "https://example.com/twilio/sms"


def signed_headers(url: str = URL) -> dict[str, str]:
    return {"Content-Type": FORM, "X-Twilio-Signature": sign(url, PAIRS)}


def test_chunked_body_is_read_to_the_end_and_replayed() -> None:
    """With wsgi.input_terminated and no Content-Length, the body is read to EOF and given back whole."""
    h = WsgiHarness(auth_token=TOKEN)
    body = form_body(PAIRS)
    outcome = h.send("POST", "/twilio/sms", headers=signed_headers(), chunks=[body[:7], body[7:30], body[30:]])
    assert outcome.status == 200
    assert outcome.seen[0].body == body


class _Unreadable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


def test_no_signature_is_refused_before_the_body_is_read() -> None:
    """An unsigned request to a protected path gets 403 without a byte of its body read."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = h.environ("POST", "/twilio/sms", {"Content-Type": FORM}, b"", "https", "example.com", None)
    environ["CONTENT_LENGTH"] = "1000"
    environ["wsgi.input"] = io.BufferedReader(_Unreadable())
    outcome = h.call(environ)
    assert outcome.status == 403
    assert not outcome.seen


def test_body_shorter_than_content_length_is_400() -> None:
    """A client that disconnects mid-body gets a 400, and the app does not run."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = h.environ("POST", "/twilio/sms", signed_headers(), form_body(PAIRS), "https", "example.com", None)
    environ["CONTENT_LENGTH"] = str(int(environ["CONTENT_LENGTH"]) + 10)
    outcome = h.call(environ)
    assert outcome.status == 400
    assert not outcome.seen


def test_stream_that_raises_is_400() -> None:
    """A server stream that raises on read (a reset connection) is a 400, not a 500."""

    class Broken(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise ConnectionResetError

    h = WsgiHarness(auth_token=TOKEN)
    environ = h.environ("POST", "/twilio/sms", signed_headers(), form_body(PAIRS), "https", "example.com", None)
    environ["wsgi.input"] = Broken()
    assert h.call(environ, validate=False).status == 400


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "²"])
def test_bad_content_length_is_400(length: str) -> None:
    """A Content-Length that is not a plain number is refused."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = h.environ("POST", "/twilio/sms", signed_headers(), form_body(PAIRS), "https", "example.com", None)
    environ["CONTENT_LENGTH"] = length
    assert h.call(environ, validate=False).status == 400


@pytest.mark.parametrize(
    ("keys", "accepted"),
    [
        pytest.param({"RAW_URI": "/twilio/a%2Fb"}, True, id="raw-uri"),
        pytest.param({"RAW_URI": None, "REQUEST_URI": "/twilio/a%2Fb"}, True, id="request-uri"),
        pytest.param({"RAW_URI": "https://example.com/twilio/a%2Fb"}, False, id="absolute-form-is-refused"),
        pytest.param({"RAW_URI": None}, False, id="decoded-path-loses-%2F"),
    ],
)
def test_raw_target_is_preferred(keys: dict[str, str | None], accepted: bool) -> None:
    """The raw target keeps %2F; the decoded PATH_INFO fallback cannot, and is re-quoted as a last resort."""
    h = WsgiHarness(auth_token=TOKEN)
    url = "https://example.com/twilio/a%2Fb"
    environ = h.environ("POST", "/twilio/a%2Fb", signed_headers(url), form_body(PAIRS), "https", "example.com", None)
    for key, value in keys.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    assert (h.call(environ).status == 200) is accepted


def test_fallback_requotes_script_name_and_path_info() -> None:
    """Without a raw target, SCRIPT_NAME + PATH_INFO are re-quoted from their bytes."""
    h = WsgiHarness(auth_token=TOKEN)
    url = "https://example.com/app/twilio/caf%C3%A9?x=%27"
    environ = h.environ(
        "POST", "/twilio/caf%C3%A9?x=%27", signed_headers(url), form_body(PAIRS), "https", "example.com", None
    )
    del environ["RAW_URI"]
    environ["SCRIPT_NAME"] = "/app"
    assert h.call(environ).status == 200


@pytest.mark.parametrize("host", [None, ""])
def test_no_host_header_is_refused(host: str | None) -> None:
    """Without a Host header (HTTP/1.0) the server's own name is never taken for what Twilio called."""
    h = WsgiHarness(auth_token=TOKEN)
    url = "http://internal.example:8080/twilio/sms"  # SERVER_NAME and SERVER_PORT
    environ = h.environ(
        "POST", "/twilio/sms", signed_headers(url), form_body(PAIRS), "http", "internal.example:8080", None
    )
    if host is None:
        del environ["HTTP_HOST"]
    else:
        environ["HTTP_HOST"] = host
    outcome = h.call(environ)
    assert outcome.status == 400
    assert not outcome.seen


def test_verdict_is_in_the_environ_for_flask() -> None:
    """A Flask view finds the verdict at request.environ['twiliosig.verdict']."""
    from flask import Flask, request

    app = Flask(__name__)

    @app.post("/twilio/sms")
    def sms() -> str:
        verdict = request.environ["twiliosig.verdict"]
        return f"{verdict.reason.value} {request.form.getlist('ForwardedFrom')}"

    app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, auth_token=TOKEN, paths=["/twilio/"])  # type: ignore[method-assign]
    client = app.test_client()
    data = MultiDict(PAIRS)
    response = client.post(
        "/twilio/sms", data=data, headers={"X-Twilio-Signature": sign("http://localhost/twilio/sms", PAIRS)}
    )
    assert response.status_code == 200
    assert response.text == "valid ['b', 'a']"
    assert client.post("/twilio/sms", data=data).status_code == 403


def test_werkzeug_test_client() -> None:
    """The werkzeug test client, which sets REQUEST_URI and RAW_URI itself, works unchanged."""
    seen: list[Seen] = []
    client = Client(TwilioSignatureMiddleware(recording_app(seen), auth_token=TOKEN))
    url = "http://localhost/twilio/sms?x=1"
    response = client.post(
        "/twilio/sms?x=1", data=dict(PAIRS[:5]), headers={"X-Twilio-Signature": sign(url, PAIRS[:5])}
    )
    assert response.status_code == 200
    assert seen[0].verdict is not None
    assert seen[0].verdict.reason is Reason.VALID
