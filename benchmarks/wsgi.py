"""In-process cost of one genuine 12-parameter form webhook through the WSGI middleware.

Three werkzeug apps, each reading ``request.form`` and answering 200, called
with the same prebuilt environ in one process:
- bare: no validation (the baseline);
- twiliosig: the bare app wrapped in ``TwilioSignatureMiddleware`` (goal: at most 1.3 x bare);
- hand-written: the usual decorator that calls the ``twilio`` package's validator
  with ``request.url`` and ``request.form`` (goal: twiliosig faster);
- inline: the bare app behind the minimal inline check of ``inline.py`` (read,
  parse, one HMAC, hand the body on; goal: twiliosig at most 1.1 x it).

Run: ``make bench`` or ``.venv/bin/python benchmarks/wsgi.py``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import interleaved_ns, report
from core import PARAMS, TOKEN
from inline import inline_wsgi
from twilio.request_validator import RequestValidator as TwilioValidator
from werkzeug.wrappers import Request, Response

from twiliosig import compute_signature
from twiliosig.wsgi import TwilioSignatureMiddleware

URL = "https://example.com/twilio/sms"


@Request.application  # type: ignore[arg-type]
def bare(request: Request) -> Response:
    return Response(f"<Response><Message>{len(request.form)}</Message></Response>", content_type="text/xml")


_twilio = TwilioValidator(TOKEN)


@Request.application  # type: ignore[arg-type]
def hand_written(request: Request) -> Response:
    if not _twilio.validate(request.url, request.form, request.headers.get("X-Twilio-Signature", "")):
        return Response("Forbidden", status=403)
    return Response(f"<Response><Message>{len(request.form)}</Message></Response>", content_type="text/xml")


def environ_factory(params: dict[str, str] = PARAMS) -> Callable[[], dict[str, Any]]:
    body = urlencode(params).encode()
    template = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/twilio/sms",
        "QUERY_STRING": "",
        "RAW_URI": "/twilio/sms",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "example.com",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_TWILIO_SIGNATURE": compute_signature(TOKEN, URL, params),
        "wsgi.url_scheme": "https",
        "wsgi.errors": sys.stderr,
    }

    def make() -> dict[str, Any]:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(body)
        return environ

    return make


def call(app: Any, make: Callable[[], dict[str, Any]]) -> Callable[[], bytes]:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    def run() -> bytes:
        return b"".join(app(make(), start_response))

    return run


def measure(params: dict[str, str] = PARAMS) -> dict[str, float]:
    make = environ_factory(params)
    protected = TwilioSignatureMiddleware(bare, auth_token=TOKEN)
    apps = {"bare": bare, "twiliosig": protected, "hand-written": hand_written, "inline": inline_wsgi(bare, TOKEN)}
    for app in apps.values():
        call(app, make)()  # every app accepts the request before it is timed
    # The apps take turns, so a busy machine weighs on all alike.
    return interleaved_ns({name: call(app, make) for name, app in apps.items()}, rounds=9, min_seconds=0.1)


def main() -> None:
    times = measure()
    report(
        "wsgi: one genuine 12-param form POST through a werkzeug app",
        [
            ("bare werkzeug app (reads request.form)", times["bare"]),
            ("twiliosig TwilioSignatureMiddleware + bare app", times["twiliosig"]),
            ("hand-written decorator with the twilio validator", times["hand-written"]),
            ("minimal inline check + bare app", times["inline"]),
        ],
        [
            ("ratio twiliosig / bare app", times["twiliosig"] / times["bare"], 1.3, "<="),
            ("ratio twiliosig / hand-written", times["twiliosig"] / times["hand-written"], 1.0, "<"),
            ("ratio twiliosig / minimal inline check", times["twiliosig"] / times["inline"], 1.1, "<="),
        ],
    )


if __name__ == "__main__":
    main()
