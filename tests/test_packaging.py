"""What the published metadata promises is true of the code, and a list written twice agrees with itself.

The built archives themselves are checked by scripts/check_dist.py (``make test``); this
module checks the sources they are built from: every extra is a package the code imports,
nothing a user installs is pinned, one version, no private CPython module, Python versions
and frameworks named alike everywhere.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
from pathlib import Path

import pytest
import tomllib

import twiliosig

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "twiliosig"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
EXTRAS: dict[str, list[str]] = PROJECT.get("optional-dependencies", {})
FRAMEWORKS = {"django": "Django", "flask": "Flask", "fastapi": "FastAPI"}


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement string, normalised (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def imported_modules() -> set[str]:
    """Every top-level module any file of the package imports, at module level or inside a function."""
    names = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return names


def import_names(distribution: str) -> set[str]:
    """The top-level modules a distribution provides (its own name when it is not installed)."""
    provided = {
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if distribution in {requirement_name(name) for name in distributions}
    }
    return provided or {distribution.replace("-", "_")}


@pytest.mark.parametrize("extra", sorted(set(EXTRAS) - {"all"}))
def test_every_extra_is_imported_by_the_package(extra: str) -> None:
    """An extra exists only where twiliosig's own code imports the package."""
    imported = imported_modules()
    for requirement in EXTRAS[extra]:
        name = requirement_name(requirement)
        assert import_names(name) & imported, f"the {extra!r} extra installs {name}, which no module imports"


def test_all_is_every_extra() -> None:
    (only,) = EXTRAS["all"]
    listed = set(only.partition("[")[2].rstrip("]").split(","))
    assert listed == set(EXTRAS) - {"all"}


def test_nothing_a_user_installs_is_pinned() -> None:
    """No runtime dependency, lower bounds only in extras: a user's own pins (their twilio) decide the rest."""
    assert PROJECT.get("dependencies", []) == []
    for extra, requirements in EXTRAS.items():
        for requirement in requirements:
            assert not re.search(r"==|<|~=", requirement), f"{extra}: {requirement} caps or pins a version"


def test_contributor_tools_are_not_extras() -> None:
    """Test, docs, lint and build tools live in requirements/, where the twilio pin belongs."""
    tools = {"pytest", "twilio", "hypothesis", "mkdocs", "ruff", "mypy", "twine", "build", "mutmut", "matplotlib"}
    for extra, requirements in EXTRAS.items():
        assert not tools & {requirement_name(r) for r in requirements}, extra
    pins = (ROOT / "requirements" / "test.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^twilio==(\S+)", pins, flags=re.M)
    assert pinned, "requirements/test.txt pins the twilio release the differential tests compare with"
    assert importlib.metadata.version("twilio") == pinned.group(1), "the tests ran against another twilio"


def test_no_private_cpython_module() -> None:
    """The core uses hmac and hashlib, never _hashlib or any other private module of the standard library."""
    # __future__ is a compiler directive; _typeshed exists only for type checkers (under TYPE_CHECKING).
    private = {name for name in imported_modules() if name.startswith("_")} - {"__future__", "_typeshed"}
    assert sorted(private) == []


def test_python_versions_agree() -> None:
    """requires-python, the classifiers, ruff's target and mypy's version name the same oldest Python."""
    oldest = re.fullmatch(r">=\s*3\.(\d+)", PROJECT["requires-python"])
    assert oldest, PROJECT["requires-python"]
    minors = sorted(
        int(match.group(1))
        for classifier in PROJECT["classifiers"]
        if (match := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", classifier))
    )
    assert minors[0] == int(oldest.group(1))
    assert minors == list(range(minors[0], minors[-1] + 1)), "a Python version is missing from the classifiers"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py3{minors[0]}"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == f"3.{minors[0]}"


@pytest.mark.parametrize("extra", sorted(FRAMEWORKS))
def test_every_framework_is_a_classifier(extra: str) -> None:
    assert extra in EXTRAS
    assert f"Framework :: {FRAMEWORKS[extra]}" in PROJECT["classifiers"]


def test_project_urls() -> None:
    urls = PROJECT["urls"]
    assert {"Source", "Issues", "Changelog", "Documentation"} <= set(urls)
    assert urls["Changelog"].endswith("/CHANGELOG.md")


def test_one_version_source() -> None:
    """The version is written once, in __init__.py; the metadata, the CLI and the changelog read it."""
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/twiliosig/__init__.py"
    assignments = [
        path.relative_to(ROOT)
        for path in SOURCE.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*__version__\s*=", line)
    ]
    assert assignments == [Path("src/twiliosig/__init__.py")]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## \[([^\]]+)\]", changelog, flags=re.M)
    assert newest, "CHANGELOG.md has no version section"
    assert newest.group(1) in ("Unreleased", twiliosig.__version__)
