"""HTTP Digest (RFC 7616): the layer alone, and through the guard every adapter builds.

Credentials are computed by two independent client implementations (requests'
``HTTPDigestAuth`` and httpx's ``DigestAuth``, driven offline with a challenge the
guard sent) and by RFC 7616's own worked example, never by the code under test.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from requests.auth import HTTPDigestAuth

from twiliosig import DigestAuth, DigestHA1, Reason, compute_signature
from twiliosig._auth import AuthRequest, Denied
from twiliosig._digest import MAX_CREDENTIALS, DigestLayer, parse_credentials
from twiliosig._guard import Decision, Guard, Head

TOKEN = "digest-token-0123456789abcdef0123"
URL = "https://example.com/twilio/voice?CallSid=CA1"
TARGET = "/twilio/voice?CallSid=CA1"
USER, PASSWORD = "twilio", "correct horse battery"


class Clock:
    """Wall-clock seconds a test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def request(target: str = TARGET, method: str = "POST", authorization: str | None = None) -> AuthRequest:
    headers = {} if authorization is None else {"authorization": authorization}
    return AuthRequest(method, target, f"https://example.com{target}", headers.get)


def challenge_params(challenge: str) -> dict[str, str]:
    """A challenge's parameters as a client reads them."""
    params = parse_credentials(challenge.partition(" ")[2])
    assert isinstance(params, dict), params
    return params


def requests_header(challenge: str, *, user: str = USER, password: str = PASSWORD, **kw: Any) -> str:
    """requests' HTTPDigestAuth answering ``challenge`` for a POST to ``URL`` (its nc counts per nonce)."""
    auth = kw.pop("auth", None) or HTTPDigestAuth(user, password)
    auth.init_per_thread_state()
    auth._thread_local.chal = challenge_params(challenge)
    header = auth.build_digest_header(kw.pop("method", "POST"), kw.pop("url", URL))
    assert header is not None
    return str(header)


def httpx_header(challenge: str, *, user: str = USER, password: str = PASSWORD, url: str = URL) -> str:
    """httpx's DigestAuth answering ``challenge`` (it honours the challenge's algorithm, SHA-256 included)."""
    auth = httpx.DigestAuth(user, password)
    flow = auth.auth_flow(httpx.Request("POST", url))
    next(flow)
    response = httpx.Response(401, headers={"WWW-Authenticate": challenge}, request=httpx.Request("POST", url))
    return flow.send(response).headers["authorization"]


def layer(clock: Clock | None = None, **settings: Any) -> DigestLayer:
    users = settings.pop("users", {USER: PASSWORD})
    return DigestLayer(DigestAuth(users, **settings), clock or Clock(), secrets=(TOKEN.encode(),))


def answer(digest: DigestLayer, header: str, target: str = TARGET, method: str = "POST") -> Denied | None:
    scheme, _, credentials = header.partition(" ")
    assert scheme == "Digest"
    return digest.authenticate(credentials, request(target, method, header))


def replace(header: str, name: str, value: str) -> str:
    """The header with one parameter's value changed, as a tamperer would."""
    changed, count = re.subn(rf'(\b{name}=)("[^"]*"|[^,\s]+)', lambda m: f'{m[1]}"{value}"', header)
    assert count == 1, (name, header)
    return changed


# --- RFC 7616 section 3.9.1 ----------------------------------------------------------------------------------------

RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


class RfcLayer(DigestLayer):
    """The layer with the RFC's nonce and opaque taken as issued now: its example carries a foreign nonce."""

    def _issued(self, nonce: str) -> int | None:
        return int(self._clock()) if nonce == RFC_NONCE else None


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc_7616_example_is_accepted(algorithm: str, response: str) -> None:
    """The RFC's credentials for Mufasa, verbatim, are accepted; one digit changed is not."""
    clock = Clock()
    digest = RfcLayer(
        DigestAuth({"Mufasa": "Circle of Life"}, realm="http-auth@example.org"), clock, secrets=(TOKEN.encode(),)
    )
    digest._opaques = (RFC_OPAQUE,)
    header = (
        f'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
        f'algorithm={algorithm}, nonce="{RFC_NONCE}", nc=00000001, cnonce="{RFC_CNONCE}", qop=auth, '
        f'response="{response}", opaque="{RFC_OPAQUE}"'
    )
    assert answer(digest, header, "/dir/index.html", "GET") is None
    wrong = replace(header, "response", response[:-1] + ("0" if response[-1] != "0" else "1"))
    assert isinstance(answer(digest, wrong, "/dir/index.html", "GET"), Denied)


def test_rfc_7616_ha1_values_can_replace_the_password() -> None:
    """DigestHA1.of computes what the RFC's example hashes; given as hex, no password is configured."""
    ha1 = DigestHA1.of("Mufasa", "Circle of Life", "http-auth@example.org")
    assert ha1.md5 == hashlib.md5(b"Mufasa:http-auth@example.org:Circle of Life").hexdigest()
    digest = RfcLayer(
        DigestAuth({"Mufasa": DigestHA1(sha256=ha1.sha256)}, realm="http-auth@example.org"),
        Clock(),
        secrets=(TOKEN.encode(),),
    )
    digest._opaques = (RFC_OPAQUE,)
    header = (
        f'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, '
        f'nonce="{RFC_NONCE}", nc=00000001, cnonce="{RFC_CNONCE}", qop=auth, '
        'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"'
    )
    assert answer(digest, header, "/dir/index.html", "GET") is None
    assert [challenge_params(c)["algorithm"] for c in digest.challenges()] == ["SHA-256"]


# --- challenges ----------------------------------------------------------------------------------------------------


def test_challenges_are_sha256_then_md5_with_qop_realm_nonce_and_opaque() -> None:
    sha256, md5 = layer().challenges()
    first, second = challenge_params(sha256), challenge_params(md5)
    assert (first["algorithm"], second["algorithm"]) == ("SHA-256", "MD5")
    for params in (first, second):
        assert params["qop"] == "auth"
        assert params["realm"] == "twilio"
        assert "stale" not in params
    assert first["nonce"] == second["nonce"]
    assert first["opaque"] == second["opaque"]
    assert layer().challenges()[0] != sha256  # a fresh nonce each time


def test_the_guard_sends_digest_then_basic_challenges() -> None:
    guard = Guard(auth_token=TOKEN, digest_auth={USER: PASSWORD}, basic_auth={USER: PASSWORD})
    decision = decide(guard, head())
    assert decision.refusal is not None
    assert decision.refusal.status == 401
    values = [value for name, value in decision.refusal.headers if name == "WWW-Authenticate"]
    assert [value.split(",")[0] for value in values] == ['Digest realm="twilio"'] * 2 + ['Basic realm="twilio"']
    assert "algorithm=SHA-256" in values[0]
    assert "algorithm=MD5" in values[1]


# --- accepted ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", [requests_header, httpx_header])
@pytest.mark.parametrize("which", [0, 1], ids=["sha256", "md5"])
def test_real_clients_are_accepted(client: Any, which: int) -> None:
    digest = layer()
    challenge = digest.challenges()[which]
    header = client(challenge)
    assert ("SHA-256" in header) is (which == 0)
    assert answer(digest, header) is None
    assert isinstance(answer(digest, client(challenge, password="wrong")), Denied)
    assert isinstance(answer(digest, client(challenge, user="other")), Denied)


def test_sess_algorithms_and_userhash_are_accepted() -> None:
    """-sess hashes the nonce and cnonce into HA1; userhash=true sends H(user:realm) instead of the name."""
    digest = layer()
    challenge = digest.challenges()[0]
    assert answer(digest, httpx_header(challenge.replace("algorithm=SHA-256", "algorithm=SHA-256-SESS"))) is None
    assert answer(digest, httpx_header(digest.challenges()[1].replace("algorithm=MD5", "algorithm=MD5-sess"))) is None
    plain = httpx_header(challenge)
    hashed = hashlib.sha256(f"{USER}:twilio".encode()).hexdigest()
    with_hash = replace(plain, "username", hashed) + ", userhash=true"
    assert answer(digest, with_hash) is None
    assert answer(digest, replace(plain, "username", hashed.upper()) + ", userhash=true") is None  # hex in any case
    assert isinstance(answer(digest, replace(plain, "username", hashed)), Denied)  # a hash without userhash=true


def test_rfc_2069_form_without_qop_unless_forbidden() -> None:
    """A client that ignores qop (RFC 2069's response) works, unless require_qop."""
    lenient, strict = layer(), layer(require_qop=True)
    for digest, accepted in ((lenient, True), (strict, False)):
        challenge = re.sub(r'qop="auth", ', "", digest.challenges()[1])
        header = requests_header(challenge)
        assert "qop" not in header
        assert (answer(digest, header) is None) is accepted


def test_nonce_reused_with_a_growing_nc_on_two_workers() -> None:
    """Two guards from the same options are two workers: a nonce of one is good on the other, for later requests."""
    options = {"auth_token": TOKEN, "digest_auth": {USER: PASSWORD}}
    first, second = Guard(**options), Guard(**options)
    challenge = [v for n, v in decide(first, head()).refusal.headers if n == "WWW-Authenticate"][1]  # type: ignore[union-attr]
    auth = HTTPDigestAuth(USER, PASSWORD)
    for number, (guard, target) in enumerate(
        [(first, "/twilio/voice"), (second, "/twilio/status"), (first, "/twilio/gather"), (second, "/twilio/voice")], 1
    ):
        url = f"https://example.com{target}"
        header = requests_header(challenge, auth=auth, url=url)
        assert f"nc={number:08x}" in header
        decision = decide(guard, head(target, authorization=header, signed=url))
        assert decision.refusal is None, decision.verdict


def test_twilio_flow_through_the_guard() -> None:
    """No credentials: 401; the same request with them: accepted, and then the signature is still checked."""
    guard = Guard(auth_token=TOKEN, digest_auth={USER: PASSWORD})
    first = decide(guard, head())
    assert first.refusal is not None
    assert first.refusal.status == 401
    assert first.verdict.reason is Reason.UNAUTHORIZED
    challenge = next(v for n, v in first.refusal.headers if n == "WWW-Authenticate")
    header = httpx_header(challenge)
    assert decide(guard, head(authorization=header)).refusal is None
    forged = decide(guard, head(authorization=header, signed="https://example.com/other"))
    assert forged.verdict.reason is Reason.SIGNATURE_MISMATCH


# --- refused -------------------------------------------------------------------------------------------------------


def test_a_tampered_nonce_is_refused_without_stale() -> None:
    digest = layer()
    challenge = digest.challenges()[0]
    nonce = challenge_params(challenge)["nonce"]
    for altered in (
        nonce[:10] + ("A" if nonce[10] != "A" else "B") + nonce[11:],  # the timestamp
        nonce[:-2] + ("A" if nonce[-2] != "A" else "B") + nonce[-1],  # the MAC
        nonce + "A",
        "x",
    ):
        # The client answers the altered nonce correctly: only the MAC can tell.
        denied = answer(digest, httpx_header(challenge.replace(nonce, altered)))
        assert isinstance(denied, Denied)
        assert "not issued here" in denied.detail
        assert denied.challenges == ()


def test_a_nonce_of_another_configuration_is_refused() -> None:
    """Another password (or realm) derives another key: its nonces are not ours."""
    other = layer(users={USER: "another password"})
    denied = answer(layer(), httpx_header(other.challenges()[0]))
    assert isinstance(denied, Denied)
    assert "not issued here" in denied.detail


def test_an_expired_nonce_gets_a_stale_challenge() -> None:
    """Past nonce_lifetime a right answer gets new challenges with stale=true; a wrong one just a refusal."""
    clock = Clock()
    digest = layer(clock, nonce_lifetime=120)
    challenge = digest.challenges()[0]
    header = httpx_header(challenge)
    clock.now += 120
    assert answer(digest, header) is None
    clock.now += 1
    denied = answer(digest, header)
    assert isinstance(denied, Denied)
    assert "expired" in denied.detail
    assert len(denied.challenges) == 2
    assert all(challenge_params(c)["stale"] == "true" for c in denied.challenges)
    assert challenge_params(denied.challenges[0])["nonce"] != challenge_params(challenge)["nonce"]
    wrong = answer(digest, httpx_header(challenge, password="wrong"))
    assert isinstance(wrong, Denied)
    assert wrong.challenges == ()
    clock.now -= 121 + 61  # issued by a host whose clock runs more than a minute ahead
    assert isinstance(answer(digest, header), Denied)


def test_the_guard_sends_the_stale_challenges() -> None:
    clock = Clock()
    guard = Guard(auth_token=TOKEN, digest_auth=DigestAuth({USER: PASSWORD}, nonce_lifetime=10))
    assert guard.authenticator is not None
    digest = guard.authenticator._layers[0]
    assert isinstance(digest, DigestLayer)
    digest._clock = clock
    header = httpx_header(digest.challenges()[0])
    clock.now += 11
    decision = decide(guard, head(authorization=header))
    assert decision.refusal is not None
    assert decision.refusal.status == 401
    values = [v for n, v in decision.refusal.headers if n == "WWW-Authenticate"]
    assert len(values) == 2
    assert all(v.endswith("stale=true") for v in values)


@pytest.mark.parametrize(
    "target",
    ["/twilio/voice?CallSid=CA2", "/twilio/voice", "/twilio/voice?CallSid=CA1&x=1", "/twilio/other?CallSid=CA1"],
)
def test_another_uri_is_refused(target: str) -> None:
    """Credentials computed for one target are refused on another, even when the response matches its uri."""
    digest = layer()
    header = httpx_header(digest.challenges()[0])
    denied = answer(digest, header, target)
    assert isinstance(denied, Denied)
    assert "uri" in denied.detail


def test_uri_is_the_public_target_behind_a_path_rewriting_proxy() -> None:
    """public_url adds the prefix the proxy stripped: the uri Twilio hashed is the public one."""
    guard = Guard(auth_token=TOKEN, digest_auth={USER: PASSWORD}, public_url="https://example.com/api")
    challenge = challenge_for(guard)
    public = "https://example.com/api/twilio/voice?CallSid=CA1"
    header = httpx_header(challenge, url=public)
    assert decide(guard, head(authorization=header, signed=public)).refusal is None
    inner = httpx_header(challenge)  # uri=/twilio/voice?...: what the app sees, not what Twilio called
    assert decide(guard, head(authorization=inner, signed=public)).verdict.reason is Reason.UNAUTHORIZED


def test_wrong_realm_method_and_opaque_are_refused() -> None:
    digest = layer()
    challenge = digest.challenges()[0]
    header = httpx_header(challenge)
    other_realm = httpx_header(challenge.replace('realm="twilio"', 'realm="other"'))
    assert "realm" in answer(digest, other_realm).detail  # type: ignore[union-attr]
    assert isinstance(answer(digest, header, method="GET"), Denied)
    assert "opaque" in answer(digest, replace(header, "opaque", "0" * 32)).detail  # type: ignore[union-attr]
    no_opaque = re.sub(r', opaque="[^"]*"', "", header)
    assert answer(digest, no_opaque) is None  # opaque carries nothing here: a client that drops it is not refused


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda h: h + ', uri="/twilio/voice?CallSid=CA1"', "twice"),
        (lambda h: h + ', URI="/twilio/voice?CallSid=CA1"', "twice"),
        (lambda h: h + ', Response="00"', "twice"),
        (lambda h: h.replace("uri=", "uri =  "), None),  # spaces around '=' are allowed
        (lambda h: h + ", , ", None),  # empty list elements too
        (lambda h: h + ", unknown=x", None),  # unknown parameters are ignored (RFC 7616)
        (lambda h: h + ', x="unterminated', "name=value"),
        (lambda h: h + ", x", "name=value"),
        (lambda h: h.replace("qop=auth", "qop=auth-int"), "qop"),
        (lambda h: h.replace("nc=00000001", "nc=1"), "nc"),
        (lambda h: h.replace(", nc=00000001", ""), "nc"),  # no nc at all: refused, never raised
        (lambda h: re.sub(r', cnonce="[^"]*"', "", h), "cnonce"),
        (lambda h: re.sub(r'uri="[^"]*", ', "", h), "without uri"),
        (lambda h: h.replace("algorithm=SHA-256", "algorithm=SHA-512-256"), "algorithm"),
        (lambda h: h + ", username*=\"UTF-8''twilio\"", "exactly one"),
        (lambda h: h + ", x=" + "a" * MAX_CREDENTIALS, "characters"),
    ],
)
def test_malformed_credentials(edit: Any, words: str | None) -> None:
    """Refused with a detail naming the check; never a value from the request."""
    digest = layer()
    header = edit(httpx_header(digest.challenges()[0]))
    denied = answer(digest, header)
    if words is None:
        assert denied is None
        return
    assert isinstance(denied, Denied)
    assert words in denied.detail, denied
    assert "CallSid" not in denied.detail
    assert USER not in denied.detail


def test_quoted_strings_are_unescaped() -> None:
    """A user name with a quote and a backslash is sent escaped (RFC 7616 quoted-string)."""
    name = 'tw"il\\io'
    digest = layer(users={name: PASSWORD})
    header = httpx_header(digest.challenges()[0], user=name)
    assert header.startswith(f'Digest username="{name}", ')  # httpx writes it unescaped: escape it as RFC 7616 says
    escaped = header.replace(f'username="{name}"', 'username="tw\\"il\\\\io"')
    assert answer(digest, escaped) is None
    assert parse_credentials(r'a="x\"y\\", b=c') == {"a": 'x"y\\', "b": "c"}


def test_username_star_carries_a_utf8_name() -> None:
    name = "zoë"
    digest = layer(users={name: PASSWORD})
    header = httpx_header(digest.challenges()[0], user=name)
    star = re.sub(r'username="[^"]*"', "username*=UTF-8''zo%C3%AB", header)
    assert answer(digest, star) is None


def test_the_detail_never_carries_a_request_value() -> None:
    """The log sentence of every refusal here is one of the layer's own, fixed sentences."""
    digest = layer()
    header = httpx_header(digest.challenges()[0], password="hunter2")
    denied = answer(digest, header)
    assert isinstance(denied, Denied)
    params = parse_credentials(header.partition(" ")[2])
    assert isinstance(params, dict)
    for value in params.values():
        assert len(value) < 6 or value not in denied.detail


def test_concurrent_checks_share_nothing() -> None:
    """The layer holds no per-request state: checks from many threads all agree."""
    digest = layer()
    headers = [httpx_header(digest.challenges()[i % 2]) for i in range(40)]
    results: list[object] = []
    threads = [threading.Thread(target=lambda h=h: results.append(answer(digest, h))) for h in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [None] * 40


# --- configuration -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({}, ValueError),
        ({USER: ""}, ValueError),
        ({"tw:ilio": PASSWORD}, ValueError),
        ({"": PASSWORD}, ValueError),
        ({5: PASSWORD}, TypeError),
        ({USER: 5}, TypeError),
        ({USER: DigestHA1()}, ValueError),
        ({USER: DigestHA1(md5="abc")}, ValueError),
        ({USER: DigestHA1(sha256="0" * 32)}, ValueError),
        ({USER: DigestHA1(md5="z" * 32)}, ValueError),
        ([(USER, PASSWORD)], TypeError),
        ("twilio:pass", TypeError),
    ],
)
def test_bad_digest_options_fail_when_the_guard_is_built(value: Any, error: type) -> None:
    with pytest.raises(error) as raised:
        Guard(auth_token=TOKEN, digest_auth=value)
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize("lifetime", [0, -1, float("nan"), float("inf"), True, "300"])
def test_a_nonce_lifetime_that_is_not_a_positive_number(lifetime: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        DigestAuth({USER: PASSWORD}, nonce_lifetime=lifetime)


@pytest.mark.parametrize("lifetime", [0.5, 1, 1.5])
def test_a_nonce_lifetime_of_a_second_or_less_is_allowed(lifetime: float) -> None:
    assert DigestAuth({USER: PASSWORD}, nonce_lifetime=lifetime).nonce_lifetime == lifetime


@pytest.mark.parametrize("realm", ["", 'a"b', "a\\b", "a\nb", 5])
def test_a_realm_that_cannot_be_quoted(realm: Any) -> None:
    with pytest.raises(ValueError, match="realm"):
        DigestAuth({USER: PASSWORD}, realm=realm)


def test_the_repr_holds_no_secret() -> None:
    settings = DigestAuth({USER: PASSWORD})
    assert PASSWORD not in repr(settings)
    assert str(settings.users[USER].sha256) not in repr(settings)


def test_no_repr_of_an_ha1_holds_it() -> None:
    """An HA1 is as good as the password to a Digest client: no repr shows one (a log line, a traceback's locals).

    Neither a DigestHA1's own (the option's value, ``{user: DigestHA1(...)}``) nor that
    of ``DigestAuth.users``, where every password became one.
    """
    ha1 = DigestHA1.of(USER, PASSWORD)
    settings = DigestAuth({USER: PASSWORD})
    shown = [repr(ha1), str(ha1), repr({USER: ha1}), repr(settings.users), repr(DigestHA1(md5=ha1.md5))]
    for text in shown:
        assert str(ha1.md5) not in text
        assert str(ha1.sha256) not in text
    assert repr(DigestHA1(md5=ha1.md5)) == "DigestHA1(md5=<set>, sha256=None)"
    assert DigestHA1(*ha1) == ha1  # a tuple still: its values are there to whoever asks for them


# --- helpers -------------------------------------------------------------------------------------------------------


def head(
    target: str = TARGET, *, authorization: str | None = None, signed: str | None = None, method: str = "POST"
) -> Head:
    """A form POST's head, signed for ``signed`` (the URL by default), with an Authorization header if given."""
    path, _, query = target.partition("?")
    url = signed or f"https://example.com{target}"
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": compute_signature(TOKEN, url, []),
    }
    if authorization is not None:
        headers["authorization"] = authorization
    return Head(method, path, "https", "example.com", path, query, headers.get)


def decide(guard: Guard, request: Head) -> Decision:
    check = guard.start(request)
    assert check is not None
    return check.decision or guard.claim(check.finish(b""))


def challenge_for(guard: Guard) -> str:
    refusal = decide(guard, head()).refusal
    assert refusal is not None
    return next(value for name, value in refusal.headers if name == "WWW-Authenticate")


ADAPTER_CASES = [
    pytest.param({USER: ""}, id="empty-password"),
    pytest.param({"tw:ilio": PASSWORD}, id="colon-in-user"),
    pytest.param({7: PASSWORD}, id="user-not-str"),
    pytest.param({USER: DigestHA1(sha256="ab" * 16)}, id="ha1-wrong-length"),
]


@pytest.mark.parametrize("adapter", ["wsgi", "asgi", "django", "flask", "fastapi", "aws-lambda"])
@pytest.mark.parametrize("value", ADAPTER_CASES)
def test_every_adapter_fails_at_start_up(adapter: str, value: Any) -> None:
    """Each adapter builds its guard from the same options: a wrong digest_auth stops it before any request."""
    from django.core.exceptions import ImproperlyConfigured

    from tests.test_config_secrets import _build

    with pytest.raises((TypeError, ValueError, ImproperlyConfigured)) as raised:
        _build(adapter, {"auth_token": TOKEN, "digest_auth": value})
    assert "digest_auth" in str(raised.value) or "DigestHA1" in str(raised.value)
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize("adapter", ["wsgi", "asgi", "django", "flask", "fastapi", "aws-lambda"])
@pytest.mark.parametrize("lifetime", [0, -5, float("nan"), "300"])
def test_every_adapter_refuses_a_nonce_lifetime_that_is_not_positive(adapter: str, lifetime: Any) -> None:
    """DigestAuth refuses it when built; one changed afterwards is checked again when the adapter builds its guard."""
    from django.core.exceptions import ImproperlyConfigured

    from tests.test_config_secrets import _build

    settings = DigestAuth({USER: PASSWORD})
    settings.nonce_lifetime = lifetime
    with pytest.raises((TypeError, ValueError, ImproperlyConfigured), match="nonce_lifetime"):
        _build(adapter, {"auth_token": TOKEN, "digest_auth": settings})


def test_an_unknown_user_cannot_answer_for_the_stand_in() -> None:
    """The response of an unknown user is computed against a stand-in HA1 (for the timing): knowing it must not help."""
    digest = layer()
    challenge = challenge_params(digest.challenges()[0])
    nonce, cnonce, nc = challenge["nonce"], "abc", "00000001"

    def sha256(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    ha2 = sha256(f"POST:{TARGET}")
    response = sha256(f"{'0' * 64}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    header = (
        f'Digest username="nobody", realm="twilio", nonce="{nonce}", uri="{TARGET}", algorithm=SHA-256, '
        f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
    )
    denied = answer(digest, header)
    assert isinstance(denied, Denied)
    assert "response" in denied.detail


# --- twiliosig explain ---------------------------------------------------------------------------------------------


def _saved_request(tmp: Any, authorization: str | None) -> str:
    signature = compute_signature(TOKEN, URL, [("CallSid", "CA1")])
    extra = "" if authorization is None else f"Authorization: {authorization}\r\n"
    raw = (
        f"POST {TARGET} HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\n{extra}Content-Length: 11\r\n\r\nCallSid=CA1"
    )
    path = tmp / "request.http"
    path.write_text(raw)
    return str(path)


def test_explain_names_a_missing_or_failed_digest_layer(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """explain --digest-auth checks the saved request's credentials (its old nonce is not held against it)."""
    from twiliosig.cli import main

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("DIGEST_PW", PASSWORD)
    issued = layer(Clock(1_000_000_000.0))  # long ago, by a server with the same digest_auth
    header = httpx_header(issued.challenges()[0])
    wrong = httpx_header(issued.challenges()[0], password="wrong")
    cases = [
        (None, 1, "REFUSED (unauthorized) by digest_auth: no Authorization header"),
        (wrong, 1, "REFUSED (unauthorized) by digest_auth: a Digest response that matches no configured user"),
        (header, 0, "GENUINE"),
    ]
    for authorization, code, words in cases:
        assert (
            main(
                ["explain", "--request", _saved_request(tmp_path, authorization), "--digest-auth", f"{USER}=DIGEST_PW"]
            )
            == code
        )
        out = capsys.readouterr().out
        assert words in out, out
        assert PASSWORD not in out
    basic = main(["explain", "--request", _saved_request(tmp_path, header), "--basic-auth", f"{USER}=DIGEST_PW"])
    assert basic == 1
    assert "by basic_auth: credentials of a scheme not configured here" in capsys.readouterr().out
    assert main(["explain", "--request", _saved_request(tmp_path, None)]) == 0  # no layer given: none checked
    capsys.readouterr()
    assert main(["explain", "--request", _saved_request(tmp_path, None), "--digest-auth", f"{USER}={PASSWORD}"]) == 2
    assert PASSWORD not in capsys.readouterr().err


@given(st.text(alphabet=st.sampled_from('a=", \\\t\x00é\ud800*-uriDgst0123456789'), max_size=200))
def test_any_credentials_are_answered_never_raised(text: str) -> None:
    """Whatever follows ``Digest``: a refusal with one of the layer's sentences (no 500), never an exception."""
    digest = FUZZED
    parsed = parse_credentials(text)
    assert isinstance(parsed, (dict, str))
    answered = digest.authenticate(text, request(authorization="Digest " + text))
    assert isinstance(answered, Denied)


FUZZED = layer()


def test_another_spelling_of_the_nonce_is_not_ours() -> None:
    """Base64's last character has spare bits: a nonce spelled another way decodes alike, but was not issued."""
    digest = layer()
    challenge = digest.challenges()[0]
    nonce = challenge_params(challenge)["nonce"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(nonce[-1])
    respelled = nonce[:-1] + alphabet[index ^ 1]  # 43 characters carry 256 bits: the last one's low bits are spare
    assert respelled != nonce
    denied = answer(digest, httpx_header(challenge.replace(nonce, respelled)))
    assert isinstance(denied, Denied)
    assert "not issued here" in denied.detail


@pytest.mark.parametrize(
    ("users", "edit", "words"),
    [
        # Only SHA-256 configured: an MD5 answer is refused as an algorithm not offered, not as a wrong password.
        ({USER: DigestHA1(sha256=DigestHA1.of(USER, PASSWORD).sha256)}, lambda h: h, "algorithm not offered"),
        # -sess hashes the cnonce into HA1: without qop there is none.
        (
            {USER: PASSWORD},
            lambda h: re.sub(r", (qop|nc|cnonce)=[^,]*", "", h).replace("algorithm=MD5", "algorithm=MD5-sess"),
            "-sess",
        ),
        # username* in a charset other than UTF-8.
        ({USER: PASSWORD}, lambda h: re.sub(r'username="[^"]*"', "username*=ISO-8859-1''twilio", h), "UTF-8"),
    ],
)
def test_refusals_name_their_reason(users: Any, edit: Any, words: str) -> None:
    digest = layer(users=users)
    md5 = DigestLayer(DigestAuth({USER: PASSWORD}), Clock(), secrets=(TOKEN.encode(),))
    md5._keys, md5._opaques = digest._keys, digest._opaques  # a nonce of this layer, answered with MD5
    header = edit(httpx_header(md5.challenges()[1]))
    denied = answer(digest, header)
    assert isinstance(denied, Denied)
    assert words in denied.detail, denied.detail


def test_a_challenge_confirms_no_guessed_password_offline() -> None:
    """Anyone gets a challenge; nothing in it may confirm a guessed password without a request per guess.

    The nonce's MAC and the opaque are keyed from the users' HA1 values. Keyed by those
    alone, the key is a fast function of the password (often a short one typed into a
    URL): from one 401, whoever reads this library rebuilds the key for each guess and
    compares the opaque, or checks the nonce's MAC, offline and without limit. The
    signing secrets (high-entropy, never sent) key them too.
    """
    victim = Guard(auth_token=TOKEN, digest_auth={USER: PASSWORD})
    issued = challenge_params(challenge_for(victim))
    for guess in ("letmein", "twilio", PASSWORD):
        attacker = Guard(auth_token="an-attackers-own-token-0123456789a", digest_auth={USER: guess})
        assert challenge_params(challenge_for(attacker))["opaque"] != issued["opaque"], guess
        assert attacker.authenticator is not None
        (digest,) = attacker.authenticator._layers
        assert isinstance(digest, DigestLayer)
        assert digest._issued(issued["nonce"]) is None, guess


def test_a_nonce_outlives_a_rotation_of_the_auth_token() -> None:
    """Every configured token keys nonces: one issued before the new token was added is still ours, opaque too."""
    before = Guard(auth_token=TOKEN, digest_auth={USER: PASSWORD})
    header = httpx_header(challenge_for(before))
    assert 'opaque="' in header
    during = Guard(auth_token=["the-new-token-0123456789abcdef0123", TOKEN], digest_auth={USER: PASSWORD})
    assert decide(during, head(authorization=header)).refusal is None
    # Its own nonce and opaque (the first token's) too: every key is compared, not only the last one.
    assert decide(during, head(authorization=httpx_header(challenge_for(during)))).refusal is None
    after = Guard(auth_token="the-new-token-0123456789abcdef0123", digest_auth={USER: PASSWORD})
    refused = decide(after, head(authorization=header))
    assert refused.verdict.reason is Reason.UNAUTHORIZED
    assert "not issued here" in refused.verdict.detail


def test_digest_needs_a_secret_to_key_its_nonces() -> None:
    """Tokens only looked up per account leave nothing to key the nonces with: refused when the guard is built."""
    with pytest.raises(ValueError, match="digest_auth keys its nonces with a signing secret"):
        Guard(auth_token=lambda account: TOKEN, digest_auth={USER: PASSWORD})
    assert Guard(auth_token=lambda account: TOKEN, shared_keys={"k": TOKEN}, digest_auth={USER: PASSWORD})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("realm", "twilio\ud800"),
        ("uri", TARGET + "\udcff"),
        ("username", USER + "\ud800"),
        ("username*", "UTF-8''tw%69lio\ud800"),
        ("response", "\ud800" * 64),
        ("opaque", "\udc80"),
    ],
)
def test_a_lone_surrogate_is_refused_never_raised(name: str, value: str) -> None:
    """A header that is not text (a lone surrogate: a Lambda event's JSON can carry one) gets a 401, never a 500.

    Each parameter in turn, in credentials otherwise right (the nonce is ours), so that
    every comparison and hash that reads it is reached.
    """
    digest = layer()
    header = httpx_header(digest.challenges()[0])
    if name == "username*":
        header = header.replace(f'username="{USER}"', f'username*="{value}"')
    else:
        header = replace(header, name, value)
    assert isinstance(answer(digest, header), Denied)


def test_a_lone_surrogate_through_the_lambda_adapter_is_a_401() -> None:
    """The same, as an event reaches a handler: the response dict of a 401, not an exception (a 500 from AWS)."""
    from twiliosig.contrib.aws_lambda import twilio_required

    handler = twilio_required(lambda event, context: {"statusCode": 200}, auth_token=TOKEN, digest_auth={USER: "pw"})
    event = {
        "version": "2.0",
        "rawPath": "/twilio/voice",
        "rawQueryString": "CallSid=CA1",
        "headers": {
            "host": "example.com",
            "authorization": f'Digest username="{USER}", realm="twilio\ud800", nonce="x", uri="{TARGET}", response="0"',
            "x-twilio-signature": compute_signature(TOKEN, URL, []),
        },
        "requestContext": {"domainName": "example.com", "http": {"method": "POST"}, "stage": "$default"},
    }
    assert handler(event, None)["statusCode"] == 401


def test_credentials_of_exactly_the_size_bound_are_read() -> None:
    """MAX_CREDENTIALS characters after the scheme is allowed; one more is refused unread."""
    digest = layer()
    header = httpx_header(digest.challenges()[0])
    room = MAX_CREDENTIALS - len(header.partition(" ")[2]) - len(", x=")
    longest = header + ", x=" + "a" * room
    assert len(longest.partition(" ")[2]) == MAX_CREDENTIALS
    assert answer(digest, longest) is None
    denied = answer(digest, longest + "a")
    assert isinstance(denied, Denied)
    assert "characters" in denied.detail


def test_a_nonce_from_a_clock_a_minute_ahead_is_accepted() -> None:
    """Another host's clock may run 60 s ahead of this one's (inclusive); 61 s is refused."""
    clock = Clock()
    digest = layer(clock)
    header = httpx_header(digest.challenges()[0])
    clock.now -= 60
    assert answer(digest, header) is None
    clock.now -= 1
    assert isinstance(answer(digest, header), Denied)


def test_credentials_without_algorithm_are_md5() -> None:
    """RFC 7616: no algorithm parameter means MD5, accepted when MD5 is offered and refused when it is not."""
    digest = layer()
    challenge = digest.challenges()[1].replace("algorithm=MD5, ", "")
    header = requests_header(challenge)
    assert "algorithm" not in header
    assert answer(digest, header) is None
    sha256_only = layer(users={USER: DigestHA1(sha256=DigestHA1.of(USER, PASSWORD).sha256)})
    denied = answer(sha256_only, header)
    assert isinstance(denied, Denied)
    assert "algorithm" in denied.detail
