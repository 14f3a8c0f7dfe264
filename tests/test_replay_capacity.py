"""The memory store's bound: reached, it answers as an outage; it never forgets a live claim to make room.

Anyone with a Twilio account can send signed webhooks to an endpoint that serves several
accounts (subaccounts, a platform). When the store forgot its oldest claim to make room,
a tenant that sent ``max_entries`` webhooks of its own flushed another tenant's claim, and
that tenant's captured request was then accepted again (200). Now a full store refuses
new claims as an outage does (``on_store_error``), saying why in the log.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
import uuid
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from tests.contract import PAIRS, TOKEN, form_body, sign
from tests.test_asgi import AsgiHarness
from tests.test_wsgi import WsgiHarness
from twiliosig.contrib.django import DjangoCacheReplayStore
from twiliosig.replay import _BYTES_PER_CLAIM, MemoryReplayStore, StoreUnavailable, replay_key

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post(harness: WsgiHarness | AsgiHarness, target: str) -> int:
    headers = {**FORM, "X-Twilio-Signature": sign("https://example.com" + target, PAIRS)}
    return int(harness.send("POST", target, headers=headers, body=form_body(PAIRS)).status)


def test_a_full_store_keeps_every_live_claim() -> None:
    """Full of live claims: a new claim is StoreUnavailable, and the claims already held all still hold."""
    store = MemoryReplayStore(ttl=60, max_entries=3)
    for key in "abc":
        assert store.claim(key)
    with pytest.raises(StoreUnavailable, match="MemoryReplayStore is full: 3 claims"):
        store.claim("d")
    assert [store.claim(key) for key in "abc"] == [None, None, None]


def test_expired_claims_make_room() -> None:
    """Expired claims are dropped first (they are at the front), so a store full of old claims takes new ones."""
    store = MemoryReplayStore(ttl=0.1, max_entries=2)
    assert store.claim("a")
    assert store.claim("b")
    time.sleep(0.15)
    assert store.claim("c")
    assert store.claim("d")
    assert len(store) == 2
    assert store.claim("c") is None


@pytest.mark.parametrize("harness", [WsgiHarness, AsgiHarness], ids=["wsgi", "asgi"])
def test_one_tenant_cannot_flush_anothers_claim(harness: type[WsgiHarness | AsgiHarness]) -> None:
    """The victim's webhook is handled; a flood of other signed webhooks fills the store; the victim's copy is 409.

    Before, the flood pushed the victim's claim out and its copy was accepted (200).
    Past the bound the flood gets 503, as in an outage.
    """
    store = MemoryReplayStore(ttl=60, max_entries=20)
    h = harness(auth_token=TOKEN, replay_guard=store)
    victim = f"/twilio/victim-{uuid.uuid4().hex[:8]}"
    assert post(h, victim) == 200
    flood = [post(h, f"/twilio/flood-{n}") for n in range(30)]
    assert flood == [200] * 19 + [503] * 11
    assert post(h, victim) == 409, "the victim's claim was forgotten to make room"


def test_a_full_store_is_logged_once_with_the_fix(caplog: pytest.LogCaptureFixture) -> None:
    """The operator learns why at once (an error naming max_entries and a shared store), not once per request."""
    store = MemoryReplayStore(ttl=60, max_entries=1)
    h = WsgiHarness(auth_token=TOKEN, replay_guard=store, on_store_error="allow")
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        statuses = [post(h, f"/twilio/full-{n}") for n in range(4)]
    # Full is refused even under on_store_error="allow": a sender that filled the store would have
    # every request let through unclaimed, and so replayable (tests/attacks/test_replay_full_store.py).
    assert statuses == [200, 503, 503, 503]
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "max_entries" in errors[0]
    assert "shared store" in errors[0]
    assert "docs/replay.md" in errors[0]


def test_the_documented_cost_of_a_claim() -> None:
    """tracemalloc: what 20,000 claims cost, their keys included, is no more than the size docs/replay.md gives."""
    keys_made = 20_000
    store = MemoryReplayStore(ttl=300, max_entries=keys_made)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(keys_made):
            assert store.claim(replay_key(f"signature {n}"))
        cost = (tracemalloc.get_traced_memory()[0] - before) / keys_made
    finally:
        tracemalloc.stop()
    assert cost <= _BYTES_PER_CLAIM * 1.05, f"a claim costs {cost:.0f} bytes; the docs say {_BYTES_PER_CLAIM}"
    assert cost >= _BYTES_PER_CLAIM * 0.75, f"a claim costs {cost:.0f} bytes; the docs overstate it"


CULLING = [
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.db.DatabaseCache",
]


@pytest.mark.parametrize("backend", CULLING, ids=[backend.rsplit(".", 1)[1] for backend in CULLING])
def test_django_backends_that_cull_live_entries_are_refused_saying_so(backend: str, tmp_path: Any) -> None:
    """Past MAX_ENTRIES (300 by default) these delete entries that have not expired: the refusal names it."""
    location = str(tmp_path) if "filebased" in backend else "twiliosig_cache"
    settings = {"default": {"BACKEND": backend, "LOCATION": location}}
    with override_settings(CACHES=settings), pytest.raises(ImproperlyConfigured, match="MAX_ENTRIES"):
        DjangoCacheReplayStore()
