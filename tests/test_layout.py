"""The test suite's own layout: one oracle module, and test files named and described by behaviour.

The official ``twilio`` package is the reference every suite signs with; it is
imported in tests/oracle.py alone, so no suite keeps its own copy of the oracle or
of the webhook it sends. A test module says what it tests, not the change it came from:
a hash or a ticket number means nothing to the next reader.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MODULES = sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_only_the_oracle_module_imports_the_official_validator() -> None:
    """Every suite signs through tests/oracle.py."""
    importers = [
        str(path.relative_to(TESTS))
        for path in MODULES
        if any(
            name == "twilio.request_validator" or name.startswith("twilio.request_validator.")
            for name in _imports(path)
        )
    ]
    assert importers == ["oracle.py"]


#: What names where a test came from rather than what it tests: a commit hash, an issue or pull request,
#: a review, or a name like "hot path attacks" (the change's title, not the behaviour).
HISTORY = re.compile(
    # git writes a hash in lower case: "Ed25519" is a key type, not a commit.
    r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b"
    r"|\b(?i:issue|pull request|PR|review|hot path)s?\b[ _#]*\d*",
)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(TESTS)))
def test_a_test_module_is_described_by_behaviour_not_by_its_history(path: Path) -> None:
    """No commit hash, issue, pull request or review in a module's docstring or name."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert not HISTORY.search(docstring + " " + path.stem.replace("_", " "))
