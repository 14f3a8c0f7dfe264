"""The docs harness refuses what is broken: each check shown failing on a block that is wrong.

The broken blocks here are mistakes the docs once made (``g`` never imported, an
undefined view, a Django wsgi.py without its settings module, a signer method that does
not exist), and the harness's own edge cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import docs_checks as checks
from tests import docs_harness as harness
from tests.docs_harness import ROOT, DocsError

PAGE = ROOT / "docs" / "page.md"


def one(text: str) -> harness.Block:
    (block,) = harness.blocks(PAGE, text)
    return block


def test_blocks_carry_their_section_title_fragment_reason_and_dedented_code() -> None:
    """Fence info, the ## heading above, the fragment comment and list indentation are all read."""
    text = (
        "# Page\n\n```sh\nmake test\n```\n\n## Setup\n\n"
        '```python title="mysite/views.py"\nx = 1\n```\n\n'
        "<!-- fragment: an API summary -->\n\n```py\nvalidator.check(url)\n```\n\n"
        "- a list item:\n\n  ~~~toml\n  [a]\n  b = 1\n  ~~~\n"
    )
    shell, titled, fragment, config = harness.blocks(PAGE, text)
    assert (shell.kind, shell.section, shell.line) == ("shell", "", 3)
    assert (titled.kind, titled.title, titled.section, titled.code) == ("file", "mysite/views.py", "Setup", "x = 1\n")
    assert (fragment.kind, fragment.fragment) == ("fragment", "an API summary")
    assert (config.kind, config.code) == ("config", "[a]\nb = 1\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("```py\nx = 1\n```\n", "only when marked", id="unmarked-py"),
        pytest.param("```\nx = 1\n```\n", "name its kind", id="no-language"),
        pytest.param("```apache\nListen 80\n```\n", "name its kind", id="unknown-language"),
        pytest.param("```nginx\nlisten 80;\n```\n", "needs title", id="proxy-config-without-title"),
        pytest.param("<!-- fragment: -->\n```python\nx\n```\n", "say why", id="fragment-without-reason"),
    ],
)
def test_a_block_without_a_known_kind_is_an_error(text: str, message: str) -> None:
    """A fence must name a kind the harness checks, or be marked a fragment with its reason."""
    with pytest.raises(DocsError, match=message):
        _ = one(text).kind


def test_an_unclosed_fence_is_an_error() -> None:
    with pytest.raises(DocsError, match="never closed"):
        harness.blocks(PAGE, "```python\nx = 1\n")


def test_routes_public_urls_and_environment_are_read_from_the_code() -> None:
    """Routes under /twilio/ (not their prefixes or parameters), public_url, and variables without defaults."""
    code = (
        "import os\n"
        '@app.post("/twilio/sms")\ndef a(): ...\n'
        '@app.get("/twilio/status")\ndef b(): ...\n'
        'routes = [WebSocketRoute("/twilio/media", c), Route("/health", d), Route("/twilio/{sid}", e)]\n'
        'paths = ["/twilio/"]\n'
        'M(app, public_url="https://hooks.example.com", auth_token=os.environ["A"], x=os.environ.get("B"))\n'
        'TWILIOSIG = {"public_url": "https://other.example.com"}\n'
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n'
        'y = os.environ.get("C", "default")\n'
    )
    assert [str(route) for route in harness.webhook_routes(code)] == [
        "GET /twilio/status",
        "POST /twilio/sms",
        "WEBSOCKET /twilio/media",
    ]
    assert harness.public_urls(code) == {"https://hooks.example.com", "https://other.example.com"}
    assert harness.environment_names(code) == {"A", "B"}


FLASK_WITHOUT_G = """\
from flask import Flask
from twiliosig.contrib.flask import twilio_required

app = Flask(__name__)

@app.post("/twilio/sms")
@twilio_required
def incoming_sms():
    verdict = g.twiliosig_verdict
    return "<Response/>"
"""

STARLETTE_WITHOUT_VIEW = """\
from starlette.applications import Starlette
from starlette.routing import Route

app = Starlette(routes=[Route("/twilio/voice", incoming_call, methods=["POST"])])
"""

UNPROTECTED = """\
from flask import Flask

app = Flask(__name__)

@app.post("/twilio/sms")
def incoming_sms():
    return "<Response/>"
"""

NO_ROUTE = """\
from flask import Flask
from twiliosig.wsgi import TwilioSignatureMiddleware

app = Flask(__name__)
app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, paths=["/twilio/"])
"""


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        pytest.param(FLASK_WITHOUT_G, AssertionError, "genuine webhook got 500", id="flask-g-not-imported"),
        pytest.param(STARLETTE_WITHOUT_VIEW, NameError, "incoming_call", id="starlette-undefined-view"),
        pytest.param(UNPROTECTED, AssertionError, "forged webhook got 200", id="forged-accepted"),
        pytest.param(NO_ROUTE, AssertionError, "genuine webhook got 404", id="no-webhook-route"),
    ],
)
def test_a_broken_program_fails(code: str, error: type[Exception], message: str, tmp_path: Path) -> None:
    """A program that does not run, an app that answers a genuine webhook wrongly, or lets a forged one in."""
    with pytest.raises(error, match=message):
        checks.check_program(one(f"```python\n{code}```\n"), tmp_path)


def test_a_forged_lambda_event_must_be_refused() -> None:
    """The Lambda handler check fails when the handler is not protected."""
    code = "from twiliosig.contrib.aws_lambda import twilio_required\n\ndef handler(event, context):\n"
    code += '    return {"statusCode": 200}\n'
    with pytest.raises(AssertionError, match="a forged event got 200"):
        checks.check_program(one(f"```python\n{code}```\n"), Path())


WSGI_WITHOUT_SETTINGS = """\
from django.core.wsgi import get_wsgi_application
from twiliosig.wsgi import TwilioSignatureMiddleware

application = TwilioSignatureMiddleware(get_wsgi_application(), paths=["/twilio/"])
"""


def test_a_django_wsgi_py_without_its_settings_module_fails_under_gunicorn(tmp_path: Path) -> None:
    """The README's old wsgi.py: gunicorn's worker cannot configure Django (ImproperlyConfigured)."""
    block = one(f'```python title="mysite/wsgi.py"\n{WSGI_WITHOUT_SETTINGS}```\n')
    with pytest.raises(AssertionError, match="ImproperlyConfigured"):
        checks.check_project([block], tmp_path)


def test_a_django_wsgi_py_with_its_settings_module_serves(tmp_path: Path) -> None:
    """The same file, with the line that names the settings, passes: the failure above is that line."""
    code = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n' + WSGI_WITHOUT_SETTINGS
    checks.check_project([one(f'```python title="mysite/wsgi.py"\n{code}```\n')], tmp_path)


def test_a_failing_test_file_fails(tmp_path: Path) -> None:
    """docs/testing.md's old call to a signer method that does not exist."""
    code = (
        "from twiliosig.testing import TwilioSigner\n\n"
        "def test_headers():\n"
        '    assert TwilioSigner("t").signed_headers("http://localhost/twilio/sms", {})\n'
    )
    with pytest.raises(AssertionError, match="AttributeError"):
        checks.check_project([one(f'```python title="test_x.py"\n{code}```\n')], tmp_path)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        pytest.param("make nosuchtarget", "no make target", id="make"),
        pytest.param("twiliosig sign --nosuchflag https://example.com", "unrecognized arguments", id="cli-flag"),
        pytest.param("twiliosig frobnicate", "invalid choice", id="cli-command"),
        pytest.param("python -m twiliosig explain --from-curl", "expected one argument", id="cli-module"),
        pytest.param("pip install 'twiliosig[nosuchextra]'", "no extra", id="pip-extra"),
        pytest.param("pip install twilio-sig", "not this project", id="pip-name"),
        pytest.param("gunicorn --no-such-flag app:app", "gunicorn has no", id="tool-flag"),
        pytest.param("frobnicate --all", "does not know the command", id="unknown-command"),
    ],
)
def test_a_shell_command_that_does_not_exist_fails(command: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        checks.check_shell(one(f"```sh\n{command}\n```\n"))


def test_shell_commands_that_exist_pass() -> None:
    """Comments, continuations, ``&&``, assignments and console prompts are understood."""
    checks.check_shell(
        one(
            "```sh\nmake demo   # a comment\nexport TWILIO_AUTH_TOKEN=...\n"
            "twiliosig explain https://example.com/twilio -s 'abc=' \\\n  -p From=+1 && make test\n"
            "pip install 'twiliosig[flask,redis]'\nDEBUG=1 gunicorn --workers 2 app:app\n```\n"
        )
    )
    checks.check_shell(one("```console\n$ twiliosig sign https://example.com -p a=b\nabc=\n```\n"))


def test_config_that_does_not_parse_fails() -> None:
    with pytest.raises(ValueError, match="Expected"):
        checks.check_config(one("```toml\n[a\n```\n"))


ECHO = """\
from flask import Flask, request
from twiliosig.wsgi import TwilioSignatureMiddleware

app = Flask(__name__)

@app.post("/twilio/sms")
def incoming_sms():
    return f"<Response><Message>You said: {BODY}</Message></Response>", {"Content-Type": "text/xml"}

app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, paths=["/twilio/"])
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("{request.form['Body']}", "the caller's text became TwiML", id="injected-message"),
        pytest.param("{request.form['Body'].replace('/', '')}", "not well-formed XML", id="malformed"),
    ],
)
def test_an_app_that_puts_the_texters_words_into_twiml_raw_fails(body: str, message: str, tmp_path: Path) -> None:
    """Issue 24: a texter's ``</Message><Message to=...>`` adds a verb; ``& < "`` break the XML."""
    code = ECHO.replace("{BODY}", body)
    with pytest.raises(AssertionError, match=message):
        checks.check_program(one(f"```python\n{code}```\n"), tmp_path)


def test_an_app_that_escapes_the_texters_words_passes(tmp_path: Path) -> None:
    """The same app with ``xml.sax.saxutils.escape``: the failures above are the missing escape."""
    code = "from xml.sax.saxutils import escape\n" + ECHO.replace("{BODY}", "{escape(request.form['Body'])}")
    checks.check_program(one(f"```python\n{code}```\n"), tmp_path)


def test_a_lambda_handler_that_puts_the_texters_words_into_twiml_raw_fails() -> None:
    """The Lambda handler check sends the hostile bodies too."""
    code = (
        "import base64\nfrom urllib.parse import parse_qs\nfrom twiliosig.contrib.aws_lambda import twilio_required\n\n"
        "@twilio_required\ndef handler(event, context):\n"
        '    body = parse_qs(base64.b64decode(event["body"]).decode())["Body"][0]\n'
        '    return {"statusCode": 200, "headers": {"Content-Type": "text/xml"},'
        ' "body": f"<Response><Message>{body}</Message></Response>"}\n'
    )
    with pytest.raises(AssertionError, match=r"handler: .* became TwiML"):
        checks.check_program(one(f"```python\n{code}```\n"), Path())
