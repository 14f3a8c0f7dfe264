"""Trusted proxy headers (src/twiliosig/_origin.py): ``trust_forwarded`` counted per header, and what each header gives.

Pure functions over plain values, tested as tables; tests/attacks/test_proxy_headers.py
and test_proxy_recipes.py play the same rules against real proxies.
"""

from __future__ import annotations

import pytest

from twiliosig._origin import ForwardedTrust, TrustedOrigin, forwarded_origin, parse_trust

X_ALL = ForwardedTrust(x_proto=1, x_host=1, x_port=1, x_prefix=1)


@pytest.mark.parametrize(
    ("headers", "trust", "origin"),
    [
        pytest.param(
            {"forwarded": "host=example.com;proto=https"},
            ForwardedTrust(forwarded=1),
            TrustedOrigin("https", "example.com", None, None),
            id="forwarded-host-first",
        ),
        pytest.param(
            {"forwarded": 'for=1.2.3.4;host="exam\\ple.com";proto="https"'},
            ForwardedTrust(forwarded=1),
            TrustedOrigin("https", "example.com", None, None),
            id="forwarded-quoted-pair",
        ),
        pytest.param(
            {"forwarded": "host=a.example;proto=http, host=b.example;proto=https"},
            ForwardedTrust(forwarded=2),
            TrustedOrigin("http", "a.example", None, None),
            id="forwarded-two-proxies",
        ),
        pytest.param(
            {"forwarded": "host=a.example;proto=http, host=b.example;proto=https"},
            ForwardedTrust(forwarded=1),
            TrustedOrigin("https", "b.example", None, None),
            id="forwarded-outer-proxy-only",
        ),
        pytest.param(
            {"x-forwarded-port": "443"},
            ForwardedTrust(forwarded=2, x_port=1),
            TrustedOrigin(None, None, "443", None),
            id="forwarded-absent-falls-back",
        ),
        pytest.param(
            {"x-forwarded-port": "1", "x-forwarded-prefix": "/public/"},
            X_ALL,
            TrustedOrigin(None, None, "1", "/public"),
            id="lowest-port-prefix-slash-dropped",
        ),
        pytest.param({"x-forwarded-port": "65535"}, X_ALL, TrustedOrigin(None, None, "65535", None), id="highest-port"),
        pytest.param({"x-forwarded-prefix": "/FAX/"}, X_ALL, TrustedOrigin(None, None, None, "/FAX"), id="only-slash"),
        pytest.param({"x-forwarded-prefix": "/"}, X_ALL, TrustedOrigin(None, None, None, None), id="root-prefix"),
    ],
)
def test_forwarded_origin_reads_what_the_trusted_proxies_wrote(
    headers: dict[str, str], trust: ForwardedTrust, origin: TrustedOrigin
) -> None:
    """Each trusted header gives its value, the outermost trusted proxy's; a proxy that wrote nothing gives nothing."""
    assert forwarded_origin(headers.get, trust) == origin


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-forwarded-port": "0"}, id="port-0"),
        pytest.param({"x-forwarded-port": "65536"}, id="port-65536"),
        pytest.param({"forwarded": 'host="example.com'}, id="forwarded-unclosed-quote"),
        pytest.param({"forwarded": "host=example.com;host=evil.example"}, id="forwarded-host-twice"),
    ],
)
def test_forwarded_origin_refuses_a_value_that_is_not_what_the_header_names(headers: dict[str, str]) -> None:
    """A port outside 1..65535 or a Forwarded header that is not name=value pairs is a ValueError (a 400)."""
    trust = X_ALL if "forwarded" not in headers else ForwardedTrust(forwarded=1)
    with pytest.raises(ValueError, match="trusted"):
        forwarded_origin(headers.get, trust)


@pytest.mark.parametrize(
    ("option", "trust"),
    [
        pytest.param(0, ForwardedTrust(0, 0), id="zero-proxies"),
        pytest.param({"x_proto": 0, "x_host": 1}, ForwardedTrust(0, 1), id="zero-hops-in-a-mapping"),
        pytest.param(1, ForwardedTrust(1, 1), id="one-proxy"),
        pytest.param({"x_proto": 2, "x_host": 1}, ForwardedTrust(2, 1), id="counted-per-header"),
    ],
)
def test_trust_forwarded_counts_from_zero(option: object, trust: ForwardedTrust) -> None:
    """Zero proxies is a count (nothing is believed), not an error; a mapping counts each header on its own."""
    assert parse_trust(option) == trust


@pytest.mark.parametrize("option", [-1, {"x_host": -1}])
def test_trust_forwarded_refuses_a_negative_count(option: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"negative|>= 0"):
        parse_trust(option)


# --- trust_forwarded counts proxies per header --------------------------------------------------


@pytest.mark.parametrize("proxies", [2, 3, 10])
def test_a_bare_count_above_one_is_refused_with_the_mapping_to_write(proxies: int) -> None:
    """trust_forwarded=2 counted a CDN that passes X-Forwarded-Host through: the client's host was believed."""
    with pytest.raises(ValueError, match="proxies differ in the headers they write") as raised:
        parse_trust(proxies)
    assert f"{{'x_proto': {proxies}, 'x_host': 1}}" in str(raised.value)
    assert "docs/proxies.md" in str(raised.value)


#: A CDN that appends X-Forwarded-Proto and passes X-Forwarded-Host through, then a load balancer writing both.
CDN_LB = ForwardedTrust(x_proto=2, x_host=1)


@pytest.mark.parametrize(
    ("headers", "trust", "origin"),
    [
        pytest.param(
            {"x-forwarded-proto": "http, https, http", "x-forwarded-host": "other.example, hooks.example.com"},
            CDN_LB,
            TrustedOrigin("https", "hooks.example.com", None, None),
            id="cdn-lb-client-host-passed-through",
        ),
        pytest.param(
            {"x-forwarded-proto": "https,http", "x-forwarded-host": "hooks.example.com"},
            CDN_LB,
            TrustedOrigin("https", "hooks.example.com", None, None),
            id="cdn-lb-no-client-values",
        ),
        pytest.param(
            {"x-forwarded-proto": "\thttps \t, http", "x-forwarded-host": " hooks.example.com\t"},
            CDN_LB,
            TrustedOrigin("https", "hooks.example.com", None, None),
            id="spaces-and-tabs-around-values",
        ),
        pytest.param(
            {"x-forwarded-host": ", , hooks.example.com"},
            ForwardedTrust(x_host=1),
            TrustedOrigin(None, "hooks.example.com", None, None),
            id="client-empty-values-left-of-the-count",
        ),
        pytest.param(
            {"x-forwarded-proto": "https, https", "x-forwarded-host": "hooks.example.com,lb.internal"},
            ForwardedTrust(x_proto=2, x_host=2),
            TrustedOrigin("https", "hooks.example.com", None, None),
            id="two-appending-proxies",
        ),
        pytest.param(
            {"x-forwarded-proto": "http", "x-forwarded-host": "other.example, hooks.example.com"},
            ForwardedTrust(x_host=1),
            TrustedOrigin(None, "hooks.example.com", None, None),
            id="untrusted-header-ignored",
        ),
        pytest.param({}, CDN_LB, TrustedOrigin(None, None, None, None), id="absent-headers-fall-back"),
    ],
)
def test_each_header_is_read_at_its_own_count(
    headers: dict[str, str], trust: ForwardedTrust, origin: TrustedOrigin
) -> None:
    """Each header's value is the one its own outermost writer left; a header nobody wrote gives nothing."""
    assert forwarded_origin(headers.get, trust) == origin


@pytest.mark.parametrize(
    ("headers", "trust", "message"),
    [
        pytest.param(
            {"x-forwarded-proto": "https", "x-forwarded-host": "hooks.example.com"},
            CDN_LB,
            "X-Forwarded-Proto header holds 1 value",
            id="fewer-values-than-counted",
        ),
        pytest.param(
            {"x-forwarded-host": ", hooks.example.com"},
            ForwardedTrust(x_host=2),
            "X-Forwarded-Host header is empty",
            id="empty-value-at-the-count",
        ),
        pytest.param(
            {"x-forwarded-host": "hooks.example.com, "},
            ForwardedTrust(x_host=1),
            "X-Forwarded-Host header is empty",
            id="empty-last-value",
        ),
        pytest.param({"x-forwarded-prefix": " \t"}, ForwardedTrust(x_prefix=1), "Prefix header is empty", id="blank"),
        pytest.param(
            {"forwarded": "host=b.example;proto=https"},
            ForwardedTrust(forwarded=2),
            "Forwarded header holds 1 value",
            id="forwarded-fewer-elements-than-counted",
        ),
    ],
)
def test_a_trusted_header_shorter_than_its_count_is_refused(
    headers: dict[str, str], trust: ForwardedTrust, message: str
) -> None:
    """Present but short (or empty where counted): the proxies counted did not all write it, so nothing is guessed."""
    with pytest.raises(ValueError, match=message) as raised:
        forwarded_origin(headers.get, trust)
    assert "example" not in str(raised.value), "the message names the header, never its value"


def test_a_huge_header_is_split_only_as_far_as_the_count() -> None:
    """A client's 100,000 commas ahead of the proxy's value cost one pass, and the proxy's value is read."""
    headers = {"x-forwarded-host": "," * 100_000 + "hooks.example.com"}
    assert forwarded_origin(headers.get, ForwardedTrust(x_host=1)).host == "hooks.example.com"
