"""Every fenced block of README.md and docs/ (subfolders too), read and sorted by what checks it.

The fence info names a block's kind; tests/test_docs.py runs the check for each kind:

- ```` ```python ````: a complete program, exec'd in a fresh namespace with
  ``TWILIO_AUTH_TOKEN`` set. A program that leaves a web app at module level (``app``
  or ``application``: Flask, Django, FastAPI, Starlette, any WSGI or ASGI callable) is
  also served by gunicorn or uvicorn on loopback; every webhook route it declares under
  ``/twilio/`` gets a genuine signed webhook (200) and a forged one (403), and, when it
  answers TwiML, genuine ones whose text is hostile (an injected ``<Message>``, ``& " <``):
  the answer must be well-formed XML with the same elements as the ordinary one. A decorated
  Lambda ``handler`` gets the same as API Gateway events instead.
- ```` ```python title="path/file.py" ````: one file of a project. A page's titled
  blocks under one ``##`` heading form one project, written to a temporary directory:
  test files (``test_*.py``, ``conftest.py``) are run by pytest and must pass; a Django
  project (``mysite/settings.py``, ``urls.py``, ``views.py``, ``wsgi.py``) is completed
  with the stock files below for what the page does not show, served by gunicorn through
  its ``wsgi.py``, and sent a genuine and a forged webhook at every ``incoming_<name>``
  view, routed at ``/twilio/<name>``. A page's ``settings.py`` is appended to the stock
  one, as a reader's lines go into a settings file they already have.
- ```` ```sh ````, ```` ```bash ````, ```` ```console ```` (``$ `` before each command):
  each command must exist with the arguments it is given: ``make`` targets in the
  Makefile, ``twiliosig`` commands through the CLI's own parser, ``pip install`` of this
  project with extras it has, the flags of a tool in the virtualenv in its ``--help``.
- ```` ```toml ````, ```` ```ini ````, ```` ```yaml ````, ```` ```json ````: parsed.
- ```` ```text ````: shown as is (diagrams, log lines, output).
- ```` ```nginx title="..." ````, ```` ```caddy title="..." ````: a proxy's configuration, run with
  the real server by tests/attacks/test_deployment.py, which finds it by its title.
- Anything preceded by ``<!-- fragment: why -->`` (the last non-blank line before the
  fence) is a fragment: compiled when it is Python, never run. Fragments are capped.

A ```` ```py ```` block without that marker, a fence without a language, or a language
not named above is an error: every block is either checked or says why it is not.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Webhook routes live under this prefix in the docs; the harness sends each a genuine and a forged webhook.
WEBHOOK_PREFIX = "/twilio/"

PYTHON = frozenset({"python", "py"})
SHELL = frozenset({"sh", "bash", "shell", "console"})
CONFIG = frozenset({"toml", "ini", "cfg", "yaml", "yml", "json"})
TEXT = frozenset({"text"})
#: Proxy configurations: tests/attacks/test_deployment.py runs each with the real server.
PROXY = frozenset({"nginx", "caddy"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FRAGMENT = re.compile(r"^\s*<!--\s*fragment:\s*(?P<why>.*?)\s*-->\s*$")
_TITLE = re.compile(r"""\btitle=(?:"([^"]*)"|'([^']*)'|(\S+))""")


class DocsError(Exception):
    """A block the harness cannot classify, or a page it cannot read: the message says what to change."""


@dataclass(frozen=True)
class Block:
    """One fenced block, where it is, and what its fence and the line before it say."""

    page: Path
    line: int  # the opening fence's line, counted from 1
    language: str
    title: str | None
    code: str
    fragment: str | None  # the reason given by <!-- fragment: why -->, or None
    section: str  # the ## heading the block sits under ("" before the first)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def kind(self) -> str:
        """``fragment``, ``program``, ``file``, ``shell``, ``config``, ``text`` or ``proxy``; else DocsError."""
        if self.fragment is not None:
            if not self.fragment:
                raise DocsError(f"{self.where}: say why the block is a fragment: <!-- fragment: why -->")
            return "fragment"
        if self.language == "py":
            raise DocsError(
                f"{self.where}: a ```py block is a fragment only when marked: put <!-- fragment: why --> before"
                " it, or make it a complete ```python program"
            )
        if self.language == "python":
            return "file" if self.title else "program"
        if self.language in SHELL:
            return "shell"
        if self.language in CONFIG:
            return "config"
        if self.language in TEXT:
            return "text"
        if self.language in PROXY:
            if not self.title:
                raise DocsError(f'{self.where}: a {self.language} block needs title="...": its test finds it by it')
            return "proxy"
        known = ", ".join(sorted(PYTHON | SHELL | CONFIG | TEXT | PROXY))
        raise DocsError(f"{self.where}: a fence must name its kind ({known}), not {self.language or 'nothing'!r}")


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, subfolders included."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of one page, in order; an unclosed fence is a :class:`DocsError`."""
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[Block] = []
    section = ""
    last_text = ""  # the last non-blank line outside a fence
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence is None:
            heading = _HEADING.match(line)
            if heading and len(heading.group(1)) == 2:
                section = heading.group(2)
            if line.strip():
                last_text = line
            index += 1
            continue
        indent, marker, info = fence.group("indent"), fence.group("fence"), fence.group("info").strip()
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if end == len(lines):
            raise DocsError(f"{page.relative_to(ROOT)}:{index + 1}: a fence that is never closed")
        body = [
            text_line[len(indent) :] if text_line.startswith(indent) else text_line
            for text_line in lines[index + 1 : end]
        ]
        fragment = _FRAGMENT.match(last_text)
        title = _TITLE.search(info)
        found.append(
            Block(
                page=page,
                line=index + 1,
                language=info.split(maxsplit=1)[0].lower() if info else "",
                title=next(group for group in title.groups() if group is not None) if title else None,
                code="\n".join(body) + "\n",
                fragment=fragment.group("why") if fragment else None,
                section=section,
            )
        )
        last_text = lines[end]
        index = end + 1
    return found


def every_block() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


# --- what a Python block declares -------------------------------------------------------------------------------

_ROUTE_CALLS = frozenset({"route", "get", "post", "api_route", "add_url_rule", "add_api_route", "Route"})
_WEBSOCKET_CALLS = frozenset({"websocket", "websocket_route", "add_websocket_route", "WebSocketRoute"})


@dataclass(frozen=True)
class Route:
    """A webhook route a docs app declares: its path, and how Twilio reaches it."""

    path: str
    method: str = "POST"  # or GET, or WEBSOCKET

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def webhook_routes(code: str) -> list[Route]:
    """The routes under ``/twilio/`` the code declares (decorators, ``Route(...)``), without path parameters."""
    routes: list[Route] = []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = _call_name(node)
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        path = first.value
        if not path.startswith(WEBHOOK_PREFIX) or any(char in path for char in "{<"):
            continue
        if name in _WEBSOCKET_CALLS:
            routes.append(Route(path, "WEBSOCKET"))
        elif name in _ROUTE_CALLS:
            routes.append(Route(path, "GET" if name == "get" else "POST"))
    return sorted(set(routes), key=str)


def public_urls(code: str) -> set[str]:
    """Every ``public_url`` the code gives, as a keyword argument or a settings dict key."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.keyword) and node.arg == "public_url":
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(value.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "public_url"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found.add(value.value)
    return found


def environment_names(code: str) -> set[str]:
    """The environment variables the code needs (``os.environ["X"]``, ``.get("X")``, ``getenv("X")``).

    A variable read with a default (``setdefault``, ``.get("X", default)``) is left to its default.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
        elif isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            func = node.func
            if len(node.args) == 1 and (
                (isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value))
                or _call_name(node) == "getenv"
            ):
                names.add(first.value)
    return names


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def view_routes(views_code: str) -> list[Route]:
    """The stock Django URLconf's routes: each ``incoming_<name>`` function at ``/twilio/<name>``."""
    routes = []
    for node in ast.parse(views_code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("incoming_"):
            routes.append(Route(WEBHOOK_PREFIX + node.name.removeprefix("incoming_")))
    return routes


# --- stock files that complete a page's Django project --------------------------------------------------------------

STOCK_DJANGO = {
    "__init__.py": "",
    "settings.py": '''\
"""The harness's stock settings: what a new project has; a page's settings.py is appended."""
SECRET_KEY = "docs-harness-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "{package}.urls"
WSGI_APPLICATION = "{package}.wsgi.application"
INSTALLED_APPS = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
USE_TZ = True
''',
    "urls.py": '''\
"""The harness's stock URLconf: each incoming_<name> view at /twilio/<name>."""
from django.urls import path

from . import views

urlpatterns = [
    path("twilio/" + name.removeprefix("incoming_"), view)
    for name, view in vars(views).items()
    if name.startswith("incoming_") and callable(view)
]
''',
    "views.py": '''\
"""The harness's stock webhook view, exempt from CSRF as a view behind the wrapped wsgi.py must be."""
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def incoming_sms(request):
    return HttpResponse("<Response/>", content_type="text/xml")
''',
    "wsgi.py": """\
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{package}.settings")
application = get_wsgi_application()
""",
}


# --- shell commands ------------------------------------------------------------------------------------------------

_SEPARATORS = frozenset({"&&", "||", "|", ";", "&"})
#: Commands the docs may show that the harness cannot check further (outside this project, or harmless).
OTHER_COMMANDS = frozenset({"cd", "curl", "export", "ngrok", "redis-server", "cloudflared", "echo", "source"})


def shell_commands(block: Block) -> list[list[str]]:
    """The commands of a shell block, each as its words; ``console`` blocks keep only lines after ``$ ``."""
    lines = block.code.splitlines()
    if block.language == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    commands: list[list[str]] = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars="&|;")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for word in lexer:
            if word in _SEPARATORS:
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(word)
        if current:
            commands.append(current)
    # FOO=bar command ...: the assignments are not the command
    return [words[index:] for words in commands for index in [_first_word(words)] if index < len(words)]


def _first_word(words: list[str]) -> int:
    index = 0
    while index < len(words) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[index]):
        index += 1
    return index


def make_targets() -> set[str]:
    """The targets the Makefile defines."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {match.group(1) for match in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M)}


# --- TwiML built from request data -----------------------------------------------------------------------------------

_CLOSING_TAG = re.compile(r"</[A-Za-z]|/>")  # markup, not a repr such as <RequestValidator ...>
#: The calls that make a value safe inside TwiML: ``xml.sax.saxutils.escape`` for text, ``quoteattr`` for an attribute.
ESCAPES = frozenset({"escape", "quoteattr"})


def unescaped_twiml(code: str) -> list[str]:
    """Each value an f-string puts into markup (TwiML) without ``escape(...)`` or ``quoteattr(...)``, with its line.

    A program the docs harness serves is checked by what it answers to a hostile webhook
    (tests/docs_checks.py); code nobody serves (a test's app, the examples, the demo) is read.
    """
    found = []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.JoinedStr):
            continue
        literal = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
        if not _CLOSING_TAG.search(literal):
            continue
        for part in node.values:
            if not isinstance(part, ast.FormattedValue):
                continue
            value = part.value
            if not (isinstance(value, ast.Call) and _call_name(value) in ESCAPES):
                found.append(f"line {node.lineno}: {{{ast.unparse(value)}}}")
    return found
