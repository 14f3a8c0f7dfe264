"""A tenant fills the memory replay store, then replays another tenant's webhook: refused, even under "allow".

``MemoryReplayStore`` never forgets a live claim to make room: full, it answers as
an outage. Under ``on_store_error="allow"`` an outage lets the request through
unclaimed, so a tenant that signs ``max_entries`` webhooks of its own (with its own
token, for free) would have every replay of every tenant let through for as long as
the store stayed full. A full store is therefore answered 503 whatever
``on_store_error`` says: a store that cannot be reached still follows it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.harness import ADAPTERS, ALL, Pool, Server, sign
from tests.attacks.profiles import ACCOUNT_A, ACCOUNT_B, FULL_AT, TOKEN_A, TOKEN_B

PROFILE = "tenants-full-allow"
#: One adapter per server process: the adapters a process serves together (the two Lambda mounts) share one store.
ONE_PER_PROCESS = list({ADAPTERS[name].process: name for name in reversed(ALL)}.values())[::-1]


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> Iterator[None]:
    pool.prestart(ONE_PER_PROCESS, PROFILE)
    yield
    pool.stop(PROFILE)


def sms(account: str, body: str) -> list[tuple[str, str]]:
    return [("AccountSid", account), ("Body", body), ("From", "+15005550006")]


@pytest.mark.parametrize("adapter", ONE_PER_PROCESS)
def test_a_tenant_that_fills_the_store_cannot_have_another_replayed(server: Server) -> None:
    path = "/twilio/sms"
    for index in range(FULL_AT):  # the attacker's own webhooks, signed with its own token
        assert server.post_form(path, sms(ACCOUNT_B, f"filler {index}"), token=TOKEN_B).status == 200
    # The store is full: another tenant's genuine webhook arrives, and a copy is captured.
    victim = sms(ACCOUNT_A, f"pay 100 ({server.adapter.id})")
    signature = sign(server.url(path), victim, token=TOKEN_A)
    with server.unreached():  # never reached unclaimed: a copy could not be told from it
        first = server.post_form(path, victim, signature=signature)
        copy = server.post_form(path, victim, signature=signature)
    assert (first.status, copy.status) == (503, 503)
