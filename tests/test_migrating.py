"""The migration guides' claims, against the very blocks the pages show.

tests/test_docs.py already serves each page's "after" (and each Python "before") and sends
it a genuine and a forged webhook. Here each "before" is made to fail the way its page says
it fails (behind a TLS proxy, a JSON body replaced, no token, DEBUG on), and
the "after" beside it is sent the same request and answers as the page says.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests import docs_harness as harness
from tests.docs_harness import ROOT, Block
from twiliosig import body_sha256, compute_signature
from twiliosig._guard import GUARD_OPTIONS

TOKEN = "migrating-test-token-0123456789ab"
PUBLIC = "https://hooks.example.com"
PARAMS = {"From": "+15005550006", "To": "+15005550001", "Body": "Hi there"}
FORGED = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="


def page_blocks(name: str, section: str) -> list[Block]:
    """The blocks under the ``##`` heading that starts with ``section``."""
    found = [block for block in harness.blocks(ROOT / "docs" / name) if block.section.startswith(section)]
    assert found, f"{name}: no block under '## {section}'"
    return found


def flask_app(section: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Flask app of the ``twilio`` page's block under ``section``, built as the page has it."""
    (block,) = [b for b in page_blocks("migrating-from-twilio.md", section) if b.kind == "program"]
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    namespace: dict[str, Any] = {"__name__": "migrating_block"}
    exec(compile(block.code, block.where, "exec"), namespace)
    return namespace["app"]


@pytest.fixture
def before(monkeypatch: pytest.MonkeyPatch) -> Any:
    return flask_app("Before", monkeypatch)


@pytest.fixture
def after(monkeypatch: pytest.MonkeyPatch) -> Any:
    return flask_app("After", monkeypatch)


def behind_tls_proxy(app: Any) -> int:
    """A genuine webhook for https://hooks.example.com, as the app gets it from nginx: http, X-Forwarded-Proto."""
    signature = compute_signature(TOKEN, f"{PUBLIC}/twilio/sms", PARAMS)
    headers = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https"}
    response = app.test_client().post("/twilio/sms", base_url="http://hooks.example.com", data=PARAMS, headers=headers)
    return int(response.status_code)


def test_the_tutorial_decorator_refuses_every_genuine_webhook_behind_a_tls_proxy(before: Any, after: Any) -> None:
    """request.url is http:// behind the proxy, Twilio signed https://: refused; public_url: accepted."""
    assert behind_tls_proxy(before) == 403
    assert behind_tls_proxy(after) == 200


def json_webhook(app: Any, body: bytes) -> int:
    """A JSON webhook signed over its URL with the genuine body's hash, sent with ``body``."""
    genuine = json.dumps({"EventType": "onMessageAdded", "Body": "Hi there"}).encode()
    url = f"{PUBLIC}/twilio/sms?bodySHA256={body_sha256(genuine)}"
    headers = {"X-Twilio-Signature": compute_signature(TOKEN, url), "Content-Type": "application/json"}
    target = url.removeprefix(PUBLIC)
    return int(app.test_client().post(target, base_url=PUBLIC, data=body, headers=headers).status_code)


def test_the_tutorial_decorator_accepts_a_json_webhook_whose_body_was_replaced(before: Any, after: Any) -> None:
    """request.form is empty for JSON, so the body hash is never checked: a replaced body is accepted."""
    genuine = json.dumps({"EventType": "onMessageAdded", "Body": "Hi there"}).encode()
    replaced = json.dumps({"EventType": "onMessageAdded", "Body": "Wire the money"}).encode()
    assert json_webhook(before, genuine) == 200
    assert json_webhook(before, replaced) == 200
    assert json_webhook(after, genuine) == 200
    assert json_webhook(after, replaced) == 403


def test_the_tutorial_decorator_without_a_token_fails_every_request(
    before: Any, after: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No token: the app starts, and each webhook is a 500 from AttributeError; twiliosig's error names the cause."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    signature = compute_signature(TOKEN, f"{PUBLIC}/twilio/sms", PARAMS)
    headers = {"X-Twilio-Signature": signature}
    assert before.test_client().post("/twilio/sms", base_url=PUBLIC, data=PARAMS, headers=headers).status_code == 500
    assert "AttributeError: 'NoneType' object has no attribute 'encode'" in caplog.text
    caplog.clear()
    assert after.test_client().post("/twilio/sms", base_url=PUBLIC, data=PARAMS, headers=headers).status_code == 500
    assert "TWILIO_AUTH_TOKEN is not set" in caplog.text


def test_the_drop_in_block_is_twiliosigs_validator() -> None:
    """The block that keeps RequestValidator calls imports twiliosig's, not the twilio package's."""
    (block,) = page_blocks("migrating-from-twilio.md", "Keeping")
    assert "from twiliosig import RequestValidator" in block.code
    assert "twilio.request_validator" not in block.code.replace("# was: twilio.request_validator", "")


# --- django-twilio: the page's two projects, each in a Django process of its own --------------------------------------


def django_project(section: str, root: Path) -> Path:
    """The page's project under ``section``, completed with the docs harness's stock files, written to ``root``."""
    files = {Path(block.title): block.code for block in page_blocks("migrating-from-django-twilio.md", section)}
    package = root / "mysite"
    package.mkdir(parents=True)
    for filename, stock in harness.STOCK_DJANGO.items():
        text = stock.replace("{package}", "mysite")
        page = files.get(Path("mysite") / filename)
        if filename == "settings.py" and page is not None:
            text += "\n" + page
        elif page is not None:
            text = page
        (package / filename).write_text(text, encoding="utf-8")
    return root


DJANGO_REQUESTS = textwrap.dedent(
    """
    import json, sys
    from urllib.parse import urlencode

    import django
    from django.test import Client
    from django.test.utils import override_settings

    django.setup()
    from twiliosig import body_sha256, compute_signature

    token, public = sys.argv[1], sys.argv[2]
    params = {"From": "+15005550006", "Body": "Hi there"}
    form = {"data": urlencode(params), "content_type": "application/x-www-form-urlencoded"}  # as Twilio sends it
    client = Client(HTTP_HOST="hooks.example.com")
    seen = {}
    with override_settings(ALLOWED_HOSTS=["hooks.example.com"], DEBUG=False):
        seen["genuine"] = client.post(
            "/twilio/sms", **form, HTTP_X_TWILIO_SIGNATURE=compute_signature(token, public + "/twilio/sms", params),
            secure=True,
        ).status_code
        genuine = json.dumps({"Body": "Hi there"}).encode()
        url = public + "/twilio/sms?bodySHA256=" + body_sha256(genuine)
        seen["json-replaced"] = client.post(
            url.removeprefix(public), b'{"Body": "Wire the money"}', content_type="application/json",
            HTTP_X_TWILIO_SIGNATURE=compute_signature(token, url), secure=True,
        ).status_code
    with override_settings(ALLOWED_HOSTS=["hooks.example.com"], DEBUG=True):
        seen["debug-forged"] = client.post(
            "/twilio/sms", **form, HTTP_X_TWILIO_SIGNATURE="AAAAAAAAAAAAAAAAAAAAAAAAAAA=", secure=True
        ).status_code
        seen["debug-unsigned"] = client.post("/twilio/sms", **form, secure=True).status_code
    print(json.dumps(seen))
    """
)


def django_outcomes(section: str, root: Path) -> dict[str, int]:
    """Run the requests above against the page's project, in a fresh process (each has its own INSTALLED_APPS)."""
    project = django_project(section, root)
    env = {
        **os.environ,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "PYTHONPATH": os.pathsep.join([str(project), str(ROOT / "src"), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", DJANGO_REQUESTS, TOKEN, PUBLIC],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcomes


def test_django_twilio_checks_nothing_under_debug_and_twiliosig_does(tmp_path: Path) -> None:
    """@twilio_view: forged and unsigned requests pass when DEBUG is on, and a replaced JSON body passes always."""
    assert django_outcomes("Before", tmp_path / "before") == {
        "genuine": 200,  # secure=True: build_absolute_uri() is https here, as SECURE_PROXY_SSL_HEADER would make it
        "json-replaced": 200,
        "debug-forged": 200,
        "debug-unsigned": 200,
    }
    assert django_outcomes("After", tmp_path / "after") == {
        "genuine": 200,
        "json-replaced": 403,
        "debug-forged": 403,
        "debug-unsigned": 403,
    }


# --- every option a guide names exists -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", ["migrating.md", "migrating-from-twilio.md", "migrating-from-django-twilio.md", "migrating-from-express.md"]
)
def test_every_option_a_guide_names_is_an_option(page: str) -> None:
    """A `name=` or a TWILIOSIG key in a guide's prose and tables is one of the options every adapter takes."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    named = set(re.findall(r"`(\w+)=", prose)) | set(re.findall(r'\{"(\w+)":', prose))
    named -= {"x_proto", "x_host", "dependencies"}  # trust_forwarded's header names; FastAPI's own argument
    assert named, page
    assert named <= set(GUARD_OPTIONS), sorted(named - set(GUARD_OPTIONS))
