"""twiliosig.oauth's verifiers and the ``oauth`` option: each check of a bearer token, each failing closed.

Against keys generated here and a small server on loopback (tests/oauth_support.py):
JWTs under the server's published keys (issuer, audience, expiry, the client they were
issued to, the scope, the algorithm allow-list, key rotation), introspection, a function
of the user's, what is remembered and what costs a call, and the refusals the guard
sends for each (401 with the RFC 6750 challenge, 403 insufficient_scope, 503 while
the server is down). The same against a real authorization server, through real
servers, is tests/e2e/test_oauth_server.py; every adapter is tests/test_oauth_adapters.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tests.oauth_support import (
    AUDIENCE,
    CLIENT_ID,
    RESOURCE_ID,
    RESOURCE_SECRET,
    FakeServer,
    Key,
    claims,
    hmac_signed,
    unsigned,
)
from twiliosig import Reason, compute_signature
from twiliosig import oauth as oauth_module
from twiliosig._auth import ACCEPTED, BearerLayer, TokenResult, TokenVerifier, Waiting
from twiliosig.oauth import (
    AuthorizationServerUnavailable,
    CallableVerifier,
    InsufficientScope,
    IntrospectionVerifier,
    InvalidToken,
    JWTVerifier,
)
from twiliosig.wsgi import TwilioSignatureMiddleware

TOKEN = "oauth-test-auth-token-0123456789"
URL = "http://testserver/twilio/sms"
PARAMS = {"From": "+15005550006", "Body": "hi"}


@pytest.fixture(scope="module")
def rsa_key() -> Key:
    return Key("RS256", "rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> Key:
    return Key("ES256", "ec-1")


@pytest.fixture(scope="module")
def ed_key() -> Key:
    return Key("EdDSA", "ed-1")


@pytest.fixture
def server(rsa_key: Key, ec_key: Key, ed_key: Key) -> Iterator[FakeServer]:
    fake = FakeServer()
    fake.keys = [rsa_key, ec_key, ed_key]
    with fake.running():
        yield fake


def verifier(server: FakeServer, **changes: Any) -> JWTVerifier:
    options: dict[str, Any] = {"issuer": server.issuer, "audience": AUDIENCE, "client_id": CLIENT_ID}
    return JWTVerifier(**{**options, **changes})


# --- JWTs: what is accepted -------------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key", "ed_key"])
def test_a_token_from_the_server_for_twilio_is_accepted(
    key_name: str, server: FakeServer, request: pytest.FixtureRequest
) -> None:
    """RS256, ES256 and EdDSA tokens, the keys found through the issuer's RFC 8414 metadata."""
    key: Key = request.getfixturevalue(key_name)
    check = verifier(server)
    assert check.verify(key.sign(claims(server.issuer))) == ACCEPTED
    assert server.calls["/.well-known/oauth-authorization-server"] == 1
    assert server.calls["/jwks"] == 1


def test_ps256_under_an_rsa_key_that_names_no_algorithm(server: FakeServer) -> None:
    """A key without ``alg`` serves every RSA algorithm allowed; the token's alg must still be allowed."""
    key = Key("PS256", "rsa-pss", alg_in_jwk=False)
    server.keys = [key]
    assert verifier(server).verify(key.sign(claims(server.issuer))) == ACCEPTED
    refused = verifier(server, algorithms=["RS256"]).verify(key.sign(claims(server.issuer)))
    assert refused.error == "invalid_token"
    assert "allow-list" in refused.detail


@pytest.mark.parametrize(
    ("claim", "value"),
    [("client_id", CLIENT_ID), ("azp", CLIENT_ID), ("sub", CLIENT_ID)],
)
def test_the_client_is_read_where_the_server_writes_it(
    claim: str, value: str, server: FakeServer, rsa_key: Key
) -> None:
    """``client_id`` (RFC 9068), else ``azp``, else ``sub``."""
    token = claims(server.issuer, client_id=None, sub=None)
    token[claim] = value
    assert verifier(server).verify(rsa_key.sign(token)) == ACCEPTED


def test_an_audience_among_several_and_a_scope_among_several(server: FakeServer, rsa_key: Key) -> None:
    token = claims(server.issuer, aud=["https://other.example.com", AUDIENCE], scope="read webhooks write")
    assert verifier(server, scope="webhooks").verify(rsa_key.sign(token)) == ACCEPTED
    scp = claims(server.issuer, scope=None, scp=["webhooks", "other"])
    assert verifier(server, scope=["webhooks"]).verify(rsa_key.sign(scp)) == ACCEPTED


def test_clock_skew_within_the_leeway_is_accepted(server: FakeServer, rsa_key: Key) -> None:
    now = int(time.time())
    token = claims(server.issuer, exp=now - 10, nbf=now + 10)
    assert verifier(server, leeway=30).verify(rsa_key.sign(token)) == ACCEPTED
    assert verifier(server, leeway=0).verify(rsa_key.sign(token)).error == "invalid_token"


# --- JWTs: what is refused --------------------------------------------------------------------


def _refusal(server: FakeServer, token: str, **changes: Any) -> TokenResult:
    answer = verifier(server, **changes).verify(token)
    assert answer.error is not None, answer
    return answer


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"exp": -120}, "expired"),  # seconds from when the test runs, not from when it was collected
        ({"nbf": +120}, "not valid yet"),
        ({"aud": "https://other.example.com"}, "another audience"),
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"client_id": "another-client", "sub": "another-client"}, "another client"),
        ({"client_id": None, "sub": None}, "another client"),  # no client named at all
        ({"exp": None}, "without the exp claim"),
        ({"aud": None}, "without the aud claim"),
    ],
    ids=["expired", "not-yet", "audience", "issuer", "client", "no-client", "no-exp", "no-aud"],
)
def test_each_claim_is_checked(changes: dict[str, Any], detail: str, server: FakeServer, rsa_key: Key) -> None:
    now = int(time.time())
    changes = {
        name: now + value if name in ("exp", "nbf") and value is not None else value for name, value in changes.items()
    }
    answer = _refusal(server, rsa_key.sign(claims(server.issuer, **changes)))
    assert answer.error == "invalid_token"
    assert detail in answer.detail


def test_a_client_id_claim_for_another_client_is_not_overruled_by_sub(server: FakeServer, rsa_key: Key) -> None:
    """The first claim the server writes decides: a sub naming Twilio's client does not rescue another client_id."""
    token = claims(server.issuer, client_id="another-client", sub=CLIENT_ID)
    assert _refusal(server, rsa_key.sign(token)).error == "invalid_token"


def test_a_token_without_the_scope_gets_insufficient_scope(server: FakeServer, rsa_key: Key) -> None:
    answer = _refusal(server, rsa_key.sign(claims(server.issuer, scope="read")), scope="webhooks")
    assert (answer.error, answer.scope) == ("insufficient_scope", "webhooks")
    assert _refusal(server, rsa_key.sign(claims(server.issuer, scope=None)), scope="webhooks").error == (
        "insufficient_scope"
    )


def test_alg_none_is_refused(server: FakeServer) -> None:
    answer = _refusal(server, unsigned(claims(server.issuer)))
    assert "allow-list" in answer.detail


@pytest.mark.parametrize("encoding", ["pem", "der-n"])
def test_an_hmac_keyed_with_the_servers_public_key_is_refused(encoding: str, server: FakeServer, rsa_key: Key) -> None:
    """The classic confusion: HS256 with the RSA public key as the secret, under the real key's kid."""
    public = rsa_key.private.public_key()
    if encoding == "pem":
        secret = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        secret = rsa_key.jwk["n"].encode()
    token = hmac_signed(claims(server.issuer), secret, rsa_key.kid)
    answer = _refusal(server, token)
    assert "allow-list" in answer.detail
    # Even when told HS256 is fine, the verifier refuses to be built with it.
    with pytest.raises(ValueError, match="asymmetric"):
        verifier(server, algorithms=["RS256", "HS256"])


def test_a_tampered_token_is_refused(server: FakeServer, rsa_key: Key) -> None:
    token = rsa_key.sign(claims(server.issuer, scope="read"))
    head, _, signature = token.split(".")
    other = rsa_key.sign(claims(server.issuer, scope="webhooks admin")).split(".")[1]
    answer = _refusal(server, f"{head}.{other}.{signature}")
    assert "signature does not verify" in answer.detail


def test_a_key_of_another_type_or_use_or_algorithm_verifies_nothing(server: FakeServer, ec_key: Key) -> None:
    """The token's header never chooses how a key is used: an EC token under an RSA kid, a key for encryption."""
    rsa = server.keys[0]
    mislabelled = ec_key.sign(claims(server.issuer), kid=rsa.kid)
    assert "not publish" in _refusal(server, mislabelled).detail
    server.keys = [Key("ES256", "enc-1")]
    server.keys[0].jwk["use"] = "enc"
    assert _refusal(server, server.keys[0].sign(claims(server.issuer))).error == "invalid_token"
    key = Key("ES256", "es-alg")
    key.jwk["alg"] = "ES384"  # the key says another algorithm than the token
    server.keys = [key]
    assert _refusal(server, key.sign(claims(server.issuer))).error == "invalid_token"


@pytest.mark.parametrize(
    "oddity",
    [{"crv": ["P-256"]}, {"key_ops": [{"verify": True}]}, {"key_ops": "verify"}, {"alg": ["ES256"]}, {"kid": ["x"]}],
    ids=["crv-list", "key-ops-objects", "key-ops-str", "alg-list", "kid-list"],
)
def test_a_malformed_key_in_the_set_is_skipped_never_a_500(
    oddity: dict[str, Any], server: FakeServer, ec_key: Key
) -> None:
    """A key set holding one key of odd JSON types: that key verifies nothing, the others still do."""
    odd = Key("ES256", "odd")
    odd.jwk.update(oddity)
    server.keys = [odd, ec_key]
    check = verifier(server)
    no_kid = jwt.encode(claims(server.issuer), ec_key.private, algorithm="ES256")  # no kid: every key is tried
    assert check.verify(no_kid) == ACCEPTED
    assert check.verify(odd.sign(claims(server.issuer))).error == "invalid_token"


def test_a_token_that_is_not_a_jwt_is_refused_without_a_call(server: FakeServer) -> None:
    check = verifier(server)
    assert check.lookup("opaque-token-0123").error == "invalid_token"  # type: ignore[union-attr]
    assert sum(server.calls.values()) == 0


# --- JWTs: what is remembered, and what costs a call ------------------------------------------


def test_keys_are_fetched_once_and_a_token_seen_before_is_not_verified_again(
    server: FakeServer, rsa_key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = verifier(server)
    token = rsa_key.sign(claims(server.issuer))
    assert check.lookup(token) is None  # no keys yet: the guard must wait for the network
    assert check.verify(token) == ACCEPTED
    decodes = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real(*a, **k))
    assert check.lookup(token) == ACCEPTED
    assert decodes == []  # seen before: a lookup, no signature check
    fresh = rsa_key.sign(claims(server.issuer))
    assert check.lookup(fresh) == ACCEPTED  # new, under keys held: verified in line, no call
    assert decodes == [1]
    assert server.calls["/jwks"] == 1


def test_a_remembered_token_expires_with_its_exp(server: FakeServer, rsa_key: Key) -> None:
    check = verifier(server, leeway=0)
    token = rsa_key.sign(claims(server.issuer, exp=int(time.time()) + 2))
    assert check.verify(token) == ACCEPTED
    time.sleep(2.2)
    assert check.lookup(token).error == "invalid_token"  # type: ignore[union-attr]


def test_the_token_cache_is_bounded(server: FakeServer, rsa_key: Key, monkeypatch: pytest.MonkeyPatch) -> None:
    check = verifier(server, cache_size=2)
    tokens = [rsa_key.sign(claims(server.issuer)) for _ in range(3)]
    for token in tokens:
        assert check.verify(token) == ACCEPTED
    assert len(check._answers._items) == 2
    decodes = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real(*a, **k))
    check.lookup(tokens[0])  # the oldest was dropped: verified again
    check.lookup(tokens[2])
    assert decodes == [1]


def test_an_unknown_key_id_refreshes_the_keys_at_most_once_per_interval(server: FakeServer, rsa_key: Key) -> None:
    """A rotation is picked up; a stream of made-up key ids costs one fetch per interval, not one per request."""
    check = verifier(server, refresh_interval=1)
    assert check.verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    rotated = Key("ES256", "rotated-1")
    server.keys = [rsa_key, rotated]
    time.sleep(1.1)
    new = rotated.sign(claims(server.issuer))
    assert check.lookup(new) is None  # unknown kid, interval passed: the guard waits for one fetch
    assert check.verify(new) == ACCEPTED
    assert server.calls["/jwks"] == 2
    for number in range(20):
        made_up = rotated.sign(claims(server.issuer), kid=f"made-up-{number}")
        assert check.verify(made_up).error == "invalid_token"
    assert server.calls["/jwks"] == 2


def test_a_rotated_key_fetched_by_another_thread_meanwhile_is_not_refused(
    server: FakeServer, rsa_key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests under a new key at once: one fetches the set while the other looks in the old one.

    The other must not read the fresh ``_refreshed`` as "the set was just fetched and
    holds no such key" when the set it searched is the old one: it asks again instead.
    """
    check = verifier(server, refresh_interval=60)
    assert check.verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    check._refreshed -= 120  # the interval has passed since the last fetch
    rotated = Key("ES256", "rotated-race")
    server.keys = [rsa_key, rotated]
    token = rotated.sign(claims(server.issuer))
    real = JWTVerifier._candidates

    def meanwhile(self: JWTVerifier, keys: Any, header: Any) -> Any:
        found = real(self, keys, header)
        if not found and self._keys is keys:  # another thread's refresh ends while this one searched the old set
            self._refresh()
        return found

    monkeypatch.setattr(JWTVerifier, "_candidates", meanwhile)
    assert check.lookup(token) is None  # not a 401: the set changed under it, so ask again
    assert check.verify(token) == ACCEPTED


def test_keys_older_than_their_max_age_are_fetched_again(server: FakeServer, rsa_key: Key) -> None:
    """A key the server withdrew stops verifying new tokens once the key set is fetched again."""
    check = verifier(server, keys_max_age=1, refresh_interval=1)
    assert check.verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    server.keys = [Key("ES256", "only-now")]
    time.sleep(1.1)
    late = rsa_key.sign(claims(server.issuer))
    assert check.lookup(late) is None
    assert check.verify(late).error == "invalid_token"
    assert server.calls["/jwks"] == 2


def test_concurrent_first_requests_fetch_the_keys_once(server: FakeServer, rsa_key: Key) -> None:
    check = verifier(server)
    tokens = [rsa_key.sign(claims(server.issuer)) for _ in range(8)]
    answers: list[TokenResult] = []
    threads = [threading.Thread(target=lambda t=token: answers.append(check.verify(t))) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [ACCEPTED] * 8
    assert server.calls["/jwks"] == 1


# --- JWTs: the server is down ------------------------------------------------------------------


def test_an_unreachable_server_is_an_outage_never_a_pass(server: FakeServer, rsa_key: Key) -> None:
    server.down = True
    check = verifier(server, refresh_interval=1)
    token = rsa_key.sign(claims(server.issuer))
    answer = check.verify(token)
    assert answer.error == "unavailable"
    calls = sum(server.calls.values())
    assert check.lookup(token) == answer  # for a pause, from memory: no call per request
    assert sum(server.calls.values()) == calls
    server.down = False
    time.sleep(1.1)
    assert check.verify(token) == ACCEPTED


def test_a_closed_port_and_a_timeout_are_outages(rsa_key: Key) -> None:
    check = JWTVerifier(issuer="http://127.0.0.1:9", audience=AUDIENCE, client_id=CLIENT_ID, timeout=1)
    assert check.verify(rsa_key.sign(claims("http://127.0.0.1:9"))).error == "unavailable"


def test_metadata_naming_another_issuer_is_not_used(server: FakeServer, rsa_key: Key) -> None:
    """RFC 8414 section 3.3: a document for another issuer could point at anyone's keys."""
    server.metadata_issuer = "https://evil.example.com"
    answer = verifier(server).verify(rsa_key.sign(claims(server.issuer)))
    assert answer.error == "unavailable"
    assert "another issuer" in answer.detail
    assert server.calls["/jwks"] == 0


def test_openid_discovery_is_the_fallback(server: FakeServer, rsa_key: Key) -> None:
    """A server without RFC 8414 metadata (404) is asked at /.well-known/openid-configuration."""
    server.openid_only = True
    assert verifier(server).verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    assert server.calls["/.well-known/oauth-authorization-server"] == 1
    assert server.calls["/.well-known/openid-configuration"] == 1


def test_a_given_key_set_url_needs_no_metadata(server: FakeServer, rsa_key: Key) -> None:
    given = verifier(server, jwks_url=f"{server.issuer}/jwks")
    assert given.verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    assert server.calls["/.well-known/oauth-authorization-server"] == 0


# --- configuration mistakes fail at start-up ----------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "http://auth.example.com"}, "https"),
        ({"jwks_url": "http://auth.example.com/jwks"}, "https"),
        ({"audience": ""}, "audience"),
        ({"audience": []}, "audience"),
        ({"client_id": ""}, "client_id"),
        ({"algorithms": ["none"]}, "asymmetric"),
        ({"algorithms": ["HS256"]}, "asymmetric"),
        ({"algorithms": []}, "algorithms"),
        ({"leeway": 3600}, "leeway"),
        ({"refresh_interval": 0}, "refresh_interval"),
    ],
)
def test_a_jwt_verifier_refuses_a_mistake_when_built(changes: dict[str, Any], message: str) -> None:
    options = {"issuer": "https://auth.example.com/", "audience": AUDIENCE, "client_id": CLIENT_ID, **changes}
    with pytest.raises((ValueError, TypeError), match=message):
        JWTVerifier(**options)


def test_a_jwt_verifier_needs_audience_and_client_id() -> None:
    with pytest.raises(TypeError):
        JWTVerifier(issuer="https://auth.example.com/", client_id=CLIENT_ID)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        JWTVerifier(issuer="https://auth.example.com/", audience=AUDIENCE)  # type: ignore[call-arg]


def test_http_is_allowed_on_loopback_only() -> None:
    for issuer in ("http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080"):
        JWTVerifier(issuer=issuer, audience=AUDIENCE, client_id=CLIENT_ID)
    with pytest.raises(ValueError, match="https"):
        JWTVerifier(issuer="http://10.0.0.1", audience=AUDIENCE, client_id=CLIENT_ID)


def test_the_option_takes_a_verifier_alone() -> None:
    check = JWTVerifier(issuer="https://auth.example.com/", audience=AUDIENCE, client_id=CLIENT_ID)
    assert isinstance(check, TokenVerifier)
    with pytest.raises(ValueError, match="one Authorization header"):
        TwilioSignatureMiddleware(Response("ok"), auth_token=TOKEN, oauth=check, basic_auth={"twilio": "pw"})
    with pytest.raises(TypeError, match="verifier"):
        TwilioSignatureMiddleware(Response("ok"), auth_token=TOKEN, oauth=lambda token: True)


class _AsyncLookup:
    async def lookup(self, token: str) -> TokenResult | None:
        return None

    def verify(self, token: str) -> TokenResult:
        return ACCEPTED

    async def averify(self, token: str) -> TokenResult:
        return ACCEPTED


@pytest.mark.parametrize("wrong", [JWTVerifier, CallableVerifier, IntrospectionVerifier, _AsyncLookup()])
def test_a_verifier_class_or_an_async_lookup_is_refused_when_built(wrong: object) -> None:
    """A class has the protocol's methods too (unbound): it would pass isinstance and raise on every request."""
    with pytest.raises(TypeError, match="verifier"):
        TwilioSignatureMiddleware(Response("ok"), auth_token=TOKEN, oauth=wrong)


# --- introspection ----------------------------------------------------------------------------


def introspection(server: FakeServer, **changes: Any) -> IntrospectionVerifier:
    options: dict[str, Any] = {
        "issuer": server.issuer,
        "audience": AUDIENCE,
        "client_id": CLIENT_ID,
        "introspection_client_id": RESOURCE_ID,
        "introspection_client_secret": RESOURCE_SECRET,
    }
    return IntrospectionVerifier(**{**options, **changes})


def active(server: FakeServer, **changes: Any) -> dict[str, Any]:
    return {"active": True, **claims(server.issuer, **changes)}


def test_an_active_token_is_accepted_and_remembered(server: FakeServer) -> None:
    server.active["opaque-1"] = active(server)
    check = introspection(server)
    assert check.lookup("opaque-1") is None
    assert check.verify("opaque-1") == ACCEPTED
    assert check.lookup("opaque-1") == ACCEPTED
    assert server.calls["/introspect"] == 1
    assert server.calls["/.well-known/oauth-authorization-server"] == 1


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ({"active": False}, "not active"),
        ({"aud": "https://other.example.com"}, "another audience"),
        ({"aud": None}, "another audience"),
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"client_id": "another-client"}, "another client"),
        ({"exp": None}, "exp"),
        ({"exp": int(time.time()) - 5}, "exp"),
    ],
    ids=["inactive", "audience", "no-audience", "issuer", "client", "no-exp", "past-exp"],
)
def test_an_introspection_answer_is_checked(answer: dict[str, Any], detail: str, server: FakeServer) -> None:
    server.active["opaque-2"] = {"active": False} if answer == {"active": False} else active(server, **answer)
    check = introspection(server)
    result = check.verify("opaque-2")
    assert result.error == "invalid_token"
    assert detail in result.detail
    check.verify("opaque-2")
    assert server.calls["/introspect"] == 1  # a refusal is remembered too (for inactive_for)


def test_introspection_scope_and_outage(server: FakeServer) -> None:
    server.active["opaque-3"] = active(server, scope="read")
    assert introspection(server, scope="webhooks").verify("opaque-3").error == "insufficient_scope"
    wrong = introspection(server, url=f"{server.issuer}/introspect", introspection_client_secret="wrong")
    assert wrong.verify("opaque-3").error == "unavailable"  # our own credentials refused: an outage, never a pass
    server.down = True
    assert introspection(server).verify("opaque-3").error == "unavailable"


def test_an_introspection_answer_nested_past_the_recursion_limit_is_an_outage(server: FakeServer) -> None:
    server.active["opaque-deep"] = b'{"active":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert introspection(server).verify("opaque-deep").error == "unavailable"


def test_made_up_tokens_never_push_an_accepted_one_out_of_memory(server: FakeServer) -> None:
    """Anyone can have refusals remembered (one introspection per made-up token): they never evict Twilio's token."""
    server.active["twilio-token"] = active(server)
    check = introspection(server, cache_size=3)
    assert check.verify("twilio-token") == ACCEPTED
    for number in range(10):
        assert check.verify(f"made-up-{number}").error == "invalid_token"
    assert check.lookup("twilio-token") == ACCEPTED  # still answered from memory: no call
    assert check.lookup("made-up-9") is not None  # the newest refusals are remembered, within cache_size
    assert check.lookup("made-up-0") is None
    assert server.calls["/introspect"] == 11


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"aud": [{"an": "object"}, AUDIENCE]}, None),
        ({"exp": 10**400}, None),  # a number beyond a float: remembered for max_age
        ({"exp": float("nan")}, "invalid_token"),
        ({"exp": float("inf")}, None),
    ],
    ids=["aud-with-an-object", "exp-huge", "exp-nan", "exp-infinite"],
)
def test_an_introspection_answer_of_odd_json_is_judged_never_a_500(
    answer: dict[str, Any], error: str | None, server: FakeServer
) -> None:
    server.active["opaque-odd"] = active(server, **answer)
    check = introspection(server)
    assert check.verify("opaque-odd").error == error
    if error is None:
        assert check.lookup("opaque-odd") == ACCEPTED


def test_a_callable_verifier_returning_a_huge_exp_is_remembered_never_a_500() -> None:
    check = CallableVerifier(lambda token: {"exp": 10**400})
    assert check.verify("t") == ACCEPTED
    assert check.lookup("t") == ACCEPTED


def test_a_failed_discovery_of_the_endpoint_is_paused_not_repeated_per_token(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During an outage each new token must not queue for a discovery of its own (two calls, 5 s each)."""
    server.down = True
    check = introspection(server)
    for number in range(5):
        assert check.verify(f"new-{number}").error == "unavailable"
    assert sum(server.calls.values()) == 2  # RFC 8414's metadata, then OpenID's: once
    server.down = False
    server.active["new-5"] = active(server)
    later = time.monotonic() + 6
    monkeypatch.setattr(oauth_module.time, "monotonic", lambda: later)
    assert check.verify("new-5") == ACCEPTED  # after the pause, asked again


def test_introspection_needs_a_place_to_ask() -> None:
    with pytest.raises(ValueError, match="url"):
        IntrospectionVerifier(
            audience=AUDIENCE, client_id=CLIENT_ID, introspection_client_id="a", introspection_client_secret="b"
        )
    with pytest.raises(ValueError, match="https"):
        IntrospectionVerifier(
            url="http://auth.example.com/introspect",
            audience=AUDIENCE,
            client_id=CLIENT_ID,
            introspection_client_id="a",
            introspection_client_secret="b",
        )


# --- a function of the user's ---------------------------------------------------------------------


def test_a_callable_verifier_maps_its_exceptions() -> None:
    def check(token: str) -> dict[str, Any]:
        if token == "good":
            return {"exp": time.time() + 60}
        if token == "scope":
            raise InsufficientScope("no webhooks scope", "webhooks")
        if token == "down":
            raise AuthorizationServerUnavailable("the server is down")
        if token == "bug":
            raise KeyError("oops")
        raise InvalidToken("unknown token")

    verifier = CallableVerifier(check)
    assert verifier.verify("good") == ACCEPTED
    assert verifier.lookup("good") == ACCEPTED
    assert verifier.verify("bad") == TokenResult("invalid_token", "unknown token")
    assert verifier.verify("scope") == TokenResult("insufficient_scope", "no webhooks scope", "webhooks")
    assert verifier.verify("down").error == "unavailable"
    assert verifier.verify("bug").error == "unavailable"  # a bug is an outage, never a pass
    assert CallableVerifier(lambda token: None).verify("x").error == "unavailable"  # type: ignore[arg-type,return-value]


def test_averify_runs_off_the_event_loop() -> None:
    threads: list[bool] = []

    def check(token: str) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            threads.append(False)
        except RuntimeError:
            threads.append(True)  # no loop in this thread: the blocking call is not holding the loop
        return {}

    assert asyncio.run(CallableVerifier(check).averify("t")) == ACCEPTED
    assert threads == [True]


# --- the guard's answers ------------------------------------------------------------------------


def _post(guard_options: dict[str, Any], headers: dict[str, str]) -> Any:
    app = TwilioSignatureMiddleware(Response("ok"), auth_token=TOKEN, **guard_options)
    signature = {"X-Twilio-Signature": compute_signature(TOKEN, URL, PARAMS)}
    return Client(app).post("/twilio/sms", base_url="http://testserver", data=PARAMS, headers={**signature, **headers})


def test_the_guard_answers_each_case_as_rfc_6750_asks(server: FakeServer, rsa_key: Key) -> None:
    oauth = verifier(server, scope="webhooks")
    good = rsa_key.sign(claims(server.issuer))
    cases = {
        "none": ({}, 401, 'Bearer realm="twilio"'),
        "basic": ({"Authorization": "Basic dHdpbGlvOnB3"}, 401, 'Bearer realm="twilio"'),
        "empty": ({"Authorization": "Bearer "}, 401, 'Bearer realm="twilio"'),
        "garbage": ({"Authorization": "Bearer not a token"}, 401, 'Bearer realm="twilio", error="invalid_token"'),
        "expired": (
            {"Authorization": "Bearer " + rsa_key.sign(claims(server.issuer, exp=int(time.time()) - 100))},
            401,
            'Bearer realm="twilio", error="invalid_token"',
        ),
        "scope": (
            {"Authorization": "Bearer " + rsa_key.sign(claims(server.issuer, scope="read"))},
            403,
            'Bearer realm="twilio", error="insufficient_scope", scope="webhooks"',
        ),
        "good": ({"Authorization": "Bearer " + good}, 200, None),
        "good-scheme-case": ({"Authorization": "bearer " + good}, 200, None),
    }
    for name, (headers, status, challenge) in cases.items():
        response = _post({"oauth": oauth}, headers)
        assert (response.status_code, response.headers.get("WWW-Authenticate")) == (status, challenge), name


def test_a_valid_token_does_not_replace_the_signature(server: FakeServer, rsa_key: Key) -> None:
    app = TwilioSignatureMiddleware(Response("ok"), auth_token=TOKEN, oauth=verifier(server))
    bearer = {"Authorization": "Bearer " + rsa_key.sign(claims(server.issuer))}
    forged = Client(app).post("/twilio/sms", base_url="http://testserver", data=PARAMS, headers=bearer)
    assert forged.status_code == 403


def test_the_guard_answers_503_while_the_server_is_down(
    server: FakeServer, rsa_key: Key, caplog: pytest.LogCaptureFixture
) -> None:
    server.down = True
    with caplog.at_level("WARNING", logger="twiliosig"):
        response = _post(
            {"oauth": verifier(server)}, {"Authorization": "Bearer " + rsa_key.sign(claims(server.issuer))}
        )
    assert response.status_code == 503
    assert response.headers.get("WWW-Authenticate") is None
    (record,) = [record for record in caplog.records if record.name == "twiliosig"]
    assert record.twiliosig_reason == Reason.AUTHORIZATION_SERVER_UNAVAILABLE.value  # type: ignore[attr-defined]
    assert record.twiliosig_layer == "oauth"  # type: ignore[attr-defined]
    assert "503" in record.getMessage() or record.twiliosig_status == 503  # type: ignore[attr-defined]


def test_a_token_is_never_logged(server: FakeServer, rsa_key: Key, caplog: pytest.LogCaptureFixture) -> None:
    token = rsa_key.sign(claims(server.issuer, aud="https://other.example.com"))
    with caplog.at_level("DEBUG", logger="twiliosig"):
        assert _post({"oauth": verifier(server)}, {"Authorization": "Bearer " + token}).status_code == 401
    text = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "another audience" in text
    assert token not in text
    assert token.split(".")[1] not in text


def test_the_layer_maps_an_unknown_answer_to_a_refusal() -> None:
    """A verifier of the user's answering an error the layer does not know is refused, never let through."""
    layer = BearerLayer(CallableVerifier(lambda token: {}))
    assert layer.denied(TokenResult("something_new", "?")) is not None
    assert layer.denied(ACCEPTED) is None


@pytest.mark.parametrize("credentials", ['a"b', "a b", "tok\x00en", "é", "a" * (16 * 1024 + 1), "=abc"])
def test_a_token_that_is_no_b64token_never_reaches_the_verifier(credentials: str) -> None:
    """RFC 6750's b64token, at most 16 KiB: anything else is refused before a verifier (or its cache) sees it."""
    seen: list[str] = []
    layer = BearerLayer(CallableVerifier(lambda token: seen.append(token) or {}))  # type: ignore[func-returns-value]
    denied = layer.authenticate(credentials, None)  # type: ignore[arg-type]
    assert denied is not None
    assert denied.challenges == ('Bearer realm="twilio", error="invalid_token"',)
    assert seen == []


def test_a_token_of_exactly_16_kib_reaches_the_verifier() -> None:
    """The bound is 16 KiB inclusive: the longest token allowed is handed over, one character more is not."""
    seen: list[str] = []
    layer = BearerLayer(CallableVerifier(lambda token: seen.append(token) or {}))  # type: ignore[func-returns-value]
    longest = "a" * (16 * 1024)
    assert isinstance(layer.authenticate(longest, None), Waiting)  # type: ignore[arg-type]
    assert layer.authenticate(longest + "a", None) is not None  # type: ignore[arg-type]


def test_the_scope_in_a_403_challenge_cannot_break_its_quoted_string() -> None:
    """A scope (the user's verifier names it) loses every quote and backslash: the challenge stays one parameter."""
    layer = BearerLayer(CallableVerifier(lambda token: {}))
    denied = layer.denied(TokenResult("insufficient_scope", "no scope", 'webhooks", error="x\\'))
    assert denied is not None
    assert denied.challenges == ('Bearer realm="twilio", error="insufficient_scope", scope="webhooks, error=x"',)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HEADER = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImhlbGQifQ"  # {"alg":"ES256","kid":"held"}: the held key's


@given(
    st.one_of(
        st.text(alphabet=_B64 + ".=~+/é", max_size=300),
        st.builds(lambda payload, signature: f"{_HEADER}.{payload}.{signature}", st.text(_B64), st.text(_B64 + "=")),
    )
)
@settings(max_examples=300, deadline=None)
def test_any_token_gets_an_answer_never_an_exception(token: str) -> None:
    """Whatever a client sends as a token, the verifier answers (a refusal), from memory, without raising."""
    answer = HELD.lookup(token)
    assert answer is not None
    assert answer.error == "invalid_token"


def _headed(header: bytes) -> str:
    return base64.urlsafe_b64encode(header).rstrip(b"=").decode() + ".e30.c2ln"


@pytest.mark.parametrize(
    "header",
    [
        b'{"alg":["ES256"]}',
        b'{"alg":{"ES256":1}}',
        b'{"alg":"ES256","kid":' + b"[" * 3000 + b"]" * 3000 + b"}",
        b"[" * 6000 + b"]" * 6000,
    ],
    ids=["alg-list", "alg-object", "deep-kid", "deep-header"],
)
def test_a_hostile_header_is_a_401_never_a_500(header: bytes) -> None:
    """An ``alg`` that is no str (unhashable in the allow-list) or JSON nested past the recursion limit: refused."""
    token = _headed(header)
    assert len(token) <= 16 * 1024
    answer = HELD.lookup(token)
    assert answer is not None
    assert answer.error == "invalid_token"
    response = _post({"oauth": HELD}, {"Authorization": "Bearer " + token})
    assert (response.status_code, response.headers.get("WWW-Authenticate")) == (
        401,
        'Bearer realm="twilio", error="invalid_token"',
    )


def _held() -> JWTVerifier:
    """A verifier holding a key set, as after its first fetch (no server needed)."""
    held = JWTVerifier(issuer="https://auth.example.com/", audience=AUDIENCE, client_id=CLIENT_ID)
    held._keys = oauth_module._KeySet((Key("ES256", "held").jwk,), time.monotonic(), {})
    held._refreshed = time.monotonic()
    return held


HELD = _held()


# --- twiliosig explain --oauth ---------------------------------------------------------------------------------------


def _saved(tmp: Any, authorization: str | None) -> str:
    url = "https://example.com/twilio/sms"
    signature = compute_signature(TOKEN, url, [("CallSid", "CA1")])
    extra = "" if authorization is None else f"Authorization: {authorization}\r\n"
    raw = (
        "POST /twilio/sms HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\n{extra}Content-Length: 11\r\n\r\nCallSid=CA1"
    )
    path = tmp / "request.http"
    path.write_text(raw)
    return str(path)


def test_explain_names_a_missing_bearer_token_and_shows_a_jwts_claims_never_the_token(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rsa_key: Key
) -> None:
    """explain --oauth: no token is the oauth layer's refusal; a JWT's claims are shown, marked unverified."""
    from twiliosig.cli import main

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    assert main(["explain", "--request", _saved(tmp_path, None), "--oauth"]) == 1
    assert "REFUSED (unauthorized) by oauth" in capsys.readouterr().out
    assert main(["explain", "--request", _saved(tmp_path, "Bearer a b"), "--oauth"]) == 1
    assert "not an RFC 6750 b64token" in capsys.readouterr().out
    token = rsa_key.sign(claims("https://issuer.example.com", exp=int(time.time()) - 3600))
    assert main(["explain", "--request", _saved(tmp_path, f"Bearer {token}"), "--oauth"]) == 0
    out = capsys.readouterr().out
    assert "does not verify it" in out
    assert 'iss: "https://issuer.example.com"' in out
    assert f'client_id: "{CLIENT_ID}"' in out
    assert "expired (normal for a saved request)" in out
    assert "GENUINE" in out  # the signature is still checked, after the layer
    assert token not in out
    assert main(["explain", "--request", _saved(tmp_path, "Bearer opaque-token-1"), "--oauth"]) == 0
    assert "not a JWT: an opaque token" in capsys.readouterr().out
    assert main(["explain", "--request", _saved(tmp_path, f"Bearer {token}")]) == 0  # no --oauth: no layer checked
    assert "bearer token" not in capsys.readouterr().out


def test_no_token_is_logged_as_twilio_sending_it_unasked_and_explained_without_a_challenge(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under oauth, Twilio never waits for a challenge: the cause points at the AuthProfile, not at a retry."""
    from twiliosig._guard import Guard, Head

    guard = Guard(auth_token=TOKEN, oauth=CallableVerifier(lambda token: {}))
    head = Head("POST", "/twilio/sms", "https", "example.com", "/twilio/sms", "", {}.get)
    check = guard.start(head)
    assert check is not None
    assert check.decision is not None
    assert "sends its bearer token with every request" in check.decision.verdict.detail
    from twiliosig.cli import main

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    assert main(["explain", "--request", _saved(tmp_path, None), "--oauth"]) == 1
    out = capsys.readouterr().out
    assert "sends its bearer token with every request" in out
    assert "Twilio repeats the request" not in out


# --- found by mutation testing: the paths no other test reached ---------------------------------


class FakeTime:
    """Stands in for the time module inside twiliosig.oauth: wall clock and monotonic clock moved together."""

    def __init__(self) -> None:
        self.wall = float(int(time.time()))  # tokens' exp are signed against the real clock
        self.mono = 1_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(oauth_module, "time", fake)
    return fake


def test_no_key_right_after_a_refresh_is_never_a_pass(server: FakeServer, rsa_key: Key) -> None:
    """verify's last resort (lookup still unanswered after the refresh) refuses: 503 for a failure, else 401."""
    token = rsa_key.sign(claims(server.issuer))
    # Keys older than keys_max_age as soon as they arrive: lookup never answers, the refresh succeeded.
    assert verifier(server, keys_max_age=1e-9).verify(token).error == "invalid_token"

    # Another thread's refresh failed while this one waited for the lock (and the pause is over).
    class OtherThreadFailed(JWTVerifier):
        def _refresh(self) -> None:
            self._failure = "the authorization server could not be reached"
            self._refreshed = -float("inf")

    failed = OtherThreadFailed(issuer=server.issuer, audience=AUDIENCE, client_id=CLIENT_ID)
    assert failed.verify(token) == TokenResult("unavailable", "the authorization server could not be reached")


@pytest.mark.parametrize("answer", [{}, [], {"active": "true"}, {"active": 1}], ids=["no-active", "list", "str", "int"])
def test_an_introspection_answer_without_a_boolean_active_is_an_outage(answer: Any, server: FakeServer) -> None:
    server.active["odd"] = answer
    result = introspection(server).verify("odd")
    assert result.error == "unavailable"
    assert "active" in result.detail


def test_an_introspection_answer_is_remembered_until_exp_at_most_max_age(server: FakeServer, clock: FakeTime) -> None:
    """An accepted answer is trusted until its exp (no leeway), and never longer than max_age."""
    server.active["short"] = active(server, exp=int(clock.wall) + 10)
    server.active["long"] = active(server, exp=int(clock.wall) + 1000)
    check = introspection(server, max_age=300, inactive_for=600)
    assert check.verify("short") == ACCEPTED
    assert check.verify("long") == ACCEPTED
    clock.advance(9.5)
    assert check.lookup("short") == ACCEPTED
    clock.advance(0.5)
    assert check.lookup("short") is None  # exp reached: asked again (and then refused, as past exp)
    assert check.verify("short").error == "invalid_token"
    clock.advance(290)
    assert check.lookup("long") is None  # max_age reached: a revoked token stops working within it


def test_a_callable_verifiers_answer_is_remembered_until_exp(clock: FakeTime) -> None:
    """Until exp exactly (no leeway); a token whose exp is now or past is refused, never remembered."""
    exps = {"soon": clock.wall + 10, "half": clock.wall + 0.5, "now": clock.wall, "past": clock.wall - 1}
    check = CallableVerifier(lambda token: {"exp": exps[token]}, max_age=300)
    assert check.verify("soon") == ACCEPTED
    assert check.verify("half") == ACCEPTED
    for token in ("now", "past"):
        result = check.verify(token)
        assert result.error == "invalid_token"
        assert "exp is past" in result.detail
        assert check.lookup(token) is None
    clock.advance(10)
    assert check.lookup("soon") is None


@contextmanager
def raw_server(answer: bytes | None) -> Iterator[str]:
    """A server on 127.0.0.1 that sends ``answer`` to every request and then holds the connection open (None: sends
    nothing at all). The URL it returns is its origin."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)
            if answer is not None:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def _in_a_thread(call: Callable[[], TokenResult], seconds: float = 5.0) -> TokenResult:
    """The call's answer, failing the test (instead of hanging it) when it takes longer than ``seconds``."""
    answers: list[TokenResult] = []
    thread = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert answers, "the call did not return: no timeout bounds it"
    return answers[0]


@pytest.mark.parametrize("where", ["jwks_url", "jwt-discovery", "introspection-url", "introspection-discovery"])
def test_every_call_to_a_silent_server_is_bounded_by_the_timeout(where: str) -> None:
    """A server that accepts and never answers is an outage after ``timeout``, never a worker held for good."""
    with raw_server(None) as origin:
        fast: dict[str, Any] = {"audience": AUDIENCE, "client_id": CLIENT_ID, "timeout": 0.2}
        if where == "jwks_url":
            check: Any = JWTVerifier(issuer=origin, jwks_url=f"{origin}/jwks", **fast)
        elif where == "jwt-discovery":
            check = JWTVerifier(issuer=origin, **fast)
        else:
            place = {"url": f"{origin}/introspect"} if where == "introspection-url" else {"issuer": origin}
            check = IntrospectionVerifier(
                introspection_client_id=RESOURCE_ID, introspection_client_secret=RESOURCE_SECRET, **place, **fast
            )
        token = "opaque" if where.startswith("introspection") else Key("RS256", "rsa-1").sign(claims(origin))
        result = _in_a_thread(lambda: check.verify(token))
    assert result.error == "unavailable"
    assert "could not be reached" in result.detail


def _http_answer(body: bytes, *, length: bool) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def test_an_answer_over_1_mib_is_refused_after_reading_1_mib_and_one_byte() -> None:
    """The read stops at the bound (a server streaming forever holds nothing); exactly 1 MiB is still read."""
    limit = 1024 * 1024
    endless = _http_answer(b" " * (limit + 1), length=False)  # then the connection stays open
    with raw_server(endless) as origin:
        check = JWTVerifier(issuer=origin, jwks_url=f"{origin}/jwks", audience=AUDIENCE, client_id=CLIENT_ID, timeout=3)
        result = _in_a_thread(lambda: check.verify(Key("RS256", "rsa-1").sign(claims(origin))), 10)
    assert result.error == "unavailable"
    assert "over 1 MiB" in result.detail
    exactly = b'{"keys": []}'.ljust(limit)
    with raw_server(_http_answer(exactly, length=True)) as origin:
        check = JWTVerifier(issuer=origin, jwks_url=f"{origin}/jwks", audience=AUDIENCE, client_id=CLIENT_ID, timeout=3)
        result = _in_a_thread(lambda: check.verify(Key("RS256", "rsa-1").sign(claims(origin))), 10)
    assert result == TokenResult("invalid_token", "a token signed with a key the server does not publish")


def test_the_key_id_binds_the_key(server: FakeServer, rsa_key: Key) -> None:
    """A token naming another key id is not verified by the key that signed it; a key id not a str is refused."""
    check = verifier(server)
    assert check.verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    other = check.verify(rsa_key.sign(claims(server.issuer), kid="rsa-2"))
    assert other == TokenResult("invalid_token", "a token signed with a key the server does not publish")
    signed = rsa_key.sign(claims(server.issuer))
    for kid in (5, ["rsa-1"]):  # PyJWT writes no such header: the signed token's header swapped by hand
        header = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": kid}).encode()).rstrip(b"=").decode()
        token = header + signed[signed.index(".") :]
        assert check.verify(token) == TokenResult("invalid_token", "a token whose key id is not a str")


@pytest.mark.parametrize(
    ("ops", "accepted"), [(["verify"], True), (["sign"], True), (["encrypt"], False), ("verify", False)]
)
def test_a_keys_key_ops_must_allow_verifying(ops: Any, accepted: bool, server: FakeServer, rsa_key: Key) -> None:
    server.keys = [rsa_key]
    rsa_key.jwk["key_ops"] = ops
    try:
        result = verifier(server).verify(rsa_key.sign(claims(server.issuer)))
    finally:
        del rsa_key.jwk["key_ops"]
    assert (result == ACCEPTED) is accepted, result


def test_a_scp_claim_written_as_a_string_holds_scopes(server: FakeServer, rsa_key: Key) -> None:
    token = rsa_key.sign(claims(server.issuer, scope=None, scp="other webhooks"))
    assert verifier(server, scope="webhooks").verify(token) == ACCEPTED


def test_an_rsa_key_under_2048_bits_verifies_nothing(server: FakeServer) -> None:
    weak = Key("RS256", "weak")
    weak.private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak.jwk = {
        **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(weak.private.public_key())),
        "kid": "weak",
        "use": "sig",
    }
    server.keys = [weak]
    result = verifier(server).verify(weak.sign(claims(server.issuer)))
    assert result.error == "invalid_token"


def test_a_key_set_that_is_not_an_object_is_an_outage() -> None:
    with raw_server(_http_answer(b'[{"keys": []}]', length=True)) as origin:
        check = JWTVerifier(issuer=origin, jwks_url=f"{origin}/jwks", audience=AUDIENCE, client_id=CLIENT_ID, timeout=3)
        result = _in_a_thread(lambda: check.verify(Key("RS256", "rsa-1").sign(claims(origin))))
    assert result.error == "unavailable"
    assert "no list of keys" in result.detail


def test_an_unknown_key_id_during_an_outage(server: FakeServer, rsa_key: Key, clock: FakeTime) -> None:
    """After a failed fetch an unknown key id gets 503 from memory for 5 s (never an exception), then a new try."""
    check = verifier(server)
    assert check.verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    unknown = rsa_key.sign(claims(server.issuer), kid="rotated")
    assert check.lookup(unknown) == TokenResult(
        "invalid_token", "a token signed with a key the server does not publish"
    )
    server.down = True
    clock.advance(60)
    assert check.lookup(unknown) is None  # the refresh interval is over: fetch again
    assert check.verify(unknown).error == "unavailable"
    calls = server.calls["/jwks"]
    clock.advance(4.9)
    paused = check.lookup(unknown)
    assert paused is not None
    assert paused.error == "unavailable"
    clock.advance(0.1)
    assert check.lookup(unknown) is None  # the pause is over: one more try
    assert server.calls["/jwks"] == calls


def test_keys_are_used_until_keys_max_age_inclusive(server: FakeServer, rsa_key: Key, clock: FakeTime) -> None:
    check = verifier(server, keys_max_age=100)
    assert check.verify(rsa_key.sign(claims(server.issuer))) == ACCEPTED
    clock.advance(100)
    assert check.lookup(rsa_key.sign(claims(server.issuer, jti="second"))) == ACCEPTED  # still the held keys
    clock.advance(0.1)
    assert check.lookup(rsa_key.sign(claims(server.issuer, jti="third"))) is None  # too old: fetched again


_JWT = {"issuer": "https://auth.example.com/", "audience": AUDIENCE, "client_id": CLIENT_ID}
_INTROSPECTION = {
    "url": "https://auth.example.com/introspect",
    "audience": AUDIENCE,
    "client_id": CLIENT_ID,
    "introspection_client_id": RESOURCE_ID,
    "introspection_client_secret": RESOURCE_SECRET,
}


@pytest.mark.parametrize(
    ("cls", "change"),
    [
        (JWTVerifier, {"audience": None}),
        (JWTVerifier, {"audience": []}),
        (JWTVerifier, {"algorithms": None}),
        (JWTVerifier, {"leeway": 300.5}),
        (JWTVerifier, {"leeway": True}),
        (JWTVerifier, {"timeout": True}),
        (JWTVerifier, {"cache_size": 0}),
        (JWTVerifier, {"cache_size": True}),
        (JWTVerifier, {"scope": []}),
        (IntrospectionVerifier, {"audience": None}),
        (IntrospectionVerifier, {"client_id": ""}),
        (IntrospectionVerifier, {"introspection_client_id": ""}),
        (IntrospectionVerifier, {"introspection_client_secret": ""}),
    ],
)
def test_a_verifier_without_what_it_checks_fails_when_built(cls: Any, change: dict[str, Any]) -> None:
    """No audience (a mutant let None through as no audience at all), no client, a bound outside its range."""
    with pytest.raises(ValueError):  # noqa: PT011
        cls(**{**(_JWT if cls is JWTVerifier else _INTROSPECTION), **change})


def test_the_bounds_of_a_verifiers_options_are_inclusive_and_the_defaults_documented() -> None:
    assert JWTVerifier(**_JWT, leeway=300, cache_size=1).leeway == 300.0
    jwt_verifier = JWTVerifier(**_JWT)
    assert (jwt_verifier.refresh_interval, jwt_verifier.keys_max_age, jwt_verifier.leeway) == (60.0, 3600.0, 30.0)
    introspecting = IntrospectionVerifier(**_INTROSPECTION)
    assert (introspecting.max_age, introspecting.inactive_for, introspecting.timeout) == (300.0, 60.0, 5.0)
    assert CallableVerifier(lambda token: {}).max_age == 300.0


def test_without_pyjwt_only_the_jwt_verifier_is_refused_and_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """twiliosig.oauth imports without the [oauth] extra: introspection and a function need no JOSE library."""
    monkeypatch.setattr(oauth_module, "jwt", None)
    with pytest.raises(ImportError, match=r"pip install 'twiliosig\[oauth\]'"):
        JWTVerifier(issuer="https://auth.example.com/", audience="https://hooks.example.com", client_id="twilio")
    CallableVerifier(lambda token: {})
    IntrospectionVerifier(
        url="https://auth.example.com/introspect",
        audience="https://hooks.example.com",
        client_id="twilio",
        introspection_client_id="hooks",
        introspection_client_secret="s",
    )
