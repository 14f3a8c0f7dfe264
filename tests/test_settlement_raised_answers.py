"""A 4xx the app *raises* is an answer too: the replay claim is kept, as for a returned 4xx.

The settlement rule (tests/test_settlement.py): 2xx, 3xx and 4xx keep the claim, so
a captured copy gets 409 and never reaches the app again; 5xx, an exception, or no
answer release it. Each framework also answers 4xx from an exception, and that is
how its docs say to write one: Flask's ``abort(404)``, FastAPI's
``HTTPException(404)``, Django's ``Http404`` and ``PermissionDenied``. An adapter that
sees only "it raised" released the claim for those, so a copy of a request its app
had answered 404 or 403 reached the app a second time. Each case sends one genuine
request twice: a raised 4xx runs the app once (then 409), a raised 5xx twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from flask import Flask, Response, abort
from starlette.exceptions import HTTPException as StarletteHTTPException
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest

from tests.test_settlement import BODY, FLASK_HEADERS, FORM_TYPE, TOKEN, django_post, flask_client, signature
from twiliosig.contrib import django as tdjango
from twiliosig.contrib import fastapi as tfastapi
from twiliosig.contrib import flask as tflask
from twiliosig.replay import MemoryReplayStore

#: The request, its signature and the Django and Flask drivers are test_settlement's: the same rule, more outcomes.
Send = Callable[[], int]


def twice(send: Send, calls: list[str]) -> tuple[int, int, int]:
    """The two statuses the client got, and how often the app ran."""
    first = send()
    second = send()
    return first, second, len(calls)


def kept(send: Send, calls: list[str], status: int) -> None:
    assert twice(send, calls) == (status, 409, 1), "the claim was released: a captured copy reached the app again"


def released(send: Send, calls: list[str], status: int) -> None:
    assert twice(send, calls) == (status, status, 2), "the claim was kept: Twilio's retry would get 409"


# --- Flask ----------------------------------------------------------------------------------------

FLASK_RAISES: dict[str, tuple[Callable[[], Any], int]] = {
    "abort-404": (lambda: abort(404), 404),
    "abort-403": (lambda: abort(403), 403),
    "bad-request": (lambda: (_ for _ in ()).throw(WerkzeugBadRequest()), 400),
    "abort-with-a-response": (lambda: abort(Response("no", status=422)), 422),
}
FLASK_FAILURES: dict[str, tuple[Callable[[], Any], int]] = {
    "abort-500": (lambda: abort(500), 500),
    "abort-503": (lambda: abort(503), 503),
}


def flask_send(kind: str, raise_it: Callable[[], Any]) -> tuple[Send, list[str]]:
    calls: list[str] = []

    def view() -> Any:
        calls.append("ran")
        return raise_it()

    client = flask_client(kind, view, MemoryReplayStore())
    return (
        lambda: client.post("/twilio/sms", data=BODY, content_type=FORM_TYPE, headers=FLASK_HEADERS).status_code,
        calls,
    )


@pytest.mark.parametrize("kind", ["decorator", "extension"])
@pytest.mark.parametrize("case", FLASK_RAISES, ids=list(FLASK_RAISES))
def test_flask_raised_4xx_keeps_the_claim(kind: str, case: str) -> None:
    raise_it, status = FLASK_RAISES[case]
    kept(*flask_send(kind, raise_it), status)


@pytest.mark.parametrize("kind", ["decorator", "extension"])
@pytest.mark.parametrize("case", FLASK_FAILURES, ids=list(FLASK_FAILURES))
def test_flask_raised_5xx_releases_the_claim(kind: str, case: str) -> None:
    raise_it, status = FLASK_FAILURES[case]
    released(*flask_send(kind, raise_it), status)


# --- FastAPI --------------------------------------------------------------------------------------

FASTAPI_RAISES: dict[str, tuple[Exception, int]] = {
    "http-exception-404": (HTTPException(404), 404),
    "http-exception-403": (HTTPException(403, headers={"X-Why": "no"}), 403),
    "starlette-http-exception-400": (StarletteHTTPException(400), 400),
}
FASTAPI_FAILURES: dict[str, tuple[Exception, int]] = {
    "http-exception-500": (HTTPException(500), 500),
    "http-exception-503": (HTTPException(503), 503),
}


def fastapi_send(kind: str, error: Exception) -> tuple[Send, list[str]]:
    calls: list[str] = []
    twilio = tfastapi.TwilioSignature(auth_token=TOKEN, replay_guard=MemoryReplayStore())
    if kind == "dependency":
        router = APIRouter(dependencies=[Depends(twilio)])
    else:
        router = APIRouter(route_class=twilio.route_class)

    @router.post("/twilio/sms")
    async def sms() -> None:
        calls.append("ran")
        raise error

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"X-Twilio-Signature": signature("http://testserver/twilio/sms"), "Content-Type": FORM_TYPE}
    return lambda: client.post("/twilio/sms", content=BODY, headers=headers).status_code, calls


@pytest.mark.parametrize("kind", ["dependency", "route-class"])
@pytest.mark.parametrize("case", FASTAPI_RAISES, ids=list(FASTAPI_RAISES))
def test_fastapi_raised_4xx_keeps_the_claim(kind: str, case: str) -> None:
    error, status = FASTAPI_RAISES[case]
    kept(*fastapi_send(kind, error), status)


@pytest.mark.parametrize("kind", ["dependency", "route-class"])
@pytest.mark.parametrize("case", FASTAPI_FAILURES, ids=list(FASTAPI_FAILURES))
def test_fastapi_raised_5xx_releases_the_claim(kind: str, case: str) -> None:
    error, status = FASTAPI_FAILURES[case]
    released(*fastapi_send(kind, error), status)


# --- Django ---------------------------------------------------------------------------------------

DJANGO_RAISES: dict[str, tuple[type[Exception], int]] = {
    "http404": (Http404, 404),
    "permission-denied": (PermissionDenied, 403),
    "bad-request": (BadRequest, 400),
    "suspicious-operation": (SuspiciousOperation, 400),
}
DJANGO_CALLS: list[str] = []
DJANGO_VIEW: dict[str, Any] = {}


def raising_view(request: HttpRequest) -> HttpResponse:
    DJANGO_CALLS.append("ran")
    raise DJANGO_VIEW["error"]()


async def async_raising_view(request: HttpRequest) -> HttpResponse:
    return raising_view(request)


@csrf_exempt
def decorated(request: HttpRequest) -> Any:
    return DJANGO_VIEW["view"](request)


@csrf_exempt
async def async_decorated(request: HttpRequest) -> Any:
    return await DJANGO_VIEW["view"](request)


urlpatterns = [
    path("twilio/mw", csrf_exempt(raising_view)),
    path("twilio/amw", csrf_exempt(async_raising_view)),
    path("decorated", decorated),
    path("adecorated", async_decorated),
]


def django_send(target: str, error: type[Exception]) -> tuple[Send, list[str]]:
    DJANGO_CALLS.clear()
    DJANGO_VIEW["error"] = error
    store = MemoryReplayStore()
    options: dict[str, Any] = {"auth_token": TOKEN, "replay_guard": store, "paths": ["/twilio/"]}
    if "decorated" in target:
        view = async_raising_view if target == "/adecorated" else raising_view
        DJANGO_VIEW["view"] = tdjango.twilio_required(view, auth_token=TOKEN, replay_guard=store)
        options = {"auth_token": TOKEN, "paths": ["/nothing-else/"]}
    asynchronous = target in ("/adecorated", "/twilio/amw")
    return django_post(__name__, target, options, asynchronous=asynchronous), DJANGO_CALLS


DJANGO_TARGETS = {"decorator": "/decorated", "decorator-async": "/adecorated", "middleware": "/twilio/mw"}
DJANGO_TARGETS["middleware-async"] = "/twilio/amw"


@pytest.mark.parametrize("adapter", DJANGO_TARGETS, ids=list(DJANGO_TARGETS))
@pytest.mark.parametrize("case", DJANGO_RAISES, ids=list(DJANGO_RAISES))
def test_django_raised_4xx_keeps_the_claim(adapter: str, case: str) -> None:
    error, status = DJANGO_RAISES[case]
    kept(*django_send(DJANGO_TARGETS[adapter], error), status)


@pytest.mark.parametrize("adapter", DJANGO_TARGETS, ids=list(DJANGO_TARGETS))
def test_django_raised_error_releases_the_claim(adapter: str) -> None:
    released(*django_send(DJANGO_TARGETS[adapter], RuntimeError), 500)


def test_flask_trapped_http_exception_is_a_failure() -> None:
    """With TRAP_HTTP_EXCEPTIONS Flask re-raises abort(404) and answers 500: released, the retry gets through."""
    calls: list[str] = []
    app = Flask(__name__)
    app.config.update(TWILIO_AUTH_TOKEN=TOKEN, TRAP_HTTP_EXCEPTIONS=True)

    def view() -> Any:
        calls.append("ran")
        abort(404)

    app.add_url_rule(
        "/twilio/sms", "sms", tflask.twilio_required(view, replay_guard=MemoryReplayStore()), methods=["POST"]
    )
    client = app.test_client()
    headers = {"X-Twilio-Signature": signature("http://localhost/twilio/sms")}
    released(
        lambda: client.post("/twilio/sms", data=BODY, content_type=FORM_TYPE, headers=headers).status_code, calls, 500
    )
