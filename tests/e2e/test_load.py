"""A short load run through gunicorn and uvicorn: no false accept, no false refusal, no 5xx, memory flat.

``make stress`` runs the same load for longer and prints the figures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import servers
from tests.e2e.load import run_load

MIX = {"genuine": 0.6, "forged": 0.3, "oversized": 0.1}


@pytest.fixture(scope="module", params=["gunicorn-flask", "uvicorn-fastapi"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    kind, framework = request.param.split("-")
    port = servers.free_port()
    env = {"E2E_FRAMEWORK": framework, "E2E_LOG": "/dev/null"}
    app = f"tests.e2e.{'wsgi' if kind == 'gunicorn' else 'asgi'}_apps:{framework}"
    start = servers.gunicorn if kind == "gunicorn" else servers.uvicorn
    with start(app, port, env) as process:
        yield port, process.pid  # type: ignore[attr-defined]


def test_short_mixed_load(server: tuple[int, int]) -> None:
    """Two seconds of eight clients sending a mix: every response is the one the request deserves."""
    port, pid = server
    result = run_load(port, pid, seconds=2.0, clients=8, mix=MIX)
    assert result.requests > 50, result.summary()
    assert result.false_accepts == 0, result.summary()
    assert result.false_refusals == 0, result.summary()
    assert result.server_errors == 0, result.summary()
    assert all(result.sent[kind] for kind in MIX), result.summary()
    assert result.rss_after - result.rss_before < 16 * 2**20, result.summary()
