"""The URL Twilio called, rebuilt from the request (src/twiliosig/_origin.py): public_url, target, re-quoted path.

Each is a pure function over plain values, so each is tested here as a table, a
readable id per case; the middlewares' contract (``tests/contract.py``) shows the
same rules hold end to end. The proxy headers that also feed the URL are in
tests/test_forwarded_headers.py.
"""

from __future__ import annotations

import pytest

from twiliosig._origin import PublicUrl, parse_public_url, quote_path, rebuild_url, split_target


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
