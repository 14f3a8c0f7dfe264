"""The check each kind of docs block gets (tests/docs_harness.py reads the blocks and names their kinds).

Each ``check_*`` raises ``AssertionError`` with a message that names the block, so
tests/test_docs.py can run them over the real pages and tests/test_docs_harness.py can
show that each one refuses a broken block.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import http.client
import inspect
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import tomllib
import yaml

from tests import docs_harness as harness
from tests.docs_harness import ROOT, Block, Route
from tests.e2e import servers
from twiliosig import compute_signature

TOKEN = "docs-token-0123456789abcdef0123"
FORGED = "forged-" + TOKEN
ACCOUNT_SID = "AC" + "X" * 32  # the placeholder Twilio's own docs use; a docs app keyed by account uses it too
PARAMS = {"AccountSid": ACCOUNT_SID, "From": "+15005550006", "To": "+15005550001", "Body": "Hi there"}
LAMBDA_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
#: What a texter or caller can put in a webhook: a TwiML verb of their own, and the characters XML reserves. Each
#: is sent, signed genuinely, in every parameter a person controls; an app that answers TwiML must answer it with
#: well-formed XML holding exactly the elements it answers an ordinary webhook with (issue 24).
HOSTILE = (
    '</Message><Message to="+15005550006">pwned</Message><Message>',
    "& \" ' < > ]]>",
)
#: The parameters whose text comes from a person: what they texted or said, their name and number.
PERSON_PARAMETERS = ("From", "To", "Body", "ProfileName", "SpeechResult", "Digits", "CallerName", "Author")

Server = Callable[..., contextlib.AbstractContextManager[object]]


@contextlib.contextmanager
def environment(values: Mapping[str, str], remove: tuple[str, ...] = ()) -> Iterator[None]:
    """Set (and remove) environment variables for the block, then put everything back."""
    saved = {name: os.environ.get(name) for name in (*values, *remove)}
    os.environ.update(values)
    for name in remove:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def block_environment(code: str, base_url: str) -> dict[str, str]:
    """The token, and a value for every other variable the code needs (a ..._URL: where Twilio calls)."""
    env = {"TWILIO_AUTH_TOKEN": TOKEN}
    for name in harness.environment_names(code) - set(env):
        env[name] = base_url if name.endswith("_URL") else f"docs-{name.lower()}"
    return env


# --- programs ------------------------------------------------------------------------------------------------------


def check_program(block: Block, workdir: Path) -> None:
    """Run the program; serve the app it leaves (or call its Lambda handler) with a genuine and a forged webhook."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    # A snippet's own temporary files (the capture wrapper's mkdtemp) land in the test's directory, removed with it.
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(workdir)
    try:
        with environment(block_environment(block.code, "https://hooks.example.com")):
            exec(compile(block.code, block.where, "exec"), namespace)
            handler = namespace.get("handler")
            if callable(handler) and "twiliosig.contrib.aws_lambda" in block.code:
                check_lambda_handler(handler, block.code)
    finally:
        tempfile.tempdir = saved_tempdir
    for name in ("application", "app"):  # the outermost first: application = Middleware(app)
        server = server_for(namespace.get(name))
        if server is not None:
            (workdir / "docs_block.py").write_text(block.code, encoding="utf-8")
            check_served(server, f"docs_block:{name}", workdir, block.code, harness.webhook_routes(block.code))
            return


def server_for(app: object) -> Server | None:
    """gunicorn for a WSGI app, uvicorn for an ASGI one, None for anything that is not an app."""
    if app is None or isinstance(app, (str, bytes, int, dict, list)) or not callable(app):
        return None
    module = type(app).__module__
    if module.startswith(("starlette.", "fastapi.")) or module == "twiliosig.asgi":
        return servers.uvicorn
    if module.startswith(("flask.", "django.")) or module == "twiliosig.wsgi":
        return servers.gunicorn
    call = app if inspect.isfunction(app) else type(app).__call__
    return servers.uvicorn if inspect.iscoroutinefunction(call) else servers.gunicorn


def check_served(server: Server, target: str, path: Path, code: str, routes: list[Route]) -> None:
    """Serve ``target`` from ``path``; each webhook route answers a genuine webhook 200 and a forged one 403."""
    port = servers.free_port()
    public = harness.public_urls(code)
    assert len(public) <= 1, f"one public_url per app, not {sorted(public)}"
    base = public.pop().rstrip("/") if public else f"http://127.0.0.1:{port}"
    env = {
        **block_environment(code, base),
        "PYTHONPATH": os.pathsep.join([str(path), str(ROOT / "src"), str(ROOT)]),
        "TMPDIR": str(path),  # the served snippet's temporary files too
    }
    log = path / "server.log"
    # A project's wsgi.py must say where its settings are, as gunicorn gives it nothing else.
    with environment({}, remove=("DJANGO_SETTINGS_MODULE",)), server(target, port, env, log_path=log):
        try:
            for route in routes or [Route(harness.WEBHOOK_PREFIX + "sms")]:
                check_route(port, base, route)
        except (AssertionError, OSError) as error:
            output = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise AssertionError(f"{error}\n--- {target}'s log:\n{output}") from error


def check_route(port: int, base: str, route: Route) -> None:
    if route.method == "WEBSOCKET":
        check_websocket(port, base, route.path)
        return
    status, text, content_type = send(port, base, route, TOKEN)
    assert status == 200, f"{route}: a genuine webhook got {status}: {text[:300]}"
    status, forged, _ = send(port, base, route, FORGED)
    assert status == 403, f"{route}: a forged webhook got {status}: {forged[:300]}"
    if is_twiml(content_type, text):
        for value in HOSTILE:
            status, answer, _ = send(port, base, route, TOKEN, hostile(value))
            check_twiml_escaped(str(route), text, value, status, answer)


def send(port: int, base: str, route: Route, token: str, params: Mapping[str, str] = PARAMS) -> tuple[int, str, str]:
    """A webhook as Twilio sends it: a signed form POST, or a GET with the parameters in the signed query.

    Returns the status, the body and the Content-Type of the answer.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        if route.method == "GET":
            target = f"{route.path}?{urlencode(params)}"
            connection.request("GET", target, headers={"X-Twilio-Signature": compute_signature(token, base + target)})
        else:
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": compute_signature(token, base + route.path, params),
            }
            connection.request("POST", route.path, urlencode(params), headers)
        response = connection.getresponse()
        content_type = response.getheader("Content-Type", "")
        return response.status, response.read().decode(errors="replace"), content_type
    finally:
        connection.close()


def hostile(value: str) -> dict[str, str]:
    """The webhook's parameters with ``value`` in every one a texter or caller controls."""
    return {**PARAMS, **dict.fromkeys(PERSON_PARAMETERS, value)}


def is_twiml(content_type: str, text: str) -> bool:
    """Whether an answer is TwiML (XML): an XML Content-Type, or a body that starts with ``<``."""
    return "xml" in content_type.lower() or text.lstrip().startswith("<")


def elements(where: str, text: str) -> list[str]:
    """The tags of an XML answer, in document order; an ``AssertionError`` when it is not well-formed XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise AssertionError(f"{where}: the TwiML answer is not well-formed XML ({error}): {text[:300]}") from None
    return [element.tag for element in root.iter()]


def check_twiml_escaped(where: str, ordinary: str, value: str, status: int, text: str) -> None:
    """A genuine webhook carrying ``value`` got well-formed TwiML with the ordinary answer's elements, no more.

    The snippet's own verbs are the ones it answers an ordinary webhook with; a reply that puts
    the caller's text in raw either breaks the XML or gains the caller's ``<Message>``.
    """
    expected = elements(f"{where} (an ordinary webhook)", ordinary)
    assert status == 200, f"{where}: a genuine webhook carrying {value!r} got {status}: {text[:300]}"
    found = elements(f"{where}, a genuine webhook carrying {value!r}: put request data into TwiML escaped", text)
    assert found == expected, (
        f"{where}: a genuine webhook carrying {value!r} was answered with the elements {found}, not the snippet's own"
        f" {expected}: the caller's text became TwiML. Escape it (xml.sax.saxutils.escape): {text[:300]}"
    )


def check_websocket(port: int, base: str, path: str) -> None:
    """A handshake signed over the wss:// URL is accepted; a forged one is refused before the endpoint runs."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    parts = urlsplit(base)
    signed = f"wss://{parts.netloc}{parts.path}{path}"
    uri = f"ws://127.0.0.1:{port}{path}"
    with connect(uri, additional_headers={"X-Twilio-Signature": compute_signature(TOKEN, signed)}, open_timeout=15):
        pass
    forged = {"X-Twilio-Signature": compute_signature(FORGED, signed)}
    status = 101
    try:
        with connect(uri, additional_headers=forged, open_timeout=15):
            pass
    except InvalidStatus as refused:
        status = refused.response.status_code
    assert status == 403, f"WEBSOCKET {path}: a forged handshake got {status}"


def check_lambda_handler(handler: Callable[[dict[str, Any], object], Any], code: str) -> None:
    """An API Gateway (HTTP API) event signed with the token gets 200; a forged one gets 403."""
    public = harness.public_urls(code)
    base = public.pop().rstrip("/") if public else f"https://{LAMBDA_DOMAIN}"
    path = harness.WEBHOOK_PREFIX + "sms"
    answers: dict[str, dict[str, Any]] = {}
    for token, expected, params in (
        (TOKEN, 200, PARAMS),
        (FORGED, 403, PARAMS),
        *((TOKEN, 200, hostile(value)) for value in HOSTILE),
    ):
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "host": LAMBDA_DOMAIN,
                "x-twilio-signature": compute_signature(token, base + path, params),
            },
            "requestContext": {
                "domainName": LAMBDA_DOMAIN,
                "http": {"method": "POST", "path": path},
                "stage": "$default",
            },
            "body": base64.b64encode(urlencode(params).encode()).decode(),
            "isBase64Encoded": True,
        }
        answer = handler(event, None)
        status = answer["statusCode"]
        assert status == expected, f"handler: {'a forged' if token == FORGED else 'a genuine'} event got {status}"
        if token == TOKEN:
            answers[params["Body"]] = answer
    ordinary = answers[PARAMS["Body"]]
    headers = {name.lower(): value for name, value in (ordinary.get("headers") or {}).items()}
    if is_twiml(headers.get("content-type", ""), ordinary.get("body", "")):
        for value in HOSTILE:
            check_twiml_escaped(
                "handler", ordinary["body"], value, answers[value]["statusCode"], answers[value]["body"]
            )


# --- projects: titled files ------------------------------------------------------------------------------------------


def check_project(files: list[Block], root: Path) -> None:
    """Write the files out; their tests must pass under pytest, their Django project serve webhooks under gunicorn."""
    written: dict[Path, str] = {}
    for block in files:
        assert block.title is not None
        relative = Path(block.title)
        assert not relative.is_absolute(), f"{block.where}: a relative path, please"
        assert ".." not in relative.parts, f"{block.where}: a path inside the project, please"
        assert relative.suffix == ".py", f"{block.where}: only Python files make a project"
        compile(block.code, block.where, "exec")
        written[relative] = block.code
    tests = [name for name in written if name.name.startswith("test_") or name.name == "conftest.py"]
    django = {name.parent for name in written if name.name in harness.STOCK_DJANGO and name.parent != Path()}
    assert tests or django, f"{files[0].where}: the files are neither tests nor a Django project"
    assert len(django) <= 1, f"{files[0].where}: one Django package per section, not {sorted(map(str, django))}"
    for relative, code in written.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(code, encoding="utf-8")
    if tests:
        check_tests_pass(root)
    if django:
        check_django_project(root, django.pop())


def check_tests_pass(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(ROOT / "src")])},  # this checkout's twiliosig
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout, result.stdout[-2000:]
    assert "skipped" not in result.stdout, result.stdout[-2000:]


def check_django_project(root: Path, package: Path) -> None:
    """Complete the project with the stock files it does not show; serve it through its own wsgi.py."""
    name = package.as_posix().replace("/", ".")
    for filename, stock in harness.STOCK_DJANGO.items():
        target = root / package / filename
        text = stock.replace("{package}", name)
        if filename == "settings.py" and target.exists():
            text += "\n# --- the page's settings.py ---\n" + target.read_text(encoding="utf-8")
        elif target.exists():
            continue
        target.write_text(text, encoding="utf-8")
    code = "\n".join(path.read_text(encoding="utf-8") for path in sorted((root / package).glob("*.py")))
    check_django_checks(root, name, code)
    routes = harness.view_routes((root / package / "views.py").read_text(encoding="utf-8"))
    assert routes, f"{package}/views.py has no incoming_<name> view to route"
    check_served(servers.gunicorn, f"{name}.wsgi:application", root, code, routes)


def check_django_checks(root: Path, package: str, code: str) -> None:
    """``manage.py check`` passes: the settings load, and twiliosig's own checks (with its app config) find no error."""
    env = {
        **os.environ,
        **block_environment(code, "https://hooks.example.com"),
        "PYTHONPATH": f"{root}{os.pathsep}{ROOT}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings", f"{package}.settings", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"manage.py check: {result.stdout[-2000:]}{result.stderr[-2000:]}"


# --- shell, config and text -------------------------------------------------------------------------------------------


def check_shell(block: Block) -> None:
    """Each command a shell block shows exists, with the subcommands, targets and flags it uses."""
    commands = harness.shell_commands(block)
    assert commands, f"{block.where}: no command in a shell block"
    for words in commands:
        check_command(words, block.where)


def check_command(words: list[str], where: str) -> None:
    name = Path(words[0]).name
    arguments = words[1:]
    if name in {"python", "python3"} and arguments[:1] == ["-m"] and len(arguments) > 1:
        name, arguments = arguments[1], arguments[2:]
    if name == "make":
        unknown = {word for word in arguments if not word.startswith("-")} - harness.make_targets()
        assert not unknown, f"{where}: no make target {sorted(unknown)}"
    elif name == "twiliosig":
        check_cli(arguments, where)
    elif name == "pip":
        check_pip(arguments, where)
    elif (servers.BIN / name).exists():
        flags = {word.split("=", 1)[0] for word in arguments if word.startswith("-") and word != "-"}
        missing = {flag for flag in flags if flag not in _help(name)}
        assert not missing, f"{where}: {name} has no {sorted(missing)}"
    else:
        assert name in harness.OTHER_COMMANDS, f"{where}: the harness does not know the command {name!r}"


def check_cli(arguments: list[str], where: str) -> None:
    """The arguments parse with the CLI's own parser."""
    from twiliosig.cli import _parser

    errors = io.StringIO()
    code: object = 0
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            _parser().parse_args(arguments)
        except SystemExit as exit:  # argparse's way to refuse (or to answer --help, with 0)
            code = exit.code
    assert code == 0, f"{where}: twiliosig {' '.join(arguments)}: {errors.getvalue().strip()}"


def check_pip(arguments: list[str], where: str) -> None:
    """``pip install`` of this project, with extras it has."""
    assert arguments[:1] == ["install"], f"{where}: pip {' '.join(arguments)}"
    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    extras = set(project["optional-dependencies"])
    for requirement in (word for word in arguments[1:] if not word.startswith("-")):
        name, _, rest = requirement.partition("[")
        assert name == project["name"], f"{where}: pip install {requirement}: not this project"
        wanted = {extra.strip() for extra in rest.rstrip("]").split(",") if extra.strip()}
        assert wanted <= extras, f"{where}: no extra {sorted(wanted - extras)} (there are {sorted(extras)})"


@cache
def _help(tool: str) -> str:
    result = subprocess.run(
        [str(servers.BIN / tool), "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    return result.stdout + result.stderr


def check_config(block: Block) -> None:
    """TOML, INI, YAML and JSON blocks parse."""
    if block.language == "toml":
        tomllib.loads(block.code)
    elif block.language in {"ini", "cfg"}:
        configparser.ConfigParser().read_string(block.code)
    elif block.language in {"yaml", "yml"}:
        yaml.safe_load(block.code)
    else:
        json.loads(block.code)
