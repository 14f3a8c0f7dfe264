"""pytest fixtures for apps protected by twiliosig (registered through the ``pytest11`` entry point).

- ``twilio_auth_token``: the token tests sign with; override this fixture to
  return the token your app is configured with.
- ``twilio_signer``: a :class:`~twiliosig.testing.TwilioSigner` for that token,
  with ``TWILIO_AUTH_TOKEN`` set to it for the test, so a middleware built
  inside the test picks it up. A WebSocket session its ``event`` opened and the
  test left open is closed after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import TwilioSigner

__all__ = ["TEST_AUTH_TOKEN", "twilio_auth_token", "twilio_signer"]

TEST_AUTH_TOKEN = "twiliosig-test-auth-token-0123456789"  # noqa: S105 - a fixture value, not a secret


@pytest.fixture
def twilio_auth_token() -> str:
    """The auth token test requests are signed with."""
    return TEST_AUTH_TOKEN


@pytest.fixture
def twilio_signer(twilio_auth_token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioSigner]:
    """Signs requests with ``twilio_auth_token``, which is also ``TWILIO_AUTH_TOKEN`` for the test."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", twilio_auth_token)
    signer = TwilioSigner(twilio_auth_token)
    yield signer
    signer.close()
