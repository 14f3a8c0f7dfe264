"""The replay store protocol: a claim answers its token, a release names it, and the guard carries it between.

A store of your own follows the same protocol (docs/replay.md shows one): these tests
hold the guard to what it promises such a store, and refuse one written for the
protocol's first form (``claim -> bool``, ``release(key)``) before it can misbehave.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.contract import PAIRS, TOKEN, form_body, sign
from tests.replay_servers import Server
from tests.test_asgi import AsgiHarness
from tests.test_replay_stores import NO_RETRY
from tests.test_wsgi import WsgiHarness
from twiliosig._guard import Decision, Guard, RequestInfo
from twiliosig.contrib.django import DjangoCacheReplayStore
from twiliosig.replay import MemoryReplayStore, ReplayStore
from twiliosig.verdict import Reason, Verdict

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class RecordingStore:
    """A store of one's own, as docs/replay.md shows: claims are tokens, a release names one."""

    ttl = 60.0

    def __init__(self) -> None:
        self.claims: dict[str, str] = {}
        self.released: list[tuple[str, str]] = []

    def claim(self, key: str) -> str | None:
        if key in self.claims:
            return None
        token = self.claims[key] = secrets.token_hex(8)
        return token

    def release(self, key: str, token: str) -> None:
        self.released.append((key, token))
        if self.claims.get(key) == token:
            del self.claims[key]

    async def aclaim(self, key: str) -> str | None:
        return self.claim(key)

    async def arelease(self, key: str, token: str) -> None:
        self.release(key, token)


class FirstFormStore:
    """A store written for the protocol's first form: claim answers a bool, release takes the key alone."""

    ttl = 60.0

    def claim(self, key: str) -> bool:
        return True

    def release(self, key: str) -> None:
        pass

    async def aclaim(self, key: str) -> bool:
        return True

    async def arelease(self, key: str) -> None:
        pass


def genuine() -> Decision:
    request = RequestInfo("POST", "/twilio/sms", "https://example.com/twilio/sms")
    return Decision(Verdict(True, Reason.VALID, "ok"), None, uuid.uuid4().hex, request)


def test_the_decision_carries_the_claims_token_to_the_release() -> None:
    """claim() leaves the store's token on the decision; settle(failed=True) hands that very token back."""
    store = RecordingStore()
    guard = Guard(auth_token=TOKEN, replay_guard=store)
    decision = genuine()
    claimed = guard.claim(decision)
    assert claimed.replay_token == store.claims[str(decision.replay_key)]
    guard.settle(claimed, failed=False)
    assert store.released == []
    guard.settle(claimed, failed=True)
    assert store.released == [(decision.replay_key, claimed.replay_token)]


def test_the_asyncio_face_carries_it_too() -> None:
    store = RecordingStore()
    guard = Guard(auth_token=TOKEN, replay_guard=store)

    async def main() -> Decision:
        claimed = await guard.aclaim(genuine())
        await guard.asettle(claimed, failed=True)
        return claimed

    claimed = asyncio.run(main())
    assert store.released == [(claimed.replay_key, claimed.replay_token)]
    assert store.claims == {}


def test_a_decision_that_holds_no_claim_releases_nothing() -> None:
    """Not yet claimed, or claimed by an outer layer (which releases it): settling it must not touch the store."""
    store = RecordingStore()
    guard = Guard(auth_token=TOKEN, replay_guard=store)
    decision = genuine()
    guard.settle(decision, failed=True)  # never claimed: no token
    inner = guard.claim(decision, claimed=decision.replay_key)  # an outer layer's claim
    assert inner.replay_token is None
    guard.settle(inner, failed=True)
    assert store.released == []


@pytest.mark.parametrize("adapter", [WsgiHarness, AsgiHarness], ids=["wsgi", "asgi"])
def test_a_store_of_the_first_form_is_refused_when_the_middleware_is_built(adapter: Any) -> None:
    """release(key) cannot take the token: a TypeError at start-up naming the method, never a failure per request."""
    assert isinstance(FirstFormStore(), ReplayStore)  # the Protocol's runtime check sees only the names
    with pytest.raises(TypeError, match=r"FirstFormStore\.release must take \(key, token\)"):
        adapter(auth_token=TOKEN, replay_guard=FirstFormStore())


def test_a_claim_that_answers_a_bool_is_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    """A store whose release takes a token but whose claim still answers True/False: 503 and an error, never 'first'."""

    class HalfMigrated(RecordingStore):
        def claim(self, key: str) -> Any:
            return False  # meant "already claimed": taken for a token it would let every copy through

    h = WsgiHarness(auth_token=TOKEN, replay_guard=HalfMigrated())
    target = "/twilio/sms"
    headers = {**FORM, "X-Twilio-Signature": sign("https://example.com" + target, PAIRS)}
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        outcome = h.send("POST", target, headers=headers, body=form_body(PAIRS))
    assert outcome.status == 503
    assert not outcome.seen
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("HalfMigrated.claim answered bool" in message for message in errors), errors


def test_the_memory_store_tokens_are_unique_even_on_a_clock_that_stands_still(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two claims of one key in the same clock tick (a claim, its release, a claim again) hold different tokens."""
    store = MemoryReplayStore(ttl=60)
    monkeypatch.setattr(time, "monotonic_ns", lambda: 1_000_000_000)
    first = store.claim("k")
    assert first
    store.release("k", first)
    second = store.claim("k")
    assert second
    assert second != first
    store.release("k", first)  # the first request's late release: not the second claim's
    assert store.claim("k") is None


# --- Django's cache: no compare-and-delete in its API ------------------------------------------------


@pytest.fixture
def django_cache(redis_server: Server) -> Iterator[str]:
    location = f"redis://127.0.0.1:{redis_server.port}/8"
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location, "OPTIONS": NO_RETRY}
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}, "r": cache}):
        yield "r"
        caches["r"].close()


def test_django_releases_a_claim_only_in_the_first_half_of_its_ttl(django_cache: str) -> None:
    """Its get and delete are two steps; a claim older than half its ttl is kept, lest the delete land on a copy's.

    The token says when the claim was made; a release of an older one leaves the key,
    which expires by itself within the other half.
    """
    store = DjangoCacheReplayStore(django_cache, ttl=60, prefix=f"p-{uuid.uuid4().hex[:8]}:")
    young = store.claim("young")
    assert young
    store.release("young", young)
    assert store.claim("young"), "a release within the first half of the ttl frees the claim"
    old = f"{time.monotonic() - 31:.6f}:{secrets.token_hex(12)}"  # made 31 s ago, ttl 60
    caches[django_cache].add(store.prefix + "old", old, timeout=60)
    store.release("old", old)
    assert store.claim("old") is None, "a claim past half its ttl was released"
