"""Refusing a forged request whose head or small body is built against the parsers, against the framework's parse.

``forged.py`` measures bodies near the size limit; this measures the other
levers a client holds, each at the size a server lets through: a 32 KiB query
or path (every URL form a refusal tries re-encodes it and hashes it), a trusted
``Forwarded`` header of 16 KB and 60 KB made of quotes and backslashes, and a
32 KiB form body of the shapes the one-pass reading declines. For each shape,
side by side in one process (interleaved, best of seven rounds):

- twiliosig: the whole refusal through the WSGI ``TwilioSignatureMiddleware``
  (default options; ``trust_forwarded={"forwarded": 1}`` for the Forwarded
  shapes), the forged signature refused with 403, a malformed trusted header
  with 400;
- framework: the same request to a bare werkzeug app that reads
  ``request.args``, ``request.form`` and the ``Forwarded`` header and answers:
  the parse a Flask view reading its parameters does anyway;
- server: h11 (uvicorn's HTTP/1.1 parser) reading the same request off the
  wire, which every request pays before any middleware runs. The baseline is
  server and framework together: the stack's own parse of the request;
- floor: the HMACs alone, one per URL form a refusal must try (none where the
  head is refused before any signature is compared). A query that every
  re-encoding changes makes the forms long (an escaped apostrophe is three
  characters) and many, while the framework has next to nothing to decode:
  there the floor alone is many times the framework's parse.

Run: ``.venv/bin/python benchmarks/hostile.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import h11
from _timing import interleaved_ns, machine
from core import TOKEN
from werkzeug.wrappers import Request, Response

from twiliosig._forms import parse_form
from twiliosig._params import canonical_params
from twiliosig._urls import candidate_urls
from twiliosig.wsgi import TwilioSignatureMiddleware

PATH = "/twilio/sms"
FORGED = "A" * 27 + "="
QUERY = 32 * 1024
#: What the refusal may cost, in multiples of the framework's own parse of the same request.
GOAL = 5.0


class Shape(NamedTuple):
    """A forged request: its query, its Forwarded header (trusted when given), its form body, its path."""

    query: str = ""
    forwarded: str | None = None
    body: bytes = b"Body=hi"
    path: str = PATH


def _fill(unit: str, size: int) -> str:
    return unit * (size // len(unit))


SHAPES: dict[str, Shape] = {
    "32 KiB query, the most URL forms (`a='b+c%20d` pieces)": Shape(_fill("a='b+c%20d&", QUERY)),
    "32 KiB query, 8,192 pairs": Shape(_fill("a=b&", QUERY)),
    "32 KiB query of apostrophes (each one re-encoded)": Shape(_fill("'", QUERY)),
    "32 KiB query of escapes that are not UTF-8": Shape(_fill("%FF&", QUERY)),
    '16 KB trusted Forwarded of `"\\"\\"...` (unclosed)': Shape(forwarded='"' + _fill('\\"', 16 * 1024)),
    '60 KB trusted Forwarded of `"\\"\\"...` (unclosed)': Shape(forwarded='"' + _fill('\\"', 60 * 1024)),
    "60 KB trusted Forwarded, 10,000 elements": Shape(forwarded=_fill("for=a,", 60 * 1024) + "proto=https"),
    "32 KiB path of `%2e%2e/` (every reading of it tested)": Shape(path=PATH + "/" + _fill("%2e%2e/", QUERY)),
    "32 KiB path of apostrophes (each one re-encoded)": Shape(path=PATH + "/" + _fill("'", QUERY)),
    "32 KiB form body of `%` that start no escape": Shape(body=b"a=" + b"%" * (QUERY - 2)),
    "32 KiB form body, 8,192 pairs": Shape(body=_fill("a=b&", QUERY).encode()),
    "32 KiB form body of emoji escapes": Shape(body=("a=" + _fill("%F0%9F%98%80", QUERY - 2)).encode()),
}


@Request.application  # type: ignore[arg-type]
def framework(request: Request) -> Response:
    """What a view reading its parameters makes the framework parse: the query, the form, a header."""
    parsed = len(request.args) + len(request.form) + len(request.headers.get("Forwarded", ""))
    return Response(f"<Response>{parsed}</Response>", content_type="text/xml")


def _environ(shape: Shape) -> Callable[[], dict[str, Any]]:
    template = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(shape.path),
        "QUERY_STRING": shape.query,
        "RAW_URI": f"{shape.path}?{shape.query}" if shape.query else shape.path,
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "example.com",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(shape.body)),
        "HTTP_X_TWILIO_SIGNATURE": FORGED,
        "wsgi.url_scheme": "https",
        "wsgi.errors": sys.stderr,
    }
    if shape.forwarded is not None:
        template["HTTP_FORWARDED"] = shape.forwarded

    def make() -> dict[str, Any]:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(shape.body)
        return environ

    return make


def _wire(shape: Shape) -> Callable[[], object]:
    """h11 reading the request as a client sends it: request line, headers, body."""
    target = f"{shape.path}?{shape.query}" if shape.query else shape.path
    headers = [
        ("Host", "example.com"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", str(len(shape.body))),
        ("X-Twilio-Signature", FORGED),
    ]
    if shape.forwarded is not None:
        headers.append(("Forwarded", shape.forwarded))
    head = f"POST {target} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    raw = head.encode("latin-1") + shape.body

    def run() -> object:
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=len(raw) + 1)
        connection.receive_data(raw)
        return connection.next_event(), connection.next_event()

    return run


def _call(app: Any, make: Callable[[], dict[str, Any]], statuses: tuple[str, ...]) -> Callable[[], bytes]:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        assert status.startswith(statuses), status

    def run() -> bytes:
        return b"".join(app(make(), start_response))

    return run


def _floor(shape: Shape) -> Callable[[], object] | None:
    """The HMACs a refusal cannot skip: every URL form, followed by the signed parameters."""
    if shape.forwarded is not None:
        return None  # a malformed trusted header is refused before any signature is compared
    try:
        pairs = parse_form(shape.body)
    except ValueError:
        pairs = []
    suffix = canonical_params(pairs).encode()
    url = f"https://example.com{shape.path}?{shape.query}" if shape.query else f"https://example.com{shape.path}"
    messages = [form.url.encode("utf-8", "surrogatepass") + suffix for form in candidate_urls(url)]
    key = TOKEN.encode()
    return lambda: [hmac.new(key, message, hashlib.sha1).digest() for message in messages]


def measure(rounds: int = 7) -> dict[str, dict[str, float]]:
    """Per-call nanoseconds for every shape: the refusal, the framework's own parse, the HMAC floor."""
    logging.getLogger("twiliosig").addHandler(logging.NullHandler())  # refusals are logged; keep stderr quiet
    logging.getLogger("twiliosig").propagate = False
    results = {}
    for name, shape in SHAPES.items():
        trust = {"forwarded": 1} if shape.forwarded is not None else False
        guarded = TwilioSignatureMiddleware(framework, auth_token=TOKEN, trust_forwarded=trust)
        make = _environ(shape)
        contenders = {
            "twiliosig": _call(guarded, make, ("400", "403")),
            "framework": _call(framework, make, ("200",)),
            "server": _wire(shape),
        }
        floor = _floor(shape)
        if floor is not None:
            contenders["floor"] = floor
        for run in contenders.values():
            run()
        results[name] = interleaved_ns(contenders, rounds=rounds)
    return results


def main() -> int:
    results = measure()
    print("# hostile: refusing a forged request with a hostile head or small body, against the framework's parse")
    print(f"# {machine()}")
    print(f"{'shape':<62} {'refusal':>10} {'framework':>10} {'server':>10} {'ratio':>7} {'floor/stack':>11}")
    missed = False
    for name, times in results.items():
        stack = times["framework"] + times["server"]
        ratio = times["twiliosig"] / stack
        missed |= ratio > GOAL
        floor = f"{times['floor'] / stack:11.2f}" if "floor" in times else f"{'-':>11}"
        print(
            f"{name:<62} {times['twiliosig'] / 1e6:8.3f}ms {times['framework'] / 1e6:8.3f}ms "
            f"{times['server'] / 1e6:8.3f}ms {ratio:7.2f} {floor}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
