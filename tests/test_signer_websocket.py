"""TwilioSigner.event for a WebSocket kind connects before it returns.

Starlette's ``websocket_connect`` connects only when its session is entered: used without
``with``, nothing connected and a forged handshake raised nothing, so a test checking that
a forged handshake is refused passed against an app that accepts anything. The handshake is
now made inside ``event``; the result closes the session when used with ``with``, and the
pytest fixture closes a session a test left open.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from twiliosig.asgi import TwilioSignatureMiddleware
from twiliosig.testing import TwilioSigner

TOKEN = "websocket-test-token-0123456789"
ROOT = Path(__file__).resolve().parent.parent


def recording_app(seen: list[str], *, protected: bool = True) -> Any:
    """A media endpoint that notes each connection it accepts and when it ends; echoes each message back."""

    async def media(websocket: WebSocket) -> None:
        await websocket.accept()
        seen.append("accepted")
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            seen.append("closed")

    app = Starlette(routes=[WebSocketRoute("/twilio/media", media)])
    return TwilioSignatureMiddleware(app, auth_token=TOKEN) if protected else app


def test_the_handshake_is_made_before_event_returns() -> None:
    """Without ``with``, the app has accepted the signed handshake by the time ``event`` returns."""
    seen: list[str] = []
    session = TwilioSigner(TOKEN).event("media-streams", TestClient(recording_app(seen)), "/twilio/media")
    assert seen == ["accepted"]
    session.send_text("hello")  # the session's own methods, without ``with``
    assert session.receive_text() == "hello"
    session.close()
    assert seen == ["accepted", "closed"]


def test_a_forged_handshake_raises_from_event_itself() -> None:
    """A refused handshake raises in ``event``: no ``with`` needed for the test to see it."""
    seen: list[str] = []
    with pytest.raises(WebSocketDisconnect):
        TwilioSigner(TOKEN).event("media-streams", TestClient(recording_app(seen)), "/twilio/media", forged=True)
    assert seen == []


def test_a_test_of_an_unprotected_app_can_no_longer_pass() -> None:
    """The misuse issue 24 found: a 'forged handshake is refused' test against an app that accepts anything."""
    seen: list[str] = []
    session = TwilioSigner(TOKEN).event(
        "media-streams", TestClient(recording_app(seen, protected=False)), "/twilio/media", forged=True
    )
    assert seen == ["accepted"]  # it connected: a test expecting a refusal now fails, as it must
    session.close()


def test_with_gives_the_open_session_and_closes_it() -> None:
    """The documented form: ``with signer.event(...) as websocket`` sends, receives, and closes at the end."""
    seen: list[str] = []
    with TwilioSigner(TOKEN).event("media-streams", TestClient(recording_app(seen)), "/twilio/media") as websocket:
        websocket.send_text("one")
        assert websocket.receive_text() == "one"
    assert seen == ["accepted", "closed"]


def test_a_closed_session_cannot_be_entered_again() -> None:
    """One handshake per ``event`` call: entering a closed session says to call ``event`` again."""
    session = TwilioSigner(TOKEN).event("media-streams", TestClient(recording_app([])), "/twilio/media")
    with session:
        pass
    session.close()  # closing twice does nothing
    with pytest.raises(RuntimeError, match="call event"), session:
        pass


def test_the_signer_closes_sessions_left_open() -> None:
    """``TwilioSigner.close`` (the fixture calls it after each test) ends every session still open."""
    seen: list[str] = []
    signer = TwilioSigner(TOKEN)
    client = TestClient(recording_app(seen))
    kept = [signer.event("media-streams", client, "/twilio/media") for _ in range(2)]
    signer.close()
    assert seen == ["accepted", "accepted", "closed", "closed"]
    assert len(kept) == 2


def test_the_pytest_fixture_closes_a_session_the_test_left_open(tmp_path: Path) -> None:
    """A test that opens a session without ``with`` leaves nothing running after its teardown."""
    (tmp_path / "test_left_open.py").write_text(
        textwrap.dedent(
            f"""
            from tests.test_signer_websocket import recording_app
            from starlette.testclient import TestClient

            SEEN = []

            def test_opens(twilio_signer):
                twilio_signer.auth_token = {TOKEN!r}
                global SESSION
                SESSION = twilio_signer.event("media-streams", TestClient(recording_app(SEEN)), "/twilio/media")
                assert SEEN == ["accepted"]

            def test_closed_after_the_first_test():
                assert SEEN == ["accepted", "closed"]
            """
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_left_open.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


def test_a_session_dropped_open_is_closed_with_a_resource_warning() -> None:
    """Dropped without ``with`` or ``close``: closed when collected, and a ResourceWarning says to use ``with``."""
    seen: list[str] = []
    session = TwilioSigner(TOKEN).event("media-streams", TestClient(recording_app(seen)), "/twilio/media")
    with pytest.warns(ResourceWarning, match="use it with `with`"):
        del session
    assert seen == ["accepted", "closed"]
