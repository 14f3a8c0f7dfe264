"""The query a signature is checked over is the query the application reads.

werkzeug's test client leaves a ``query_string=`` query out of ``RAW_URI`` and
``REQUEST_URI``; an nginx or Apache rewrite changes ``QUERY_STRING`` and leaves
``REQUEST_URI`` as sent. Every framework hands the application ``QUERY_STRING``
(ASGI: ``query_string``), so that is the query the URL is rebuilt with: a genuine
request sent that way is accepted, and a signature over a query the application
does not read is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from django.test import Client as DjangoClient
from django.test import override_settings
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from tests.django_site import TOKEN as DJANGO_TOKEN
from tests.test_asgi import http_scope, run_asgi
from twiliosig import compute_signature
from twiliosig._environ import environ_target
from twiliosig._scope import scope_raw_path
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.contrib.flask import twilio_required as flask_required
from twiliosig.wsgi import TwilioSignatureMiddleware

TOKEN = "query-source-token-0123456789abc"
FORM = [("From", "+15005550006"), ("Body", "hi")]
QUERY = {"tenant": "a b", "n": "1"}
ENCODED_QUERY = urlencode(QUERY)


FORM_TYPE = "application/x-www-form-urlencoded"


def header(url: str, token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": compute_signature(token, url, FORM)}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({"RAW_URI": "/sms?a=1", "QUERY_STRING": "a=1"}, ("/sms", "a=1"), id="server-agrees"),
        pytest.param({"RAW_URI": "/sms", "QUERY_STRING": "a=1"}, ("/sms", "a=1"), id="werkzeug-query_string"),
        pytest.param({"REQUEST_URI": "/sms?a=1", "QUERY_STRING": "b=2"}, ("/sms", "b=2"), id="rewritten-query"),
        pytest.param({"RAW_URI": "/sms?a=1", "QUERY_STRING": ""}, ("/sms", ""), id="query-dropped-by-rewrite"),
        pytest.param({"RAW_URI": "/sms?a=1"}, ("/sms", "a=1"), id="no-QUERY_STRING-key"),
        pytest.param({"QUERY_STRING": "a=1"}, ("/s%20ms", "a=1"), id="no-raw-target"),
        pytest.param({"RAW_URI": "/sms", "QUERY_STRING": "b=%C3%A9"}, ("/sms", "b=%C3%A9"), id="encoded"),
        pytest.param({"RAW_URI": "/sms", "QUERY_STRING": "b=\xc3\xa9"}, ("/sms", "b=é"), id="latin-1-native"),
    ],
)
def test_environ_target(environ: dict[str, str], expected: tuple[str, str]) -> None:
    """The raw path from the raw target, the query from QUERY_STRING whenever the server sets it."""
    assert environ_target(environ, "/s ms") == expected  # type: ignore[arg-type]


def ok_app() -> Any:
    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        return Response(urlencode(list(request.args.items(multi=True))), content_type="text/plain")

    return app


def test_werkzeug_test_client_query_string() -> None:
    """werkzeug's ``query_string=``: genuine accepted; a signature over the path alone is refused."""
    client = Client(TwilioSignatureMiddleware(ok_app(), auth_token=TOKEN))
    genuine = client.post(
        "/sms", data=dict(FORM), query_string=QUERY, headers=header(f"http://localhost/sms?{ENCODED_QUERY}")
    )
    assert genuine.status_code == 200
    assert genuine.text == ENCODED_QUERY
    path_only = client.post("/sms", data=dict(FORM), query_string=QUERY, headers=header("http://localhost/sms"))
    assert path_only.status_code == 403


def test_rewritten_query_string_is_the_one_checked() -> None:
    """A server whose QUERY_STRING differs from REQUEST_URI's (a rewrite): the signature must cover QUERY_STRING."""
    client = Client(TwilioSignatureMiddleware(ok_app(), auth_token=TOKEN))
    environ = {"REQUEST_URI": "/sms?n=1", "RAW_URI": "/sms?n=1"}
    over_target = client.post(
        "/sms?n=2", data=dict(FORM), headers=header("http://localhost/sms?n=1"), environ_overrides=environ
    )
    assert over_target.status_code == 403  # the app would read n=2, which nobody signed
    over_read = client.post(
        "/sms?n=2", data=dict(FORM), headers=header("http://localhost/sms?n=2"), environ_overrides=environ
    )
    assert over_read.status_code == 200
    assert over_read.text == "n=2"


def test_flask_test_client_query_string() -> None:
    """Flask's test client (werkzeug's) and the Flask decorator: the same rule."""
    app = Flask(__name__)

    @app.post("/sms")
    @flask_required(auth_token=TOKEN)
    def sms() -> str:
        from flask import request

        return urlencode(list(request.args.items(multi=True)))

    client = app.test_client()
    genuine = client.post(
        "/sms", data=dict(FORM), query_string=QUERY, headers=header(f"http://localhost/sms?{ENCODED_QUERY}")
    )
    assert genuine.status_code == 200
    assert genuine.text == ENCODED_QUERY
    assert (
        client.post("/sms", data=dict(FORM), query_string=QUERY, headers=header("http://localhost/sms")).status_code
        == 403
    )


MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "twiliosig.contrib.django.TwilioSignatureMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]


@pytest.mark.parametrize("view", ["/decorated/sync", "/mw/x"])
@override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": DJANGO_TOKEN, "paths": ["/mw/"]})
def test_django_test_client_query_params(view: str) -> None:
    """Django's test client with ``query_params=``: genuine accepted, path-only signature refused."""
    client = DjangoClient()
    url = f"http://testserver{view}"
    genuine = client.post(
        view, urlencode(FORM), FORM_TYPE, query_params=QUERY, headers=header(f"{url}?{ENCODED_QUERY}", DJANGO_TOKEN)
    )
    assert genuine.status_code == 200
    path_only = client.post(view, urlencode(FORM), FORM_TYPE, query_params=QUERY, headers=header(url, DJANGO_TOKEN))
    assert path_only.status_code == 403


@pytest.mark.parametrize("view", ["/decorated/sync", "/mw/x"])
@override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": DJANGO_TOKEN, "paths": ["/mw/"]})
def test_django_raw_target_without_the_query(view: str) -> None:
    """Django behind a server whose RAW_URI lacks the query the view reads (werkzeug's split): QUERY_STRING wins."""
    client = DjangoClient()
    url = f"http://testserver{view}"
    genuine = client.post(
        view,
        urlencode(FORM),
        FORM_TYPE,
        query_params=QUERY,
        headers=header(f"{url}?{ENCODED_QUERY}", DJANGO_TOKEN),
        RAW_URI=view,
    )
    assert genuine.status_code == 200
    path_only = client.post(
        view, urlencode(FORM), FORM_TYPE, query_params=QUERY, headers=header(url, DJANGO_TOKEN), RAW_URI=view
    )
    assert path_only.status_code == 403
    rewritten = client.post(
        view,
        urlencode(FORM),
        FORM_TYPE,
        query_params={"n": "2"},
        headers=header(f"{url}?n=1", DJANGO_TOKEN),
        REQUEST_URI=f"{view}?n=1",
    )
    assert rewritten.status_code == 403  # signed n=1, the view reads n=2


async def starlette_echo(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse(urlencode(list(request.query_params.multi_items())))


def starlette_app() -> Any:
    app = Starlette(routes=[Route("/sms", starlette_echo, methods=["POST"])])
    return AsgiMiddleware(app, auth_token=TOKEN)


def test_starlette_test_client_params() -> None:
    """Starlette's TestClient puts ``params=`` in ``query_string`` only: the same rule holds."""
    client = TestClient(starlette_app())
    url = "http://testserver/sms"
    genuine = client.post("/sms", data=dict(FORM), params=QUERY, headers=header(f"{url}?{ENCODED_QUERY}"))
    assert genuine.status_code == 200
    assert genuine.text == ENCODED_QUERY
    assert client.post("/sms", data=dict(FORM), params=QUERY, headers=header(url)).status_code == 403


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_httpx_asgi_transport_params(anyio_backend: str) -> None:
    """httpx's ASGITransport: the same."""
    transport = httpx.ASGITransport(app=starlette_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        url = "http://testserver/sms"
        genuine = await client.post("/sms", data=dict(FORM), params=QUERY, headers=header(f"{url}?{ENCODED_QUERY}"))
        assert genuine.status_code == 200
        forged = await client.post("/sms", data=dict(FORM), params=QUERY, headers=header(url))
        assert forged.status_code == 403


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        pytest.param({"raw_path": b"/sms", "query_string": b"a=1"}, "/sms", id="as-the-spec-says"),
        pytest.param({"raw_path": b"/sms?a=1", "query_string": b"a=1"}, "/sms", id="query-in-raw_path"),
        pytest.param({"raw_path": b"/s%3Fms", "query_string": b""}, "/s%3Fms", id="encoded-question-mark-kept"),
    ],
)
def test_scope_raw_path_never_carries_a_query(scope: dict[str, Any], expected: str) -> None:
    """A server (or an old test client) that leaves the query in ``raw_path``: the query is ``query_string``'s alone."""
    assert scope_raw_path({"path": "/sms", **scope}) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_query_left_in_raw_path(anyio_backend: str) -> None:
    """A raw_path with the query in it: genuine accepted once; a query the app does not read is never signed in."""
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["query_string"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = AsgiMiddleware(app, auth_token=TOKEN)
    body = urlencode(FORM).encode()

    async def call(raw_path: bytes, query: bytes, url: str) -> int:
        headers = [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"x-twilio-signature", header(url)["X-Twilio-Signature"].encode()),
        ]
        scope = http_scope(f"/sms?{query.decode()}", headers, scheme="http", raw_path=raw_path)
        sent = await run_asgi(middleware, scope, [{"type": "http.request", "body": body, "more_body": False}])
        return int(next(message["status"] for message in sent if message["type"] == "http.response.start"))

    assert await call(b"/sms?a=1", b"a=1", "http://testserver/sms?a=1") == 200
    assert await call(b"/sms?a=1", b"", "http://testserver/sms?a=1") == 403  # the app reads no query
    assert seen == [b"a=1"]


# --- the test helper signs the query a client keyword adds ---------------------------------------------


def test_signer_signs_werkzeugs_query_string() -> None:
    """``signer.post_form(client, path, params, query_string=...)``: the query is signed, sent as signed, accepted."""
    from twiliosig.testing import TwilioSigner

    signer = TwilioSigner(TOKEN)
    client = Client(TwilioSignatureMiddleware(ok_app(), auth_token=TOKEN))
    response = signer.post_form(client, "/sms", FORM, query_string=QUERY)
    assert response.status_code == 200
    assert response.text == ENCODED_QUERY
    both = signer.post_form(client, "/sms?first=1", FORM, query_string={"then": "2"})
    assert (both.status_code, both.text) == (200, "first=1&then=2")
    assert signer.post_json(client, "/sms", {"a": 1}, query_string="n=3").status_code == 200
    assert signer.event("messaging.inbound", client, "/sms", query_string=QUERY).status_code == 200
    assert signer.post_form(client, "/sms", FORM, query_string=QUERY, forged=True).status_code == 403


@override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": DJANGO_TOKEN, "paths": ["/mw/"]})
def test_signer_signs_djangos_query_params() -> None:
    """Django's ``query_params=`` through the signer: signed and accepted."""
    from twiliosig.testing import TwilioSigner

    response = TwilioSigner(DJANGO_TOKEN).post_form(DjangoClient(), "/mw/x", FORM, query_params=QUERY)
    assert response.status_code == 200
