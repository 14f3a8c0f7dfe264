"""The option list is written once (src/twiliosig/_options.py) and every other copy is derived or held to it."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import twiliosig
from twiliosig._guard import GUARD_OPTIONS, Guard, GuardOptions
from twiliosig._options import OPTIONS

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("options_docs", ROOT / "scripts" / "options_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()


def test_the_checkout_is_the_one_tested() -> None:
    """The script renders this checkout's _options.py, and the tests import the same one."""
    assert Path(twiliosig.__file__).resolve().parent == SCRIPT.SOURCE.parent


def test_readme_table_and_options_page_are_generated_from_the_options_module() -> None:
    """README.md's option table and docs/options.md are what scripts/options_docs.py writes now."""
    for path, text in SCRIPT.expected().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python scripts/options_docs.py"


def test_the_check_fails_on_a_hand_edited_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row edited by hand (a default changed in the README only) makes --check fail."""
    readme = tmp_path / "README.md"
    readme.write_text(SCRIPT.README.read_text(encoding="utf-8").replace("| 1 MiB |", "| 2 MiB |"), encoding="utf-8")
    page = tmp_path / "options.md"
    page.write_text(SCRIPT.PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(SCRIPT, "README", readme)
    monkeypatch.setattr(SCRIPT, "PAGE", page)
    monkeypatch.setattr(SCRIPT, "ROOT", tmp_path)
    assert SCRIPT.main(["--check"]) == 1
    assert SCRIPT.main([]) == 0  # rewritten
    assert SCRIPT.main(["--check"]) == 0


def test_every_option_has_a_docstring_a_default_and_a_check() -> None:
    """GuardOptions and OPTIONS name the same options in the same order, each documented."""
    assert tuple(OPTIONS) == GUARD_OPTIONS == tuple(GuardOptions.__annotations__)
    documented = SCRIPT.documented()
    assert [option.name for option in documented] == list(GUARD_OPTIONS)
    for option in documented:
        assert option.summary.endswith("."), option.name
        assert "Refused:" in option.rest or "Refused:" in option.summary, f"{option.name}: say what is refused"


def test_the_documented_defaults_are_the_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guard built with no options holds each option's default from OPTIONS, parsed."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "x" * 32)
    guard = Guard()
    assert guard.max_body_size == OPTIONS["max_body_size"].default == 1024 * 1024
    assert guard.methods == frozenset(OPTIONS["methods"].default) == {"GET", "POST"}
    for name in ("report_only", "enabled", "require_https", "on_reject", "replay_guard", "on_store_error"):
        assert getattr(guard, name) == OPTIONS[name].default, name
    assert guard.public_url is OPTIONS["public_url"].default is None
    assert not guard.trust
    assert OPTIONS["trust_forwarded"].default is False
    assert guard.authenticator is None
    assert OPTIONS["basic_auth"].default is None
    assert OPTIONS["digest_auth"].default is None
    assert guard.protects("/anything")
    assert OPTIONS["paths"].default is None


ADAPTERS = [
    "wsgi.py",
    "asgi.py",
    "contrib/django.py",
    "contrib/flask.py",
    "contrib/fastapi.py",
    "contrib/aws_lambda.py",
]


@pytest.mark.parametrize("module", [*ADAPTERS, "_guard.py"])
def test_no_docstring_repeats_the_option_list(module: str) -> None:
    """An adapter's docstrings point to docs/options.md rather than list the options again (a copy drifts)."""
    tree = ast.parse((ROOT / "src" / "twiliosig" / module).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node) or ""
            named = {name for name in GUARD_OPTIONS if re.search(rf"``{name}``", doc)}
            assert len(named) < 5, f"{module}: {getattr(node, 'name', 'module')} lists {sorted(named)}"


def test_the_options_page_is_in_the_site_navigation() -> None:
    """docs/options.md is reachable from mkdocs' navigation."""
    assert "options.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


#: For each option, a value it refuses: a new option comes with one (the test below asks), so it fails closed.
REFUSED = {
    "auth_token": b"0123456789abcdef0123456789abcdef",
    "shared_keys": {"": "secret"},
    "paths": "/twilio/",
    "public_url": "example.com",
    "trust_forwarded": -1,
    "url_variants": "all",
    "max_body_size": 0,
    "methods": "POST",
    "report_only": "false",
    "on_reject": "log",
    "enabled": "false",
    "replay_guard": object(),
    "on_store_error": "ignore",
    "require_https": 1,
    "basic_auth": {},
    "digest_auth": {"twilio": ""},
    "oauth": "https://auth.example.com/",
}


def test_every_option_has_a_refused_example() -> None:
    """REFUSED names every option: adding one means showing a value it refuses."""
    assert set(REFUSED) == set(GUARD_OPTIONS)


@pytest.mark.parametrize("name", GUARD_OPTIONS)
def test_each_option_refuses_a_wrong_value_when_the_guard_is_built(name: str) -> None:
    """A wrong value is a TypeError or ValueError at construction, never a quiet default."""
    options = {"auth_token": "t" * 32, name: REFUSED[name]}
    with pytest.raises((TypeError, ValueError)):
        Guard.from_options(options)
