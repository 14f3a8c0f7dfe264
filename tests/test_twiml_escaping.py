"""Code that builds TwiML from request data escapes it: the examples, the demo, the docs' unserved files.

A docs program that leaves an app is served and sent a hostile webhook (tests/docs_checks.py
``check_twiml_escaped``); the code here is not served by the docs harness, so it is read: each
value an f-string puts into markup goes through ``xml.sax.saxutils.escape`` (or ``quoteattr``
for an attribute). A texter who sends ``</Message><Message to="+1...">`` must not add a verb.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import docs_harness as harness
from tests.docs_harness import ROOT


def sources() -> list[Any]:
    files = sorted({*(ROOT / "examples").rglob("*.py"), *(ROOT / "src" / "twiliosig").rglob("*.py")})
    params = [pytest.param(path.read_text(encoding="utf-8"), id=str(path.relative_to(ROOT))) for path in files]
    for block in harness.every_block():
        if block.language in harness.PYTHON and block.kind in {"file", "fragment"}:
            params.append(pytest.param(block.code, id=block.where))
    return params


@pytest.mark.parametrize("code", sources())
def test_twiml_escapes_every_value_it_is_given(code: str) -> None:
    """Every ``{value}`` in an f-string that writes TwiML is ``escape(...)`` or ``quoteattr(...)``."""
    assert harness.unescaped_twiml(code) == []


@pytest.mark.parametrize(
    ("code", "found"),
    [
        pytest.param('f"<Response><Message>{body}</Message></Response>"', ["line 1: {body}"], id="raw-text"),
        pytest.param("f'<Stream url=\"wss://{host}/m\"/>'", ["line 1: {host}"], id="raw-attribute"),
        pytest.param(
            "f\"<Response><Say>{form.get('From')}</Say></Response>\"", ["line 1: {form.get('From')}"], id="call"
        ),
        pytest.param('f"<Response><Message>{escape(body)}</Message></Response>"', [], id="escaped"),
        pytest.param('f"<Stream url={quoteattr(url)}/>"', [], id="quoteattr"),
        pytest.param('f"<RequestValidator {tokens}>"', [], id="a-repr-is-not-markup"),
    ],
)
def test_the_reader_finds_raw_values_in_twiml(code: str, found: list[str]) -> None:
    """The check above flags a raw value in text or an attribute, and passes escaped ones and non-markup."""
    assert harness.unescaped_twiml(code) == found
