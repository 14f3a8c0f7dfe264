"""Replay stores: the in-memory one alone, and Redis through both middlewares with a real server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.contract import PAIRS, TOKEN, form_body, sign
from tests.e2e import servers
from tests.test_asgi import AsgiHarness
from tests.test_wsgi import WsgiHarness
from twiliosig.replay import MemoryReplayStore, RedisReplayStore, ReplayStore, StoreUnavailable, replay_key

URL = "https://example.com/twilio/sms"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def post(h: Any, signature: str, target: str = "/twilio/sms") -> Any:
    return h.send("POST", target, headers={**FORM_HEADERS, "X-Twilio-Signature": signature}, body=form_body(PAIRS))


# --- the in-memory store --------------------------------------------------------------------


def test_memory_store_claims_once_and_forgets_after_ttl() -> None:
    """A key is claimed once; after ttl it can be claimed again; release forgets it at once."""
    store = MemoryReplayStore(ttl=0.2)
    assert isinstance(store, ReplayStore)
    assert store.claim("a")
    assert not store.claim("a")
    store.release("a")
    assert store.claim("a")
    time.sleep(0.3)
    assert store.claim("a")


def test_memory_store_is_bounded() -> None:
    """Past max_entries the oldest keys are forgotten first."""
    store = MemoryReplayStore(ttl=60, max_entries=3)
    for key in "abcd":
        assert store.claim(key)
    assert len(store) == 3
    assert store.claim("a")  # the oldest was forgotten
    assert not store.claim("d")


def test_memory_store_concurrent_duplicates() -> None:
    """Many threads claiming one key at once: exactly one wins."""
    store = MemoryReplayStore()
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: store.claim("same"), range(200)))
    assert results.count(True) == 1


def test_replay_key_never_holds_the_signature() -> None:
    """The key is a hash of the signature: never the signature itself, and one key per signature."""
    signature = sign(URL, PAIRS)
    key = replay_key(signature)
    assert len(key) == 64
    assert signature not in key
    assert key == replay_key(signature)
    assert key != replay_key(sign(URL + "?x=1", PAIRS))


@pytest.mark.parametrize("options", [{"ttl": 0}, {"ttl": -1}, {"max_entries": 0}])
def test_memory_store_rejects_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be a positive"):
        MemoryReplayStore(**options)


# --- a real Redis on loopback ---------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A private redis-server on 127.0.0.1, started for these tests (``make test`` installs it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run `make test`, which installs it, or apt-get install redis-server"
        )
    port = servers.free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with servers.running(argv, port):
        yield f"redis://127.0.0.1:{port}/0"


def test_two_instances_share_one_redis(redis_url: str) -> None:
    """Two app instances (two hosts) on one Redis: a replay sent to the other instance is refused."""
    one = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t1:"))
    two = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t1:"))
    signature = sign(URL, [*PAIRS])
    assert post(one, signature).status == 200
    replayed = post(two, signature)
    assert replayed.status == 409
    assert not replayed.seen


def test_asgi_and_wsgi_instances_share_keys(redis_url: str) -> None:
    """The ASGI middleware (asyncio client) and the WSGI one (sync client) see the same keys."""
    signature = sign("https://example.com/twilio/shared", PAIRS)
    wsgi = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t2:"))
    asgi = AsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t2:"))
    assert post(asgi, signature, "/twilio/shared").status == 200
    assert post(wsgi, signature, "/twilio/shared").status == 409


def test_concurrent_duplicates_through_wsgi(redis_url: str) -> None:
    """Sixteen threads send the same signed request at once: exactly one reaches the app."""
    h = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, prefix="t3:"))
    signature = sign("https://example.com/twilio/race", PAIRS)
    barrier = threading.Barrier(16)

    def send(_: int) -> int:
        barrier.wait()
        return int(post(h, signature, "/twilio/race").status)

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(16)))
    assert statuses.count(200) == 1
    assert statuses.count(409) == 15
    assert len(h.seen) == 1


def test_concurrent_duplicates_through_asgi(redis_url: str) -> None:
    """Twenty concurrent copies on one event loop, asyncio Redis client: exactly one reaches the app."""
    import redis.asyncio

    from tests.test_asgi import run_asgi

    async def main() -> list[int]:
        client = redis.asyncio.Redis.from_url(redis_url)
        h = AsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(client, prefix="t4:"))
        body = form_body(PAIRS)
        signature = sign("https://example.com/twilio/race", PAIRS).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "scheme": "https",
            "path": "/twilio/race",
            "raw_path": b"/twilio/race",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"example.com"),
                (b"content-type", FORM_HEADERS["Content-Type"].encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-twilio-signature", signature),
            ],
        }
        calls = [run_asgi(h.app, dict(scope), [{"type": "http.request", "body": body}]) for _ in range(20)]
        results = await asyncio.gather(*calls)
        await client.aclose()
        return [next(m["status"] for m in sent if m["type"] == "http.response.start") for sent in results]

    statuses = asyncio.run(main())
    assert statuses.count(200) == 1
    assert statuses.count(409) == 19


def test_ttl_expiry_and_retry_after_5xx(redis_url: str) -> None:
    """A key expires after ttl; a delivery that failed with 5xx can be retried at once."""
    h = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(redis_url, ttl=0.3, prefix="t5:"))
    signature = sign("https://example.com/twilio/ttl", PAIRS)
    assert post(h, signature, "/twilio/ttl").status == 200
    assert post(h, signature, "/twilio/ttl").status == 409
    time.sleep(0.5)
    assert post(h, signature, "/twilio/ttl").status == 200
    failing = sign("https://example.com/twilio/fail500", PAIRS)
    assert post(h, failing, "/twilio/fail500").status == 500
    assert post(h, failing, "/twilio/fail500").status == 500  # the retry reached the app again
    assert len([s for s in h.seen if s.body]) == 4


def test_redis_stopped_mid_test() -> None:
    """Redis goes away: 503 with the default on_store_error, the app untouched; 'allow' lets requests through."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test`")
    port = servers.free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    url = f"redis://127.0.0.1:{port}/0"
    refuse = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(url, prefix="t6:"))
    allow = WsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(url, prefix="t6:"), on_store_error="allow")
    asgi = AsgiHarness(auth_token=TOKEN, replay_guard=RedisReplayStore(url, prefix="t6:"))
    with servers.running(argv, port):
        assert post(refuse, sign("https://example.com/twilio/a", PAIRS), "/twilio/a").status == 200
    # the server is stopped now
    outcome = post(refuse, sign("https://example.com/twilio/b", PAIRS), "/twilio/b")
    assert outcome.status == 503
    assert not outcome.seen
    assert post(asgi, sign("https://example.com/twilio/b", PAIRS), "/twilio/b").status == 503
    assert post(allow, sign("https://example.com/twilio/c", PAIRS), "/twilio/c").status == 200


def test_redis_store_errors_are_wrapped() -> None:
    """A refused connection surfaces as StoreUnavailable, which the middlewares turn into 503 or a pass."""
    store = RedisReplayStore(f"redis://127.0.0.1:{servers.free_port()}/0")
    with pytest.raises(StoreUnavailable):
        store.claim("x")
    with pytest.raises(TypeError):
        RedisReplayStore(42)


def test_redis_server_binary_version() -> None:
    """The suite runs against a real redis-server (not a fake)."""
    binary = shutil.which("redis-server")
    assert binary is not None, "run `make test`, which installs redis-server"
    assert "Redis server" in subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
