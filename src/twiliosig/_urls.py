"""The URLs a genuine Twilio signature may have been computed over.

Twilio signs the URL it requested, but the string an application can rebuild is
not always byte-for-byte that URL: Twilio is inconsistent about the port (voice
over HTTPS drops it, SMS keeps it), people configure ``/twilio`` and route
``/twilio/``, and Twilio has been seen to sign an escaped form of a query that
arrived unescaped, and the reverse. The official SDKs therefore try a few forms
of the URL. This module produces those forms, most likely first, each with a
plain description of how it differs from the URL as received, so a refusal can
be explained and an acceptance can say which form matched.

Every candidate still has to be signed with the secret, so a wider candidate set
never admits a forger; it only stops refusing genuine requests. All edits are
string surgery on the parts of the URL (scheme, userinfo, host, port, path,
query, fragment) so that userinfo and IPv6 literals survive untouched, which the
Python SDK's ``netloc.split(":")`` does not manage.
"""

from __future__ import annotations

import binascii
import enum
import functools
import re
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import unquote_plus, urlparse

__all__ = [
    "DEFAULT_VARIANTS",
    "Candidate",
    "UrlParts",
    "UrlVariant",
    "candidate_urls",
    "default_port",
    "query_values",
    "redact",
    "split_url",
]


class UrlVariant(enum.Flag):
    """Which alternatives to the URL as received a signature may match.

    Combine members with ``|``; ``UrlVariant.NONE`` accepts the URL exactly as
    received and nothing else.
    """

    NONE = 0
    #: The port removed, or the scheme's default port (443 or 80) added.
    PORT = enum.auto()
    #: The trailing slash of the path removed or added.
    TRAILING_SLASH = enum.auto()
    #: The ``user:password@`` part dropped (Twilio signs without it).
    USERINFO = enum.auto()
    #: The re-encodings the official SDKs try: the WHATWG form (host
    #: lowercased, ``'`` escaped; dot segments and backslashes are kept as
    #: received, so no form moves the request to another route), the query
    #: re-encoded as common encoders write it (``'`` raw or as ``%27``, a space
    #: as ``%20`` or ``+``) and the Python SDK's re-serialisation (scheme
    #: lowercased, empty ``?`` or ``#`` dropped).
    ENCODING = enum.auto()
    #: Not a URL change: the parameters sorted by UTF-16 code unit, as
    #: Java, C# and JavaScript sort, besides Python's code-point order. The two
    #: differ only when an astral character (an emoji) meets U+E000..U+FFFF.
    UTF16_PARAM_ORDER = enum.auto()


DEFAULT_VARIANTS = (
    UrlVariant.PORT
    | UrlVariant.TRAILING_SLASH
    | UrlVariant.USERINFO
    | UrlVariant.ENCODING
    | UrlVariant.UTF16_PARAM_ORDER
)

_DEFAULT_PORTS = {"https": "443", "wss": "443", "http": "80", "ws": "80"}
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)\Z", re.DOTALL)


class UrlParts(NamedTuple):
    """An absolute URL cut into its parts, keeping every byte as received.

    ``scheme + "://" + userinfo + host + port + rest`` is the original string;
    ``userinfo`` keeps its ``@`` and ``port`` its ``:``.
    """

    scheme: str
    userinfo: str
    host: str
    port: str
    rest: str

    def join(self) -> str:
        """Put the parts back together."""
        return f"{self.scheme}://{self.userinfo}{self.host}{self.port}{self.rest}"

    @property
    def port_number(self) -> str:
        """The port digits without the colon (empty when there is none)."""
        return self.port[1:]


def split_url(url: str) -> UrlParts | None:
    """Cut an absolute URL into its parts, or return None for anything else.

    Only ``scheme://authority`` URLs are accepted: a relative URL cannot be
    what Twilio signed.
    """
    match = _ABSOLUTE.match(url)
    if match is None:
        return None
    scheme, authority, rest = match.groups()
    userinfo_end = authority.rfind("@") + 1
    userinfo, hostport = authority[:userinfo_end], authority[userinfo_end:]
    if hostport.startswith("["):
        close = hostport.find("]")
        if close == -1:
            return UrlParts(scheme, userinfo, hostport, "", rest)
        host, port = hostport[: close + 1], hostport[close + 1 :]
        if port and not port.startswith(":"):
            host, port = hostport, ""
    else:
        colon = hostport.rfind(":")
        if colon == -1:
            host, port = hostport, ""
        else:
            host, port = hostport[:colon], hostport[colon:]
    if port and port != ":" and not port[1:].isdigit():
        host, port = host + port, ""
    return UrlParts(scheme, userinfo, host, port, rest)


def default_port(scheme: str) -> str | None:
    """The scheme's default port as digits, or None when it has none we know."""
    return _DEFAULT_PORTS.get(scheme.lower())


def redact(url: str) -> str:
    """The URL with any password in its userinfo replaced by ``***``.

    Used wherever a URL reaches a message, a log line or a repr.
    """
    parts = split_url(url)
    if parts is None or ":" not in parts.userinfo:
        return url
    user = parts.userinfo.split(":", 1)[0]
    return parts._replace(userinfo=f"{user}:***@").join()


class Candidate(NamedTuple):
    """One URL to try, and how it differs from the URL as received."""

    url: str
    changes: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """The changes in words, or ``"as received"``."""
        return ", ".join(self.changes) if self.changes else "as received"


_Form = tuple[UrlParts, tuple[str, ...]]


def candidate_urls(url: str, variants: UrlVariant = DEFAULT_VARIANTS) -> Iterator[Candidate]:
    """Yield the distinct URLs to try, most likely first, the URL as received first.

    Lazy, so the common request (signed over the URL exactly as received) never
    pays for building the alternatives; each form is parsed once and varied as
    parts, never re-parsed.
    """
    yield Candidate(url)
    parts = split_url(url)
    if parts is None:
        return
    forms: list[_Form] = [(parts, ())]
    if UrlVariant.ENCODING in variants:
        for form_url, change in _encoding_forms(url):
            form_parts = split_url(form_url)
            if form_parts is not None:
                forms.append((form_parts, (change,)))
    if UrlVariant.USERINFO in variants:
        forms += [
            (form._replace(userinfo=""), (*changes, "without the user:password@ part"))
            for form, changes in list(forms)
            if form.userinfo
        ]
    ported: list[_Form] = []
    for entry in forms:
        ported.append(entry)
        if UrlVariant.PORT in variants:
            ported.extend(_port_forms(*entry))
    if UrlVariant.TRAILING_SLASH in variants:
        ported += [_toggle_trailing_slash(*entry) for entry in ported]
    seen = {url}
    for form_parts, changes in ported:
        candidate = form_parts.join()
        if candidate not in seen:
            seen.add(candidate)
            yield Candidate(candidate, changes)


def _port_forms(parts: UrlParts, changes: tuple[str, ...]) -> Iterator[_Form]:
    if parts.port:
        label = parts.port_number or "(empty)"
        yield (
            UrlParts(parts.scheme, parts.userinfo, parts.host, "", parts.rest),
            (*changes, f"with the port {label} removed"),
        )
        return
    port = default_port(parts.scheme)
    if port is not None:
        with_port = UrlParts(parts.scheme, parts.userinfo, parts.host, ":" + port, parts.rest)
        yield with_port, (*changes, f"with the port {port} added")


def _split_rest(rest: str) -> tuple[str, str]:
    """Split ``path?query#fragment`` into the path and everything after it."""
    end = len(rest)
    for delimiter in "?#":
        index = rest.find(delimiter)
        if index != -1 and index < end:
            end = index
    return rest[:end], rest[end:]


def _toggle_trailing_slash(parts: UrlParts, changes: tuple[str, ...]) -> _Form:
    path, tail = _split_rest(parts.rest)
    scheme, userinfo, host, port, _ = parts
    if path.endswith("/"):
        return UrlParts(scheme, userinfo, host, port, path[:-1] + tail), (*changes, "with the trailing slash removed")
    return UrlParts(scheme, userinfo, host, port, path + "/" + tail), (*changes, "with a trailing slash added")


# --- the re-encodings the official SDKs try --------------------------------------

# Characters the WHATWG URL standard percent-encodes in each part (besides C0
# controls, DEL and non-ASCII, which every set encodes).
_PATH_ENCODE = frozenset(' "<>`{}')
_QUERY_ENCODE = frozenset(" \"#<>'")
_FRAGMENT_ENCODE = frozenset(' "<>`')
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
# How common encoders write a query name or value: the space, and the punctuation left
# unescaped besides letters, digits and "_.-~" (which every one of them keeps).
_QUERY_ENCODERS = (
    # encodeURIComponent, Node's querystring.escape (twilio-node's legacy fallback)
    ("%20", "!*'()", "with the query re-encoded form-style (as twilio-node does)"),
    ("+", "!*'()", "with the query re-encoded form-style, spaces as +"),
    # Python's urlencode / quote_plus, PHP's urlencode, Ruby's CGI.escape
    ("+", "", "with the query re-encoded as urlencode writes it (spaces as +, ' as %27)"),
    # Python's quote, PHP's rawurlencode
    ("%20", "", "with the query re-encoded as quote writes it (spaces as %20, ' as %27)"),
)


def _encoding_forms(url: str) -> Iterator[tuple[str, str]]:
    whatwg = _whatwg_form(url)
    if whatwg is not None:
        yield whatwg, "normalised as a WHATWG URL (as twilio-node does)"
        if "?" in whatwg:
            yield from _legacy_query_forms(whatwg)
    python = _python_form(url)
    if python is not None:
        yield python, "re-serialised (as the twilio Python SDK does)"
    apostrophes = _path_apostrophes_form(url)
    if apostrophes is not None:
        yield apostrophes


def _path_apostrophes_form(url: str) -> tuple[str, str] | None:
    """The URL with each ``'`` in its path written ``%27``, or each ``%27`` written ``'``.

    Both spell the same path to every router; which one arrives depends on who
    re-encoded it (Python's ``quote`` escapes ``'``, a WHATWG parser does not,
    and API Gateway's HTTP APIs hand the function the path decoded).
    """
    parts = split_url(url)
    if parts is None:
        return None
    path, tail = _split_rest(parts.rest)
    if "'" in path:
        changed, change = path.replace("'", "%27"), "with ' in the path as %27"
    elif "%27" in path.upper():
        changed, change = re.sub("%27", "'", path, flags=re.IGNORECASE), "with %27 in the path as '"
    else:
        return None
    return parts._replace(rest=changed + tail).join(), change


class _PercentEncoder:
    """Percent-encodes bytes, all but the ones it keeps, in a few passes in C.

    ``urllib.parse.quote`` runs a Python step per byte, and a forged request's
    32 KiB query went through it for every URL form a refusal tries.
    ``binascii.b2a_qp`` (quoted-printable) writes ``=XX`` in C for every byte
    outside printable ASCII, and for ``=``; what is left is string surgery in C:
    drop its soft line breaks, escape the printable bytes not kept, and turn
    each ``=`` into ``%``.
    """

    __slots__ = ("_escaped", "_keeps_equals")

    def __init__(self, keep: bytes) -> None:
        # The hex digits of an escape and "." (which b2a_qp escapes at the start of a line) are kept by every caller.
        assert set(b"0123456789ABCDEF.") <= set(keep)
        self._keeps_equals = b"=" in keep
        self._escaped = [
            (bytes([byte]), b"=%02X" % byte) for byte in range(0x21, 0x7F) if byte not in keep and byte != ord("=")
        ]

    def __call__(self, data: bytes) -> str:
        out = binascii.b2a_qp(data, quotetabs=True, istext=False)
        # Soft line breaks ("=\n", or "=\r\n" when the data has CRLF) are the only CR and LF left.
        out = out.replace(b"=\r\n", b"").replace(b"=\n", b"").replace(b"=2E", b".")
        if self._keeps_equals:
            out = out.replace(b"=3D", b"\0")  # no raw NUL is left: b2a_qp escapes it
        for raw, escape in self._escaped:
            if raw in out:
                out = out.replace(raw, escape)
        out = out.replace(b"=", b"%")
        if self._keeps_equals:
            out = out.replace(b"\0", b"=")
        return out.decode("ascii")


_PRINTABLE = bytes(range(0x21, 0x7F))
# What a WHATWG serialiser leaves as it is in each part: printable ASCII but that part's set.
_WHATWG_ENCODERS = {
    extra: _PercentEncoder(bytes(byte for byte in _PRINTABLE if chr(byte) not in extra))
    for extra in (_PATH_ENCODE, _QUERY_ENCODE, _FRAGMENT_ENCODE)
}
# What every encoder leaves: ASCII letters, digits and "_.-~" (urllib's quote with safe="").
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_QUOTE = _PercentEncoder(_UNRESERVED)


def _percent_encode(text: str, extra: frozenset[str]) -> str:
    if text.isascii() and text.isprintable() and " " not in text and extra.isdisjoint(text):
        return text  # the common case: nothing to encode
    return _WHATWG_ENCODERS[extra](text.encode("utf-8", "surrogatepass"))


def _whatwg_form(url: str) -> str | None:
    """The URL as a WHATWG parser (Node's ``new URL``) would serialise it."""
    cleaned = url.strip(_C0_AND_SPACE)
    cleaned = cleaned.replace("\t", "").replace("\n", "").replace("\r", "")
    parts = split_url(cleaned)
    if parts is None:
        return None
    scheme = parts.scheme.lower()
    special = scheme in _DEFAULT_PORTS
    host = parts.host.lower()
    port = parts.port
    if port:
        digits = port[1:]
        number = (digits.lstrip("0") or "0") if digits else ""  # as int() reads it, at any length (int() has a limit)
        port = "" if not number or number == default_port(scheme) else ":" + number
    path, tail = _split_rest(parts.rest)
    query = fragment = None
    if "#" in tail:
        tail, fragment = tail.split("#", 1)
    if tail.startswith("?"):
        query = tail[1:]
    if special and not path:
        path = "/"
    # Unlike a WHATWG parser, dot segments and ``\\`` stay as they are: resolved, or
    # turned into ``/``, they would move the request to a path a router reads as another
    # route (``/twilio/hooks/x/../../sms`` is not ``/twilio/sms`` to werkzeug or Starlette).
    path = _percent_encode(path, _PATH_ENCODE)
    rest = path
    if query is not None:
        rest += "?" + _percent_encode(query, _QUERY_ENCODE)
    if fragment is not None:
        rest += "#" + _percent_encode(fragment, _FRAGMENT_ENCODE)
    return UrlParts(scheme, parts.userinfo, host, port, rest).join()


# A "%" that starts no escape (left as it is), and an escape of a byte used below as a separator.
_NOT_AN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_ESCAPED_SEPARATOR = re.compile(rb"%[Ff][EeFf]")
_HEX_AS_H = bytes.maketrans(b"0123456789ABCDEFabcdef", b"h" * 22)
# The first "=" of a piece, found in the reversed query: there it is the last "=" before the
# next "&", which a lookahead can see (a lookbehind cannot look back a variable length).
_FIRST_EQUALS_REVERSED = re.compile(rb"=(?=[^&=]*(?:&|\Z))")
_SECOND_EQUALS = re.compile(rb"=[^&]*=")
# What surrogateescape makes of a byte that is not UTF-8, but for the separators 0xFE and 0xFF.
_NOT_UTF8 = re.compile("[\udc80-\udcfd]")
# The bytes that decoding with errors="replace" turns into one U+FFFD, as surrogateescape left them
# (one surrogate per byte): the longest start of a valid sequence (a lead byte and the continuation
# bytes UTF-8 allows after it), or any other byte that is not UTF-8, the separators excepted. A
# separator ends such a start as the end of a name or value does, so this equals decoding each
# name and value on its own.
_INVALID_UTF8 = re.compile(
    "[\udcc2-\udcdf]"
    "|\udce0[\udca0-\udcbf]?"
    "|[\udce1-\udcec\udcee\udcef][\udc80-\udcbf]?"
    "|\udced[\udc80-\udc9f]?"
    "|\udcf0(?:[\udc90-\udcbf][\udc80-\udcbf]?)?"
    "|[\udcf1-\udcf3](?:[\udc80-\udcbf][\udc80-\udcbf]?)?"
    "|\udcf4(?:[\udc80-\udc8f][\udc80-\udcbf]?)?"
    "|[\udc80-\udcc1\udcf5-\udcfd]"
)
# The punctuation some encoders leave unescaped, as _QUOTE escapes it.
_SAFE_ESCAPES = [(f"%{ord(char):02X}", char) for char in "!*'()"]


def _legacy_query_forms(url: str) -> Iterator[tuple[str, str]]:
    """The URL with each query name and value form-decoded and re-encoded by each of :data:`_QUERY_ENCODERS`.

    This generalises twilio-node's legacy-querystring fallback, minus its two
    lossy habits: it keeps the order of repeated names and every ``&`` piece
    (Node regroups names and caps the count at 1,000, which lets a padded URL
    normalise back to a signed one). What changes is encoding alone, never
    which parameters the URL carries or what the application decodes them to.

    Each name and value reads as ``quote(unquote_plus(text), safe)``, with a
    space written as the encoder writes it, but the whole query is decoded
    and encoded once, in passes in C, and the four forms differ by a few
    replacements: a loop of ``quote`` and ``unquote_plus`` calls per piece and
    per encoder made refusing a forged request with a 32 KiB query cost 100 ms.
    The separators (each ``&``, and the first ``=`` of each piece) become the
    bytes 0xFF and 0xFE, which no ASCII query holds and no decoding leaves
    (an escaped 0xFE or 0xFF becomes 0xF5, as invalid in UTF-8 and so decoded
    alike); the whole is decoded as UTF-8 with each invalid sequence replaced,
    as ``unquote_plus`` decodes each name and value on its own (see
    :data:`_INVALID_UTF8`); the separators, kept as lone surrogates, come out of
    the encoder as ``%FE`` and ``%FF``, which no other byte gives, and are put back.

    Args:
        url: The WHATWG form of the URL, whose query is printable ASCII.
    """
    base, question, query = url.partition("?")
    if not question or not query:
        return
    query, hash_mark, fragment = query.partition("#")
    data = query.encode("ascii")
    if _SECOND_EQUALS.search(data):
        data = _FIRST_EQUALS_REVERSED.sub(b"\xfe", data[::-1])[::-1]
    else:
        data = data.replace(b"=", b"\xfe")  # each "=" is the first of its piece
    data = data.replace(b"&", b"\xff").replace(b"+", b" ")
    if b"%" in data:
        if b"%F" in data or b"%f" in data:
            data = _ESCAPED_SEPARATOR.sub(b"%F5", data)
        data = data.replace(b"=", b"=3D")
        # Each "%" starts an escape unless one is found that does not: counted in C with the
        # hex digits made one letter, where a per-"%" lookahead costs a millisecond a 32 KiB query.
        digits = data.translate(_HEX_AS_H)
        if digits.count(b"%") != digits.count(b"%hh"):
            data = _NOT_AN_ESCAPE.sub(b"%25", data)
        data = binascii.a2b_qp(data.replace(b"%", b"="))
    text = data.decode("utf-8", "surrogateescape")
    if _NOT_UTF8.search(text):  # bytes that are not UTF-8 besides the separators
        text = _INVALID_UTF8.sub("\ufffd", text)
    encoded = _QUOTE(text.encode("utf-8", "surrogateescape")).replace("%FF", "&").replace("%FE", "=")
    kept = encoded
    for escape, char in _SAFE_ESCAPES:
        kept = kept.replace(escape, char)
    # In the order of _QUERY_ENCODERS: punctuation kept or escaped, a space as %20 or +.
    for form, (_, _, change) in zip(
        (kept, kept.replace("%20", "+"), encoded.replace("%20", "+"), encoded), _QUERY_ENCODERS, strict=True
    ):
        yield f"{base}?{form}{hash_mark}{fragment}", change


def _python_form(url: str) -> str | None:
    """The URL as the twilio Python SDK passes it through ``urlparse().geturl()``."""
    try:
        return urlparse(url).geturl()
    except ValueError:
        return None


# A name written with these characters alone can be matched by a pattern of its spellings.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~-]+")


def _hex_spelling(char: str) -> str:
    """A pattern for the two hex digits of an ASCII character, in either case."""
    return "".join(f"[{digit}{digit.lower()}]" if digit.isalpha() else digit for digit in f"{ord(char):02X}")


@functools.lru_cache(maxsize=32)
def _named_pieces(name: str, escaped: bool) -> re.Pattern[str] | None:
    """The values of the query pieces named ``name`` once decoded: with ``escaped``, each character
    as it is or as its ``%XX`` escape; without (a query with no ``%``), the name as it is.

    Searched in the query after an ``&``, a literal first character, so the search skips ahead in C.
    None for a name with other characters than :data:`_PLAIN_NAME`'s.
    """
    if _PLAIN_NAME.fullmatch(name) is None:
        return None
    spellings = [f"(?:{re.escape(char)}|%{_hex_spelling(char)})" if escaped else re.escape(char) for char in name]
    return re.compile(rf"&{''.join(spellings)}(?:=([^&]*))?(?=&|\Z)")


def query_values(url: str, name: str) -> list[str]:
    """Every value of the query parameter ``name``, percent-decoded, blanks kept.

    This runs on every request whose URL has a query, and on a refusal more
    than once, so the pieces named ``name`` are found by one search in C:
    decoding every piece's name cost a forged 32 KiB query of escapes 20 ms a
    call.
    """
    _, question, query = url.partition("?")
    if not question:
        return []
    query = query.partition("#")[0]
    escaped = "%" in query
    pattern = _named_pieces(name, escaped)
    if pattern is None:  # a name no pattern of spellings covers: decode every name
        pieces = [piece.partition("=") for piece in query.split("&")]
        return [unquote_plus(value) for key, _, value in pieces if unquote_plus(key) == name]
    if not escaped and name not in query:
        return []  # no piece can be named so (a plain name has no "+"): the common request
    return [unquote_plus(value) for value in pattern.findall("&" + query)]
