"""Replay: with ``replay_guard=MemoryReplayStore()`` a handled request cannot be sent again, in any spelling.

A Twilio signature carries no timestamp: a request captured once (a leaked log,
a compromised proxy) validates for ever. The replay key is the signature, which
names the exact signed bytes, so a copy re-spelled to dodge the key (another
URL form, a re-encoded body, the URL/parameter boundary moved) is still a copy:
409. Twilio's own retry after the app failed (500, or raised) must get through.
One worker per server, so the in-memory store sees every request.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.attacks.harness import ALL, HOSTED, SMS, Pool, Server, sign

PROFILE = "replay"


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> Iterator[None]:
    pool.prestart(ALL, PROFILE)
    yield
    pool.stop(PROFILE)


def _unique(server: Server, name: str) -> str:
    """A path no other test signs, so every test starts with fresh keys."""
    return f"/twilio/{name}/{server.adapter.id}-{server.count()}"


@pytest.mark.parametrize("adapter", ALL)
def test_same_request_twice_is_a_replay(server: Server) -> None:
    """The attacker re-sends a captured genuine webhook byte for byte."""
    path = _unique(server, "sms")
    before = server.count()
    assert server.post_form(path, SMS).status == 200
    assert server.post_form(path, SMS).status == 409
    assert server.count() == before + 1


@pytest.mark.parametrize("adapter", ALL)
def test_moving_the_url_parameter_boundary_is_a_replay(server: Server) -> None:
    """The attacker re-sends ?order=42 + AccountSid=X as ?order=4 + 2AccountSid=X: one signed string, one signature."""
    path = _unique(server, "pay")
    account = "AC" + "7" * 32
    genuine_url, genuine_pairs = server.url(f"{path}?order=42"), [("AccountSid", account)]
    shifted_url, shifted_pairs = server.url(f"{path}?order=4"), [("2AccountSid", account)]
    assert genuine_url + "AccountSid" + account == shifted_url + "2AccountSid" + account
    signature = sign(genuine_url, genuine_pairs)
    assert sign(shifted_url, shifted_pairs) == signature
    assert server.post_form(f"{path}?order=42", genuine_pairs, signature=signature).status == 200
    with server.unreached():
        response = server.post_form(f"{path}?order=4", shifted_pairs, signature=signature)
    assert response.status == 409, response


@pytest.mark.parametrize("adapter", ALL)
def test_copy_with_a_trailing_slash_is_a_replay(server: Server) -> None:
    """The attacker re-sends a handled webhook with a trailing slash added, a URL form the validator also accepts."""
    path = _unique(server, "sms")
    signature = sign(server.url(path), SMS)
    assert server.post_form(path, SMS, signature=signature).status == 200
    with server.unreached():
        response = server.post_form(path + "/", SMS, signature=signature)
    assert response.status == 409, response


@pytest.mark.parametrize("adapter", HOSTED)
def test_copy_with_another_port_spelling_is_a_replay(server: Server) -> None:
    """The attacker re-sends a handled webhook with the Host's port dropped, another URL form the validator accepts."""
    path = _unique(server, "sms")
    signature = sign(f"http://127.0.0.1{path}", SMS)
    assert server.post_form(path, SMS, signature=signature).status == 200
    with server.unreached():
        response = server.post_form(path, SMS, signature=signature, headers=[("Host", "127.0.0.1")])
    assert response.status == 409, response


@pytest.mark.parametrize("adapter", ALL)
def test_re_encoded_body_is_a_replay(server: Server) -> None:
    """The attacker re-sends a handled form with its bytes re-encoded (+ as %20, escapes in lower case): same pairs."""
    path = _unique(server, "sms")
    pairs = [("Body", "hello world é"), ("From", "+15005550006")]
    signature = sign(server.url(path), pairs)
    first = b"Body=hello+world+%C3%A9&From=%2B15005550006"
    again = b"From=%2b15005550006&Body=hello%20world%20%c3%a9"
    assert server.post_form(path, pairs, signature=signature, body=first).status == 200
    with server.unreached():
        response = server.post_form(path, pairs, signature=signature, body=again)
    assert response.status == 409, response


@pytest.mark.parametrize("adapter", ALL)
def test_non_canonical_base64_signature_is_not_a_new_key(server: Server) -> None:
    """The attacker re-spells the signature's unused base64 bits: the same MAC bytes, a different string, another key.

    Exploits a validator that decodes the base64 and compares bytes while the
    replay key hashes the string: the copy would look like a first request.
    """
    path = _unique(server, "sms")
    signature = sign(server.url(path), SMS)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = signature.rstrip("=")[-1]
    respelled = signature[: len(signature.rstrip("="))][:-1] + alphabet[alphabet.index(last) ^ 1] + "="
    assert respelled != signature
    assert base64.b64decode(respelled) == base64.b64decode(signature)
    assert server.post_form(path, SMS, signature=signature).status == 200
    with server.unreached():
        response = server.post_form(path, SMS, signature=respelled)
    assert response.status in (403, 409), response


@pytest.mark.parametrize("adapter", ALL)
def test_concurrent_copies_reach_the_app_once(server: Server) -> None:
    """The attacker races eight copies of a genuine webhook at once, hoping two pass the claim together."""
    path = _unique(server, "sms")
    signature = sign(server.url(path), SMS)
    before = server.count()
    with ThreadPoolExecutor(max_workers=8) as threads:
        statuses = sorted(threads.map(lambda _: server.post_form(path, SMS, signature=signature).status, range(8)))
    assert statuses == [200] + [409] * 7
    assert server.count() == before + 1


# A FastAPI dependency sees an exception from the endpoint but not a 5xx it returns, so a
# returned 500 keeps its key claimed (documented in docs/fastapi.md and docs/security.md);
# the route class sees both, as the ASGI middleware does.
RETRY_CASES = [
    pytest.param(adapter, event, id=f"{adapter}-{event}")
    for adapter in ALL
    for event in ("fail", "raise")
    if not (adapter in ("fastapi-depends", "fastapi-router") and event == "fail")
]


@pytest.mark.parametrize(("adapter", "event"), RETRY_CASES)
def test_twilio_retry_after_a_failure_is_accepted(server: Server, event: str) -> None:
    """Control: after the app answered 500 (or raised), Twilio's retry of the same delivery gets through again."""
    path = f"/twilio/retry-{server.adapter.id}-{server.count()}/{event}"
    signature = sign(server.url(path), SMS)
    before = server.count()
    first = server.post_form(path, SMS, signature=signature)
    retry = server.post_form(path, SMS, signature=signature)
    assert first.status >= 500, first
    assert retry.status != 409, retry
    assert server.count() == before + 2


@pytest.mark.parametrize("adapter", ALL)
def test_replay_after_success_even_when_a_retry_header_is_added(server: Server) -> None:
    """The attacker adds an I-Twilio-Idempotency-Token (unsigned) to a copy, hoping it passes as a fresh delivery."""
    path = _unique(server, "sms")
    signature = sign(server.url(path), SMS)
    assert server.post_form(path, SMS, signature=signature).status == 200
    with server.unreached():
        response = server.post_form(
            path, SMS, signature=signature, headers=[("I-Twilio-Idempotency-Token", "a-fresh-token")]
        )
    assert response.status == 409, response
