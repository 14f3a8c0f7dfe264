"""A misconfigured ASGI middleware stops uvicorn at startup, naming the mistake, for Starlette and FastAPI alike."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e import servers

APPS = {
    "starlette": (
        "from starlette.applications import Starlette\n"
        "from starlette.middleware import Middleware\n"
        "from twiliosig.asgi import TwilioSignatureMiddleware\n"
        "app = Starlette(middleware=[Middleware(TwilioSignatureMiddleware, paths=['/twilio/'], report_only='false')])\n"
    ),
    "fastapi": (
        "from fastapi import FastAPI\n"
        "from twiliosig.asgi import TwilioSignatureMiddleware\n"
        "app = FastAPI()\n"
        "app.add_middleware(TwilioSignatureMiddleware, paths=['/twilio/'], report_only='false')\n"
    ),
}


@pytest.mark.parametrize("framework", APPS)
def test_uvicorn_refuses_to_start_a_misconfigured_app(tmp_path: Path, framework: str) -> None:
    """report_only='false' (from an environment variable): 'Application startup failed', not 500 on every route."""
    (tmp_path / "misconfigured_app.py").write_text(APPS[framework])
    env = {**os.environ, "TWILIO_AUTH_TOKEN": "boot-test-token-0123456789abcdef", "PYTHONPATH": str(tmp_path)}
    argv = [str(servers.BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(servers.free_port())]
    result = subprocess.run(
        [*argv, "misconfigured_app:app"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Application startup failed" in output, output
    assert "report_only must be True or False" in output, output
