"""Write README's option table and docs/options.md from src/twiliosig/_options.py.

The options are documented once, as the docstrings of ``GuardOptions``'s keys, with
their defaults in ``OPTIONS``; this script renders both pages from there.

    python scripts/options_docs.py           # rewrite README.md's table and docs/options.md
    python scripts/options_docs.py --check   # exit 1 if either is not current (tests run this)
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "twiliosig" / "_options.py"
README = ROOT / "README.md"
PAGE = ROOT / "docs" / "options.md"
BEGIN = "<!-- options: generated from src/twiliosig/_options.py by scripts/options_docs.py; do not edit here -->"
END = "<!-- end of options -->"

INTRO = """\
Every adapter takes the same options by the same names: the WSGI and ASGI middlewares,
the Django middleware and decorator (`TWILIOSIG = {...}` in settings), Flask's decorator and
extension (or `TWILIOSIG_<NAME>` config keys), FastAPI's `TwilioSignature` and the Lambda
decorator, as keyword arguments. They are checked when the guard is built: a wrong value, a
string where a bool belongs (`report_only="false"` from an environment variable), or an
unknown name (the error suggests the closest right one) fails at start-up, never later.
"""


class Documented(NamedTuple):
    """One option as the docs show it."""

    name: str
    default: str
    summary: str  # the first paragraph of its docstring
    rest: str  # the other paragraphs


def _markdown(text: str) -> str:
    """The docstrings' ``code`` as Markdown's `code`."""
    return text.replace("``", "`")


def documented() -> list[Documented]:
    """Each option of ``GuardOptions``, in order, with its docstring and the default ``OPTIONS`` gives."""
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from twiliosig._options import OPTIONS  # noqa: PLC0415 - from this checkout, found once src is on the path
    finally:
        sys.path.pop(0)
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    (cls,) = (node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "GuardOptions")
    found = []
    for node, following in zip(cls.body, [*cls.body[1:], None], strict=True):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        if not (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            raise SystemExit(f"GuardOptions.{name} has no docstring: say what it means and what is refused")
        if name not in OPTIONS:
            raise SystemExit(f"GuardOptions.{name} has no row in OPTIONS (its default and check)")
        paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(following.value.value).split("\n\n")]
        option = OPTIONS[name]
        default = option.shown or (
            f'`"{option.default}"`' if isinstance(option.default, str) else f"`{option.default!r}`"
        )
        found.append(Documented(name, default, _markdown(paragraphs[0]), _markdown("\n\n".join(paragraphs[1:]))))
    missing = set(OPTIONS) - {option.name for option in found}
    if missing:
        raise SystemExit(f"OPTIONS has rows for {sorted(missing)}, which GuardOptions does not declare")
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_table(options: list[Documented]) -> str:
    """README's table: links point into docs/."""
    rows = ["| option | default | meaning |", "| --- | --- | --- |"]
    for option in options:
        summary = re.sub(r"\]\((?!https?:|#)", "](docs/", option.summary)
        rows.append(f"| [`{option.name}`](docs/options.md#{option.name}) | {option.default} | {_cell(summary)} |")
    return "\n".join(rows)


def page(options: list[Documented]) -> str:
    """docs/options.md: the table, then a section per option."""
    lines = ["# Options", "", BEGIN, "", INTRO, "| option | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| [`{o.name}`](#{o.name}) | {o.default} | {_cell(o.summary)} |" for o in options]
    for option in options:
        lines += ["", f"## {option.name}", "", option.summary, ""]
        if option.rest:
            lines += [option.rest, ""]
        lines.append(f"Default: {option.default}.")
    lines += ["", END, ""]
    return "\n".join(lines)


def readme(options: list[Documented], current: str) -> str:
    """README.md with the text between the markers replaced by the table."""
    before, begin, rest = current.partition(BEGIN)
    _, end, after = rest.partition(END)
    if not (begin and end):
        raise SystemExit(f"README.md has no {BEGIN!r} ... {END!r} markers around its option table")
    return f"{before}{BEGIN}\n{readme_table(options)}\n{END}{after}"


def expected() -> dict[Path, str]:
    """Each generated file's path and the text it must hold."""
    options = documented()
    return {README: readme(options, README.read_text(encoding="utf-8")), PAGE: page(options)}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in expected().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"not current: {', '.join(stale)}; run python scripts/options_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
