"""Every adapter asks the ``oauth`` layer from the head, before it reads a byte of the body.

A bearer token not seen before makes the layer wait for the network (``Waiting``): the
WSGI and ASGI middlewares, Flask's decorator and extension, Django's middleware and its
decorator on a sync and an async view, FastAPI's dependency and route class, and the
Lambda decorator must each resolve it (in the worker thread, or off the event loop)
before the body is read, refuse a bad token with the same 401 and challenge, and let a
good one through to the signature. The body here is a stream that fails the test if it
is read before the verifier answered (or at all, for a refused token).

Django under ASGI buffers the body before any middleware or view runs, and a Lambda
event carries it already: for those two the order is not observable, and only the
answers are compared.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from twiliosig import compute_signature
from twiliosig.oauth import CallableVerifier, InvalidToken

TOKEN = "oauth-adapters-auth-token-0123456"
URL = "http://testserver/twilio/sms"
PARAMS = [("From", "+15005550006"), ("Body", "hello")]
BODY = urlencode(PARAMS).encode()
GOOD = "good-token-0123456789"
BAD = "bad-token-0123456789"
CHALLENGE = 'Bearer realm="twilio", error="invalid_token"'


class Recorder:
    """A verifier's function that remembers each call: whether it ran off the event loop, and when."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.on_loop: list[bool] = []
        self.reads: list[bool] = []  # per read of the body: was a good token verified before it?
        self.lock = threading.Lock()

    def __call__(self, token: str) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        with self.lock:
            self.calls.append(token)
            self.on_loop.append(on_loop)
        if token != GOOD:
            raise InvalidToken("not the token the test issued")
        return {}

    def body_read(self) -> None:
        self.reads.append(self.calls[-1:] == [GOOD])

    def options(self) -> dict[str, Any]:
        return {"auth_token": TOKEN, "oauth": CallableVerifier(self)}


class Ordered(io.RawIOBase):
    """A body that fails the test when read before the verifier answered."""

    def __init__(self, body: bytes, recorder: Recorder) -> None:
        self._body = io.BytesIO(body)
        self._recorder = recorder

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._recorder.body_read()
        assert self._recorder.calls, "the body was read before the bearer token was verified"
        assert self._recorder.calls[-1] == GOOD, "the body of a refused request was read"
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


Seen = tuple[int, str | None]


def _headers(token: str, url: str = URL) -> dict[str, str]:
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": compute_signature(TOKEN, url, PARAMS),
        "Authorization": f"Bearer {token}",
    }


def _environ(token: str, recorder: Recorder) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder("/twilio/sms", "http://testserver", method="POST", headers=_headers(token)).get_environ()
    environ.update({"wsgi.input": io.BufferedReader(Ordered(BODY, recorder)), "CONTENT_LENGTH": str(len(BODY))})
    return environ


def _call_wsgi(app: Any, environ: dict[str, Any]) -> Seen:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((int(status.split(maxsplit=1)[0]), dict(headers).get("WWW-Authenticate")))
        return lambda data: None

    chunks = app(environ, start_response)
    b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return started[-1]  # type: ignore[no-any-return]


def wsgi(recorder: Recorder, token: str) -> Seen:
    from twiliosig.wsgi import TwilioSignatureMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        assert environ["wsgi.input"].read() == BODY
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return _call_wsgi(TwilioSignatureMiddleware(app, **recorder.options()), _environ(token, recorder))


def flask_decorator(recorder: Recorder, token: str) -> Seen:
    from flask import Flask, request

    from twiliosig.contrib.flask import twilio_required

    app = Flask(__name__)

    @app.post("/twilio/sms")
    @twilio_required(**recorder.options())
    def sms() -> str:
        assert request.form["Body"] == "hello"
        return "ok"

    return _call_wsgi(app, _environ(token, recorder))


def flask_extension(recorder: Recorder, token: str) -> Seen:
    from flask import Flask, request

    from twiliosig.contrib.flask import TwilioSignature

    app = Flask(__name__)
    app.add_url_rule("/twilio/sms", "sms", lambda: request.form["Body"], methods=["POST"])
    TwilioSignature(app, paths=["/twilio/"], **recorder.options())
    return _call_wsgi(app, _environ(token, recorder))


def _django(token: str, recorder: Recorder) -> Seen:
    from django.test import Client

    headers = _headers(token, "http://testserver/decorated/twilio/sms")
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    del extra["HTTP_CONTENT_TYPE"]
    environ = {
        "PATH_INFO": "/decorated/twilio/sms",
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(BODY)),
        "wsgi.input": io.BufferedReader(Ordered(BODY, recorder)),
        **extra,
    }
    response = Client(HTTP_HOST="testserver").request(**environ)
    return response.status_code, response.headers.get("WWW-Authenticate")


def django_middleware(recorder: Recorder, token: str) -> Seen:
    from django.test import override_settings

    middleware = ["twiliosig.contrib.django.TwilioSignatureMiddleware"]
    # The middleware on a path the decorated view also serves: the decorator then sees a verdict and trusts it.
    with override_settings(MIDDLEWARE=middleware, TWILIOSIG={**recorder.options(), "paths": ["/decorated/twilio/"]}):
        return _django(token, recorder)


def django_decorator(recorder: Recorder, token: str) -> Seen:
    from django.test import override_settings

    with override_settings(MIDDLEWARE=[], TWILIOSIG=recorder.options()):
        return _django(token, recorder)


def django_async_decorator(recorder: Recorder, token: str) -> Seen:
    """Under ASGI Django has read the body before the view: only the answer is compared."""
    from django.test import AsyncClient, override_settings

    async def post() -> Any:
        return await AsyncClient(headers={"Host": "testserver"}).post(
            "/decorated/async",
            BODY,
            content_type="application/x-www-form-urlencoded",
            headers={
                k: v for k, v in _headers(token, "http://testserver/decorated/async").items() if k != "Content-Type"
            },
        )

    with override_settings(MIDDLEWARE=[], TWILIOSIG=recorder.options()):
        response = asyncio.run(post())
    return response.status_code, response.headers.get("WWW-Authenticate")


async def _asgi_call(app: Any, token: str, recorder: Recorder) -> Seen:
    headers = [(name.lower().encode(), value.encode()) for name, value in _headers(token).items()]
    headers += [(b"host", b"testserver"), (b"content-length", str(len(BODY)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/twilio/sms",
        "raw_path": b"/twilio/sms",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "state": {},
    }
    sent = False
    answers: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a client that keeps the connection open
        recorder.body_read()
        assert recorder.calls, "the body was read before the bearer token was verified"
        assert recorder.calls[-1] == GOOD, "the body of a refused request was read"
        sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    await app(scope, receive, send)
    (start,) = [message for message in answers if message["type"] == "http.response.start"]
    found = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start["status"], found.get("www-authenticate")


def asgi(recorder: Recorder, token: str) -> Seen:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from twiliosig.asgi import TwilioSignatureMiddleware

    async def sms(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.form())["Body"])  # type: ignore[arg-type]

    inner = Starlette(routes=[Route("/twilio/sms", sms, methods=["POST"])])
    return asyncio.run(_asgi_call(TwilioSignatureMiddleware(inner, **recorder.options()), token, recorder))


def fastapi_dependency(recorder: Recorder, token: str) -> Seen:
    from fastapi import Depends, FastAPI

    from twiliosig.contrib.fastapi import TwilioSignature

    app = FastAPI()
    app.add_api_route(
        "/twilio/sms", lambda: "ok", methods=["POST"], dependencies=[Depends(TwilioSignature(**recorder.options()))]
    )
    return asyncio.run(_asgi_call(app, token, recorder))


def fastapi_route_class(recorder: Recorder, token: str) -> Seen:
    from fastapi import APIRouter, FastAPI, Form

    from twiliosig.contrib.fastapi import TwilioSignature

    twilio = TwilioSignature(**recorder.options())
    router = APIRouter(prefix="/twilio", route_class=twilio.route_class)

    @router.post("/sms")
    async def sms(Body: str = Form("")) -> str:
        return Body

    app = FastAPI()
    app.include_router(router)
    return asyncio.run(_asgi_call(app, token, recorder))


def aws_lambda(recorder: Recorder, token: str) -> Seen:
    """The event holds the body already: only the answer is compared."""
    from twiliosig.contrib.aws_lambda import twilio_required

    handler = twilio_required(lambda event, context: {"statusCode": 200, "body": "ok"}, **recorder.options())
    headers = {name.lower(): value for name, value in _headers(token).items()}
    headers["x-twilio-signature"] = compute_signature(TOKEN, URL.replace("http:", "https:"), PARAMS)
    event = {
        "version": "2.0",
        "rawPath": "/twilio/sms",
        "rawQueryString": "",
        "headers": headers | {"host": "testserver", "content-length": str(len(BODY))},
        "requestContext": {"domainName": "testserver", "http": {"method": "POST"}, "stage": "$default"},
        "body": base64.b64encode(BODY).decode(),
        "isBase64Encoded": True,
    }
    response = handler(event, None)
    found = {name.lower(): value for name, value in response.get("headers", {}).items()}
    return response["statusCode"], found.get("www-authenticate")


ADAPTERS: dict[str, Callable[[Recorder, str], Seen]] = {
    "wsgi": wsgi,
    "asgi": asgi,
    "flask-decorator": flask_decorator,
    "flask-extension": flask_extension,
    "django-middleware": django_middleware,
    "django-decorator-sync": django_decorator,
    "django-decorator-async": django_async_decorator,
    "fastapi-dependency": fastapi_dependency,
    "fastapi-route-class": fastapi_route_class,
    "lambda": aws_lambda,
}


#: The adapters whose body is read before they run: Django under ASGI, Lambda's event.
BUFFERED = {"django-decorator-async", "lambda"}


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_bad_token_is_refused_from_the_head(name: str) -> None:
    """401 with the invalid_token challenge, the verifier asked once, the body never read."""
    recorder = Recorder()
    assert ADAPTERS[name](recorder, BAD) == (401, CHALLENGE)
    assert recorder.calls == [BAD]
    assert recorder.on_loop == [False]  # a sync adapter's own thread, or a thread off the event loop
    assert recorder.reads == []  # not a byte of the body read (an adapter may swallow the stream's assertion)


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_good_token_is_verified_before_the_body_then_the_signature_decides(name: str) -> None:
    recorder = Recorder()
    assert ADAPTERS[name](recorder, GOOD)[0] == 200
    assert recorder.calls == [GOOD]
    assert recorder.on_loop == [False]
    if name not in BUFFERED:
        assert recorder.reads, "the body was never read from the stream"
    assert all(recorder.reads), "the body was read before the token was verified"


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_request_without_a_token_is_challenged_without_asking_the_verifier(name: str) -> None:
    recorder = Recorder()
    status, challenge = ADAPTERS[name](recorder, "")
    assert (status, challenge) == (401, 'Bearer realm="twilio"')
    assert recorder.calls == []
