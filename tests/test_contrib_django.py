"""Django integration: the MIDDLEWARE class and the @twilio_required decorator, sync and async."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.checks import run_checks
from django.test import AsyncClient, Client, override_settings

from tests.django_site import CALLS, TOKEN
from twiliosig.testing import TwilioSigner

PARAMS = [("From", "+15005550006"), ("Body", "héllo wörld"), ("MediaUrl0", ""), ("Tag", "b"), ("Tag", "a")]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "twiliosig.contrib.django.TwilioSignatureMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
signer = TwilioSigner(TOKEN)


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


@pytest.mark.parametrize("view", ["/decorated/sync", "/decorated/async"])
def test_decorator_accepts_genuine_and_keeps_post_and_body(view: str) -> None:
    """Sync and async views: genuine accepted, request.POST and request.body intact, verdict attached."""
    response = signer.post_form(Client(enforce_csrf_checks=True), view, PARAMS)
    assert response.status_code == 200
    data = response.json()
    assert data["sha256"] == hashlib.sha256(urlencode(PARAMS).encode()).hexdigest()
    assert sorted(map(tuple, data["form"])) == sorted(PARAMS)
    assert data["reason"] == "valid"


@pytest.mark.parametrize("view", ["/decorated/sync", "/decorated/async"])
def test_decorator_refuses_forged_without_running_the_view(view: str) -> None:
    """A forged or unsigned request gets HttpResponseForbidden and the view never runs."""
    assert signer.post_form(Client(), view, PARAMS, forged=True).status_code == 403
    assert Client().post(view, {"Body": "hi"}).status_code == 403
    assert CALLS == []


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_client_and_async_view(anyio_backend: str) -> None:
    """Through Django's AsyncClient (ASGI request), the async view is protected too."""
    client = AsyncClient()
    target, body, headers = signer.form_request("http://testserver", "/decorated/async", PARAMS)
    response = await client.post(target, data=body, content_type=headers.pop("Content-Type"), headers=headers)
    assert response.status_code == 200
    forged_headers = signer.headers("http://testserver/decorated/async", PARAMS, forged=True)
    forged = await client.post(
        target, data=body, content_type="application/x-www-form-urlencoded", headers=forged_headers
    )
    assert forged.status_code == 403


@override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": TOKEN, "paths": ["/mw/"]})
def test_middleware_protects_paths_and_exempts_genuine_requests_from_csrf() -> None:
    """With CSRF enforced, a genuine webhook to a non-exempt view passes; a forged one is refused."""
    client = Client(enforce_csrf_checks=True)
    assert signer.post_form(client, "/mw/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/mw/sms", PARAMS, forged=True).status_code == 403
    assert CALLS == ["/mw/sms"]
    assert signer.post_json(client, "/mw/events", {"a": "é"}).status_code == 200


@override_settings(
    MIDDLEWARE=MIDDLEWARE,
    TWILIOSIG={"auth_token": TOKEN, "paths": ["/mw/"]},
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=True,
)
def test_middleware_respects_djangos_proxy_settings() -> None:
    """Behind a pretend TLS proxy, Django's SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST rebuild the URL."""
    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="hooks.example.com")
    target, body, headers = signer.form_request("https://hooks.example.com", "/mw/sms", PARAMS)
    response = client.post(target, data=body, content_type=headers.pop("Content-Type"), headers=headers)
    assert response.status_code == 200
    http_signed = signer.form_request("http://testserver", "/mw/sms", PARAMS)[2]
    http_signed.pop("Content-Type")
    refused = client.post(target, data=body, content_type="application/x-www-form-urlencoded", headers=http_signed)
    assert refused.status_code == 403


@override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": TOKEN, "public_url": "https://example.com/api"})
def test_middleware_public_url() -> None:
    """public_url in TWILIOSIG wins over the request's own scheme and host."""
    target, body, headers = signer.form_request("https://example.com/api", "/mw/sms", PARAMS)
    response = Client().post(target, data=body, content_type=headers.pop("Content-Type"), headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("twiliosig", "message"),
    [
        ({"paths": ["/mw/"], "color": "blue"}, "no option 'TWILIOSIG\\[\"color\"\\]'"),
        ({"paths": ["/mw/"], "report_onyl": True}, "did you mean 'TWILIOSIG\\[\"report_only\"\\]'"),
        ({"paths": "/mw/", "auth_token": TOKEN}, "paths"),
    ],
)
def test_bad_settings_are_improperly_configured(twiliosig: dict[str, Any], message: str) -> None:
    """Django reports a wrong TWILIOSIG when it builds the middleware."""
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG=twiliosig),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        Client().get("/mw/x")


def test_system_check_reports_a_missing_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """manage.py check says twiliosig.E001 when no token is configured anywhere."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={}):
        errors = [e for e in run_checks() if e.id == "twiliosig.E001"]
    assert errors
    with override_settings(MIDDLEWARE=MIDDLEWARE):
        assert not [e for e in run_checks() if e.id == "twiliosig.E001"]


def test_debug_never_disables_and_enabled_false_warns(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG=True changes nothing; enabled=False lets requests through with a warning at start-up."""
    with override_settings(DEBUG=True, MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": TOKEN, "paths": ["/mw/"]}):
        assert Client().post("/mw/sms", {"Body": "hi"}).status_code == 403
    with override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"enabled": False, "paths": ["/mw/"]}):
        assert Client().post("/mw/sms", {"Body": "hi"}).status_code == 200
    assert any("DISABLED" in r.getMessage() for r in caplog.records)


def test_middleware_replay_guard_and_basic_auth() -> None:
    """TWILIOSIG can hold a replay store and Basic credentials, as the middlewares take them."""
    import base64

    from twiliosig.replay import MemoryReplayStore

    twiliosig = {
        "auth_token": TOKEN,
        "paths": ["/mw/"],
        "replay_guard": MemoryReplayStore(),
        "basic_auth": {"tw": "pw"},
    }
    with override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG=twiliosig):
        client = Client()
        unauthenticated = signer.post_form(client, "/mw/sms", PARAMS)
        assert unauthenticated.status_code == 401
        assert unauthenticated["WWW-Authenticate"].startswith("Basic")
        credentials = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"tw:pw").decode()}
        assert signer.post_form(client, "/mw/sms", PARAMS, **credentials).status_code == 200
        assert signer.post_form(client, "/mw/sms", PARAMS, **credentials).status_code == 409


def test_a_multipart_body_read_before_the_check_is_a_400_not_a_500() -> None:
    """request.POST read first on a multipart body leaves Django no copy of it: refused with 400, never 500."""
    client = Client()
    response = client.post(
        "/decorated/post-read-first", {"Body": "hi"}, HTTP_X_TWILIO_SIGNATURE="AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    )  # Django's test client sends multipart by default
    assert response.status_code == 400
    assert CALLS == []
    form = signer.post_form(client, "/decorated/post-read-first", [("Body", "hi")])
    assert form.status_code == 200


def test_the_decorator_follows_override_settings() -> None:
    """A decorated view checks with the token in force now, not the one of its first request."""
    other = "another-django-token-0123456789ab"
    client = Client()
    assert signer.post_form(client, "/decorated/sync", [("Body", "hi")]).status_code == 200
    with override_settings(TWILIOSIG={"auth_token": other}):
        assert signer.post_form(client, "/decorated/sync", [("Body", "hi")]).status_code == 403
        assert TwilioSigner(other).post_form(client, "/decorated/sync", [("Body", "hi")]).status_code == 200
    assert signer.post_form(client, "/decorated/sync", [("Body", "hi")]).status_code == 200


@pytest.mark.parametrize(("token", "reported"), [(None, True), ("configured-token-0123456789abcdef", False)])
def test_manage_py_check_runs_the_check_from_installed_apps(tmp_path: Path, token: str | None, reported: bool) -> None:
    """With the app config in INSTALLED_APPS, `manage.py check` reports a missing token before any request."""
    (tmp_path / "check_settings.py").write_text(
        "SECRET_KEY = 'x'\n"
        "INSTALLED_APPS = ['twiliosig.contrib.django.TwilioSigConfig']\n"
        "MIDDLEWARE = ['twiliosig.contrib.django.TwilioSignatureMiddleware']\n"
        f"TWILIOSIG = { ({'auth_token': token} if token else {})!r}\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "TWILIO_AUTH_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings=check_settings"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert ("twiliosig.E001" in output) is reported, output
    assert (result.returncode != 0) is reported, output


# --- report_only and CSRF (issue 21, item 10): letting a request through is not exempting it -------


@pytest.mark.parametrize("signed", ["forged", "unsigned"])
@override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": TOKEN, "paths": ["/mw/"], "report_only": True})
def test_report_only_middleware_leaves_a_forged_post_to_csrf(signed: str) -> None:
    """Under report_only a refused request is let through, but still meets CsrfViewMiddleware: 403, the view never runs.

    Only a genuine signature exempts a request from CSRF; report_only must never
    turn a forged POST into a CSRF-exempt one.
    """
    client = Client(enforce_csrf_checks=True)
    if signed == "forged":
        response = signer.post_form(client, "/mw/sms", PARAMS, forged=True)
    else:
        response = client.post("/mw/sms", urlencode(PARAMS), "application/x-www-form-urlencoded")
    assert response.status_code == 403
    assert b"CSRF" in response.content  # Django's CSRF refusal, not twiliosig's
    assert CALLS == []
    assert signer.post_form(client, "/mw/sms", PARAMS).status_code == 200  # genuine: exempt, as always
    assert CALLS == ["/mw/sms"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@override_settings(MIDDLEWARE=MIDDLEWARE, TWILIOSIG={"auth_token": TOKEN, "paths": ["/mw/"], "report_only": True})
async def test_report_only_async_middleware_leaves_a_forged_post_to_csrf(anyio_backend: str) -> None:
    """The same under ASGI (AsyncClient, the middleware's async path)."""
    client = AsyncClient(enforce_csrf_checks=True)
    target, body, headers = signer.form_request("http://testserver", "/mw/sms", PARAMS)
    content_type = headers.pop("Content-Type")
    forged_headers = signer.headers("http://testserver/mw/sms", PARAMS, forged=True)
    forged = await client.post(target, data=body, content_type=content_type, headers=forged_headers)
    assert forged.status_code == 403
    assert b"CSRF" in forged.content
    assert CALLS == []
    assert (await client.post(target, data=body, content_type=content_type, headers=headers)).status_code == 200


@override_settings(TWILIOSIG={"auth_token": TOKEN, "report_only": True})
def test_report_only_decorator_is_exempt_as_csrf_exempt_makes_it() -> None:
    """A decorated view is exempt from CSRF whatever the verdict, as the @csrf_exempt a Twilio view needs anyway.

    CsrfViewMiddleware judges the view before the decorator can judge the request,
    so the decorator cannot exempt genuine requests alone; under report_only a
    forged POST reaches it as it would reach the same view marked @csrf_exempt,
    carrying its refusing verdict for the view to act on.
    """
    response = signer.post_form(Client(enforce_csrf_checks=True), "/decorated/sync", PARAMS, forged=True)
    assert response.status_code == 200
    assert response.json()["reason"] == "signature_mismatch"
