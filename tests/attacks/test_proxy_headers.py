"""Proxy headers: only the forwarding headers a trusted proxy sets are believed, and only its own value.

The test plays the proxy. ``trust_forwarded=True`` is a pretend nginx that sets
``X-Forwarded-Proto`` and ``X-Forwarded-Host`` (appending to whatever the client
sent, the worst case); anything else a client adds (``X-Forwarded-Prefix``,
``X-Forwarded-Port``, ``Forwarded``) must change nothing. A mapping opts in per
header with the number of proxies that write it; the deployments docs/proxies.md
gives a recipe for are played in test_proxy_recipes.py. A trusted value that is not what it claims to be (a host with
``@`` or ``/``, a port that is not 1..65535, a prefix that is not a path, a
scheme other than http/https) is a 400.

Lambda: nothing in front of a Lambda writes ``X-Forwarded-Host``, ``-Prefix`` or
``Forwarded`` (API Gateway passes a client's untouched), so the Lambda decorator
refuses ``trust_forwarded`` at its cold start: these tests run on the adapters a
proxy of yours fronts (``HOSTED``), and the last one checks that Lambda refuses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.harness import ALL, HOSTED, SMS, Pool, Server, sign

PUBLIC = "hooks.example.com"
NGINX = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", PUBLIC)]
PROFILES = ["proxy-true", "proxy-map", "proxy-rfc7239"]


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> Iterator[None]:
    for profile in PROFILES:
        pool.prestart(HOSTED, profile)
    yield
    for profile in PROFILES:
        pool.stop(profile)


def public(server: Server, path: str = "/twilio/sms", *, host: str = PUBLIC, port: str = "", prefix: str = "") -> str:
    """The URL Twilio called through the proxy (a REST API's stage stays in the path)."""
    return f"https://{host}{port}{prefix}{server.adapter.mount}{path}"


def attempt(server: Server, signed_url: str, headers: list[tuple[str, str]]) -> int:
    """POST a webhook signed over ``signed_url`` with these forwarding headers; its status."""
    before = server.count()
    status = server.post_form("/twilio/sms", SMS, signature=sign(signed_url, SMS), headers=headers).status
    assert server.count() == before + (status == 200), "a refused request reached the app"
    return status


# --- trust_forwarded=True: X-Forwarded-Proto and X-Forwarded-Host only ------------------------


@pytest.mark.parametrize("adapter", HOSTED)
def test_genuine_request_behind_the_proxy_is_accepted(pool: Pool, adapter: str) -> None:
    """Control: nginx's X-Forwarded-Proto/Host rebuild the public URL Twilio signed."""
    server = pool.server(adapter, "proxy-true")
    assert attempt(server, public(server), NGINX) == 200


CLIENT_ADDITIONS = {
    "prefix": ([("X-Forwarded-Prefix", "/evil")], {"prefix": "/evil"}, HOSTED),
    "port": ([("X-Forwarded-Port", "8443")], {"port": ":8443"}, HOSTED),
    "forwarded-host": ([("Forwarded", "proto=https;host=evil.example")], {"host": "evil.example"}, HOSTED),
    "forwarded-host-and-port": ([("Forwarded", 'host="evil.example:8443"')], {"host": "evil.example:8443"}, HOSTED),
}
ADDITION_CASES = [
    pytest.param(adapter, name, id=f"{adapter}-{name}")
    for name, (_, _, adapters) in CLIENT_ADDITIONS.items()
    for adapter in adapters
]


@pytest.mark.parametrize(("adapter", "addition"), ADDITION_CASES)
def test_client_added_forwarding_header_is_ignored(pool: Pool, adapter: str, addition: str) -> None:
    """The attacker adds X-Forwarded-Prefix/Port or Forwarded behind nginx to rebuild a captured signature's URL."""
    server = pool.server(adapter, "proxy-true")
    added, changes, _ = CLIENT_ADDITIONS[addition]
    assert attempt(server, public(server, **changes), [*NGINX, *added]) == 403
    assert attempt(server, public(server), [*NGINX, *added]) == 200, "the header was refused, not ignored"


@pytest.mark.parametrize("adapter", HOSTED)
def test_client_value_left_of_the_proxys_is_ignored(pool: Pool, adapter: str) -> None:
    """The attacker sends its own X-Forwarded-Host, which the proxy appends to: the value left of nginx's is ignored."""
    server = pool.server(adapter, "proxy-true")
    headers = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", f"evil.example, {PUBLIC}")]
    assert attempt(server, public(server, host="evil.example"), headers) == 403
    assert attempt(server, public(server), headers) == 200


@pytest.mark.parametrize("adapter", HOSTED)
def test_client_scheme_left_of_the_proxys_is_ignored(pool: Pool, adapter: str) -> None:
    """The attacker sends X-Forwarded-Proto: http ahead of nginx's https, to match a signature over http://."""
    server = pool.server(adapter, "proxy-true")
    headers = [("X-Forwarded-Proto", "http, https"), ("X-Forwarded-Host", PUBLIC)]
    assert attempt(server, f"http://{PUBLIC}/twilio/sms", headers) == 403
    assert attempt(server, public(server), headers) == 200


@pytest.mark.parametrize("adapter", HOSTED)
def test_invalid_untrusted_prefix_is_ignored(pool: Pool, adapter: str) -> None:
    """The attacker's malformed X-Forwarded-Prefix is not trusted at all: ignored, neither used nor a 400."""
    server = pool.server(adapter, "proxy-true")
    assert attempt(server, public(server), [*NGINX, ("X-Forwarded-Prefix", "@other.example.com")]) == 200


TRUSTED_INVALID = {
    "host-userinfo": ([("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", f"evil@{PUBLIC}")], HOSTED),
    "host-path": ([("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", f"{PUBLIC}/twilio")], HOSTED),
    "host-space": ([("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "hooks example.com")], HOSTED),
    "host-query": ([("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", f"{PUBLIC}?x=")], HOSTED),
    "proto-ftp": ([("X-Forwarded-Proto", "ftp"), ("X-Forwarded-Host", PUBLIC)], HOSTED),
    "proto-javascript": ([("X-Forwarded-Proto", "javascript"), ("X-Forwarded-Host", PUBLIC)], HOSTED),
    "proto-with-colon": ([("X-Forwarded-Proto", "https:"), ("X-Forwarded-Host", PUBLIC)], HOSTED),
}
INVALID_CASES = [
    pytest.param(adapter, name, id=f"{adapter}-{name}")
    for name, (_, adapters) in TRUSTED_INVALID.items()
    for adapter in adapters
]


@pytest.mark.parametrize(("adapter", "case"), INVALID_CASES)
def test_invalid_trusted_value_is_a_400(pool: Pool, adapter: str, case: str) -> None:
    """The attacker smuggles userinfo, a path or a bogus scheme through the trusted header into the rebuilt URL."""
    server = pool.server(adapter, "proxy-true")
    headers = TRUSTED_INVALID[case][0]
    with server.unreached():
        response = server.post_form("/twilio/sms", SMS, signed_url=public(server), headers=headers)
    assert response.status == 400, response


# --- a mapping: each header opted in with its hop count -----------------------------------


@pytest.mark.parametrize("adapter", HOSTED)
def test_mapping_trusts_port_and_prefix_when_asked(pool: Pool, adapter: str) -> None:
    """Control: with x_port and x_prefix opted in, the proxy's port and prefix rebuild the signed URL."""
    server = pool.server(adapter, "proxy-map")
    headers = [*NGINX, ("X-Forwarded-Port", "8443"), ("X-Forwarded-Prefix", "/api")]
    assert attempt(server, public(server, port=":8443", prefix="/api"), headers) == 200


MAP_INVALID = {
    "port-zero": ([("X-Forwarded-Port", "0")], HOSTED),
    "port-too-big": ([("X-Forwarded-Port", "65536")], HOSTED),
    "port-not-digits": ([("X-Forwarded-Port", "80a")], HOSTED),
    "port-negative": ([("X-Forwarded-Port", "-1")], HOSTED),
    "port-huge": ([("X-Forwarded-Port", "9" * 40)], HOSTED),
    "prefix-authority": ([("X-Forwarded-Prefix", "@other.example.com")], HOSTED),
    "prefix-relative": ([("X-Forwarded-Prefix", "api")], HOSTED),
    "prefix-query": ([("X-Forwarded-Prefix", "/api?x=1")], HOSTED),
    "prefix-fragment": ([("X-Forwarded-Prefix", "/api#x")], HOSTED),
    "prefix-space": ([("X-Forwarded-Prefix", "/a b")], HOSTED),
    "prefix-scheme": ([("X-Forwarded-Prefix", "https://evil.example")], HOSTED),
}
MAP_CASES = [
    pytest.param(adapter, name, id=f"{adapter}-{name}")
    for name, (_, adapters) in MAP_INVALID.items()
    for adapter in adapters
]


@pytest.mark.parametrize(("adapter", "case"), MAP_CASES)
def test_mapping_refuses_an_invalid_port_or_prefix(pool: Pool, adapter: str, case: str) -> None:
    """The attacker (or a misbehaving proxy) puts a non-port or a non-path into a trusted port or prefix."""
    server = pool.server(adapter, "proxy-map")
    headers = [*NGINX, *MAP_INVALID[case][0]]
    with server.unreached():
        response = server.post_form("/twilio/sms", SMS, signed_url=public(server), headers=headers)
    assert response.status == 400, response


@pytest.mark.parametrize("adapter", HOSTED)
def test_mapping_without_forwarded_ignores_forwarded(pool: Pool, adapter: str) -> None:
    """The attacker adds RFC 7239 Forwarded where only the X-Forwarded-* family was opted in."""
    server = pool.server(adapter, "proxy-map")
    headers = [*NGINX, ("Forwarded", "proto=https;host=evil.example")]
    assert attempt(server, public(server, host="evil.example"), headers) == 403


# --- {"forwarded": 1}: RFC 7239 only ----------------------------------------------------------


@pytest.mark.parametrize("adapter", HOSTED)
def test_forwarded_trusted_alone(pool: Pool, adapter: str) -> None:
    """The attacker adds X-Forwarded-Host where only Forwarded is trusted; the proxy's Forwarded must win."""
    server = pool.server(adapter, "proxy-rfc7239")
    headers = [("Forwarded", f'proto=https;host="{PUBLIC}"'), ("X-Forwarded-Host", "evil.example")]
    assert attempt(server, public(server, host="evil.example"), headers) == 403
    assert attempt(server, public(server), headers) == 200


@pytest.mark.parametrize("adapter", HOSTED)
def test_forwarded_takes_the_proxys_element(pool: Pool, adapter: str) -> None:
    """The attacker sends its own Forwarded element ahead of the proxy's: only the rightmost one counts."""
    server = pool.server(adapter, "proxy-rfc7239")
    headers = [
        ("Forwarded", f"for=192.0.2.1;host=evil.example;proto=https, for=198.51.100.7;host={PUBLIC};proto=https")
    ]
    assert attempt(server, public(server, host="evil.example"), headers) == 403
    assert attempt(server, public(server), headers) == 200


FORWARDED_TRICKS = {
    "unterminated-quote": f'for=x;host="evil.example, proto=https;host={PUBLIC}',
    "repeated-host-parameter": f"proto=https;host={PUBLIC};host=evil.example",  # RFC 7239: names never repeat
    "quoted-comma": f'proto=https;host="evil.example, {PUBLIC}"',
    "userinfo-host": 'proto=https;host="x@evil.example"',
}


@pytest.mark.parametrize("value", FORWARDED_TRICKS.values(), ids=FORWARDED_TRICKS.keys())
@pytest.mark.parametrize("adapter", HOSTED)
def test_forwarded_parsing_tricks_never_yield_the_attackers_host(pool: Pool, adapter: str, value: str) -> None:
    """The attacker shapes a Forwarded value (open quote, repeated parameter) so a naive parser reads its host."""
    server = pool.server(adapter, "proxy-rfc7239")
    signature = sign(public(server, host="evil.example"), SMS)
    with server.unreached():
        response = server.post_form("/twilio/sms", SMS, signature=signature, headers=[("Forwarded", value)])
    assert 400 <= response.status < 500, response


@pytest.mark.parametrize("adapter", HOSTED)
def test_forwarded_invalid_proto_is_a_400(pool: Pool, adapter: str) -> None:
    """The attacker (or a broken proxy) sends a trusted Forwarded proto that is not http or https."""
    server = pool.server(adapter, "proxy-rfc7239")
    with server.unreached():
        response = server.post_form(
            "/twilio/sms", SMS, signed_url=public(server), headers=[("Forwarded", f"proto=gopher;host={PUBLIC}")]
        )
    assert response.status == 400, response


@pytest.mark.parametrize("profile", PROFILES)
def test_lambda_refuses_trust_forwarded_at_its_cold_start(pool: Pool, profile: str) -> None:
    """API Gateway writes no X-Forwarded-Host: a Lambda told to trust one never serves, and says why."""
    lambdas = [name for name in ALL if name not in HOSTED]
    assert lambdas
    for name, (code, output) in pool.boot_outcomes(lambdas, profile).items():
        assert code is not None, f"{name} served with trust_forwarded ({profile})"
        assert "does not apply on AWS Lambda" in output, name
