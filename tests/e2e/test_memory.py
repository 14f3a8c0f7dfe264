"""A 200 MB upload to a protected path is refused with 413, and the server's memory barely moves."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e import servers
from tests.e2e.memory import huge_upload, peak_rss
from tests.e2e.wsgi_apps import MAX_BODY

UPLOAD = 200 * 1024 * 1024
BOUND = 4 * 1024 * 1024  # a few times MAX_BODY (64 KiB) plus the interpreter's own noise

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")


@pytest.fixture(scope="module", params=["gunicorn-flask", "uvicorn-starlette"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    kind, framework = request.param.split("-")
    port = servers.free_port()
    env = {"E2E_FRAMEWORK": framework, "E2E_LOG": str(tmp_path_factory.mktemp("memory") / "calls.jsonl")}
    app = f"tests.e2e.{'wsgi' if kind == 'gunicorn' else 'asgi'}_apps:{framework}"
    start = servers.gunicorn if kind == "gunicorn" else servers.uvicorn
    with start(app, port, env) as process:
        yield port, process.pid  # type: ignore[attr-defined]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_200_mb_upload_is_refused_without_buffering(server: tuple[int, int], chunked: bool) -> None:
    """Declared or streamed, the upload gets 413 and peak RSS grows far less than the upload."""
    port, pid = server
    assert huge_upload(port, "/plain/sms", 1024, chunked=chunked) in (403, 400)  # warm up: imports, first request
    before = peak_rss(pid)
    assert huge_upload(port, "/plain/sms", UPLOAD, chunked=chunked) == 413
    growth = peak_rss(pid) - before
    assert growth < BOUND, f"peak RSS grew by {growth} bytes for a {UPLOAD}-byte upload (limit {MAX_BODY})"
