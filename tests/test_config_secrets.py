"""A configuration error never repeats a secret it was given.

``public_url="https://user:secret@"`` (no host) repeated the whole value, password
included, in its ``ValueError``, which Django wraps in ``ImproperlyConfigured``, the
ASGI middleware logs when a running app builds it, and the CLI prints. The options
that carry secrets (``public_url``'s userinfo, ``basic_auth``, ``auth_token``,
``shared_keys``, a store URL) are each given a wrong value holding one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from flask import Flask

from twiliosig._guard import Guard
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.cli import main
from twiliosig.contrib import aws_lambda
from twiliosig.contrib import django as tdjango
from twiliosig.contrib import fastapi as tfastapi
from twiliosig.contrib import flask as tflask
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

SECRET = "hunter2-never-shown-0123456789"
TOKEN = "config-secrets-token-0123456789a"

WRONG: list[Any] = [
    pytest.param({"public_url": f"https://user:{SECRET}@"}, id="public_url-password-no-host"),
    pytest.param({"public_url": f"https://user:{SECRET}@/twilio"}, id="public_url-password-no-host-path"),
    pytest.param({"public_url": f"user:{SECRET}@example.com"}, id="public_url-no-scheme"),
    pytest.param({"public_url": f"https:/user:{SECRET}@example.com"}, id="public_url-one-slash"),
    pytest.param({"public_url": f"ftp://user:{SECRET}@example.com"}, id="public_url-other-scheme"),
    pytest.param({"public_url": f"https://user:{SECRET}@example.com"}, id="public_url-userinfo"),
    pytest.param({"public_url": f"https://user:{SECRET}@example.com/?a=1"}, id="public_url-query"),
    pytest.param({"public_url": SECRET}, id="public_url-a-token-put-there"),
    pytest.param({"basic_auth": {"us:er": SECRET}}, id="basic_auth-colon-in-user"),
    pytest.param({"basic_auth": {"": SECRET}}, id="basic_auth-empty-user"),
    pytest.param({"basic_auth": [("user", SECRET)]}, id="basic_auth-pairs"),
    pytest.param({"basic_auth": {SECRET: 5}}, id="basic_auth-password-not-str"),
    pytest.param({"auth_token": [SECRET, 5]}, id="auth_token-list-with-int"),
    pytest.param({"auth_token": SECRET.encode()}, id="auth_token-bytes"),
    pytest.param({"auth_token": {"primary": SECRET}}, id="auth_token-dict"),
    pytest.param({"auth_token": [SECRET, " "]}, id="auth_token-blank-second"),
    pytest.param({"shared_keys": {"": SECRET}}, id="shared_keys-empty-id"),
    pytest.param({"shared_keys": [("webhooks_key", SECRET)]}, id="shared_keys-pairs"),
    pytest.param({"shared_keys": {"webhooks_key": SECRET.encode()}}, id="shared_keys-bytes"),
    pytest.param({"replay_guard": f"redis://:{SECRET}@localhost:6379"}, id="replay_guard-a-url"),
]


def _options(wrong: dict[str, Any]) -> dict[str, Any]:
    return {"auth_token": TOKEN, **wrong}


@pytest.mark.parametrize("wrong", WRONG)
def test_guard_errors_never_repeat_a_secret(wrong: dict[str, Any]) -> None:
    """The guard every adapter builds: the error names the option and what is wrong, never the value."""
    with pytest.raises((TypeError, ValueError)) as raised:
        Guard(**_options(wrong))
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(raised.value)


def _build(adapter: str, options: dict[str, Any]) -> None:
    if adapter == "wsgi":
        WsgiMiddleware(lambda environ, start_response: [], **options)
    elif adapter == "asgi":
        AsgiMiddleware(lambda scope, receive, send: None, **options)  # type: ignore[arg-type,return-value]
    elif adapter == "django":
        with override_settings(TWILIOSIG=options):
            tdjango._guard_from_settings()
    elif adapter == "flask":
        tflask.TwilioSignature(Flask(__name__), **options)
    elif adapter == "fastapi":
        tfastapi.TwilioSignature(**options)
    else:
        aws_lambda.twilio_required(lambda event, context: None, **options)


@pytest.mark.parametrize("adapter", ["wsgi", "asgi", "django", "flask", "fastapi", "aws-lambda"])
def test_adapters_errors_never_repeat_a_secret(adapter: str) -> None:
    """Each adapter's configuration error (Django's ImproperlyConfigured too) for a public_url with a password."""
    with pytest.raises((TypeError, ValueError, ImproperlyConfigured)) as raised:
        _build(adapter, _options({"public_url": f"https://user:{SECRET}@"}))
    assert SECRET not in str(raised.value)


def test_asgi_built_by_a_running_app_logs_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    """Built lazily (Starlette's first call), the error is logged and fails the startup: without the password."""

    async def build() -> Any:
        return AsgiMiddleware(lambda scope, receive, send: None, **_options({"public_url": f"https://u:{SECRET}@"}))  # type: ignore[arg-type,return-value]

    with caplog.at_level(logging.ERROR, logger="twiliosig"):
        middleware = asyncio.run(build())
    assert middleware._misconfigured is not None
    assert SECRET not in middleware._misconfigured.message
    assert "public_url" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "argv",
    [
        ["explain", "https://example.com/x", "-s", "abc", "--public-url", f"https://user:{SECRET}@"],
        ["explain", "https://example.com/x", "-s", "abc", "--public-url", f"https:/user:{SECRET}@example.com"],
        ["send", "messaging.inbound", f"htps://user:{SECRET}@example.com/x", "--dry-run"],
        ["send", "messaging.inbound", "https://example.com/x", "--public-url", f"https://u:{SECRET}@", "--dry-run"],
        ["send", "messaging.inbound", "https://example.com/x", "--public-url", f"u:{SECRET}@example.com", "--dry-run"],
        [
            "send",
            "messaging.inbound",
            "https://example.com/x",
            "--public-url",
            f"https://u:{SECRET}@e.com",
            "--dry-run",
        ],
    ],
    ids=["explain-no-host", "explain-one-slash", "send-url-scheme", "send-no-host", "send-no-scheme", "send-userinfo"],
)
def test_cli_never_prints_a_password_it_refuses(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's refusals of a URL with user:password@ show it as ***, and exit 2."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    assert code == 2
    assert SECRET not in out + err
