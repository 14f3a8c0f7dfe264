"""The URL Twilio called, rebuilt from a request: its own parts, ``public_url``, or trusted proxies.

Twilio signs the URL it requested, byte for byte, but the application often sees
another one: a TLS-terminating proxy turns ``https`` into ``http``, a load balancer
changes the host or port, a path prefix is stripped, and servers decode the path. So:

- the path comes from the raw request target when the server keeps it (WSGI
  ``RAW_URI``/``REQUEST_URI``, ASGI ``raw_path``), so percent-encoding reaches
  the HMAC exactly as Twilio sent it; a decoded path is re-quoted only as a
  fallback. The query is the one the application reads (``QUERY_STRING``, ASGI
  ``query_string``): a signature is good only for that one;
- the scheme, host and port come from ``public_url`` when it is configured, else
  from ``Forwarded``/``X-Forwarded-*`` when the proxies are trusted, else from
  the request itself.

Every parser here runs in time linear in its input (tests/test_linear_time.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import quote

from ._urls import split_url

__all__ = [
    "FORWARDED_HEADERS",
    "NO_TRUST",
    "ONE_PROXY",
    "ForwardedTrust",
    "PublicUrl",
    "TrustedOrigin",
    "decode_target",
    "forwarded_origin",
    "parse_public_url",
    "parse_trust",
    "quote_path",
    "rebuild_url",
    "split_target",
    "valid_host",
]

# A Host header we can put in a URL: a name, IPv4 or bracketed IPv6, optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?\Z")
# Characters left as they are when a decoded path has to be quoted again.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class PublicUrl(NamedTuple):
    """The scheme, authority and path prefix Twilio calls, from ``public_url``."""

    scheme: str
    authority: str
    prefix: str


class TrustedOrigin(NamedTuple):
    """What trusted proxy headers say about the URL Twilio called; None where silent."""

    scheme: str | None
    host: str | None
    port: str | None
    prefix: str | None


def parse_public_url(public_url: str) -> PublicUrl:
    """Read the ``public_url`` option; its path (if any) is a prefix to prepend.

    Raises:
        TypeError: not a str.
        ValueError: not an absolute http(s) or ws(s) URL, or one with a query or fragment.
    """
    if not isinstance(public_url, str):
        raise TypeError("public_url must be a str such as 'https://example.com'")
    # Each message says what is wrong, never the value: it may hold a password (user:secret@), or be a token.
    parts = split_url(public_url)
    if parts is None:
        wrong = "has no scheme:// (or no authority after it)"
    elif parts.scheme.lower() not in _SCHEMES:
        wrong = "has a scheme other than http, https, ws or wss"
    elif not parts.host:
        wrong = "has no host"
    else:
        wrong = None
    if wrong is not None or parts is None:
        raise ValueError(f"public_url must be an absolute http(s) URL such as 'https://example.com'; this one {wrong}")
    if "?" in parts.rest or "#" in parts.rest:
        raise ValueError("public_url must not carry a query or fragment: those come from each request")
    if parts.userinfo:
        raise ValueError("public_url must not carry user:password@ (Twilio drops it before signing)")
    return PublicUrl(parts.scheme.lower(), parts.host + parts.port, parts.rest.rstrip("/"))


def split_target(target: str) -> tuple[str, str]:
    """Split a raw request target into the path and the query (without ``?``).

    An absolute-form target (``http://host/path?q``) is kept whole in the path:
    the server and the framework may each take the host from a different place
    (the target or the Host header), so the guard refuses it; Twilio sends a path.
    """
    path, _, query = target.partition("?")
    return path, query.partition("#")[0]


def decode_target(raw: bytes) -> str:
    """Bytes of a request target as text; invalid UTF-8 survives as surrogates (and then fails to sign)."""
    return raw.decode("utf-8", "surrogateescape")


def quote_path(decoded: str) -> str:
    """Percent-encode a path that a server has already decoded (the fallback only)."""
    return quote(decoded.encode("utf-8", "surrogateescape"), safe=_PATH_SAFE)


def valid_host(host: str) -> bool:
    """Whether a Host value can stand in a URL without changing its structure."""
    return bool(_HOST.match(host))


class ForwardedTrust(NamedTuple):
    """How many proxies write each forwarding header, counted per header (werkzeug's ``ProxyFix`` shape).

    Zero means the header is ignored. A proxy that appends to a header puts its
    value right of what it received, so the value the outermost of ``n``
    writers wrote is the ``n``-th from the right and whatever is further left
    came from the client. The count is per header because proxies differ in
    the headers they write: a CDN may append ``X-Forwarded-Proto`` yet pass a
    client's ``X-Forwarded-Host`` through untouched, and a count that included
    it would land on the client's value.
    """

    x_proto: int = 0
    x_host: int = 0
    x_port: int = 0
    x_prefix: int = 0
    forwarded: int = 0

    def __bool__(self) -> bool:
        return any(self)


NO_TRUST = ForwardedTrust()
#: ``True`` (and ``1``): one proxy that writes X-Forwarded-Proto and X-Forwarded-Host.
ONE_PROXY = ForwardedTrust(x_proto=1, x_host=1)
#: The headers ``trust_forwarded`` can name, with what each one sets.
FORWARDED_HEADERS = {
    "x_proto": "X-Forwarded-Proto",
    "x_host": "X-Forwarded-Host",
    "x_port": "X-Forwarded-Port",
    "x_prefix": "X-Forwarded-Prefix",
    "forwarded": "Forwarded (RFC 7239: proto and host)",
}


def _per_header_error(proxies: int) -> ValueError:
    """Why a bare count above one is refused, and the mapping to write instead."""
    return ValueError(
        f"trust_forwarded={proxies} would count {proxies} proxies in X-Forwarded-Proto and X-Forwarded-Host "
        "alike, but proxies differ in the headers they write: one that passes a header through without "
        "appending its own leaves a client's value at the position counted for it, and that value would be "
        "believed. Count, per header, the proxies that write it: for example "
        f"trust_forwarded={{'x_proto': {proxies}, 'x_host': 1}} when only the proxy nearest the app writes "
        "X-Forwarded-Host (see 'Count per header' in docs/proxies.md)"
    )


def parse_trust(trust_forwarded: object) -> ForwardedTrust:
    """Read the ``trust_forwarded`` option.

    ``True`` (or ``1``) trusts one proxy's ``X-Forwarded-Proto`` and
    ``X-Forwarded-Host`` (a proxy that writes both: nginx configured to,
    Caddy, Traefik). Anything else is a mapping of header to the number of
    proxies that write it, ``{"x_proto": 2, "x_host": 1}``: port, prefix and
    ``Forwarded`` are believed only when named. A bare count above one is
    refused: it would count every proxy in every header, and a proxy that
    passes a header through leaves a client's value where it counts one.

    Raises:
        TypeError: not a bool, an int or a mapping of those names to ints.
        ValueError: a negative count, a bare count above one, an unknown name,
            or ``forwarded`` together with ``x_proto``/``x_host`` (two answers
            to the same question).
    """
    if isinstance(trust_forwarded, bool):
        return ONE_PROXY if trust_forwarded else NO_TRUST
    if isinstance(trust_forwarded, int):
        if trust_forwarded < 0:
            raise ValueError("trust_forwarded must not be negative: it counts the proxies in front of the app")
        if trust_forwarded > 1:
            raise _per_header_error(trust_forwarded)
        return ONE_PROXY if trust_forwarded else NO_TRUST
    if not isinstance(trust_forwarded, Mapping):
        raise TypeError(
            "trust_forwarded must be True, False, or a mapping of each header to the number of proxies that "
            f"write it, such as {{'x_proto': 1, 'x_host': 1}}; not {type(trust_forwarded).__name__}"
        )
    counts: dict[str, int] = {}
    for name, hops in trust_forwarded.items():
        if name not in FORWARDED_HEADERS:
            raise ValueError(f"trust_forwarded names an unknown header {name!r}; known: {sorted(FORWARDED_HEADERS)}")
        if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
            raise TypeError(f"trust_forwarded[{name!r}] must be a number of proxies (an int >= 0), not {hops!r}")
        counts[name] = hops
    trust = ForwardedTrust(**counts)
    if trust.forwarded and (trust.x_proto or trust.x_host):
        raise ValueError(
            "trust_forwarded names both 'forwarded' and 'x_proto'/'x_host': trust the one header your proxy sets"
        )
    return trust


_PORT = re.compile(r"[0-9]{1,5}\Z")
# A path prefix: segments of RFC 3986 path characters, each after a '/'.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)+\Z")
_SCHEMES = frozenset({"http", "https", "ws", "wss"})


def _too_few(header: str, found: int, hops: int) -> ValueError:
    return ValueError(
        f"the trusted {header} header holds {found} value(s) where trust_forwarded counts {hops} proxies that "
        "write it: count only the proxies that append to it (a proxy that overwrites it is the last one counted)"
    )


def _nth_from_right(value: str | None, hops: int, header: str) -> str | None:
    """The value the outermost of ``hops`` trusted proxies wrote; None when untrusted or absent.

    A header the request does not carry at all was written by nobody: the
    caller falls back to the request's own scheme and host, as without trust
    (only a request that bypassed the proxies lacks it, and such a request can
    say anything anyway). A header that is present but shorter than the count,
    or empty at the counted position, proves the proxies counted did not all
    write it: refused rather than guessed at, since any value read there (or
    the fallback) may be the client's. Commas split values whether one line
    holds them or a proxy added a line of its own (servers join repeated
    headers with commas); only spaces and tabs around a value are dropped.

    Raises:
        ValueError: fewer values than ``hops``, or an empty one at that position.
    """
    if value is None or not hops:
        return None
    values = value.rsplit(",", hops)  # at most hops + 1 pieces, however long the header
    if len(values) < hops:
        raise _too_few(header, len(values), hops)
    chosen = values[-hops].strip(" \t")
    if not chosen:
        raise ValueError(f"the trusted {header} header is empty where trust_forwarded counts {hops} proxies")
    return chosen


# RFC 7239's grammar, written so that a backtracking engine stays linear: no piece can be
# matched in two ways, and runs of plain characters are consumed by one repeat (the "unrolled
# loop"), never by a repeated group (``(?:[^,"]+)+`` would backtrack exponentially). A quoted
# string: a backslash escapes the next character. An element: plain characters and quoted
# strings, at least one character, no comma outside quotes. A pair: a token, "=", a token or a
# quoted string.
_QUOTED = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_ELEMENT = rf'(?=[^,])[^,"]*(?:{_QUOTED}[^,"]*)*'
_PAIR = rf'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)=({_QUOTED}|[^;,"\s]*)\s*'
_FORWARDED_LIST = re.compile(rf"{_ELEMENT}(?:,{_ELEMENT})*")
_FORWARDED_ELEMENT = re.compile(_ELEMENT)
_FORWARDED_PAIRS = re.compile(rf"{_PAIR}(?:;{_PAIR})*;?")
_FORWARDED_PAIR = re.compile(_PAIR)
_QUOTED_PAIR = re.compile(r"\\(.)")


def _forwarded_elements(value: str | None) -> list[str]:
    """A ``Forwarded`` header cut into its elements at the commas outside quoted strings.

    The whole header is checked with one anchored match before it is cut: a
    search for elements that met an unclosed quote would scan to the end of the
    header from every later position, a cost quadratic in a header the client
    writes (16 KB of ``"\\"`` cost seconds). Both passes run in C, in time linear
    in the header.

    Raises:
        ValueError: an unclosed quote or an empty element.
    """
    if not value:
        return []
    if '"' not in value:  # no quoted string: every comma separates, and a split is one pass in C
        elements = value.split(",")
        if "" in elements:
            raise ValueError("the trusted Forwarded header has an unclosed quote or an empty element")
        return elements
    if _FORWARDED_LIST.fullmatch(value) is None:
        raise ValueError("the trusted Forwarded header has an unclosed quote or an empty element")
    return _FORWARDED_ELEMENT.findall(value)


def _forwarded_pairs(element: str) -> dict[str, str]:
    """The parameters of one ``Forwarded`` element, names lower-cased.

    Checked whole by one anchored match, then read by one search: passes in C,
    linear in the element, however many pairs or escapes a client packs in.

    Raises:
        ValueError: a piece that is not ``name=value``, or a name given twice (a
            client's ``host=`` ahead of the proxy's own would otherwise win or lose
            depending on the parser).
    """
    if _FORWARDED_PAIRS.fullmatch(element) is None:
        raise ValueError("the trusted Forwarded header is not a list of name=value pairs")
    found = _FORWARDED_PAIR.findall(element)
    pairs = {name.lower(): value for name, value in found}
    if len(pairs) != len(found):
        seen: set[str] = set()
        for name, _ in found:
            if name.lower() in seen:
                raise ValueError(f"the trusted Forwarded header names {name.lower()!r} twice in one element")
            seen.add(name.lower())
    for name, value in pairs.items():
        if value.startswith('"'):
            # Split at each escape, its character kept: the pieces joined are the unescaped text.
            pairs[name] = "".join(_QUOTED_PAIR.split(value[1:-1]))
    return pairs


def forwarded_origin(header: Callable[[str], str | None], trust: ForwardedTrust) -> TrustedOrigin:
    """What the trusted proxies say Twilio called; None where a header is silent or not trusted.

    Args:
        header: Returns a request header by lower-case name, or None.
        trust: How many proxies to believe in each header.

    Raises:
        ValueError: a trusted header holds a value that is not what it names
            (a host that is not a host, a prefix that is not a path, ...), or
            fewer values than the proxies counted for it; the message names the
            header, never the value.
    """
    if trust.forwarded:
        elements = _forwarded_elements(header("forwarded"))
        if 0 < len(elements) < trust.forwarded:  # as _nth_from_right: a present, short header is refused
            raise _too_few("Forwarded", len(elements), trust.forwarded)
        element = elements[-trust.forwarded].strip() if elements else None
        pairs = _forwarded_pairs(element) if element else {}
        scheme, host = pairs.get("proto"), pairs.get("host")
        scheme_from = host_from = "Forwarded"
    else:
        scheme = _nth_from_right(header("x-forwarded-proto"), trust.x_proto, "X-Forwarded-Proto")
        host = _nth_from_right(header("x-forwarded-host"), trust.x_host, "X-Forwarded-Host")
        scheme_from, host_from = "X-Forwarded-Proto", "X-Forwarded-Host"
    port = _nth_from_right(header("x-forwarded-port"), trust.x_port, "X-Forwarded-Port")
    prefix = _nth_from_right(header("x-forwarded-prefix"), trust.x_prefix, "X-Forwarded-Prefix")
    if scheme is not None:
        scheme = scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(f"the trusted {scheme_from} header is not http or https")
    if host is not None and not valid_host(host):
        raise ValueError(f"the trusted {host_from} header is not a host name")
    if port is not None and (_PORT.match(port) is None or not 0 < int(port) < 65536):
        raise ValueError("the trusted X-Forwarded-Port header is not a port number")
    if prefix is not None:
        if _PREFIX.match(prefix) is None:
            raise ValueError("the trusted X-Forwarded-Prefix header is not a path starting with '/'")
        prefix = prefix.rstrip("/")
    return TrustedOrigin(scheme, host, port, prefix or None)


#: The scheme of a WebSocket handshake's URL, from the scheme of its HTTP request.
_WEBSOCKET_SCHEMES = {"https": "wss", "http": "ws"}


def rebuild_url(
    scheme: str,
    host: str,
    path: str,
    query: str,
    public_url: PublicUrl | None = None,
    origin: TrustedOrigin | None = None,
    websocket: bool = False,
) -> str | None:
    """The URL Twilio called, or None when the request's own host is unusable.

    Args:
        scheme: The scheme the server saw (``http``, ``https``, ``ws``, ``wss``).
        host: The ``Host`` header (with its port, if any), or the server name and port.
        path: The path as sent (percent-encoded), application prefix included.
        query: The raw query string, without ``?``.
        public_url: The configured public URL, which wins over everything else.
        origin: What trusted proxies say, when they are trusted.
        websocket: A WebSocket handshake: ``https`` becomes ``wss`` and ``http`` ``ws``.
    """
    prefix = ""
    if public_url is not None:
        scheme, host, prefix = public_url.scheme, public_url.authority, public_url.prefix
    elif origin is not None:
        scheme = origin.scheme or scheme
        host = origin.host or host
        if origin.port:
            bare = split_url(f"x://{host}")
            host = (bare.host if bare is not None else host) + ":" + origin.port
        prefix = origin.prefix or ""
    if not valid_host(host) or not scheme.isascii() or not scheme.isalpha():
        return None
    scheme = scheme.lower()
    if websocket:
        scheme = _WEBSOCKET_SCHEMES.get(scheme, scheme)
    url = f"{scheme}://{host}{prefix}{path or '/'}"
    return f"{url}?{query}" if query else url
