"""Fail-open configuration: a wrong option is an error at start-up in every adapter, never an open door.

Options often come from environment variables, so they arrive as strings:
``report_only="false"`` is truthy and would let every forgery through,
``enabled="false"`` would switch the check off, ``trust_forwarded="1"`` would
trust headers nobody vouched for. A missing or empty secret would sign with a
key anyone knows. Each must raise when the adapter is built (``TypeError`` or
``ValueError``; ``ImproperlyConfigured`` for Django), or, for a decorator that
builds its guard on first use, on its first request, which must then never be
served. The attacker here is whoever benefits from a deployment that quietly
accepts anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.attacks.harness import Pool, sign
from tests.attacks.profiles import TOKEN

#: Option sets that must never be accepted, by what they get wrong.
BAD_OPTIONS: dict[str, dict[str, Any]] = {
    # From the specification.
    "report_only-string-false": {"report_only": "false"},
    "enabled-string-false": {"enabled": "false"},
    "require_https-string-yes": {"require_https": "yes"},
    "trust_forwarded-string": {"trust_forwarded": "1"},
    "paths-single-string": {"paths": "/twilio/"},
    "unknown-option-name": {"report_mode": True},
    # Beyond it.
    "enabled-none": {"enabled": None},
    "auth_token-empty": {"auth_token": ""},
    "auth_token-empty-list": {"auth_token": []},
    "auth_token-list-of-empty": {"auth_token": [""]},
    "auth_token-none": {"auth_token": None},
    "shared_key-empty-secret": {"shared_keys": {"webhooks_sharedkey_x": ""}},
    "trust_forwarded-forwarded-with-x-host": {"trust_forwarded": {"forwarded": 1, "x_host": 1}},
    "trust_forwarded-unknown-header": {"trust_forwarded": {"x_hosts": 1}},
    "trust_forwarded-string-hops": {"trust_forwarded": {"x_host": "1"}},
    "trust_forwarded-negative": {"trust_forwarded": -1},
    "methods-single-string": {"methods": "GET"},
    "max_body_size-string": {"max_body_size": "1048576"},
    "on_store_error-typo": {"on_store_error": "ignore"},
    "paths-empty-list": {"paths": []},
}
#: Which entries name a broken secret (and so must not get the default token added).
SECRET_CASES = {"auth_token-empty", "auth_token-empty-list", "auth_token-list-of-empty", "auth_token-none"}


def _options(case: str) -> dict[str, Any]:
    options = dict(BAD_OPTIONS[case])
    if case not in SECRET_CASES:
        options.setdefault("auth_token", TOKEN)
    return options


# --- one builder per adapter: build it (and serve one request when it builds lazily) --------


def _wsgi(options: dict[str, Any]) -> None:
    from twiliosig.wsgi import TwilioSignatureMiddleware

    TwilioSignatureMiddleware(lambda environ, start_response: [b""], **options)


def _asgi(options: dict[str, Any]) -> None:
    from twiliosig.asgi import TwilioSignatureMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    TwilioSignatureMiddleware(app, **options)


def _asgi_middleware_list(options: dict[str, Any]) -> None:
    """Starlette builds ``middleware=[Middleware(...)]`` on its first call, the lifespan startup, as uvicorn makes it.

    The startup must fail, naming the mistake (uvicorn then exits), and a request that
    arrives anyway (a server without lifespan) must not be served. A failed startup is
    raised here as the ValueError the table expects.
    """
    import asyncio

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from twiliosig.asgi import TwilioSignatureMiddleware

    app = Starlette(
        routes=[Route("/twilio/sms", lambda request: PlainTextResponse("served"), methods=["POST"])],
        middleware=[Middleware(TwilioSignatureMiddleware, **options)],
    )
    lifespan: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []

    async def startup() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def record_lifespan(message: dict[str, Any]) -> None:
        lifespan.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"Body=forged", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/twilio/sms",
        "raw_path": b"/twilio/sms",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("example.com", 80),
        "headers": [(b"host", b"example.com"), (b"content-type", b"application/x-www-form-urlencoded")],
    }

    async def run() -> None:
        with contextlib.suppress(Exception):  # after startup.failed the app raises, as Starlette's own lifespan does
            await asyncio.wait_for(app({"type": "lifespan", "asgi": {"version": "3.0"}}, startup, record_lifespan), 5)
        await app(scope, receive, send)

    asyncio.run(run())
    statuses = [message["status"] for message in sent if message["type"] == "http.response.start"]
    assert 200 not in statuses[:1], "served with a bad option"
    failed = [message for message in lifespan if message["type"] == "lifespan.startup.failed"]
    if failed:
        raise ValueError(failed[0]["message"])


def _fastapi(options: dict[str, Any]) -> None:
    from twiliosig.contrib.fastapi import TwilioSignature

    TwilioSignature(**options)


def _lambda(options: dict[str, Any]) -> None:
    from twiliosig.contrib.aws_lambda import twilio_required

    twilio_required(**options)(lambda event, context: {"statusCode": 200, "body": "served"})


def _flask_extension(options: dict[str, Any]) -> None:
    from flask import Flask

    from twiliosig.contrib.flask import TwilioSignature

    TwilioSignature(Flask(__name__), **options)


def _flask_extension_config(options: dict[str, Any]) -> None:
    from flask import Flask

    from twiliosig.contrib.flask import TwilioSignature

    app = Flask(__name__)
    app.config.update({f"TWILIOSIG_{name.upper()}": value for name, value in options.items()})
    TwilioSignature(app)


def _flask_first_request(app: Any, view: Callable[..., Any]) -> None:
    app.add_url_rule("/twilio/sms", "sms", view, methods=["POST"])
    app.testing = True  # exceptions propagate instead of becoming 500s
    response = app.test_client().post("/twilio/sms", data={"Body": "forged"})
    assert response.status_code != 200, "served with a bad option"


def _flask_decorator(options: dict[str, Any]) -> None:
    from flask import Flask

    from twiliosig.contrib.flask import twilio_required

    _flask_first_request(Flask(__name__), twilio_required(**options)(lambda: "served"))


def _flask_decorator_config(options: dict[str, Any]) -> None:
    from flask import Flask

    from twiliosig.contrib.flask import twilio_required

    app = Flask(__name__)
    app.config.update({f"TWILIOSIG_{name.upper()}": value for name, value in options.items()})
    _flask_first_request(app, twilio_required(lambda: "served"))


def _django_middleware(options: dict[str, Any]) -> None:
    from django.http import HttpResponse
    from django.test import override_settings

    from twiliosig.contrib.django import TwilioSignatureMiddleware

    with override_settings(TWILIOSIG=options):
        TwilioSignatureMiddleware(lambda request: HttpResponse("served"))


def _django_first_request(view: Callable[..., Any], settings: dict[str, Any]) -> None:
    from django.test import RequestFactory, override_settings

    with override_settings(TWILIOSIG=settings):
        response = view(RequestFactory().post("/twilio/sms", {"Body": "forged"}))
    assert response.status_code != 200, "served with a bad option"


def _django_decorator(options: dict[str, Any]) -> None:
    from django.http import HttpResponse

    from twiliosig.contrib.django import twilio_required

    _django_first_request(twilio_required(**options)(lambda request: HttpResponse("served")), {})


def _django_decorator_settings(options: dict[str, Any]) -> None:
    from django.http import HttpResponse

    from twiliosig.contrib.django import twilio_required

    _django_first_request(twilio_required(lambda request: HttpResponse("served")), options)


BUILDERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "wsgi": _wsgi,
    "asgi": _asgi,
    "asgi-middleware-list": _asgi_middleware_list,
    "django-middleware-settings": _django_middleware,
    "django-decorator-kwargs": _django_decorator,
    "django-decorator-settings": _django_decorator_settings,
    "flask-decorator-kwargs": _flask_decorator,
    "flask-decorator-config": _flask_decorator_config,
    "flask-extension-kwargs": _flask_extension,
    "flask-extension-config": _flask_extension_config,
    "fastapi": _fastapi,
    "lambda": _lambda,
}


def _expected(builder: str) -> tuple[type[BaseException], ...]:
    if builder.startswith("django"):
        from django.core.exceptions import ImproperlyConfigured

        return (ImproperlyConfigured, TypeError, ValueError)
    return (TypeError, ValueError)


@pytest.fixture(autouse=True)
def _forget_decorator_options(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Django decorator remembers its options for ``manage.py check``: forget the bad ones afterwards."""
    from twiliosig.contrib import django as contrib_django

    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    remembered = list(getattr(contrib_django, "_decorator_options", []))
    yield
    if hasattr(contrib_django, "_decorator_options"):
        contrib_django._decorator_options[:] = remembered


@pytest.mark.parametrize("case", BAD_OPTIONS)
@pytest.mark.parametrize("builder", BUILDERS)
def test_bad_option_is_an_error_at_start_up(builder: str, case: str) -> None:
    """The deployer's option is a string from the environment, a typo or an empty secret: it must not quietly load."""
    with pytest.raises(_expected(builder)):
        BUILDERS[builder](_options(case))


@pytest.mark.parametrize("environment", [None, ""], ids=["unset", "empty"])
@pytest.mark.parametrize("builder", BUILDERS)
def test_missing_token_is_an_error_at_start_up(
    monkeypatch: pytest.MonkeyPatch, builder: str, environment: str | None
) -> None:
    """The deployment forgot TWILIO_AUTH_TOKEN (or set it empty): nothing may start that checks against no secret."""
    if environment is not None:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", environment)
    with pytest.raises(_expected(builder)):
        BUILDERS[builder]({})


@pytest.mark.parametrize("builder", BUILDERS)
def test_good_options_build(builder: str) -> None:
    """Control: every builder accepts a sound configuration (so the refusals above are about the options)."""
    BUILDERS[builder]({"auth_token": TOKEN, "report_only": False, "enabled": True, "paths": ["/twilio/"]})


# --- real servers: a bad option stops the boot ---------------------------------------------

#: The server processes that build their adapter when the app module is imported.
EAGER = [
    "wsgi",
    "asgi",
    "django-middleware",
    "flask-extension-paths",
    "flask-extension-blueprint",
    "fastapi-depends",
    "fastapi-router",
    "fastapi-route-class",
    "lambda-http-v2",
]
#: The server processes whose decorator builds its guard on the first request.
LAZY = ["django-decorator", "flask-decorator"]


@pytest.fixture(scope="module")
def boots(pool: Pool) -> Iterator[dict[str, Any]]:
    outcomes = pool.boot_outcomes(EAGER, "bad-report-only")
    yield outcomes
    pool.stop("bad-report-only")


@pytest.mark.parametrize("adapter", EAGER)
def test_server_with_report_only_false_does_not_boot(boots: dict[str, Any], adapter: str) -> None:
    """The deployer sets report_only from an environment variable ('false'): gunicorn/uvicorn must refuse to start."""
    code, output = boots[adapter]
    assert code is not None, f"the server booted and served with report_only='false':\n{output[-2000:]}"
    assert code != 0, output[-2000:]


@pytest.mark.parametrize("adapter", LAZY)
def test_lazy_decorator_with_report_only_false_never_serves(pool: Pool, adapter: str) -> None:
    """The decorator builds its guard on first use: with report_only='false' its first forged request is not served."""
    server = pool.server(adapter, "bad-report-only")
    with server.unreached():
        response = server.post_form("/twilio/sms", [("Body", "forged")], signature=sign(server.url("/x")))
    assert not 200 <= response.status < 300, response
