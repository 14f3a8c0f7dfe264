"""Refusing a forged near-limit form body, against the framework's own parse of that body.

Anyone can POST a forged webhook, so the cost of a refusal is a lever an
attacker holds: a form body just under ``max_body_size`` (1 MiB by default),
built to make the check expensive, costs us whatever the refusal costs. The
goal is that refusing it costs no more than the parse the framework would do
anyway for the same body, so the middleware never multiplies the attacker's work.

For each body shape, measured side by side in one process (interleaved, best
of seven rounds, garbage collector on, as in a server):

- twiliosig: the whole refusal through the WSGI ``TwilioSignatureMiddleware``
  with the default options (read the body, parse it, sort the parameters, an
  HMAC per URL form and parameter order, log, answer 403);
- werkzeug: ``Request(environ).form``, the parse a Flask app does (the baseline:
  goal twiliosig / werkzeug at most 1.0);
- Django: ``QueryDict(body)``; Starlette: ``await Request(...).form()``, each
  with its field-count limit lifted (by default both stop at 1,000 fields, which
  makes them cheap on these bodies but says nothing about the parse);
- floor: the HMACs alone (HMAC-SHA1 of every URL form followed by the signed
  parameter string, in each parameter order that differs), which no refusal can
  skip: every candidate that could carry a genuine signature must be tried. A
  body with nothing to decode costs werkzeug next to nothing, so there the floor
  alone is above the goal, and the more so as a crafted query multiplies the URL
  forms (the last shape).

The shapes put emoji (astral characters) next to U+FF21 (in U+E000..U+FFFF) at
the same position, so the UTF-16 parameter order really differs from the
code-point order and both are tried; the parameters come in random order, the
worst case for sorting.

Run: ``.venv/bin/python benchmarks/forged.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import logging
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import interleaved_ns, machine
from core import TOKEN

from twiliosig import UrlVariant
from twiliosig._forms import parse_form
from twiliosig._params import canonical_params
from twiliosig._urls import candidate_urls
from twiliosig.wsgi import TwilioSignatureMiddleware

LIMIT = 1024 * 1024  # the default max_body_size
PATH = "/twilio/sms"
URL = "https://example.com" + PATH
FORGED = "A" * 27 + "="
EMOJI = "%F0%9F%98%80"  # U+1F600, astral: two UTF-16 units, D83D DE00
WIDE_A = "%EF%BC%A1"  # U+FF21: before the emoji by code point, after it (FF21 > D83D) by UTF-16 unit
GOAL = 1.0


def _fill(piece: Callable[[int], str], seed: int) -> bytes:
    """``name=value`` pieces until the body is just under the limit, in random order."""
    pieces, size = [], 0
    while True:
        text = piece(len(pieces))
        if size + len(text) + 1 > LIMIT - 16:
            break
        pieces.append(text)
        size += len(text) + 1
    random.Random(seed).shuffle(pieces)
    return "&".join(pieces).encode("ascii")


def _flip(index: int) -> str:
    return EMOJI if index % 2 else WIDE_A


class Shape(NamedTuple):
    """A forged request: its body, and the query of the URL it is sent to."""

    body: bytes
    query: str = ""


# A query that every re-encoding the URL variants try changes: the most URL forms.
MANY_FORMS = "a='b+c%20d"

SHAPES: dict[str, Shape] = {
    "~30k short parameters, emoji in names and values": Shape(
        _fill(lambda i: f"P{_flip(i)}{i}={_flip(i // 2)}{i % 97}", seed=1)
    ),
    "~30k parameters under 1,000 repeated names, emoji": Shape(
        _fill(lambda i: f"N{_flip(i)}{i % 1000}={_flip(i // 1000)}{i}", seed=2)
    ),
    "4 huge values, emoji": Shape(_fill(lambda i: f"Body{i}=" + (EMOJI + WIDE_A + "x+y") * 9000, seed=3)),
    "~100k short parameters, ASCII only": Shape(_fill(lambda i: f"p{i}=v{i % 13}", seed=4)),
    "4 huge values, ASCII only": Shape(_fill(lambda i: f"Body{i}=" + "x" * 250_000, seed=5)),
    "4 huge values, ASCII only, query with the most URL forms": Shape(
        _fill(lambda i: f"Body{i}=" + "x" * 250_000, seed=5), MANY_FORMS
    ),
}


class Result(NamedTuple):
    """Per-call nanoseconds for one shape, and what the floor covers (HMACs of a mebibyte or so)."""

    parameters: int
    times: dict[str, float]
    hmacs: int


def _environ(body: bytes, query: str = "") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": query,
        "RAW_URI": f"{PATH}?{query}" if query else PATH,
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "example.com",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_TWILIO_SIGNATURE": FORGED,
        "wsgi.url_scheme": "https",
        "wsgi.errors": sys.stderr,
        "wsgi.input": io.BytesIO(body),
    }


def _never(environ: Any, start_response: Any) -> list[bytes]:  # pragma: no cover - refused before it runs
    raise AssertionError("a forged request reached the app")


def _refusal(shape: Shape) -> Callable[[], object]:
    middleware = TwilioSignatureMiddleware(_never, auth_token=TOKEN)

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        assert status.startswith("403"), status

    def run() -> object:
        return middleware(_environ(*shape), start_response)

    return run


def _werkzeug(shape: Shape) -> Callable[[], object]:
    from werkzeug.wrappers import Request

    def run() -> object:
        return Request(_environ(*shape)).form

    return run


def _django(body: bytes) -> Callable[[], object]:
    from django.conf import settings

    if not settings.configured:
        settings.configure(DATA_UPLOAD_MAX_NUMBER_FIELDS=None, DEFAULT_CHARSET="utf-8")
    from django.http import QueryDict

    return lambda: QueryDict(body)


def _starlette(body: bytes) -> Callable[[], object]:
    from starlette.requests import Request

    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "headers": [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def parse() -> object:
        return await Request(scope, receive).form(max_fields=math.inf)

    return lambda: loop.run_until_complete(parse())


def _floor(shape: Shape) -> tuple[Callable[[], object], int]:
    """The HMACs a refusal cannot skip: every URL form, in each parameter order that differs."""
    pairs = parse_form(shape.body)
    suffixes = {canonical_params(pairs).encode(), canonical_params(pairs, utf16_order=True).encode()}
    url = f"{URL}?{shape.query}" if shape.query else URL
    messages = [form.url.encode() + suffix for form in candidate_urls(url) for suffix in suffixes]
    key = TOKEN.encode()

    def run() -> object:
        return [hmac.new(key, message, hashlib.sha1).digest() for message in messages]

    return run, len(messages)


def measure(rounds: int = 7) -> dict[str, Result]:
    """Per-call nanoseconds for every shape: the refusal, each framework's parse, the HMAC floor."""
    logging.getLogger("twiliosig").addHandler(logging.NullHandler())  # refusals are logged; keep stderr quiet
    assert (
        UrlVariant.UTF16_PARAM_ORDER
        in TwilioSignatureMiddleware(_never, auth_token=TOKEN)._guard.validator.url_variants
    )
    results = {}
    for name, shape in SHAPES.items():
        floor, hmacs = _floor(shape)
        contenders = {
            "twiliosig": _refusal(shape),
            "werkzeug": _werkzeug(shape),
            "django": _django(shape.body),
            "starlette": _starlette(shape.body),
            "floor": floor,
        }
        for run in contenders.values():
            run()  # each parses (or refuses) the body before it is timed
        results[name] = Result(len(parse_form(shape.body)), interleaved_ns(contenders, rounds=rounds), hmacs)
    return results


def main() -> int:
    results = measure()
    print("# forged: refusing a forged form body just under 1 MiB, against the framework's parse of it")
    print(f"# {machine()}")
    print(
        f"{'shape':<58} {'params':>7} {'HMACs':>5} {'refusal':>9} {'werkzeug':>9} "
        f"{'/werkzeug':>9} {'/Django':>8} {'/Starlette':>10} {'floor/werkzeug':>14}"
    )
    missed = False
    for name, (count, times, hmacs) in results.items():
        ratio = times["twiliosig"] / times["werkzeug"]
        missed |= ratio > GOAL
        print(
            f"{name:<58} {count:>7} {hmacs:>5} {times['twiliosig'] / 1e6:7.2f}ms {times['werkzeug'] / 1e6:7.2f}ms "
            f"{ratio:9.3f} {times['twiliosig'] / times['django']:8.3f} {times['twiliosig'] / times['starlette']:10.3f} "
            f"{times['floor'] / times['werkzeug']:14.3f}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
