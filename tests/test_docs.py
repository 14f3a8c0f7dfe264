"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Blocks fenced as ```python are complete programs and run here; ```py marks fragments.
BLOCKS = [
    pytest.param(code, id=f"{page.name}-{index}")
    for page in PAGES
    for index, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S))
]


@pytest.mark.parametrize("code", BLOCKS)
def test_python_blocks_run(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each complete python block of the README and docs executes, with a token in the environment."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "readme-token")
    if "django" in code:
        from django.conf import settings

        if not settings.configured:
            settings.configure()
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(code, "docs", "exec"), namespace)


def test_worked_example_in_the_docs_is_twilios() -> None:
    """The worked example's signature is the one Twilio's documentation publishes."""
    page = (ROOT / "docs" / "how-twilio-signs.md").read_text(encoding="utf-8")
    assert "# 'L/OH5YylLD5NRKLltdqwSvS0BnU='" in page
    from twiliosig import compute_signature

    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234"}
    params |= {"From": "+14158675310", "To": "+18005551212"}
    url = "https://example.com/myapp.php?foo=1&bar=2"
    assert compute_signature("12345", url, params) == "L/OH5YylLD5NRKLltdqwSvS0BnU="
