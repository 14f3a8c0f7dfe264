"""Every parser of request data runs in time linear in its input.

A client writes the headers, the target and the body, so any parser of them
whose cost grows faster than its input is a lever: one request can hold a
worker, or an event loop, for seconds (16 KB of ``"\\"`` in a trusted
``Forwarded`` header once took 2.9 s to refuse). Each case below feeds one
parser an adversarial input, built to make that parser backtrack, rescan or
copy, at 1 KiB and at 32 KiB, and asserts that the cost per byte at 32 KiB is
within :data:`FACTOR` of the cost per byte at 1 KiB: a ratio measured within
one test, never a wall-clock bound. Quadratic code gives a ratio near 32.

Cost is process CPU time, best of several interleaved rounds with the garbage
collector off, and the 1 KiB input is run 32 times per round so that both sides
handle the same number of bytes: a loaded machine slows both alike, and the
generous factor absorbs caches and noise.
"""

from __future__ import annotations

import base64
import gc
import time
from collections.abc import Callable
from typing import Any

import pytest

from twiliosig import RequestValidator
from twiliosig._auth import AuthRequest
from twiliosig._curl import parse_curl
from twiliosig._digest import parse_credentials
from twiliosig._environ import environ_head
from twiliosig._forms import form_signing_text, parse_form
from twiliosig._guard import Guard, Head, _foreign_charset, body_params
from twiliosig._keys import parse_signature_settings
from twiliosig._logtext import loggable
from twiliosig._origin import ForwardedTrust, decode_target, forwarded_origin, rebuild_url, split_target, valid_host
from twiliosig._params import all_values, first_value, sorted_params, utf16_params
from twiliosig._paths import normalise_path, path_matcher, path_readings
from twiliosig._scope import scope_head
from twiliosig._urls import candidate_urls, query_values, redact, split_url
from twiliosig.cli import _parse_raw_request
from twiliosig.contrib.aws_lambda import _event_head
from twiliosig.explain import explain

SMALL = 1024
LARGE = 32 * 1024
#: How much more a byte may cost at 32 KiB than at 1 KiB. Linear code stays near 1;
#: quadratic code is near LARGE / SMALL = 32.
FACTOR = 4.0
#: The shortest batch timed, so that clock granularity and one interruption weigh little.
MIN_BATCH_NS = 4_000_000
ROUNDS = 5
TOKEN = "0123456789abcdef0123456789abcdef"
FORGED = "A" * 27 + "="


def fill(unit: str, size: int) -> str:
    """``unit`` repeated to about ``size`` characters (whole units, so that each input stays well-formed)."""
    return unit * max(1, size // len(unit))


def _quiet(run: Callable[[Any], object]) -> Callable[[Any], object]:
    """``run``, with the ValueError a refused input raises taken as its answer."""

    def quiet(argument: Any) -> object:
        try:
            return run(argument)
        except ValueError:
            return None

    return quiet


# --- the parsers: each takes what make(size) built ------------------------------------------

FORWARDED = ForwardedTrust(forwarded=1)
X_FORWARDED = ForwardedTrust(x_proto=1, x_host=1, x_port=1, x_prefix=1)


def _forwarded(value: str) -> object:
    return forwarded_origin({"forwarded": value}.get, FORWARDED)


def _x_forwarded(name: str) -> Callable[[str], object]:
    return lambda value: forwarded_origin({name: value}.get, X_FORWARDED)


VALIDATOR = RequestValidator(TOKEN)
GUARD = Guard(auth_token=TOKEN, trust_forwarded={"forwarded": 1})
MATCHER = path_matcher(["/twilio/", "/hooks%2Fsms"])


def _refuse(url: str, params: Any = None) -> object:
    verdict = VALIDATOR.check(url, params, FORGED)
    assert not verdict.valid
    return verdict


def _refuse_form(body: bytes) -> object:
    """The guard's whole judgement of a forged form body: one-pass lane, parse, sort, every HMAC."""
    head = Head("POST", "/twilio/sms", "https", "example.com", "/twilio/sms", "", _headers(len(body)).get)
    check = GUARD.start(head)
    assert check is not None
    assert check.decision is None
    decision = check.finish(body)
    assert not decision.verdict.valid
    return decision


def _headers(length: int) -> dict[str, str]:
    return {
        "content-type": "application/x-www-form-urlencoded",
        "content-length": str(length),
        "x-twilio-signature": FORGED,
    }


def _screen(head: Head) -> object:
    return GUARD.start(head)


def _head(path: str = "/twilio/sms", query: str = "", host: str = "example.com", **headers: str) -> Head:
    return Head("POST", path, "https", host, path, query, {**_headers(0), **headers}.get)


def _asgi_headers(count_and_value: tuple[int, bytes]) -> object:
    count, value = count_and_value
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"forwarded", value)] * count,
    }
    return scope_head(scope)


def _environ(query_and_path: tuple[str, str]) -> object:
    query, path = query_and_path
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "RAW_URI": f"{path}?{query}".encode().decode("latin-1"),
        "QUERY_STRING": query,
        "HTTP_HOST": "example.com",
        "HTTP_FORWARDED": query,
        "wsgi.url_scheme": "https",
    }
    head = environ_head(environ)
    return head.header("forwarded"), head.raw_path, head.query


def _explain(url: str) -> object:
    return explain(VALIDATOR, url, None, FORGED)


def _curl(command: str) -> object:
    return parse_curl(command, lambda name: b"")


def _basic(size: int) -> str:
    credentials = base64.b64encode(fill("u:p", size * 3 // 4).encode()).decode()
    return "Basic " + credentials


AUTHENTICATOR = Guard(auth_token=TOKEN, basic_auth={"user": "secret"}, digest_auth={"user": "secret"}).authenticator
assert AUTHENTICATOR is not None


def _authenticated(header: str) -> object:
    assert AUTHENTICATOR is not None
    return AUTHENTICATOR.authenticate(
        AuthRequest("POST", "/twilio/sms", "https://example.com/twilio/sms", {"authorization": header}.get)
    )


def _digest_escapes(size: int) -> str:
    # One quoted string of escapes never closed: a backtracking parser retries it from every backslash.
    return 'username="' + fill('"', size - 10)


def _digest_params(size: int) -> str:
    # Many distinct parameters, then one malformed: read once, refused at the end.
    return ", ".join(f"p{index}=v" for index in range(size // 8)) + ', x="'


def _pairs(size: int) -> list[tuple[str, str]]:
    # Emoji next to U+FF21 so that the UTF-16 order differs and is derived too.
    return [(f"P\U0001f600{index}", f"\uff21{index % 97}") for index in range(size // 12)]


def _sorted_both(pairs: list[tuple[str, str]]) -> object:
    text, ordered = sorted_params(pairs)
    return text, utf16_params(ordered)


def _distinct_names(size: int) -> str:
    return "https://example.com/x?" + "&".join(f"n{index}" for index in range(size // 6))


def _curl_files(size: int) -> tuple[str, Callable[[str], bytes]]:
    # Each short option reads a 256-byte file: the body grows much faster than the command.
    return "curl https://example.com " + fill("-d @f ", size), lambda name: b"x" * 256


def _curl_reading(command_and_read: tuple[str, Callable[[str], bytes]]) -> object:
    return parse_curl(*command_and_read)


def case(make: Callable[[int], Any], run: Callable[[Any], object], *, id: str, large: int = 0) -> Any:
    """One parser: what builds its input for a size in bytes, the parser run on it, and the large size.

    ``large`` is 32 KiB unless a parser's quadratic term is too small to show
    there (a per-character copy that a slower linear part hides until the input
    is larger).
    """
    return pytest.param(make, run, large or LARGE, id=id)


def _lambda_event(path_query_headers: tuple[str, str, int]) -> object:
    path, query, repeats = path_query_headers
    event = {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "example.com"},
        "multiValueHeaders": {"Forwarded": ["a"] * repeats},
        "requestContext": {"http": {"method": "POST"}, "domainName": "example.com", "stage": "$default"},
    }
    return _event_head(GUARD, event)


def _lambda_v1_query(pairs: int) -> object:
    event = {
        "httpMethod": "POST",
        "path": "/twilio/sms",
        "headers": {"Host": "example.com"},
        "multiValueQueryStringParameters": {f"n{index}": ["é '", "x"] for index in range(pairs)},
        "requestContext": {"path": "/twilio/sms", "domainName": "example.com"},
    }
    return _event_head(GUARD, event)


# Each case: an id, what builds the input for a size in bytes, and the parser run on it.
CASES: list[Any] = [
    # Forwarded (RFC 7239), written by the client in front of the trusted proxies.
    case(lambda n: '"' + fill('\\"', n - 1), _quiet(_forwarded), id="forwarded-unclosed-quote-of-escapes"),
    case(lambda n: fill('"\\', n), _quiet(_forwarded), id="forwarded-quotes-and-backslashes"),
    case(lambda n: fill('a="', n), _quiet(_forwarded), id="forwarded-many-unclosed-quotes"),
    case(lambda n: fill('","', n), _quiet(_forwarded), id="forwarded-quoted-commas"),
    case(lambda n: fill("for=a,", n - 1) + "x", _quiet(_forwarded), id="forwarded-many-elements"),
    case(lambda n: 'host="' + fill("\\a", n - 7) + '"', _quiet(_forwarded), id="forwarded-escaped-host"),
    case(lambda n: fill("a=b;", n - 1) + "!", _quiet(_forwarded), id="forwarded-many-pairs-then-junk"),
    case(lambda n: "proto=https;" + fill("x=", n), _quiet(_forwarded), id="forwarded-pairs-without-separators"),
    # X-Forwarded-*, one value per proxy.
    case(lambda n: fill("a,", n), _quiet(_x_forwarded("x-forwarded-host")), id="x-forwarded-host-commas"),
    case(lambda n: fill("a", n) + "!", _quiet(_x_forwarded("x-forwarded-host")), id="x-forwarded-host-junk"),
    case(lambda n: fill("/a", n) + "\\", _quiet(_x_forwarded("x-forwarded-prefix")), id="x-forwarded-prefix"),
    case(lambda n: fill("1", n), _quiet(_x_forwarded("x-forwarded-port")), id="x-forwarded-port-digits"),
    # The Host header and the URL rebuilt from it.
    case(lambda n: fill("a", n) + "/", valid_host, id="host-then-junk"),
    case(lambda n: "[" + fill(":", n), valid_host, id="host-unclosed-ipv6"),
    case(lambda n: fill("a:1", n), valid_host, id="host-many-ports"),
    case(lambda n: fill("a", n) + ":/", split_url, id="split-url-scheme-then-junk"),
    case(lambda n: "https://" + fill("a@[:", n), split_url, id="split-url-authority"),
    case(lambda n: fill("/a", n), lambda path: rebuild_url("https", "example.com", path, path), id="rebuild-url"),
    # The request target: path and query.
    case(lambda n: fill("/a?b#", n), split_target, id="split-target"),
    case(lambda n: fill("/%C3%A9\xff", n).encode("latin-1"), decode_target, id="decode-target"),
    case(lambda n: fill("/..", n), normalise_path, id="normalise-path-dot-dots"),
    case(lambda n: fill("/a\\/.", n), lambda p: normalise_path(p, backslashes=True), id="normalise-path-mixed"),
    case(lambda n: fill("/%252e%252e", n), path_readings, id="path-readings-double-encoded"),
    case(lambda n: fill("//\\.%", n), path_readings, id="path-readings-ambiguous"),
    case(lambda n: fill("/twilio/..%2F", n), MATCHER, id="path-matcher"),
    case(lambda n: _head(path=fill("/%2e%2e/\\", n)), _screen, id="guard-screen-path"),
    case(lambda n: "https://example.com/?" + fill("a=b&", n), lambda url: query_values(url, "a"), id="query-values"),
    # Every URL form a refusal tries, and the whole refusal of a forged request with a huge query.
    case(
        lambda n: "https://example.com/x?" + fill("a='b+c%20d&", n),
        lambda url: list(candidate_urls(url)),
        id="url-forms",
    ),
    case(
        lambda n: "https://u:p@Example.com:443/" + fill("'%27 ", n) + "?" + fill("%E2%82+", n // 2),
        lambda url: list(candidate_urls(url)),
        id="url-forms-path-and-escapes",
    ),
    case(lambda n: "https://example.com/x?" + fill("a='b+c%20d&", n), _refuse, id="refusal-query-forms"),
    case(lambda n: "https://example.com/x?" + fill("a=b&", n), _refuse, id="refusal-query-pieces"),
    case(lambda n: "https://example.com/x?" + fill("%FF%C3+", n), _refuse, id="refusal-query-bad-utf8"),
    case(lambda n: "https://example.com/x?" + fill("'", n), _refuse, id="refusal-query-quotes"),
    case(lambda n: "https://example.com/x?" + fill("\x01", n), _refuse, id="refusal-query-controls"),
    case(lambda n: "https://example.com/x?a=" + fill("%1", n), _explain, id="explain-query-as-params"),
    case(_distinct_names, _explain, id="explain-distinct-names"),
    case(lambda n: _head(query=fill("a='b+c%20d&", n)), _screen, id="guard-screen-query"),
    case(lambda n: _head(forwarded='"' + fill('\\"', n)), _screen, id="guard-screen-forwarded"),
    # The body: the form parser, the one-pass reading, and the guard's whole judgement of it.
    case(lambda n: ("a=" + fill("%", n - 2)).encode(), _quiet(parse_form), id="parse-form-bare-percents"),
    case(lambda n: fill("%41", n).encode(), parse_form, id="parse-form-escapes"),
    case(lambda n: fill("a=b&", n).encode(), parse_form, id="parse-form-pairs"),
    case(lambda n: fill("&", n).encode(), parse_form, id="parse-form-empty-pieces"),
    case(lambda n: ("a=" + fill("%F0%9F%98%80", n - 2)).encode(), parse_form, id="parse-form-emoji"),
    case(lambda n: ("a=" + fill("%41", n - 2)).encode(), form_signing_text, id="one-pass-escapes"),
    case(lambda n: ("a=" + fill("%", n - 2)).encode(), form_signing_text, id="one-pass-bare-percents"),
    case(lambda n: fill("a=b&", n - 1).encode() + b"c", form_signing_text, id="one-pass-pairs"),
    case(lambda n: fill("a=b&", n - 1).encode() + b"c", _refuse_form, id="refusal-form-pairs"),
    case(lambda n: ("a=" + fill("%", n - 2)).encode(), _refuse_form, id="refusal-form-bare-percents"),
    case(lambda n: ("a=" + fill("%41", n - 2)).encode(), _refuse_form, id="refusal-form-escapes"),
    case(lambda n: (fill("a=%F0%9F%98%80&b=%EF%BC%A1&", n - 1) + "c").encode(), _refuse_form, id="refusal-form-emoji"),
    case(_pairs, _sorted_both, id="sorted-params-both-orders"),
    case(
        lambda n: {f"n{index}": ["AC", "x"] for index in range(n // 8)},
        lambda params: (all_values(params, "AccountSid"), first_value(params, "AccountSid")),
        id="account-sid-lookup",
    ),
    case(
        lambda n: ("https://example.com/?bodySHA256=" + fill("a", n), fill("x", n).encode()),
        lambda args: body_params(args[0], "application/json", args[1]),
        id="body-params-body-hash",
    ),
    # Other headers the guard reads.
    case(lambda n: fill(",", n), _quiet(parse_signature_settings), id="settings-commas"),
    case(lambda n: fill("a=b,", n), _quiet(parse_signature_settings), id="settings-pairs"),
    case(lambda n: "text/plain" + fill(";charset=utf-8", n), _foreign_charset, id="content-type-charsets"),
    case(lambda n: "a" + fill(";charset", n), _foreign_charset, id="content-type-bare-charsets"),
    case(_basic, _authenticated, id="basic-auth"),
    case(_digest_escapes, parse_credentials, id="digest-unclosed-quote-of-escapes"),
    case(_digest_params, parse_credentials, id="digest-many-parameters-then-junk"),
    case(lambda n: fill('a="\\\\",', n), parse_credentials, id="digest-quoted-escapes"),
    case(lambda n: "Digest " + fill(" , ", n), _authenticated, id="digest-empty-elements"),
    case(lambda n: (n // 4, b"ab"), _asgi_headers, id="asgi-repeated-headers", large=256 * 1024),
    case(lambda n: (fill("a=\xe9&", n), fill("/\xe9", n)), _environ, id="wsgi-environ"),
    case(lambda n: fill("a\n\x1b", n), loggable, id="log-text"),
    case(lambda n: "https://" + fill("u", n) + ":p@example.com/", redact, id="redact-userinfo"),
    # An API Gateway event: a decoded path encoded again, a query rebuilt from its values, repeated headers.
    case(lambda n: ("/" + fill("é?", n // 2), "", 1), _lambda_event, id="lambda-decoded-path"),
    case(lambda n: ("/twilio/sms", fill("a=b&", n), n // 2), _lambda_event, id="lambda-query-and-headers"),
    case(lambda n: n // 16, _lambda_v1_query, id="lambda-v1-query-values"),
    # The CLI's inputs: a curl command line and a saved raw request.
    case(lambda n: "curl https://example.com " + fill("-d a ", n), _curl, id="curl-data-options"),
    case(_curl_files, _curl_reading, id="curl-data-files"),
    case(lambda n: "curl https://example.com -" + fill("s", n), _curl, id="curl-short-option-cluster"),
    case(lambda n: "curl https://example.com " + fill("-H 'A: b' ", n), _curl, id="curl-headers"),
    case(
        lambda n: "curl https://example.com -d '" + fill("a\\", n) + "'", _curl, id="curl-quoted-data", large=256 * 1024
    ),
    case(lambda n: "curl https://example.com " + fill("--data-urlencode a=é ", n), _curl, id="curl-data-urlencode"),
    case(
        lambda n: ("POST / HTTP/1.1\r\nHost: x\r\n" + fill("A: b\r\n", n) + "\r\nbody").encode(),
        lambda raw: _parse_raw_request(raw, "https"),
        id="raw-request-headers",
    ),
]


def _cpu_ns(run: Callable[[Any], object], argument: Any, calls: int) -> int:
    start = time.process_time_ns()
    for _ in range(calls):
        run(argument)
    return time.process_time_ns() - start


def per_byte_costs(
    make: Callable[[int], Any], run: Callable[[Any], object], large_size: int = LARGE
) -> tuple[float, float]:
    """CPU nanoseconds per input byte at :data:`SMALL` and at ``large_size``, best of :data:`ROUNDS`."""
    small, large = make(SMALL), make(large_size)
    run(small), run(large)  # warm caches, compiled patterns, lazy imports
    # Enough calls per batch that the large side takes MIN_BATCH_NS: one call of quadratic code is plenty.
    once = max(_cpu_ns(run, large, 1), 1)
    large_calls = max(1, MIN_BATCH_NS // once)
    small_calls = large_calls * (large_size // SMALL)
    best_small = best_large = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(ROUNDS if once < 1e9 else 1):
            best_small = min(best_small, _cpu_ns(run, small, small_calls))
            best_large = min(best_large, _cpu_ns(run, large, large_calls))
    finally:
        if enabled:
            gc.enable()
    total = large_size * large_calls
    return best_small / total, best_large / total


@pytest.mark.parametrize(("make", "run", "large_size"), CASES)
def test_cost_per_byte_does_not_grow_with_the_input(
    make: Callable[[int], Any], run: Callable[[Any], object], large_size: int
) -> None:
    """An adversarial input 32 (or more) times larger costs at most FACTOR times more per byte."""
    small, large = per_byte_costs(make, run, large_size)
    ratio = large / small
    assert ratio <= FACTOR, (
        f"{large:.1f} ns per byte at {large_size} bytes against {small:.1f} at {SMALL}: {ratio:.1f} times "
        f"(bound {FACTOR})"
    )
