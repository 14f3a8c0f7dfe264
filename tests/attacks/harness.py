"""The attack suite's harness: which adapters exist, how their servers run, and a raw HTTP client.

Every adapter is served by a real server on 127.0.0.1 (gunicorn for WSGI apps,
uvicorn for ASGI apps), started from ``tests.e2e.servers``' helpers. A
:class:`Pool` keeps each (server process, profile) running for as long as the
modules that use it, boots the servers a module needs in parallel, and
remembers a server that failed to boot so that only the tests that need it fail.

The client writes requests byte by byte (any target, any header, repeated
headers, no Host at all, a body sent later or never) and reads the response with
``http.client``, so an attack is exactly what is on the wire.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.attacks.profiles import LAMBDA_DOMAIN, LAMBDA_STAGE, TOKEN
from tests.e2e import servers
from tests.oracle import FORM, SMS, form_body, twilio_signature  # noqa: F401 - SMS: the attack suites import it from here


@dataclass(frozen=True)
class Adapter:
    """One way of protecting an app, and the server process that serves it.

    Attributes:
        id: The test id.
        process: The server process serving it (two Lambda mounts share one).
        server: ``gunicorn`` or ``uvicorn``.
        app: ``module:attribute`` for the server.
        paths: It takes the ``paths`` option and sees every request (middlewares,
            the Flask extension in paths mode, a router-level dependency, Lambda).
        mount: The prefix its routes live under (the REST API's stage).
        on_routed_only: It runs only for a request the router matched (a
            FastAPI dependency or route class): an unrouted request is the
            framework's 404.
        hosted: The app sees the client's own Host and request target (not
            Lambda, where API Gateway supplies both).
        websocket: It serves a WebSocket route under ``/twilio/media``.
    """

    id: str
    process: str
    server: str
    app: str
    paths: bool
    mount: str = ""
    on_routed_only: bool = False
    hosted: bool = True
    websocket: bool = False

    @property
    def is_lambda(self) -> bool:
        return not self.hosted


_APPS = "tests.attacks.apps"
ADAPTERS = {
    adapter.id: adapter
    for adapter in [
        Adapter("wsgi", "wsgi", "gunicorn", f"{_APPS}.flask_apps:app", paths=True),
        Adapter("asgi", "asgi", "uvicorn", f"{_APPS}.starlette_app:app", paths=True, websocket=True),
        Adapter("django-middleware", "django-middleware", "gunicorn", f"{_APPS}.django_apps:app", paths=True),
        Adapter("django-decorator", "django-decorator", "gunicorn", f"{_APPS}.django_apps:app", paths=False),
        Adapter("flask-decorator", "flask-decorator", "gunicorn", f"{_APPS}.flask_apps:app", paths=False),
        Adapter("flask-extension-paths", "flask-extension-paths", "gunicorn", f"{_APPS}.flask_apps:app", paths=True),
        Adapter("flask-extension-blueprint", "flask-extension-blueprint", "gunicorn", f"{_APPS}.flask_apps:app", False),
        Adapter("fastapi-depends", "fastapi-depends", "uvicorn", f"{_APPS}.fastapi_apps:app", False, websocket=True),
        Adapter(
            "fastapi-router",
            "fastapi-router",
            "uvicorn",
            f"{_APPS}.fastapi_apps:app",
            paths=True,
            on_routed_only=True,
            websocket=True,
        ),
        Adapter(
            "fastapi-route-class",
            "fastapi-route-class",
            "uvicorn",
            f"{_APPS}.fastapi_apps:app",
            paths=True,
            on_routed_only=True,
            websocket=True,
        ),
        Adapter("lambda-http-v2", "lambda", "gunicorn", f"{_APPS}.lambda_shim:app", paths=True, hosted=False),
        Adapter(
            "lambda-rest-v1",
            "lambda",
            "gunicorn",
            f"{_APPS}.lambda_shim:app",
            paths=True,
            mount=f"/{LAMBDA_STAGE}",
            hosted=False,
        ),
    ]
}

#: Every adapter.
ALL = list(ADAPTERS)
#: The adapters that take ``paths`` (a decorator or a per-route dependency has none).
WITH_PATHS = [name for name, adapter in ADAPTERS.items() if adapter.paths]
#: The adapters whose app sees the client's Host and request target (not behind API Gateway).
HOSTED = [name for name, adapter in ADAPTERS.items() if adapter.hosted]
#: The adapters serving a WebSocket route.
WEBSOCKET = [name for name, adapter in ADAPTERS.items() if adapter.websocket]
#: The adapters a server can read a request's body for before the check (not Lambda:
#: API Gateway has buffered the whole body before the function runs).
STREAMING = HOSTED


def sign(url: str, pairs: Sequence[tuple[str, str]] | None = None, token: str = TOKEN) -> str:
    """The signature Twilio sends, computed by the official ``twilio`` package."""
    return twilio_signature(token, url, pairs)


# --- the raw HTTP client ----------------------------------------------------------------


@dataclass
class Response:
    """A response as read off the socket."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:200]!r})"


def _bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def request_head(
    method: str, target: str | bytes, headers: Sequence[tuple[str, str | bytes]], version: str = "HTTP/1.1"
) -> bytes:
    """The request line and headers, exactly as given, ending with the blank line."""
    target_bytes = target if isinstance(target, bytes) else target.encode("utf-8")
    lines = [_bytes(method) + b" " + target_bytes + b" " + version.encode("ascii")]
    lines += [_bytes(name) + b": " + _bytes(value) for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def read_response(sock: socket.socket, method: str, started: float) -> Response:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    body = response.read()
    return Response(response.status, response.getheaders(), body, time.monotonic() - started)


def exchange(port: int, data: bytes, method: str, timeout: float = 10.0) -> Response:
    """Send ``data`` as it is and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(data)
        return read_response(sock, method, started)


def answer_before_body(port: int, head: bytes, method: str = "POST", wait: float = 3.0) -> Response | None:
    """Send only the head of a request that announces a body; the response, or None if the server waited."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(head)
        try:
            return read_response(sock, method, started)
        except TimeoutError:
            return None


def stream_body(port: int, head: bytes, pieces: Iterator[bytes], method: str = "POST", timeout: float = 10.0) -> Any:
    """Send the head, then the body piece by piece until the server answers; the response, or None.

    A server that refuses early may close while pieces are still being sent: the
    response it sent first is read all the same.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(head)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for piece in pieces:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(piece)
        try:
            return read_response(sock, method, started)
        except (ConnectionResetError, http.client.RemoteDisconnected, TimeoutError):
            return None


def hang_up_mid_body(port: int, head: bytes, part: bytes) -> None:
    """Send the head and part of the body Content-Length announced, then close the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + part)
        time.sleep(0.05)


# --- one running server ----------------------------------------------------------------

_UNSET: Any = object()


@dataclass
class Server:
    """A server process serving one adapter with one profile, seen through that adapter."""

    adapter: Adapter
    profile: str
    port: int
    calls_path: Path
    log_path: Path
    output_path: Path

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The URL Twilio calls (and signs) for ``path`` (query included) on this adapter."""
        if self.adapter.is_lambda:
            return f"https://{LAMBDA_DOMAIN}{self.adapter.mount}{path}"
        return f"http://{self.authority}{path}"

    def target(self, path: str) -> str:
        """The request target for ``path``: the adapter's mount, then the path."""
        return self.adapter.mount + path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Sequence[tuple[str, str | bytes]] = (),
        host: str | None = _UNSET,
        target: str | bytes | None = None,
        version: str = "HTTP/1.1",
        timeout: float = 10.0,
    ) -> Response:
        """Send one request: ``path`` under the adapter's mount (or ``target`` as it is)."""
        return exchange(self.port, self.encode(method, path, body, headers, host, target, version), method, timeout)

    def encode(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Sequence[tuple[str, str | bytes]] = (),
        host: str | None = _UNSET,
        target: str | bytes | None = None,
        version: str = "HTTP/1.1",
    ) -> bytes:
        names = {name.lower() for name, _ in headers}
        lines: list[tuple[str, str | bytes]] = []
        if host is _UNSET:
            host = self.authority
        if host is not None and "host" not in names:
            lines.append(("Host", host))
        lines += list(headers)
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            lines.append(("Content-Length", str(len(body))))
        if "connection" not in names:
            lines.append(("Connection", "close"))
        head = request_head(method, self.target(path) if target is None else target, lines, version)
        return head + (body or b"")

    def post_form(
        self,
        path: str,
        pairs: Sequence[tuple[str, str]],
        *,
        signature: str | None = _UNSET,
        token: str = TOKEN,
        signed_url: str | None = None,
        body: bytes | None = None,
        content_type: str = FORM,
        headers: Sequence[tuple[str, str | bytes]] = (),
        method: str = "POST",
    ) -> Response:
        """POST a form; signed over ``signed_url`` (default: this path's URL) and ``pairs`` unless given."""
        if signature is _UNSET:
            signature = sign(signed_url or self.url(path), pairs, token)
        lines: list[tuple[str, str | bytes]] = [("Content-Type", content_type)]
        if signature is not None:
            lines.append(("X-Twilio-Signature", signature))
        return self.request(method, path, form_body(pairs) if body is None else body, headers=[*lines, *headers])

    def get(
        self,
        path: str,
        *,
        signature: str | None = _UNSET,
        token: str = TOKEN,
        signed_url: str | None = None,
        headers: Sequence[tuple[str, str | bytes]] = (),
        method: str = "GET",
    ) -> Response:
        """GET (or another bodiless method); signed over the URL alone unless given."""
        if signature is _UNSET:
            signature = sign(signed_url or self.url(path), None, token)
        lines: list[tuple[str, str | bytes]] = []
        if signature is not None:
            lines.append(("X-Twilio-Signature", signature))
        return self.request(method, path, headers=[*lines, *headers])

    # --- what the app and its logs saw --------------------------------------------------

    def calls(self, since: int = 0) -> list[dict[str, Any]]:
        """The requests that reached a view (after the first ``since``), oldest first."""
        if not self.calls_path.exists():
            return []
        lines = self.calls_path.read_bytes().splitlines()[since:]
        return [json.loads(line) for line in lines]

    def last_call(self) -> dict[str, Any]:
        """What the latest request to reach a view saw."""
        return dict(json.loads(self.calls_path.read_bytes().splitlines()[-1]))

    def count(self) -> int:
        """How many requests reached a view so far."""
        return self.calls_path.read_bytes().count(b"\n") if self.calls_path.exists() else 0

    def log_bytes(self) -> bytes:
        """The ``twiliosig`` logger's output so far."""
        return self.log_path.read_bytes() if self.log_path.exists() else b""

    def output_bytes(self) -> bytes:
        """The server's own stdout and stderr so far."""
        return self.output_path.read_bytes() if self.output_path.exists() else b""

    @contextlib.contextmanager
    def unreached(self, settle: float = 0.0) -> Iterator[None]:
        """Assert that nothing in the block reaches a view."""
        before = self.count()
        yield
        if settle:
            time.sleep(settle)
        reached = self.calls(since=before)
        assert not reached, f"the app ran: {reached}"


# --- the pool of running servers -------------------------------------------------------


def _serves(port: int) -> bool:
    """Whether something on the port answers an HTTP request (a booted app), within a second."""
    try:
        exchange(port, b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "GET", timeout=1.0)
    except (OSError, http.client.HTTPException):
        return False
    return True


class ServerFailed(RuntimeError):
    """The server process for an adapter and profile did not boot."""


@dataclass
class _Process:
    process: str
    profile: str
    port: int
    directory: Path
    popen: subprocess.Popen[bytes] | None = None
    error: str | None = None
    ready: bool = False
    output: Any = field(default=None, repr=False)

    @property
    def output_path(self) -> Path:
        return self.directory / "output.log"


def server_argv(kind: str, app: str, port: int) -> list[str]:
    """The command line of one server bound to 127.0.0.1:port."""
    if kind == "gunicorn":
        return [
            str(servers.BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--graceful-timeout",
            "2",
            app,
        ]
    return [str(servers.BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", app]


def server_env(process: str, profile: str, directory: Path) -> dict[str, str]:
    """The environment of a server process: what it serves and where it records."""
    env = {key: value for key, value in os.environ.items() if key != "TWILIO_AUTH_TOKEN"}
    # ATTACK_SRC runs the servers against another checkout of src/ (e.g. a snapshot of HEAD).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("ATTACK_SRC"), str(servers.ROOT)]))
    env |= {
        "ATTACK_ADAPTER": process,
        "ATTACK_PROFILE": profile,
        "ATTACK_CALLS": str(directory / "calls.jsonl"),
        "ATTACK_LOG": str(directory / "twiliosig.log"),
    }
    return env


class Pool:
    """Server processes by (process, profile), booted in parallel on demand, stopped on request."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._processes: dict[tuple[str, str], _Process] = {}

    def _spawn(self, adapter: Adapter, profile: str) -> _Process:
        key = (adapter.process, profile)
        entry = self._processes.get(key)
        if entry is not None:
            return entry
        directory = self.root / f"{adapter.process}-{profile}"
        directory.mkdir(parents=True, exist_ok=True)
        entry = _Process(adapter.process, profile, servers.free_port(), directory)
        entry.output = entry.output_path.open("ab")
        entry.popen = subprocess.Popen(
            server_argv(adapter.server, adapter.app, entry.port),
            cwd=servers.ROOT,
            env=server_env(adapter.process, profile, directory),
            stdout=entry.output,
            stderr=entry.output,
        )
        self._processes[key] = entry
        return entry

    def _wait(self, entry: _Process) -> None:
        if entry.ready or entry.error is not None:
            return
        assert entry.popen is not None
        try:
            servers.wait_for_port(entry.port, entry.popen, timeout=40.0)
            entry.ready = True
        except RuntimeError as error:
            tail = entry.output_path.read_bytes().decode("utf-8", "replace")[-3000:]
            entry.error = f"{entry.process} ({entry.profile}) did not boot: {error}\n{tail}"
            self._terminate(entry)

    def prestart(self, adapters: Sequence[str], profile: str) -> None:
        """Boot every server these adapters need with ``profile``, in parallel."""
        entries = [self._spawn(ADAPTERS[name], profile) for name in adapters]
        for entry in entries:
            self._wait(entry)

    def server(self, adapter: str, profile: str = "default") -> Server:
        """The running server for ``adapter`` with ``profile``; raises ServerFailed if it could not boot."""
        spec = ADAPTERS[adapter]
        entry = self._spawn(spec, profile)
        self._wait(entry)
        if entry.error is not None:
            raise ServerFailed(entry.error)
        return Server(
            spec,
            profile,
            entry.port,
            entry.directory / "calls.jsonl",
            entry.directory / "twiliosig.log",
            entry.output_path,
        )

    def boot_outcomes(self, adapters: Sequence[str], profile: str, timeout: float = 40.0) -> dict[str, Any]:
        """Start servers that must refuse to boot: per adapter, (exit code or None if it served, output)."""
        entries = {name: self._spawn(ADAPTERS[name], profile) for name in adapters}
        outcomes: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while len(outcomes) < len(entries) and time.monotonic() < deadline:
            for name, entry in entries.items():
                if name in outcomes:
                    continue
                assert entry.popen is not None
                code = entry.popen.poll()
                if code is not None:
                    outcomes[name] = (code, entry.output_path.read_bytes().decode("utf-8", "replace"))
                elif _serves(entry.port):
                    outcomes[name] = (None, entry.output_path.read_bytes().decode("utf-8", "replace"))
            time.sleep(0.1)
        for name in entries:
            outcomes.setdefault(name, (None, "still starting when the time ran out"))
        self._terminate(*entries.values())
        return outcomes

    def stop(self, profile: str) -> None:
        """Stop every server running with ``profile``."""
        self._terminate(*[self._processes.pop(key) for key in list(self._processes) if key[1] == profile])

    def close(self) -> None:
        self._terminate(*self._processes.values())
        self._processes.clear()

    @staticmethod
    def _terminate(*entries: _Process) -> None:
        """Stop these processes together: signal them all, then wait for each."""
        running = [entry.popen for entry in entries if entry.popen is not None and entry.popen.poll() is None]
        for popen in running:
            popen.terminate()
        for popen in running:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        for entry in entries:
            if entry.output is not None and not entry.output.closed:
                entry.output.close()
