"""Two app processes share one replay store: gunicorn (WSGI, sync client) and uvicorn (ASGI, asyncio side).

For each store teams run (a three-node Redis Cluster, a Sentinel-managed master,
memcached, and Django with its Redis cache backend): a request handled by one process
is a 409 at the other; of concurrent copies sent to both exactly one reaches an app; a
delivery the app failed (5xx) can be retried at the other; and with the store's server
stopped mid-test every request gets the documented outcome, 503 (or through, under
``on_store_error="allow"``), never a 500, until it is back.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
import redis.cluster

from tests.e2e import servers
from tests.e2e.replay_apps import PUBLIC_URL, TOKEN
from tests.oracle import twilio_signature
from tests.replay_servers import Cluster, Sentinel, Server
from twiliosig.replay import replay_key

PAIRS = [("AccountSid", "AC" + "3" * 32), ("From", "+15005550006"), ("Body", "order 42, café")]
PREFIX = "twiliosig:replay:"  # the stores' default


def sign(path: str) -> str:
    return twilio_signature(TOKEN, PUBLIC_URL + path, PAIRS)


def post(port: int, path: str) -> int:
    """A signed form POST to 127.0.0.1:port, as Twilio sends it; the HTTP status."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(path)}
    return servers.post_status(port, path, urlencode(PAIRS).encode(), headers, timeout=15)


@dataclass
class Pair:
    """Two processes serving apps on one store, and a way to stop the server that holds a given key."""

    kind: str
    wsgi: int
    asgi: int
    outage: Callable[[str], contextlib.AbstractContextManager[None]]


def stop(server: Server) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    return lambda _name: server.stopped()


def cluster_outage(cluster: Cluster) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    reader = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0])

    @contextlib.contextmanager
    def outage(name: str) -> Iterator[None]:
        owner = next(node for node in cluster.nodes if node.port == reader.get_node_from_key(name).port)
        with owner.stopped():
            yield
        cluster.wait_ok()

    return outage


@pytest.fixture(scope="module", params=["cluster", "sentinel", "memcached", "django"])
def pair(request: pytest.FixtureRequest) -> Iterator[Pair]:
    kind = request.param
    if kind == "cluster":
        cluster: Cluster = request.getfixturevalue("redis_cluster")
        address, outage = f"127.0.0.1:{cluster.ports[0]}", cluster_outage(cluster)
    elif kind == "sentinel":
        sentinel: Sentinel = request.getfixturevalue("redis_sentinel")
        address, outage = f"127.0.0.1:{sentinel.sentinel.port}", stop(sentinel.master)
    else:
        server: Server = request.getfixturevalue("memcached_server" if kind == "memcached" else "redis_server")
        address, outage = f"127.0.0.1:{server.port}", stop(server)
    env = {"REPLAY_STORE": kind, "REPLAY_SERVER": address}
    wsgi_app, asgi_app = ("django_wsgi", "django_asgi") if kind == "django" else ("wsgi", "asgi")
    wsgi_port, asgi_port = servers.free_port(), servers.free_port()
    gunicorn = [
        str(servers.BIN / "gunicorn"), "--bind", f"127.0.0.1:{wsgi_port}", "--workers", "1",
        "--threads", "8", "--log-level", "warning", f"tests.e2e.replay_apps:{wsgi_app}",
    ]  # fmt: skip
    uvicorn = [
        str(servers.BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(asgi_port),
        "--log-level", "warning", f"tests.e2e.replay_apps:{asgi_app}",
    ]  # fmt: skip
    with servers.running(gunicorn, wsgi_port, env), servers.running(uvicorn, asgi_port, env):
        yield Pair(kind, wsgi_port, asgi_port, outage)


def fresh(name: str = "sms") -> str:
    return f"/twilio/{uuid.uuid4().hex[:12]}-{name}"


def test_a_replay_to_the_other_process_is_refused(pair: Pair) -> None:
    """Handled by one process, refused (409) by the other, both ways."""
    first, second = fresh(), fresh()
    assert [post(pair.wsgi, first), post(pair.asgi, first)] == [200, 409]
    assert [post(pair.asgi, second), post(pair.wsgi, second)] == [200, 409]


def test_a_failed_delivery_can_be_retried_at_the_other_process(pair: Pair) -> None:
    """The app answered 500: the claim is released, so Twilio's retry reaches an app again."""
    failing = fresh("fail500")
    assert [post(pair.wsgi, failing), post(pair.asgi, failing), post(pair.wsgi, failing)] == [500, 500, 500]


def test_concurrent_duplicates_to_both_processes(pair: Pair) -> None:
    """Sixteen copies at once, half to each process: exactly one 200, the rest 409."""
    path = fresh("race")
    barrier = threading.Barrier(16)

    def send(n: int) -> int:
        barrier.wait()
        return post(pair.wsgi if n % 2 else pair.asgi, path)

    with ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(send, range(16)))
    assert statuses == [200] + [409] * 15


def test_the_store_stopped_mid_test(pair: Pair) -> None:
    """Its server stops: 503 from both processes (200 under 'allow' where it is set up), never 500; then back."""
    during, after = fresh(), fresh()
    assert post(pair.wsgi, fresh()) == 200  # pooled connections, stale once the server stops
    assert post(pair.asgi, fresh()) == 200
    with pair.outage(PREFIX + replay_key(sign(during))):
        assert [post(pair.wsgi, during), post(pair.asgi, during)] == [503, 503]
        if pair.kind != "django":  # the Django project has one middleware, refusing
            allowed = "/allow" + during
            assert [post(pair.wsgi, allowed), post(pair.asgi, allowed + "x")] == [200, 200]
    assert [post(pair.wsgi, after), post(pair.asgi, after)] == [200, 409]
    assert post(pair.asgi, during) == 200  # nothing was claimed while the server was down
