"""Forged WebSocket handshakes on every ASGI server and WebSocket implementation, on the wire.

A refused handshake is closed before accept (403), or answered through the
``websocket.http.response`` extension when the status must be another (401 with its
Basic challenge). The attacker hopes a server turns one of these into a ``101`` (an
open socket) or lets a message of the app out. Each server here is real: uvicorn with
each of its three WebSocket implementations, hypercorn and daphne.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attacks.apps.websocket_app import SECRET_MESSAGE, TOKEN
from tests.attacks.harness import sign
from tests.e2e import servers

APP = "tests.attacks.apps.websocket_app:app"
SERVERS = {
    "uvicorn-websockets-sansio": ["uvicorn", "--ws", "websockets-sansio"],
    "uvicorn-websockets": ["uvicorn", "--ws", "websockets"],
    "uvicorn-wsproto": ["uvicorn", "--ws", "wsproto"],
    "hypercorn": ["hypercorn"],
    "daphne": ["daphne"],
}
#: Servers that offer websocket.http.response, so a 401 reaches the client as a 401.
WITH_EXTENSION = {"uvicorn-websockets-sansio", "uvicorn-websockets", "uvicorn-wsproto", "hypercorn"}
BASIC = "Basic " + base64.b64encode(b"user:pass").decode()


@dataclass
class Running:
    name: str
    port: int
    calls: Path
    log: Path

    def ran(self) -> int:
        return len(self.calls.read_text().splitlines()) if self.calls.exists() else 0


def _argv(name: str, port: int) -> list[str]:
    program, *extra = SERVERS[name]
    binary = str(servers.BIN / program)
    if program == "uvicorn":
        return [binary, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *extra, APP]
    if program == "hypercorn":
        return [binary, "--bind", f"127.0.0.1:{port}", APP]
    return [binary, "--bind", "127.0.0.1", "--port", str(port), APP]


def _serve(name: str, directory: Path, basic: bool) -> Iterator[Running]:
    port = servers.free_port()
    running = Running(name, port, directory / f"{name}-{basic}.calls", directory / f"{name}-{basic}.log")
    env = {"ATTACK_CALLS": str(running.calls), **({"WS_BASIC": "1"} if basic else {})}
    with servers.running(_argv(name, port), port, env, log_path=running.log):
        yield running


@pytest.fixture(scope="module", params=list(SERVERS))
def plain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server whose refusals are all 403."""
    yield from _serve(request.param, tmp_path_factory.mktemp("ws"), basic=False)


@pytest.fixture(scope="module", params=sorted(WITH_EXTENSION))
def basic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server offering the extension, with Basic credentials required: the refusal is 401."""
    yield from _serve(request.param, tmp_path_factory.mktemp("ws"), basic=True)


def handshake(port: int, path: str, headers: list[tuple[str, str]]) -> bytes:
    """Everything the server sends back to an upgrade request, until it closes or goes quiet."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def _status(received: bytes) -> int:
    return int(received.split(b"\r\n", 1)[0].split()[1])


def _signed(port: int, path: str = "/twilio/media") -> str:
    return sign(f"wss://127.0.0.1:{port}{path}", None, TOKEN)


FORGERIES = {
    "unsigned": [],
    "forged": [("X-Twilio-Signature", "A" * 27 + "=")],
    "signed-for-another-path": [("X-Twilio-Signature", "<other>")],
}


@pytest.mark.parametrize("headers", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_handshake_is_refused_with_403_and_nothing_of_the_app(plain: Running, headers: list) -> None:
    """The attacker opens a Media Streams socket without a valid signature: 403, no 101, no message, app never ran."""
    headers = [(n, _signed(plain.port, "/twilio/other") if v == "<other>" else v) for n, v in headers]
    before = plain.ran()
    received = handshake(plain.port, "/twilio/media", headers)
    assert _status(received) == 403, received[:200]
    assert SECRET_MESSAGE.encode() not in received
    assert plain.ran() == before


def test_genuine_handshake_is_upgraded(plain: Running) -> None:
    """Control: the signed handshake gets its 101 and the app's message."""
    received = handshake(plain.port, "/twilio/media", [("X-Twilio-Signature", _signed(plain.port))])
    assert _status(received) == 101, received[:200]
    assert SECRET_MESSAGE.encode() in received


def test_no_error_in_the_servers_log_for_a_403(plain: Running) -> None:
    """A refused handshake is an answer, not a crash: nothing at ERROR, no traceback."""
    handshake(plain.port, "/twilio/media", [])
    log = plain.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert "ERROR" not in log, log[-2000:]


def test_missing_credentials_get_401_through_the_extension(basic: Running) -> None:
    """Without Basic credentials the client sees 401 and the challenge, never 101 nor the app's message."""
    before = basic.ran()
    received = handshake(basic.port, "/twilio/media", [("X-Twilio-Signature", _signed(basic.port))])
    assert _status(received) == 401, received[:200]
    assert b"www-authenticate: basic" in received.lower()
    assert SECRET_MESSAGE.encode() not in received
    assert basic.ran() == before
    received = handshake(
        basic.port, "/twilio/media", [("X-Twilio-Signature", _signed(basic.port)), ("Authorization", BASIC)]
    )
    assert _status(received) == 101, received[:200]
