"""Start a real server on loopback for end-to-end tests, and stop it afterwards."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def post_status(port: int, path: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> int:
    """POST ``body`` to 127.0.0.1:port on a connection of its own, read the answer whole; the HTTP status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


@contextlib.contextmanager
def running(
    argv: list[str], port: int, env: dict[str, str] | None = None, *, log_path: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server command until the block ends; only ever bound to 127.0.0.1.

    ``log_path``: keep the server's output in this file, for a test to show when a request fails.
    """
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    # The server's log goes to a file: a pipe nobody reads fills up and stalls the server.
    opened = open(log_path, "w+b") if log_path is not None else tempfile.TemporaryFile()  # noqa: SIM115
    with opened as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=log, stderr=log)
        try:
            try:
                wait_for_port(port, process)
            except RuntimeError as error:
                log.seek(0)
                raise RuntimeError(f"{error}; its output:\n{log.read().decode(errors='replace')[-4000:]}") from None
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def gunicorn(
    app: str, port: int, env: dict[str, str] | None = None, *, log_path: Path | None = None
) -> contextlib.AbstractContextManager[object]:
    """gunicorn with one sync worker serving ``module:app`` on 127.0.0.1:port."""
    argv = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning", app]
    return running(argv, port, env, log_path=log_path)


def uvicorn(
    app: str, port: int, env: dict[str, str] | None = None, *extra: str, log_path: Path | None = None
) -> contextlib.AbstractContextManager[object]:
    """uvicorn serving ``module:app`` on 127.0.0.1:port."""
    argv = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *extra, app]
    return running(argv, port, env, log_path=log_path)
