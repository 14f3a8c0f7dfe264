"""The public surface is what the docs show: every public module is in the API reference, and internals are private.

A module without a leading underscore is a promise to users; one that exists only for
the adapters (the guard, the request reading, the URL surgery) must not look like one.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

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
        assert not attribute.startswith("_"), attribute
        assert hasattr(module, attribute), f"{name}.__all__ names {attribute}, which does not exist"


@pytest.mark.parametrize("internal", ["guard", "request", "params", "keys"])
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
