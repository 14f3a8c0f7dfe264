"""Tenants: with a per-account token lookup, one tenant can never be handled as another.

``auth_token`` is a callable that looks up the account's token by the request's
``AccountSid``. A tenant holds its own token, so it can sign anything naming
itself; the attack is to be checked as one account while the app reads another
(Django's ``request.POST["AccountSid"]`` is the last value, werkzeug's the
first, and the app may read the query instead of the body). A request naming
two distinct accounts is refused (``ambiguous_account``), an unknown account is
refused, and a lookup that raises is a 403, never a 500.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.attacks.harness import ALL, Pool, Server, sign
from tests.attacks.profiles import ACCOUNT_A, ACCOUNT_B, ACCOUNT_RAISING, ACCOUNT_UNKNOWN, TOKEN_A, TOKEN_B

PROFILE = "tenants"


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> Iterator[None]:
    pool.prestart(ALL, PROFILE)
    yield
    pool.stop(PROFILE)


def sms(*accounts: str) -> list[tuple[str, str]]:
    return [*(("AccountSid", account) for account in accounts), ("Body", "hi"), ("From", "+15005550006")]


@pytest.mark.parametrize(("account", "token"), [(ACCOUNT_A, TOKEN_A), (ACCOUNT_B, TOKEN_B)], ids=["a", "b"])
@pytest.mark.parametrize("adapter", ALL)
def test_each_tenant_with_its_own_token_is_accepted(server: Server, account: str, token: str) -> None:
    """Control: each account's webhooks, signed with its own token, are accepted."""
    response = server.post_form("/twilio/sms", sms(account), token=token)
    assert response.status == 200, response


@pytest.mark.parametrize("adapter", ALL)
def test_tenant_cannot_sign_for_another(server: Server) -> None:
    """Tenant B signs with its own token a webhook that names account A."""
    with server.unreached():
        response = server.post_form("/twilio/sms", sms(ACCOUNT_A), token=TOKEN_B)
    assert response.status == 403, response


AMBIGUOUS = {
    # (body accounts, query accounts, token that signs)
    "body-a-then-b-signed-by-a": ([ACCOUNT_A, ACCOUNT_B], [], TOKEN_A),
    "body-b-then-a-signed-by-b": ([ACCOUNT_B, ACCOUNT_A], [], TOKEN_B),
    "body-a-query-b-signed-by-a": ([ACCOUNT_A], [ACCOUNT_B], TOKEN_A),
    "body-b-query-a-signed-by-b": ([ACCOUNT_B], [ACCOUNT_A], TOKEN_B),
    "query-b-then-a-signed-by-b": ([], [ACCOUNT_B, ACCOUNT_A], TOKEN_B),
}


@pytest.mark.parametrize(("body", "query", "token"), AMBIGUOUS.values(), ids=AMBIGUOUS.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_two_distinct_accounts_are_refused(server: Server, body: list[str], query: list[str], token: str) -> None:
    """Tenant B signs a request naming B where the check looks and A where the app may look (last value, or query)."""
    path = "/twilio/sms" + ("?" + "&".join(f"AccountSid={account}" for account in query) if query else "")
    with server.unreached():
        response = server.post_form(path, sms(*body), token=token)
    assert response.status == 403, response


@pytest.mark.parametrize("name", ["Account%53id", "%41ccountSid"])
@pytest.mark.parametrize("adapter", ALL)
def test_an_escaped_account_name_in_the_query_counts(server: Server, name: str) -> None:
    """Tenant A signs body A plus query Account%53id=B: every framework decodes the name and reads B from the query."""
    with server.unreached():
        response = server.post_form(f"/twilio/sms?{name}={ACCOUNT_B}", sms(ACCOUNT_A), token=TOKEN_A)
    assert response.status == 403, response


REPEATED = {
    "body-a-twice": ([ACCOUNT_A, ACCOUNT_A], []),
    "body-a-query-a": ([ACCOUNT_A], [ACCOUNT_A]),
}


@pytest.mark.parametrize(("body", "query"), REPEATED.values(), ids=REPEATED.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_the_same_account_repeated_is_accepted(server: Server, body: list[str], query: list[str]) -> None:
    """Control: the same AccountSid given twice names one account, so the request is checked and accepted."""
    path = "/twilio/sms" + ("?" + "&".join(f"AccountSid={account}" for account in query) if query else "")
    response = server.post_form(path, sms(*body), token=TOKEN_A)
    assert response.status == 200, response


@pytest.mark.parametrize("adapter", ALL)
def test_unknown_account_is_refused(server: Server) -> None:
    """The attacker names an account nobody configured, signing with a token of its choosing."""
    with server.unreached():
        response = server.post_form("/twilio/sms", sms(ACCOUNT_UNKNOWN), token="attacker-chosen-token-0123456789a")
    assert response.status == 403, response


@pytest.mark.parametrize("adapter", ALL)
def test_request_without_account_is_refused(server: Server) -> None:
    """The attacker leaves AccountSid out, hoping the lookup falls back to some default token."""
    with server.unreached():
        response = server.post_form("/twilio/sms", [("Body", "hi")], token=TOKEN_A)
    assert response.status == 403, response


@pytest.mark.parametrize("where", ["body", "query"])
@pytest.mark.parametrize("adapter", ALL)
def test_raising_lookup_is_a_403_not_a_500(server: Server, where: str) -> None:
    """The attacker names an account whose lookup raises (its store is down), hoping for a 500 or a fall-through."""
    account = ACCOUNT_RAISING + "0" * 27
    with server.unreached():
        if where == "body":
            response = server.post_form("/twilio/sms", sms(account), token=TOKEN_A)
        else:
            response = server.get(f"/twilio/voice?AccountSid={account}", token=TOKEN_A)
    assert response.status == 403, response


@pytest.mark.parametrize("adapter", ALL)
def test_json_webhook_names_its_account_in_the_query(server: Server) -> None:
    """Control: a JSON webhook (bodySHA256) of account A, naming A in its query, is checked with A's token."""
    body = b'{"data": {"status": "delivered"}}'
    path = f"/twilio/events?AccountSid={ACCOUNT_A}&bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = [("Content-Type", "application/json"), ("X-Twilio-Signature", sign(server.url(path), token=TOKEN_A))]
    response = server.request("POST", path, body, headers=headers)
    assert response.status == 200, response
