"""Serve one pair on loopback, send it every case, and read the server's log.

Each case says what it expected and what it got. A refusal must be twiliosig's own
(``403`` with the body ``Forbidden``), so a framework's or server's 403 does not pass
for one; a genuine webhook must reach the app with its form intact (the app answers
with the ``Body`` its own parser read). After the cases the server is stopped and its
whole output is searched for errors: a server that answers correctly but logs an
error on every refused handshake fails the pair too.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from tests.e2e.servers import ROOT, free_port, wait_for_port
from tests.matrix.apps import CONNECTED, reply
from tests.matrix.frameworks import Framework, Server
from tests.oracle import SMS, twilio_signature

TOKEN = "matrix-auth-token"
REFUSED = (403, b"Forbidden\n")
#: A line of server output that reports an error, in every server's format ("ERROR:", "[ERROR]", "ERROR    ",
#: a traceback). Case matters: hypercorn's logger is named "hypercorn.error" and logs INFO lines through it.
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|Exception in ASGI application")


@dataclass(frozen=True)
class Outcome:
    """One case: its name, whether it passed, and what happened."""

    case: str
    passed: bool
    detail: str


@dataclass
class PairResult:
    """Every case's outcome for one framework on one server."""

    framework: Framework
    server: Server
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(outcome.passed for outcome in self.outcomes)

    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]

    def count(self, websocket: bool) -> tuple[int, int]:
        """(passed, run) among the HTTP cases or the WebSocket ones."""
        mine = [o for o in self.outcomes if o.case.startswith("websocket") == websocket and o.case != "server log"]
        return sum(o.passed for o in mine), len(mine)


def sign(url: str, pairs: list[tuple[str, str]] | None = None, token: str = TOKEN) -> str:
    """The signature Twilio sends, computed by Twilio's own Python SDK."""
    return twilio_signature(token, url, pairs)


@dataclass
class Running:
    """A server serving one app on 127.0.0.1:port, its output going to ``log``."""

    port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, path: str, pairs: list[tuple[str, str]], signature: str | None) -> tuple[int, bytes]:
        body = urlencode(pairs).encode("ascii")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


@contextlib.contextmanager
def serving(framework: Framework, server: Server, directory: Path) -> Iterator[Running]:
    """Start ``server`` serving ``framework``'s app on a free loopback port; stop it when the block ends."""
    port = free_port()
    log = directory / f"{framework.app.split(':')[0].rsplit('.', 1)[1]}-{server.distribution}-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "TWILIO_AUTH_TOKEN": TOKEN}
    with log.open("wb") as output:
        # A session of its own: a server's workers are stopped with it, and nothing else is.
        process = subprocess.Popen(
            server.argv(framework.app, port), cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
        )
        try:
            wait_for_port(port, process, timeout=30.0)
            yield Running(port, log)
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # workers the server left behind, if any


def _refused(case: str, got: tuple[int, bytes]) -> Outcome:
    if got == REFUSED:
        return Outcome(case, True, "403 from twiliosig")
    return Outcome(case, False, f"expected twiliosig's 403, got {got[0]} {got[1][:80]!r}")


def genuine(running: Running) -> Outcome:
    url = running.origin + "/twilio/sms"
    status, body = running.post("/twilio/sms", SMS, sign(url, SMS))
    expected = reply(dict(SMS)["Body"]).encode()
    if status == 200 and body == expected:
        return Outcome("genuine", True, "200, the app read the form intact")
    return Outcome("genuine", False, f"expected 200 {expected!r}, got {status} {body[:80]!r}")


def forged(running: Running) -> Outcome:
    url = running.origin + "/twilio/sms"
    return _refused("forged", running.post("/twilio/sms", SMS, sign(url, SMS, token="not-the-token")))


def unsigned(running: Running) -> Outcome:
    return _refused("unsigned", running.post("/twilio/sms", SMS, None))


def tampered(running: Running) -> Outcome:
    url = running.origin + "/twilio/sms"
    changed = [(name, "Send $500 to +15005550009" if name == "Body" else value) for name, value in SMS]
    return _refused("tampered", running.post("/twilio/sms", changed, sign(url, SMS)))


def websocket_genuine(running: Running) -> Outcome:
    from websockets.sync.client import connect

    signature = sign(f"wss://127.0.0.1:{running.port}/twilio/media")
    headers = {"X-Twilio-Signature": signature}
    try:
        with connect(f"ws://127.0.0.1:{running.port}/twilio/media", additional_headers=headers, open_timeout=10) as ws:
            message = ws.recv(timeout=5)
    except Exception as error:  # any failure is this case's result
        return Outcome("websocket genuine", False, f"expected the socket to open, got {error!r}"[:200])
    if message == CONNECTED:
        return Outcome("websocket genuine", True, "opened, the app answered")
    return Outcome("websocket genuine", False, f"expected {CONNECTED!r}, got {message!r}")


def websocket_unsigned(running: Running) -> Outcome:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(f"ws://127.0.0.1:{running.port}/twilio/media", open_timeout=10):
            pass
    except InvalidStatus as error:
        status = error.response.status_code
        if status == 403:
            return Outcome("websocket unsigned", True, "403 before accept")
        return Outcome("websocket unsigned", False, f"expected 403, got {status}")
    except Exception as error:  # any failure is this case's result
        return Outcome("websocket unsigned", False, f"expected 403, got {error!r}"[:200])
    return Outcome("websocket unsigned", False, "expected 403, the socket opened")


HTTP_CASES: list[Callable[[Running], Outcome]] = [genuine, forged, unsigned, tampered]
WEBSOCKET_CASES: list[Callable[[Running], Outcome]] = [websocket_genuine, websocket_unsigned]


def _run(case: Callable[[Running], Outcome], running: Running) -> Outcome:
    """The case's outcome; a connection the server dropped or never answered fails the case, not the run."""
    try:
        return case(running)
    except (OSError, http.client.HTTPException) as error:
        return Outcome(case.__name__.replace("_", " "), False, f"no answer: {error!r}"[:200])


def error_lines(log: Path) -> list[str]:
    """The lines of a server's output that report an error."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if ERROR_LINE.search(line)]


def run_pair(framework: Framework, server: Server, directory: Path | None = None) -> PairResult:
    """Serve the pair, run every case that applies, stop the server and check its log."""
    result = PairResult(framework, server)
    cases = HTTP_CASES + (WEBSOCKET_CASES if framework.websocket else [])
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twiliosig-matrix-")))
        log: Path | None = None
        try:
            with serving(framework, server, directory) as running:
                log = running.log
                for case in cases:
                    result.outcomes.append(_run(case, running))
                time.sleep(0.2)  # let the last request's log lines reach the file before the server stops
        except RuntimeError as error:  # it never listened
            reason = str(error).splitlines()[0]
            result.outcomes.extend(Outcome(case.__name__.replace("_", " "), False, reason) for case in cases)
            return result
        errors = error_lines(log)
        if errors:
            result.outcomes.append(
                Outcome("server log", False, f"{len(errors)} error line(s), first: {errors[0][:160]}")
            )
        else:
            result.outcomes.append(Outcome("server log", True, "no error logged"))
    return result
