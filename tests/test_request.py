"""The request helpers the guard decides with: public_url, trusted proxy headers, path readings.

Each is a pure function over plain values, so each is tested here as a table, a
readable id per case; the middlewares' contract (``tests/contract.py``) shows the
same rules hold end to end.
"""

from __future__ import annotations

import pytest

from twiliosig._request import (
    ForwardedTrust,
    PublicUrl,
    TrustedOrigin,
    forwarded_origin,
    normalise_path,
    parse_public_url,
    parse_trust,
    path_matcher,
    quote_path,
    rebuild_url,
    split_target,
)


@pytest.mark.parametrize(
    ("public_url", "parsed"),
    [
        pytest.param("https://example.com", PublicUrl("https", "example.com", ""), id="https"),
        pytest.param("http://example.com", PublicUrl("http", "example.com", ""), id="http"),
        pytest.param("ws://example.com", PublicUrl("ws", "example.com", ""), id="ws"),
        pytest.param("wss://example.com", PublicUrl("wss", "example.com", ""), id="wss"),
        pytest.param("HTTPS://Example.com:8443", PublicUrl("https", "Example.com:8443", ""), id="scheme-lowered"),
        pytest.param("https://example.com/api/", PublicUrl("https", "example.com", "/api"), id="prefix-slash-dropped"),
        pytest.param("https://example.com/FAX/", PublicUrl("https", "example.com", "/FAX"), id="only-slash"),
    ],
)
def test_public_url_gives_scheme_authority_and_prefix(public_url: str, parsed: PublicUrl) -> None:
    """An http(s) or ws(s) public_url is read as the scheme, the host and port, and a prefix without its slash."""
    assert parse_public_url(public_url) == parsed


@pytest.mark.parametrize(
    "public_url",
    [
        pytest.param("example.com", id="no-scheme"),
        pytest.param("ftp://example.com", id="other-scheme"),
        pytest.param("https://", id="no-host"),
        pytest.param("https://example.com/?x=1", id="query"),
        pytest.param("https://example.com/#top", id="fragment"),
        pytest.param("https://user:pass@example.com", id="userinfo"),
    ],
)
def test_public_url_that_is_not_a_webhook_origin_fails_at_start_up(public_url: str) -> None:
    """A public_url Twilio could not call, or one carrying parts each request brings, is a ValueError."""
    with pytest.raises(ValueError, match="public_url"):
        parse_public_url(public_url)


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        pytest.param("/twilio/sms", ("/twilio/sms", ""), id="path"),
        pytest.param("/twilio/sms?a=1&b=%3F", ("/twilio/sms", "a=1&b=%3F"), id="query"),
        pytest.param("/twilio/sms?a=1#top", ("/twilio/sms", "a=1"), id="fragment-dropped"),
        pytest.param("/twilio/sms?a=?", ("/twilio/sms", "a=?"), id="second-question-mark"),
    ],
)
def test_split_target(target: str, parts: tuple[str, str]) -> None:
    """A raw request target is the path up to the first '?', then the query without any fragment."""
    assert split_target(target) == parts


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
            {"forwarded": "host=b.example;proto=https"},
            ForwardedTrust(forwarded=2),
            TrustedOrigin(None, None, None, None),
            id="forwarded-fewer-elements-than-proxies",
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
    ("path", "backslashes", "normalised"),
    [
        pytest.param("/a/./b", False, "/a/b", id="dot"),
        pytest.param("/a//b", False, "/a/b", id="double-slash"),
        pytest.param("/a/b/../c", False, "/a/c", id="dot-dot"),
        pytest.param("/../../a", False, "/a", id="dot-dot-above-root"),
        pytest.param("/a/b/", False, "/a/b/", id="trailing-slash-kept"),
        pytest.param("/x/../a/b/", False, "/a/b/", id="trailing-slash-after-dot-dot"),
        pytest.param("/", False, "/", id="root"),
        pytest.param("/./", False, "/", id="root-dot"),
        pytest.param("/a/..", False, "/", id="back-to-root"),
        pytest.param("/a\\b/../c", False, "/c", id="backslash-is-a-character"),
        pytest.param("/a\\b/../c", True, "/a/c", id="backslash-separates"),
    ],
)
def test_normalise_path(path: str, backslashes: bool, normalised: str) -> None:
    """Dot segments resolved, slashes merged, a trailing slash kept; '\\' separates only when asked."""
    assert normalise_path(path, backslashes=backslashes) == normalised


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        pytest.param("/x\\y/../twilio/sms", "/twilio/sms", id="backslash-as-a-character"),
        pytest.param("/x/..\\twilio\\sms", "/twilio/sms", id="backslash-as-a-separator"),
        pytest.param("/x/../twilio/sms/", "/twilio/sms/", id="trailing-slash"),
        pytest.param("/x/%2e%2e/twilio/sms%FF", "/twilio/sms\udcff", id="escape-that-is-not-utf-8"),
    ],
)
def test_a_path_that_some_reader_resolves_into_a_prefix_is_protected(path: str, resolved: str) -> None:
    """Whether a proxy reads '\\' as a character or a separator, a path it resolves into /twilio/ is protected."""
    for matcher in (path_matcher(["/twilio/"]), path_matcher(lambda reading: reading == resolved)):
        assert matcher(path)
        assert not matcher("/status")


@pytest.mark.parametrize(
    ("decoded", "quoted"),
    [
        pytest.param("/twilio/sms", "/twilio/sms", id="plain"),
        pytest.param("/a:b@c!$&'()*+,;=-._~", "/a:b@c!$&'()*+,;=-._~", id="sub-delims-kept"),
        pytest.param("/caf\u00e9 x", "/caf%C3%A9%20x", id="utf8-and-space"),
        pytest.param("/a?b#c%", "/a%3Fb%23c%25", id="query-fragment-percent"),
        pytest.param("/bad\udcff", "/bad%FF", id="undecodable-byte-as-sent"),
    ],
)
def test_quote_path_writes_what_clients_send(decoded: str, quoted: str) -> None:
    """A server that decoded the path: re-encoded as a browser or Twilio writes it (RFC 3986 sub-delims kept)."""
    assert quote_path(decoded) == quoted


@pytest.mark.parametrize("scheme", ["ht-tp", "http2", "h\u00e9ttp", ""])
def test_rebuild_url_refuses_a_scheme_that_is_not_letters(scheme: str) -> None:
    """Only an ASCII-letter scheme makes a URL (a server or proxy handing over anything else gets no URL)."""
    assert rebuild_url(scheme=scheme, host="example.com", path="/twilio/sms", query="") is None
    assert rebuild_url(scheme="https", host="example.com", path="/twilio/sms", query="") == (
        "https://example.com/twilio/sms"
    )


@pytest.mark.parametrize("prefix", ["/caf%C3%A9/", "/caf%c3%a9", "/a%20b/"])
def test_a_prefix_written_percent_encoded_protects_the_path_routers_decode(prefix: str) -> None:
    """Routers match the decoded path (``/café/x``): a prefix given encoded must protect that reading too.

    Matched only as written, ``paths=["/caf%C3%A9/"]`` would leave every request
    the router sends to ``/café/...`` unprotected.
    """
    decoded = "/café" if "caf" in prefix else "/a b"
    matcher = path_matcher([prefix])
    assert matcher(decoded + "/sms")
    assert matcher(decoded)
    assert not matcher(decoded + "x/sms")
    assert not matcher("/status")


@pytest.mark.parametrize(
    ("option", "trust"),
    [
        pytest.param(0, ForwardedTrust(0, 0), id="zero-proxies"),
        pytest.param({"x_proto": 0, "x_host": 1}, ForwardedTrust(0, 1), id="zero-hops-in-a-mapping"),
        pytest.param(2, ForwardedTrust(2, 2), id="two-proxies"),
    ],
)
def test_trust_forwarded_counts_from_zero(option: object, trust: ForwardedTrust) -> None:
    """Zero proxies is a count (nothing is believed), not an error; only a negative count is refused."""
    assert parse_trust(option) == trust


@pytest.mark.parametrize("option", [-1, {"x_host": -1}])
def test_trust_forwarded_refuses_a_negative_count(option: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"negative|>= 0"):
        parse_trust(option)
