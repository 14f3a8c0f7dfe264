"""Every fenced block of README.md and docs/ is true as written, or says why it is a fragment.

tests/docs_harness.py reads the blocks and names each one's kind; tests/docs_checks.py
holds the checks: programs run (and the apps they define are served by real servers and
sent a genuine and a forged webhook), projects are assembled and served or tested, shell
commands exist, configuration parses. tests/test_docs_harness.py shows each check refusing
a broken block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import docs_checks as checks
from tests import docs_harness as harness
from tests.docs_harness import ROOT, Block, DocsError
from twiliosig import compute_signature

MAX_FRAGMENTS = 3  # keep fragments few: a reader copies a block, so make it a program that runs

try:
    BLOCKS = harness.every_block()
    READ_ERROR = ""
except DocsError as error:
    BLOCKS, READ_ERROR = [], str(error)


def _kind(block: Block) -> str:
    try:
        return block.kind
    except DocsError:
        return "unknown"


def of_kind(kind: str) -> list[Any]:
    return [pytest.param(block, id=block.where) for block in BLOCKS if _kind(block) == kind]


@dataclass(frozen=True)
class Project:
    """The titled blocks under one ## heading of a page: the files of one project."""

    files: tuple[Block, ...]


def projects() -> list[Any]:
    grouped: dict[tuple[Path, str], list[Block]] = {}
    for block in BLOCKS:
        if _kind(block) == "file":
            grouped.setdefault((block.page, block.section), []).append(block)
    return [
        pytest.param(Project(tuple(files)), id=f"{page.relative_to(ROOT)}#{section}")
        for (page, section), files in grouped.items()
    ]


def test_every_page_is_read() -> None:
    """README.md and every page under docs/ (subfolders too) are read, every fence closed and counted."""
    assert not READ_ERROR, READ_ERROR
    assert set(harness.pages()) == {ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")}
    for page in harness.pages():
        fences = re.findall(r"^[ \t]*(?:```|~~~)", page.read_text(encoding="utf-8"), re.M)
        assert len(fences) == 2 * len(harness.blocks(page)), f"{page.name}: a fence the harness did not read"


@pytest.mark.parametrize("block", [pytest.param(block, id=block.where) for block in BLOCKS])
def test_every_block_is_checked_or_marked_as_a_fragment(block: Block) -> None:
    """A block's fence names a kind the harness checks, or a comment before it says why it is a fragment."""
    assert block.kind


def test_fragments_are_few() -> None:
    """Marked fragments stay few, and Python ones still compile."""
    fragments = [block for block in BLOCKS if block.fragment is not None]
    listed = "\n".join(f"  {block.where}: {block.fragment}" for block in fragments)
    assert len(fragments) <= MAX_FRAGMENTS, f"{len(fragments)} fragments (at most {MAX_FRAGMENTS}):\n{listed}"
    for block in fragments:
        if block.language in harness.PYTHON:
            compile(block.code, block.where, "exec")


@pytest.mark.parametrize("block", of_kind("program"))
def test_python_programs_run(block: Block, tmp_path: Path) -> None:
    """Each complete program runs; the app it defines is served and tells a genuine webhook from a forged one."""
    checks.check_program(block, tmp_path)


@pytest.mark.parametrize("project", projects())
def test_projects_run(project: Project, tmp_path: Path) -> None:
    """A section's files: its tests pass under pytest; its Django project serves webhooks under gunicorn."""
    checks.check_project(list(project.files), tmp_path)


@pytest.mark.parametrize("block", of_kind("shell"))
def test_shell_commands_exist(block: Block) -> None:
    """Each command exists, with the make targets, subcommands, flags and extras it uses."""
    checks.check_shell(block)


def test_config_and_text_blocks() -> None:
    """Configuration blocks parse; text blocks show something."""
    for block in BLOCKS:
        if _kind(block) == "config":
            checks.check_config(block)
        elif _kind(block) == "text":
            assert block.code.strip(), f"{block.where}: an empty block"


def test_worked_example_in_the_docs_is_twilios() -> None:
    """The worked example's signature is the one Twilio's documentation publishes."""
    page = (ROOT / "docs" / "how-twilio-signs.md").read_text(encoding="utf-8")
    assert "# 'L/OH5YylLD5NRKLltdqwSvS0BnU='" in page
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234"}
    params |= {"From": "+14158675310", "To": "+18005551212"}
    url = "https://example.com/myapp.php?foo=1&bar=2"
    assert compute_signature("12345", url, params) == "L/OH5YylLD5NRKLltdqwSvS0BnU="
