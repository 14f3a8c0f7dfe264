"""In-process cost of one genuine 12-parameter form webhook through the ASGI middleware.

Three Starlette apps, each awaiting ``request.form()`` and answering 200, driven
with the same scope and body in one event loop:
- bare: no validation (the baseline);
- twiliosig: the bare app wrapped in ``TwilioSignatureMiddleware`` (goal: at most 1.3 x bare);
- usual: a ``BaseHTTPMiddleware`` that awaits ``request.form()`` and calls the
  ``twilio`` package's validator with ``str(request.url)`` (goal: twiliosig at most 0.5 x it);
- inline: the bare app behind the minimal inline check of ``inline.py`` (read,
  parse, one HMAC, hand the body on; goal: twiliosig at most 1.1 x it).

Run: ``make bench`` or ``.venv/bin/python benchmarks/asgi.py``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import report
from core import PARAMS, TOKEN
from inline import inline_asgi
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator as TwilioValidator

from twiliosig import compute_signature
from twiliosig.asgi import TwilioSignatureMiddleware

URL = "https://example.com/twilio/sms"


async def sms(request: Request) -> Response:
    form = await request.form()
    return Response(f"<Response><Message>{len(form)}</Message></Response>", media_type="text/xml")


def bare_app(middleware: list[Middleware] | None = None) -> Starlette:
    return Starlette(routes=[Route("/twilio/sms", sms, methods=["POST"])], middleware=middleware)


_twilio = TwilioValidator(TOKEN)


class UsualValidation(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        form = await request.form()
        if not _twilio.validate(str(request.url), form, request.headers.get("X-Twilio-Signature", "")):
            return Response("Forbidden", status_code=403)
        return await call_next(request)


def make_scope(body: bytes, signature: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "server": ("example.com", 443),
        "path": "/twilio/sms",
        "raw_path": b"/twilio/sms",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"example.com"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"x-twilio-signature", signature.encode()),
        ],
    }


async def one_call(app: Any, scope: dict[str, Any], body: bytes) -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


def interleaved_per_call_ns(
    apps: dict[str, Any], params: dict[str, str], calls: int = 2000, rounds: int = 9
) -> dict[str, float]:
    """Best per-call time of each app, the apps taking turns in every round, so a busy machine weighs on all alike."""
    body = urlencode(params).encode()
    scope = make_scope(body, compute_signature(TOKEN, URL, params))

    async def loop() -> dict[str, float]:
        for app in apps.values():
            assert await one_call(app, scope, body) == 200
        best = dict.fromkeys(apps, float("inf"))
        for _ in range(rounds):
            for name, app in apps.items():
                start = time.perf_counter_ns()
                for _ in range(calls):
                    await one_call(app, scope, body)
                best[name] = min(best[name], (time.perf_counter_ns() - start) / calls)
        return best

    return asyncio.run(loop())


def measure(params: dict[str, str] = PARAMS) -> dict[str, float]:
    apps: dict[str, Callable[..., Awaitable[None]] | Starlette] = {
        "bare": bare_app(),
        "twiliosig": bare_app([Middleware(TwilioSignatureMiddleware, auth_token=TOKEN)]),
        "usual": bare_app([Middleware(UsualValidation)]),
        "inline": inline_asgi(bare_app(), TOKEN),
    }
    return interleaved_per_call_ns(apps, params)


def main() -> None:
    times = measure()
    report(
        "asgi: one genuine 12-param form POST through a Starlette app",
        [
            ("bare Starlette app (awaits request.form())", times["bare"]),
            ("twiliosig TwilioSignatureMiddleware + bare app", times["twiliosig"]),
            ("BaseHTTPMiddleware + twilio validator + bare app", times["usual"]),
            ("minimal inline check + bare app", times["inline"]),
        ],
        [
            ("ratio twiliosig / bare app", times["twiliosig"] / times["bare"], 1.3, "<="),
            ("ratio twiliosig / BaseHTTPMiddleware alternative", times["twiliosig"] / times["usual"], 0.5, "<="),
            ("ratio twiliosig / minimal inline check", times["twiliosig"] / times["inline"], 1.1, "<="),
        ],
    )


if __name__ == "__main__":
    main()
