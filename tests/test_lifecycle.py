"""The check owns one request's whole life: its body's outcome, its replay claim, the app's outcome.

``Guard.start(head)`` hands the adapter a :class:`~twiliosig._guard.Check`; the adapter
says what happened (the body it read or could not read, what the app answered) and the
check decides what that means, by one rule for every adapter. These tests drive the
check directly; tests/test_settlement.py holds every adapter to the same rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from tests.test_options_docs import ADAPTERS
from twiliosig import Reason, compute_signature
from twiliosig._guard import NO_ANSWER, OVERFLOWED, UNREADABLE, Check, Guard, Head, Outcome, Parsed, failed
from twiliosig.replay import MemoryReplayStore

TOKEN = "lifecycle-token-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
BODY = b"From=%2B15005550006&Body=hi"
PAIRS = [("From", "+15005550006"), ("Body", "hi")]
URL = "https://example.com/twilio/sms"


def start(guard: Guard, *, length: str | None = None) -> Check:
    headers = {"content-type": FORM, "x-twilio-signature": compute_signature(TOKEN, URL, PAIRS)}
    if length is not None:
        headers["content-length"] = length
    check = guard.start(Head("POST", "/twilio/sms", "https", "example.com", "/twilio/sms", "", headers.get))
    assert check is not None
    return check


class Counting(MemoryReplayStore):
    """A store that counts its claims and releases."""

    def __init__(self) -> None:
        super().__init__()
        self.claims = 0
        self.releases = 0

    def claim(self, key: str) -> str | None:
        self.claims += 1
        return super().claim(key)

    def release(self, key: str, token: str) -> None:
        self.releases += 1
        super().release(key, token)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (BODY, None),
        (b"x" * 65, 413),  # more than the limit read: over it
        (OVERFLOWED, 413),
        (UNREADABLE, 400),
        (Parsed(PAIRS), None),
        (Parsed(PAIRS, files=True), 403),
    ],
    ids=["bytes", "bytes-over-the-limit", "overflowed", "unreadable", "parsed", "parsed-with-files"],
)
def test_one_call_takes_every_body_outcome(body: object, status: int | None) -> None:
    check = start(Guard(auth_token=TOKEN, max_body_size=64))
    decision = check.decide(body)  # type: ignore[arg-type]
    assert (decision.refusal and decision.refusal.status) == status
    assert check.decide(b"anything else") is decision, "the decision is kept: a second call changes nothing"


def test_an_empty_body_where_a_length_was_declared_is_unreadable() -> None:
    decision = start(Guard(auth_token=TOKEN), length=str(len(BODY))).decide(b"")
    assert decision.verdict.reason is Reason.MALFORMED_BODY


@pytest.mark.parametrize(
    ("outcome", "releases"),
    [
        *[(200, False), (302, False), (400, False), (404, False), (499, False), (500, True), (503, True)],
        *[(RuntimeError("boom"), True), (NO_ANSWER, True)],
    ],
)
def test_one_rule_for_the_apps_outcome(outcome: Outcome, releases: bool) -> None:
    assert failed(outcome) is releases
    store = Counting()
    check = start(Guard(auth_token=TOKEN, replay_guard=store))
    check.decide(BODY)
    assert check.claim().replay_token is not None
    check.settle(outcome)
    assert store.releases == int(releases)
    check.settle(RuntimeError("later"))  # only the first outcome counts
    assert store.releases == int(releases)


def test_a_claim_an_outer_layer_made_is_not_claimed_again_nor_released() -> None:
    store = Counting()
    outer = start(Guard(auth_token=TOKEN, replay_guard=store))
    outer.decide(BODY)
    key = outer.claim().replay_key
    inner = start(Guard(auth_token=TOKEN, replay_guard=store))
    inner.decide(BODY)
    decision = inner.claim(key)
    assert decision.refusal is None
    assert decision.replay_key is None
    inner.settle(500)
    assert (store.claims, store.releases) == (1, 0), "the inner layer leaves the claim to the outer one"
    outer.settle(500)
    assert store.releases == 1


def test_async_claim_and_settle() -> None:
    store = Counting()
    check = start(Guard(auth_token=TOKEN, replay_guard=store))
    check.decide(BODY)

    async def life() -> None:
        assert (await check.aclaim()).replay_token is not None
        await check.asettle(NO_ANSWER)

    asyncio.run(life())
    assert (store.claims, store.releases) == (1, 1)


def broken() -> Iterable[bytes]:
    yield b"partial"
    raise RuntimeError("broke mid-body")


def test_a_streamed_body_is_settled_when_it_ends() -> None:
    for chunks, releases in ((iter([b"a", b"b"]), 0), (broken(), 1)):
        store = Counting()
        check = start(Guard(auth_token=TOKEN, replay_guard=store))
        check.decide(BODY)
        check.claim()
        watched = check.watch(chunks, 200)
        assert store.releases == 0, "nothing is settled before the body is sent"
        with contextlib.suppress(RuntimeError):
            list(watched)
        assert store.releases == releases


def test_a_failing_status_settles_a_stream_at_once() -> None:
    store = Counting()
    check = start(Guard(auth_token=TOKEN, replay_guard=store))
    check.decide(BODY)
    check.claim()
    chunks = iter([b"error"])
    assert check.watch(chunks, 500) is chunks
    assert store.releases == 1


def test_an_async_stream_that_raises_releases() -> None:
    store = Counting()
    check = start(Guard(auth_token=TOKEN, replay_guard=store))
    check.decide(BODY)
    check.claim()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("broke mid-body")

    async def send() -> None:
        with pytest.raises(RuntimeError):
            async for _ in await check.awatch(chunks(), 200):
                pass

    asyncio.run(send())
    assert store.releases == 1


OPTIONS = (
    "public_url|trust|_trusting|replay_guard|report_only|max_body_size|methods|enabled|on_reject|on_store_error"
    "|require_https|basic_auth|protects|validator"
)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_no_adapter_reads_a_guard_option(adapter: str) -> None:
    """An adapter translates: what an option means is the guard's to say, once."""
    source = (Path(__file__).resolve().parents[1] / "src" / "twiliosig" / adapter).read_text()
    reads = re.findall(rf"\bguard\.({OPTIONS})\b", source)
    assert reads == []


def test_a_stream_with_no_claim_is_handed_back_as_it_is() -> None:
    """Without a replay store there is nothing to settle: a file's wrapper stays what the server can sendfile."""
    check = start(Guard(auth_token=TOKEN))
    check.decide(BODY)
    check.claim()
    chunks = iter([b"a"])
    assert check.watch(chunks, 200) is chunks
