"""The public surface is what the docs show: every public module is in the API reference, and internals are private.

A module without a leading underscore is a promise to users; one that exists only for
the adapters (the guard, the request reading, the URL surgery) must not look like one.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import twiliosig

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
DOCUMENTED = set(re.findall(r"^::: (twiliosig[\w.]*)", REFERENCE, flags=re.M))

#: Public by role, not by the reference: entry points a user runs rather than imports.
ENTRY_POINTS = {"twiliosig.__main__", "twiliosig.cli", "twiliosig.demo", "twiliosig.pytest_plugin"}


def public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(twiliosig.__path__, "twiliosig."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", public_modules())
def test_every_public_module_is_documented_or_an_entry_point(name: str) -> None:
    if name in ENTRY_POINTS or name == "twiliosig.contrib":
        return
    assert name in DOCUMENTED, f"{name} is public but not in docs/reference.md: document it or make it private"


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_modules_export_only_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for attribute in exported:
        assert attribute == "__version__" or not attribute.startswith("_"), attribute
        assert hasattr(module, attribute), f"{name}.__all__ names {attribute}, which does not exist"


@pytest.mark.parametrize("internal", ["guard", "origin", "forms", "paths", "params", "keys"])
def test_the_adapters_internals_are_private(internal: str) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"twiliosig.{internal}")
    importlib.import_module(f"twiliosig._{internal}")


def test_urls_exports_only_the_variant_choice() -> None:
    import twiliosig.urls

    assert twiliosig.urls.__all__ == ["DEFAULT_VARIANTS", "UrlVariant"]


def test_top_level_names_are_the_documented_core() -> None:
    for name in twiliosig.__all__:
        assert hasattr(twiliosig, name)
    assert "Guard" not in twiliosig.__all__


# --- what __all__ promises is what the reference shows -------------------------------------------------------------

#: Each ``::: module`` directive of docs/reference.md and the members it lists (None: no ``members:`` option).
SHOWN: dict[str, list[str] | None] = {
    match["module"]: (None if match["members"] is None else re.findall(r"[\w]+", match["members"]))
    for match in re.finditer(
        r"^::: (?P<module>twiliosig[\w.]*)\n(?:(?:    .*\n)*?      members: \[(?P<members>[^\]]*)\]\n)?",
        REFERENCE,
        flags=re.M,
    )
}


def test_every_reference_block_lists_its_members() -> None:
    """An explicit list: what a block shows never depends on mkdocstrings' defaults for unlisted names."""
    assert set(SHOWN) == DOCUMENTED
    assert [name for name, members in SHOWN.items() if members is None] == []


@pytest.mark.parametrize("name", sorted(set(SHOWN) - {"twiliosig"}))
def test_the_reference_shows_exactly_what_all_promises(name: str) -> None:
    """A module's reference block lists its __all__, no more and no less."""
    shown = SHOWN[name] or []
    assert len(shown) == len(set(shown)), f"{name} lists a member twice"
    exported = importlib.import_module(name).__all__
    assert sorted(shown) == sorted(exported), f"docs/reference.md shows {name} as {shown}, its __all__ is {exported}"


def test_the_top_level_exports_only_what_the_reference_shows() -> None:
    """twiliosig.__all__: each name in its own block or, the same object, in its home module's block."""
    shown_elsewhere = {
        id(getattr(importlib.import_module(module), member))
        for module, members in SHOWN.items()
        if module != "twiliosig"
        for member in members or []
    }
    own = SHOWN["twiliosig"] or []
    assert set(own) <= set(twiliosig.__all__)
    missing = [
        name for name in twiliosig.__all__ if name not in own and id(getattr(twiliosig, name)) not in shown_elsewhere
    ]
    assert missing == [], f"twiliosig exports {missing}, which docs/reference.md does not show"


# --- no public signature names a private type ----------------------------------------------------------------------

#: Private classes a public signature may still name, and why. ``GuardOptions`` types the keywords every adapter
#: takes (``**options: Unpack[GuardOptions]``): a user passes the keywords and never names or builds the class;
#: its options are documented on their own page (issue 23's one option list, in _options.py).
STILL_PRIVATE = {"twiliosig._guard.GuardOptions", "twiliosig._options.GuardOptions"}


def _private_classes_in_public_signatures() -> list[str]:
    griffe = pytest.importorskip("griffe")  # mkdocstrings' own reader, in requirements/docs.txt
    package = griffe.load("twiliosig", search_paths=[str(ROOT / "src")], resolve_aliases=True, resolve_external=False)
    modules = ["twiliosig", *(name for name in public_modules() if name not in ENTRY_POINTS)]

    def target(path: str) -> Any:
        obj = package[path.removeprefix("twiliosig").lstrip(".")] if path != "twiliosig" else package
        return obj.final_target if obj.is_alias else obj

    exported = {
        target(f"{module}.{name}").path
        for module in modules
        for name in getattr(importlib.import_module(module), "__all__", ())
    }

    def annotations(obj: Any, where: str) -> Iterator[tuple[str, Any]]:
        obj = obj.final_target if obj.is_alias else obj
        if obj.is_function:
            yield from ((f"{where}({parameter.name})", parameter.annotation) for parameter in obj.parameters)
            yield f"{where} ->", obj.returns
        elif obj.is_class:
            for name, member in obj.members.items():
                if not name.startswith("_") or name in ("__init__", "__call__"):
                    yield from annotations(member, f"{where}.{name}")
        elif obj.is_attribute:
            yield where, obj.annotation

    found = []
    for module in modules:
        for name in getattr(importlib.import_module(module), "__all__", ()):
            for where, annotation in annotations(target(f"{module}.{name}"), f"{module}.{name}"):
                if not isinstance(annotation, griffe.Expr):
                    continue
                for part in annotation.iterate(flat=True):
                    path = part.canonical_path if isinstance(part, griffe.ExprName) else ""
                    if not path.startswith("twiliosig.") or path in exported or path in STILL_PRIVATE:
                        continue
                    try:
                        named = target(path)
                    except KeyError:
                        continue
                    if named.is_class and any(piece.startswith("_") for piece in path.split(".")):
                        found.append(f"{where}: {path}")
    return found


def test_no_public_signature_names_a_private_class() -> None:
    """A user can name and build every class a public function takes or returns (the guard, a URL candidate)."""
    assert _private_classes_in_public_signatures() == []
