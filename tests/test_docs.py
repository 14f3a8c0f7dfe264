"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"readme-block-{i}" for i in range(len(BLOCKS))])
def test_readme_python_blocks_run(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each python block of the README executes without error, with a token in the environment."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "readme-token")
    if "django" in code:
        from django.conf import settings

        if not settings.configured:
            settings.configure()
    exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
