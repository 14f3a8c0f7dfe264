"""URL parts and candidate forms: string surgery that keeps userinfo and IPv6 intact."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from twiliosig import RequestValidator, compute_signature
from twiliosig._urls import DEFAULT_VARIANTS, UrlVariant, candidate_urls, query_values, redact, split_url


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        pytest.param("https://example.com/a?b#c", ("https", "", "example.com", "", "/a?b#c"), id="plain"),
        pytest.param("https://example.com:8443", ("https", "", "example.com", ":8443", ""), id="port-no-path"),
        pytest.param("https://u:p@example.com:8443/h", ("https", "u:p@", "example.com", ":8443", "/h"), id="userinfo"),
        pytest.param("https://u:p@x@example.com/h", ("https", "u:p@x@", "example.com", "", "/h"), id="at-in-userinfo"),
        pytest.param("https://[2001:db8::1]:8443/h", ("https", "", "[2001:db8::1]", ":8443", "/h"), id="ipv6-port"),
        pytest.param("https://[2001:db8::1]/h", ("https", "", "[2001:db8::1]", "", "/h"), id="ipv6"),
        pytest.param("https://example.com:/h", ("https", "", "example.com", ":", "/h"), id="empty-port"),
        pytest.param("https://example.com?q=a:1", ("https", "", "example.com", "", "?q=a:1"), id="colon-in-query"),
        pytest.param("HTTPS://Example.COM/h", ("HTTPS", "", "Example.COM", "", "/h"), id="case-kept"),
        pytest.param("https://host:abc/h", ("https", "", "host:abc", "", "/h"), id="non-numeric-port"),
        pytest.param("https://h:8443/x", ("https", "", "h", ":8443", "/x"), id="one-letter-host"),
        pytest.param("https://[::1/h", ("https", "", "[::1", "", "/h"), id="ipv6-unclosed"),
        pytest.param("https://[::1]x/h", ("https", "", "[::1]x", "", "/h"), id="ipv6-then-text"),
    ],
)
def test_split_url_keeps_every_byte(url: str, parts: tuple[str, ...]) -> None:
    """Each part is found by string position, and joining them gives the URL back."""
    split = split_url(url)
    assert split is not None
    assert tuple(split) == parts
    assert split.join() == url


@given(st.text(st.sampled_from("aZ09:@[]./?#%"), max_size=16))
def test_split_url_joins_back_to_any_url(authority_and_rest: str) -> None:
    """Whatever follows scheme://, the parts put back together are the URL as received."""
    url = "https://" + authority_and_rest
    split = split_url(url)
    assert split is not None
    assert split.join() == url


@pytest.mark.parametrize("url", ["/relative", "example.com/a", "", "1http://x/", "mailto:a@b"])
def test_split_url_refuses_relative_urls(url: str) -> None:
    """Anything but scheme://authority is not a URL Twilio could have signed."""
    assert split_url(url) is None


def test_candidates_start_with_the_url_as_received_and_never_repeat() -> None:
    """The first candidate is the URL itself; the rest are distinct."""
    url = "https://user:pass@Example.com:443/a/?x=It's+ok"
    candidates = list(candidate_urls(url))
    assert candidates[0].url == url
    assert candidates[0].description == "as received"
    urls = [c.url for c in candidates]
    assert len(urls) == len(set(urls))
    expected = {
        "https://user:pass@Example.com/a/?x=It's+ok",
        "https://user:pass@Example.com:443/a?x=It's+ok",
        "https://Example.com:443/a/?x=It's+ok",
        "https://user:pass@example.com/a/?x=It%27s+ok",
        "https://user:pass@example.com/a/?x=It's%20ok",
        "https://user:pass@example.com:443/a/?x=It%27s+ok",
    }
    assert expected <= set(urls)


def test_port_variants_follow_the_scheme() -> None:
    """443 is added for https and wss, 80 for http and ws; a present port is removed."""
    forms = {c.url for c in candidate_urls("wss://example.com/media", UrlVariant.PORT)}
    assert forms == {"wss://example.com/media", "wss://example.com:443/media"}
    forms = {c.url for c in candidate_urls("ws://example.com/media", UrlVariant.PORT)}
    assert forms == {"ws://example.com/media", "ws://example.com:80/media"}
    forms = {c.url for c in candidate_urls("http://[::1]:8080/h", UrlVariant.PORT)}
    assert forms == {"http://[::1]:8080/h", "http://[::1]/h"}


@given(st.text(st.sampled_from("aX/?#=&%'. "), max_size=12))
@example("FAX?q=1")
@example("a?b=1?c")
@example("a#b?c/")
def test_port_slash_and_userinfo_forms_change_nothing_else(tail: str) -> None:
    """The port, trailing-slash and userinfo forms keep the host, the rest of the path, the query and the fragment."""
    url = "https://user:pw@example.com:8443/" + tail
    received = urlsplit(url)
    for candidate in candidate_urls(url, UrlVariant.PORT | UrlVariant.TRAILING_SLASH | UrlVariant.USERINFO):
        form = urlsplit(candidate.url)
        assert form.path.rstrip("/") == received.path.rstrip("/")
        assert (form.hostname, form.query, form.fragment) == (received.hostname, received.query, received.fragment)


def test_no_variants_means_the_url_alone() -> None:
    """UrlVariant.NONE yields the URL as received and nothing else."""
    assert [c.url for c in candidate_urls("https://x.com:443/a/", UrlVariant.NONE)] == ["https://x.com:443/a/"]


@pytest.mark.parametrize(
    ("url", "whatwg"),
    [
        ("https://Example.COM/a/b", "https://example.com/a/b"),
        ("HTTPS://example.com:443/h?q=a b'", "https://example.com/h?q=a%20b%27"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a\tb", "https://example.com/ab"),
        ("https://example.com/é?ñ", "https://example.com/%C3%A9?%C3%B1"),
        ("https://example.com:8443/h", "https://example.com:8443/h"),
        ("https://example.com:08443/h", "https://example.com:8443/h"),
        ("https://example.com:/h", "https://example.com/h"),
        ("https://example.com/a!\x7f", "https://example.com/a!%7F"),
        ("https://example.com/h?q#f g", "https://example.com/h?q#f%20g"),
        ("https://example.com/h#a b#c", "https://example.com/h#a%20b#c"),
    ],
)
def test_whatwg_form(url: str, whatwg: str) -> None:
    """The WHATWG form matches what Node's URL serialiser gives."""
    assert whatwg in {c.url for c in candidate_urls(url, UrlVariant.ENCODING)}


def test_python_sdk_form_drops_an_empty_query() -> None:
    """The twilio Python SDK re-serialises the URL, dropping an empty '?': that form is tried."""
    assert "https://x.com/h" in {c.url for c in candidate_urls("https://x.com/h?", UrlVariant.ENCODING)}


@pytest.mark.parametrize(
    "received",
    [
        "https://example.com/twilio/hooks/x/../../sms",
        "https://example.com/twilio/hooks/%2e%2e/sms",
        "https://example.com/twilio/hooks/.%2E/sms",
        "https://example.com/twilio\\sms",
        "https://example.com/twilio/x/..\\sms",
        "https://example.com/twilio/./sms",
        "https://example.com/twilio/%2e/sms",
        "https://example.com/twilio/sms/.",
    ],
)
def test_no_variant_moves_the_path_to_another_route(received: str) -> None:
    """No candidate resolves a dot segment or turns '\\' into '/': a router would dispatch those paths elsewhere."""
    signed = "https://example.com/twilio/sms"
    assert signed not in {c.url for c in candidate_urls(received)}
    assert not RequestValidator("t").validate(received, {"a": "1"}, compute_signature("t", signed, {"a": "1"}))


@pytest.mark.parametrize(
    ("received", "signed"),
    [
        ("https://x.com/twilio/O'Hara", "https://x.com/twilio/O%27Hara"),  # Python's quote escapes '
        ("https://x.com/twilio/O%27Hara", "https://x.com/twilio/O'Hara"),
        ("https://x.com/twilio/O%27Hara?q=1", "https://x.com/twilio/O'Hara?q=1"),
    ],
)
def test_an_apostrophe_in_the_path_either_way(received: str, signed: str) -> None:
    """' and %27 name the same path to every router; a path decoded and re-encoded may hold either."""
    assert signed in {c.url for c in candidate_urls(received)}


@pytest.mark.parametrize(
    ("received", "signed"),
    [
        # API Gateway REST (payload 1.0) keeps only decoded values: rebuilt with %20 and %27
        ("https://x.com/h?q=a%20b%27c", "https://x.com/h?q=a+b%27c"),  # urlencode / quote_plus
        ("https://x.com/h?q=a%20b%27c", "https://x.com/h?q=a%20b'c"),  # encodeURIComponent
        ("https://x.com/h?q=a%20b%27c", "https://x.com/h?q=a+b'c"),
        ("https://x.com/h?q=a+b%27c", "https://x.com/h?q=a%20b%27c"),
        ("https://x.com/h?q=a=b%20c", "https://x.com/h?q=a%3Db+c"),  # the first '=' ends the name
        ("https://x.com/h?q=a%20b#frag", "https://x.com/h?q=a+b#frag"),  # the fragment stays a fragment
    ],
)
def test_common_query_encoders(received: str, signed: str) -> None:
    """A query re-encoded as urlencode, quote or encodeURIComponent write it is one of the candidates."""
    assert signed in {c.url for c in candidate_urls(received)}


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=5))
def test_legacy_query_form_never_changes_which_parameters_the_url_carries(pairs: list[tuple[str, str]]) -> None:
    """Every re-encoded form decodes to the same names and values, in the same order."""
    from urllib.parse import parse_qsl, quote

    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    url = f"https://example.com/h?{query}"
    for candidate in candidate_urls(url, UrlVariant.ENCODING):
        candidate_query = candidate.url.partition("?")[2]
        assert parse_qsl(candidate_query, keep_blank_values=True) == parse_qsl(query, keep_blank_values=True)


def test_redact_hides_passwords_only() -> None:
    """A password in userinfo becomes ***; everything else stays."""
    assert redact("https://user:s3cret@example.com:8443/h?x=1") == "https://user:***@example.com:8443/h?x=1"
    assert redact("https://user@example.com/h") == "https://user@example.com/h"
    assert redact("not a url") == "not a url"
    assert redact("https://user:pa:ss@example.com/h") == "https://user:***@example.com/h"


def test_query_values_decodes_and_keeps_blanks() -> None:
    """Query values are form-decoded; blank values and repeats are kept."""
    assert query_values("https://x/?a=1&a=&b=%2B+&a=3#a=9", "a") == ["1", "", "3"]
    assert query_values("https://x/?b=%2B+", "b") == ["+ "]
    assert query_values("https://x/", "a") == []


@pytest.mark.parametrize(
    ("url", "name", "values"),
    [
        pytest.param("https://x/h?a=1?b=2", "a", ["1?b=2"], id="question-mark-in-value"),
        pytest.param("https://x/h?a=1?b=2", "b", [], id="no-second-query"),
        pytest.param("https://x/h?a=1=2", "a", ["1=2"], id="equals-in-value"),
    ],
)
def test_query_values_reads_the_query_as_frameworks_do(url: str, name: str, values: list[str]) -> None:
    """The query starts at the first '?' and each name ends at its first '=': the AccountSid the app reads."""
    assert query_values(url, name) == values


def test_default_variants_include_everything() -> None:
    """By default every variant the official SDKs try (and our slash toggle) is on."""
    for member in UrlVariant:
        assert member in DEFAULT_VARIANTS


# --- the re-encodings, computed in passes in C, against the plain per-piece reading -------------

_PIECES = [
    "a", "B", "=", "&", "+", "%", "%2", "%41", "%aF", "%fe", "%FF", "%C3", "%A9", "%E2%82", "%AC", "%F0%9F%98",
    "%80", "%ED%A0%80", "'", "!", "*", "(", ")", "~", " ", "é", "\x01", '"', "<", "\ud800", "%3D", "%26", "%20",
    ".", "\\", "`", "{", "😀", "%E0%80", "%E0%A0", "%ED%9F", "%F0%80", "%F0%90", "%F4%8F", "%F4%90", "%F1%80%80",
    "%C0", "%C1", "%F5", "%EF%BF",
]  # fmt: skip


def _reference_percent_encode(text: str, extra: frozenset[str]) -> str:
    """A WHATWG percent-encode set, one character at a time."""
    out = []
    for char in text:
        if ord(char) < 0x21 or ord(char) >= 0x7F or char in extra:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass")))
        else:
            out.append(char)
    return "".join(out)


def _reference_query_form(url: str, space: str, safe: str) -> str | None:
    """One encoder's re-encoding of the query, ``quote(unquote_plus(...))`` name by name and value by value."""
    from urllib.parse import quote, unquote_plus

    base, question, query = url.partition("?")
    if not question or not query:
        return None
    query, hash_mark, fragment = query.partition("#")
    pieces = []
    for piece in query.split("&"):
        name, equals, value = piece.partition("=")
        encoded = quote(unquote_plus(name), safe=safe).replace("%20", space)
        if equals:
            encoded += "=" + quote(unquote_plus(value), safe=safe).replace("%20", space)
        pieces.append(encoded)
    return f"{base}?{'&'.join(pieces)}{hash_mark}{fragment}"


@given(st.lists(st.sampled_from(_PIECES), max_size=14), st.lists(st.sampled_from(_PIECES), max_size=4))
@example(["a", "=", "%C3", "&", "%A9", "=", "=", "%fe", "&", "&", "%FF", "+"], ["'"])
@example(["%E2%82", "é", "%AC", "=", "%F0%9F%98", "=", "%ED%A0%80"], ["%27"])
@example(["%E0%80", "%F4%90%80", "&", "%F0%90", "=", "%F1%80%80", "%C0", "%ED%9F", "%EF%BF", "%fE"], [])
def test_reencodings_equal_the_per_piece_reading(query: list[str], path: list[str]) -> None:
    """Each URL form the encodings give is the one a quote/unquote_plus loop over the pieces gives.

    Whatever the query holds: invalid UTF-8 escapes next to separators, escaped
    0xFE and 0xFF (the bytes the one pass uses for separators), several ``=`` in
    a piece, raw non-ASCII and lone surrogates.
    """
    from twiliosig import _urls

    url = "https://Ex.com:443/" + "".join(path) + "?" + "".join(query)
    whatwg = _urls._whatwg_form(url)
    assert whatwg is not None
    parts = _urls.split_url(url)
    assert parts is not None
    path_part, tail = _urls._split_rest(parts.rest)
    assert _urls._percent_encode(path_part, _urls._PATH_ENCODE) == _reference_percent_encode(
        path_part, _urls._PATH_ENCODE
    )
    query_part = tail[1:]
    assert _urls._percent_encode(query_part, _urls._QUERY_ENCODE) == _reference_percent_encode(
        query_part, _urls._QUERY_ENCODE
    )
    expected = [
        (form, change)
        for space, safe, change in _urls._QUERY_ENCODERS
        if (form := _reference_query_form(whatwg, space, safe)) is not None
    ]
    assert list(_urls._legacy_query_forms(whatwg)) == expected


@given(st.lists(st.sampled_from(["a", "b", "ab", "=", "&", "+", "%", "%61", "%20", "#", "%3D", "é"]), max_size=10))
@example(["a", "+", "b", "=", "a"])
@example(["%61", "b", "&", "ab", "=", "&", "ab"])
def test_query_values_equal_the_per_piece_reading(pieces: list[str]) -> None:
    """query_values skips in C only pieces that the plain reading would not name so."""
    from urllib.parse import unquote_plus

    url = "https://x.com/?" + "".join(pieces)
    query = url.partition("?")[2].partition("#")[0]
    for name in ("a", "ab", "a b", "a=b", ""):
        expected = [
            unquote_plus(piece.partition("=")[2])
            for piece in query.split("&")
            if unquote_plus(piece.partition("=")[0]) == name
        ]
        assert query_values(url, name) == expected
