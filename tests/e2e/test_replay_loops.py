"""Replay stores on whatever event loop a request runs: Django async views under gunicorn and uvicorn.

An asyncio client's connections belong to the event loop that opened them. Django runs
an async view under WSGI on a new loop per request (asgiref's ``async_to_sync``), several
at once with ``--threads``; uvicorn runs one loop. Every store with an asyncio side
(a ``redis://`` URL, a function that makes a Redis Cluster, Valkey or Valkey Cluster
client, memcached and Django's cache, which claim from a worker thread) must answer every
genuine webhook 200 on all three, and must not keep a socket per loop that has gone.
A single asyncio client the user made belongs to one loop: under per-request loops its
claims from any other loop are an outage (503) said once in the log, never a half-working store.
"""

from __future__ import annotations

import http.client
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.e2e import servers
from tests.oracle import twilio_signature
from tests.replay_servers import Cluster, Server

TOKEN = "e2e-loops-token-0123456789abcdef"  # tests/e2e/loop_apps.py
PUBLIC_URL = "https://example.com"
PAIRS = [("AccountSid", "AC" + "4" * 32), ("From", "+15005550006"), ("Body", "loop café")]
WORKING = ["redis", "cluster", "valkey", "valkey-cluster", "memcached", "django"]


def sign(path: str) -> str:
    return twilio_signature(TOKEN, PUBLIC_URL + path, PAIRS)


@dataclass
class App:
    """One server process serving tests/e2e/loop_apps.py."""

    name: str
    port: int
    log: Path

    def post(self, path: str) -> int:
        """A signed form POST, as Twilio sends it; the HTTP status."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(path)}
            connection.request("POST", path, urlencode(PAIRS).encode(), headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def fds(self) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            connection.request("GET", "/fds")
            return int(connection.getresponse().read())
        finally:
            connection.close()

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module", params=["gunicorn", "gunicorn-threads", "uvicorn"])
def app(
    request: pytest.FixtureRequest,
    redis_server: Server,
    redis_cluster: Cluster,
    memcached_server: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[App]:
    """gunicorn's sync worker (a new loop per request), its threads (several loops at once), uvicorn (one loop)."""
    name, port = request.param, servers.free_port()
    log = tmp_path_factory.mktemp("loops") / f"{name}.log"
    env = {
        # the tree under test first (the venv's editable install points elsewhere)
        "PYTHONPATH": f"{servers.ROOT / 'src'}:{servers.ROOT}",
        "LOOP_REDIS": f"127.0.0.1:{redis_server.port}",
        "LOOP_CLUSTER": f"127.0.0.1:{redis_cluster.ports[0]}",
        "LOOP_MEMCACHED": f"127.0.0.1:{memcached_server.port}",
    }
    bind = ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"]
    if name == "uvicorn":
        argv = [str(servers.BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        argv.append("tests.e2e.loop_apps:asgi")
    else:
        threads = ["--threads", "4"] if name == "gunicorn-threads" else []
        argv = [str(servers.BIN / "gunicorn"), *bind, *threads, "tests.e2e.loop_apps:wsgi"]
    with servers.running(argv, port, env, log_path=log):
        yield App(name, port, log)


def fresh(kind: str, tail: str = "sms") -> str:
    return f"/{kind}/{uuid.uuid4().hex[:12]}-{tail}"


@pytest.mark.parametrize("kind", WORKING)
def test_every_genuine_webhook_is_answered(app: App, kind: str) -> None:
    """Distinct genuine webhooks all 200 (each on its own loop under gunicorn); a copy 409; a failed one released."""
    paths = [fresh(kind) for _ in range(8)]
    if app.name == "gunicorn-threads":
        with ThreadPoolExecutor(4) as pool:  # four requests, four loops, at once
            statuses = list(pool.map(app.post, paths))
    else:
        statuses = [app.post(path) for path in paths]
    assert statuses == [200] * len(paths), app.logged()[-3000:]
    assert app.post(paths[0]) == 409
    failing = fresh(kind, "fail500")
    assert [app.post(failing), app.post(failing)] == [500, 500]  # released on one loop, claimed again on another


def test_twenty_genuine_webhooks_on_a_redis_url(app: App) -> None:
    """The report: twenty distinct genuine webhooks, a store from a redis:// URL, all 200 (not half 503)."""
    statuses = [app.post(fresh("redis")) for _ in range(20)]
    assert statuses == [200] * 20, app.logged()[-3000:]
    assert "Event loop is closed" not in app.logged()


@pytest.mark.parametrize("kind", WORKING)
def test_no_socket_is_kept_per_loop(app: App, kind: str) -> None:
    """A loop per request leaves nothing open: over 200 webhooks on a redis:// URL under gunicorn's sync worker
    (200 loops), and 20 for each other case, the process's open file descriptors stay where they were."""
    for _ in range(3):  # warm: whatever the process keeps for good is open now
        assert app.post(fresh(kind)) == 200
    before = app.fds()
    count = 200 if (kind, app.name) == ("redis", "gunicorn") else 20
    statuses = [app.post(fresh(kind)) for _ in range(count)]
    after = app.fds()
    assert statuses == [200] * count
    assert after - before <= 2, f"{kind}: {before} file descriptors before {count} requests, {after} after"


def test_a_users_single_asyncio_client_belongs_to_one_loop(app: App) -> None:
    """One client the user made: fine on uvicorn's one loop; under per-request loops a clear outage, said once."""
    statuses = [app.post(fresh("given")) for _ in range(4)]
    if app.name == "uvicorn":
        assert statuses == [200] * 4
        return
    assert statuses[1:] == [503] * 3  # the first may claim (its loop is the one the client is bound to)
    logged = app.logged()
    assert "Event loop is closed" not in logged
    assert len(re.findall("first used on another event loop", logged)) == 1, logged[-3000:]  # the cause, once
    assert len(re.findall("belongs to another event loop", logged)) == 3  # and each refusal's line points to it
