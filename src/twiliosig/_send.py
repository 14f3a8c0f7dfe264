"""``twiliosig send``: fire a realistic, signed Twilio webhook at a running app.

    twiliosig send --list
    twiliosig send KIND URL [--set Name=Value]... [--method GET] [--public-url URL] [--tampered] [--fresh]
                            [--cacert FILE]

The request comes from :mod:`twiliosig.events` and is signed exactly as Twilio signs it
(form parameters, the GET query, ``bodySHA256`` for JSON, the ``wss://`` URL for a
WebSocket handshake). The answer is shown with its time; a refusal is explained the
way ``twiliosig explain`` would. Only the standard library: WebSocket handshakes and
messages go through :mod:`twiliosig._wsclient`.

Exit status: 0 when the app did what a protected app must (accepted the genuine
request, or refused a ``--tampered`` one), 1 when it did not, 2 for a usage error or
an app that could not be reached.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import ssl
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO
from urllib.parse import unquote

from . import events
from ._fresh import fresh
from ._guard import REFUSAL_STATUSES
from ._keys import ALGORITHMS, HMAC_SHA1
from ._urls import split_url
from ._wsclient import Connection, WebSocketError
from .events._model import request_target
from .explain import _GENERAL_CAUSES, explain
from .signature import RequestValidator

__all__ = ["add_parser", "run"]

_SHOWN_BODY = 2000


class SendError(Exception):
    """A usage problem, printed as one line."""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``send`` on the CLI's subcommands."""
    send: argparse.ArgumentParser = commands.add_parser(
        "send",
        help="send a realistic Twilio webhook, signed as Twilio signs it, to your app (--list names the kinds)",
        description="Send one of twiliosig's catalogue of realistic Twilio webhooks to a running app, signed "
        "exactly as Twilio signs it, and show the answer.",
    )
    send.add_argument("kind", nargs="?", help="the webhook kind, such as messaging.inbound (see --list)")
    send.add_argument("url", nargs="?", help="where to send it: http(s):// for webhooks, ws(s):// for WebSockets")
    send.add_argument(
        "--list",
        action="store_true",
        help="name every kind and what it sends, then exit; with a KIND, every name it may carry, how it "
        "arrives (always, when it applies, in practice) and the page or source that says so",
    )
    send.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change or add a parameter (repeatable); for JSON a dotted path such as 0.data.body=hi, "
        "or NAME:=JSON for a number, true or an object",
    )
    send.add_argument("--method", type=str.upper, choices=["GET", "POST"], help="send a form webhook as GET")
    send.add_argument(
        "--public-url",
        metavar="URL",
        help="the scheme, host and path prefix Twilio would call (your tunnel or proxy): the signature covers "
        "it while the request goes to URL, as with the middleware's public_url",
    )
    send.add_argument(
        "--tampered",
        action="store_true",
        help="change the request after signing it, as an attacker would: your app must refuse it",
    )
    send.add_argument(
        "--fresh",
        action="store_true",
        help="give the webhook new message, call and event SIDs: a new webhook, not a copy of the last send "
        "(an app with a replay guard refuses an identical second send with 409, as a replay)",
    )
    send.add_argument("--dry-run", action="store_true", help="print the signed request and send nothing")
    send.add_argument("-v", "--verbose", action="store_true", help="print the request headers and body too")
    send.add_argument("--timeout", type=_seconds, default=10.0, help="seconds to wait for the app (default 10)")
    send.add_argument(
        "--cacert",
        metavar="FILE",
        help="trust the CA certificate(s) in this PEM file, instead of the system's, for https:// and wss:// "
        "(a staging proxy with a private or self-signed certificate), as curl's --cacert",
    )
    send.add_argument("--algorithm", default=HMAC_SHA1, choices=sorted(ALGORITHMS), help="with --shared-key-id")
    send.add_argument("--shared-key-id", metavar="KEY_ID", help="sign with a shared key: the token is its secret")
    send.add_argument(
        "--token-env",
        default="TWILIO_AUTH_TOKEN",
        metavar="NAME",
        help="environment variable holding the auth token (default TWILIO_AUTH_TOKEN; the first of several)",
    )
    send.add_argument("--token", help="the auth token itself (it will be in your shell history)")
    send.set_defaults(run=run)
    return send


def _seconds(text: str) -> float:
    """A timeout: a positive number of seconds that a socket can wait (not inf, nan or 1e308)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"wants a number of seconds between 0 and 86400, not {text!r}")
    return seconds


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Carry out ``twiliosig send``; returns the exit status."""
    out = out or sys.stdout
    try:
        if args.list:
            if args.kind:
                _record(events.get(args.kind), out)
            else:
                _list(out)
            return 0
        return _send(args, out)
    except ssl.SSLCertVerificationError as error:  # a ValueError too: first
        print(f"twiliosig: could not reach {_shown(args.url)}: {_untrusted(error, args)}", file=sys.stderr)
        return 2
    except (SendError, ValueError) as error:
        print(f"twiliosig: {error}", file=sys.stderr)
        return 2
    except (OSError, http.client.HTTPException, WebSocketError) as error:
        print(f"twiliosig: could not reach {_shown(getattr(args, 'url', ''))}: {_reason(error)}", file=sys.stderr)
        return 2


# --- list -----------------------------------------------------------------------------------------


def _list(out: TextIO) -> None:
    product = None
    width = max(len(kind) for kind in events.CATALOGUE)
    for event in events.CATALOGUE.values():
        if event.product != product:
            print(f"{'' if product is None else chr(10)}{event.product}", file=out)
            product = event.product
        print(f"  {event.kind:<{width}}  {_shape(event):<24}  {event.title}", file=out)


def _record(event: events.Event, out: TextIO) -> None:
    """One entry's source record: each name, how it arrives, who says so; then the names left out."""
    print(f"{event.kind}: {event.title} ({_shape(event)})", file=out)
    sent = event.field_names()
    fields = event.documented.fields
    width = max(len(item.name) for item in fields)
    print("  * = sent by this entry; always / when (it applies) / practice (sent, in no Twilio table)", file=out)
    for item in fields:
        mark = "*" if any(item.matches(name) for name in sent) else " "
        print(f"  {mark} {item.name:<{width}}  {item.presence.value:<8}  {item.source}", file=out)
        if item.note:
            print(f"    {'':<{width}}  {item.note}", file=out)
    for name, why in event.documented.left_out:
        print(f"  left out: {name}: {why}", file=out)


def _shape(event: events.Event) -> str:
    if event.websocket:
        return f"WebSocket, {len(event.messages)} messages"
    if event.body is not None:
        return "POST JSON, bodySHA256"
    return f"{event.method} form, {len(event.params)} params"


# --- send -----------------------------------------------------------------------------------------


def _send(args: argparse.Namespace, out: TextIO) -> int:
    if not args.kind or not args.url:
        raise SendError("give a KIND and a URL (twiliosig send --list names the kinds)")
    event = events.get(args.kind)
    event = event.with_params(_overrides(args.set))
    if args.method:
        event = event.with_method(args.method)
    renewed = False
    if args.fresh:
        event, before = fresh(event), event
        renewed = event != before
    url, authorization = _without_userinfo(args.url, event.websocket)
    signed_url = _public(args.public_url, url) if args.public_url else None
    token, source = _token(args)
    context = _tls_context(args.cacert)
    request = event.sign(
        url, auth_token=token, signed_url=signed_url, algorithm=args.algorithm, shared_key_id=args.shared_key_id
    )
    if args.tampered:
        request = request.tampered()
    headers = list(request.headers)
    if authorization:
        headers.append(("Authorization", authorization))

    what = f"WebSocket handshake, then {len(request.messages)} messages" if request.websocket else _shape(event)
    print(f"→ {request.method} {request.url}", file=out)
    fresh_words = ", fresh SIDs" if renewed else ""
    print(f"  {event.kind} ({what}{fresh_words}){', TAMPERED after signing' if args.tampered else ''}", file=out)
    signed = "the URL as sent" if request.signed_url == request.url else request.signed_url
    print(f"  signed over {signed} with {source} ({args.algorithm})", file=out)
    if args.verbose or args.dry_run:
        for name, value in headers:
            # Basic's value is the URL's password in base64: as good as the password to whoever reads this.
            shown = "Basic *** (the URL's user:password)" if name == "Authorization" else value
            print(f"  {name}: {shown}", file=out)
        if request.body:
            print(f"\n{request.body.decode('utf-8')}\n", file=out)
        for message in request.messages:
            print(f"  ⇢ {message}", file=out)
    if args.dry_run:
        return 0

    if request.websocket:
        status, reason, accepted = _send_websocket(request, headers, args.timeout, out, context)
    else:
        status, reason = _send_http(request, headers, args.timeout, out, context)
        accepted = status < 400
    if args.tampered:
        if accepted:
            print(
                f"ACCEPTED A TAMPERED REQUEST: {_tamper_words(request)} after it was signed, and the app took it. "
                "This path does not check X-Twilio-Signature, or checks it wrongly.",
                file=out,
            )
            return 1
        print(f"Refused as it should be: {_tamper_words(request)} after signing.", file=out)
        return 0
    if not accepted:
        if status == 409:
            _replayed(event, renewed, out)
        else:
            _why(status, reason, request, token, out)
        return 1
    return 0


def _overrides(items: Sequence[str]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise SendError(f"--set wants NAME=VALUE (or NAME:=JSON), got {item!r}")
        if name.endswith(":"):
            try:
                pairs.append((name[:-1], json.loads(value)))
            except json.JSONDecodeError as error:
                raise SendError(f"--set {name}=: not JSON: {error}") from None
        else:
            pairs.append((name, value))
    return pairs


def _without_userinfo(url: str, websocket: bool) -> tuple[str, str | None]:
    """The URL without ``user:password@`` (Twilio signs it without), and the Basic header it becomes."""
    parts = split_url(url)
    schemes = ("ws", "wss", "http", "https") if websocket else ("http", "https")
    if parts is None or parts.scheme.lower() not in schemes:
        wanted = "ws:// or wss://" if websocket else "http:// or https://"
        raise SendError(f"the URL must be absolute and start {wanted}: {_shown(url)!r}")
    if not parts.userinfo:
        return url, None
    user, _, password = parts.userinfo[:-1].partition(":")
    credentials = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return parts._replace(userinfo="").join(), f"Basic {credentials}"


def _shown(url: str) -> str:
    """``url`` for an error message: whatever stands before its last ``@`` (a user and password) as ``***``."""
    before, at, after = url.rpartition("@")
    if not at:
        return url
    scheme, separator, _ = before.partition("://")
    return f"{scheme}{separator}***@{after}" if separator else f"***@{after}"


def _public(public_url: str, url: str) -> str:
    """The URL Twilio would call: the public scheme, host and prefix, then the path and query sent to."""
    public = split_url(public_url)
    if public is None or public.scheme.lower() not in ("http", "https", "ws", "wss") or not public.host:
        raise SendError(f"--public-url must be absolute, such as https://example.com: {_shown(public_url)!r}")
    if "?" in public_url or "#" in public_url:
        raise SendError("--public-url must not carry a query or fragment: those come from URL")
    if public.userinfo:  # as the middlewares' public_url: Twilio signs without it (and it is never printed)
        raise SendError("--public-url must not carry user:password@: Twilio signs without it; give it in URL")
    return public_url.rstrip("/") + request_target(url)


def _token(args: argparse.Namespace) -> tuple[str, str]:
    if args.token:
        return args.token, "the token given with --token"
    tokens = [token.strip() for token in os.environ.get(args.token_env, "").split(",") if token.strip()]
    if not tokens:
        raise SendError(f"no auth token: set ${args.token_env} (or choose another variable with --token-env)")
    return tokens[0], f"the token in ${args.token_env}"


def _tls_context(cacert: str | None) -> ssl.SSLContext:
    """The TLS context for https:// and wss://: the system's CAs, or only those in ``cacert``; never unverified."""
    if cacert is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=cacert)
    except FileNotFoundError:
        raise SendError(f"--cacert {cacert}: no such file") from None
    except (ssl.SSLError, OSError, ValueError) as error:
        raise SendError(f"--cacert {cacert}: not a PEM file of CA certificates ({_reason(error)})") from None


def _untrusted(error: ssl.SSLCertVerificationError, args: argparse.Namespace) -> str:
    """A failed certificate check, said plainly, with what to do about it."""
    why = error.verify_message or _reason(error)
    if getattr(args, "cacert", None):
        return f"its TLS certificate is not trusted ({why}), even with --cacert {args.cacert}"
    return (
        f"its TLS certificate is not trusted ({why}). For a proxy with a private or self-signed certificate, "
        "give its CA certificate with --cacert FILE"
    )


def _send_http(
    request: events.SignedRequest,
    headers: list[tuple[str, str]],
    timeout: float,
    out: TextIO,
    context: ssl.SSLContext | None = None,
) -> tuple[int, str]:
    parts = split_url(request.url)
    assert parts is not None
    host_port = parts.host + parts.port
    if parts.scheme.lower() == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host_port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(host_port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request(request.method, request.target, body=request.body or None, headers=dict(headers))
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    elapsed = (time.perf_counter() - started) * 1000
    content_type = response.getheader("Content-Type", "no Content-Type")
    print(f"← {response.status} {response.reason} in {elapsed:.1f} ms ({content_type}, {len(body)} bytes)", file=out)
    if body:
        text = body.decode("utf-8", "replace")
        print(text[:_SHOWN_BODY] + ("…" if len(text) > _SHOWN_BODY else ""), file=out)
    return response.status, response.reason


def _send_websocket(
    request: events.SignedRequest,
    headers: list[tuple[str, str]],
    timeout: float,
    out: TextIO,
    context: ssl.SSLContext | None = None,
) -> tuple[int, str, bool]:
    connection = Connection(request.url, headers, timeout=timeout, context=context)
    started = time.perf_counter()
    handshake = connection.open()
    elapsed = (time.perf_counter() - started) * 1000
    print(f"← {handshake.status} {handshake.reason} in {elapsed:.1f} ms", file=out)
    if handshake.status != 101:
        if handshake.body:
            print(handshake.body.decode("utf-8", "replace")[:_SHOWN_BODY], file=out)
        return handshake.status, handshake.reason, False
    sent = 0
    try:
        for message in request.messages:
            connection.send_text(message)
            sent += 1
    except OSError as error:
        print(f"  the app closed the connection after {sent} of {len(request.messages)} messages: {error}", file=out)
    session = connection.finish()
    print(f"  sent {sent} messages; the app sent {len(session.received)}:", file=out)
    for text in session.received:
        print(f"  ⇠ {text[:_SHOWN_BODY]}", file=out)
    if session.close_code is not None:
        print(f"  closed with {session.close_code} {session.close_reason}".rstrip(), file=out)
    accepted = session.close_code in (None, 1000, 1001, 1005)
    return handshake.status, handshake.reason, accepted


def _tamper_words(request: events.SignedRequest) -> str:
    if request.websocket:
        return "a query was added to the handshake's URL"
    if request.method == "GET":
        return "a parameter in the query was changed"
    if request.params:
        return "a form parameter was changed"
    return "a byte was added to the JSON body (its bodySHA256 no longer matches)"


def _why(status: int, reason: str, request: events.SignedRequest, token: str, out: TextIO) -> None:
    """Say why an app may refuse a genuine request, as ``twiliosig explain`` would."""
    # Only a status the guard refuses with can be twiliosig's refusal; a 404 is the app's own answer.
    print(f"{'REFUSED' if status in REFUSAL_STATUSES else 'NOT ACCEPTED'} ({status} {reason}).", file=out)
    if status == 403:
        validator = RequestValidator(token)
        params: Any = request.body if request.body and not request.params else request.params or None
        signature = request.header("X-Twilio-Signature")
        check = explain(validator, request.signed_url, params, signature, signature_settings=None)
        print(f"twiliosig explain, on what was sent: {check.render().strip()}", file=out)
        print("So the app checked another URL or another secret. Likely causes, most likely first:", file=out)
        for number, cause in enumerate(_GENERAL_CAUSES[:3], 1):
            print(f"  {number}. {cause}", file=out)
        print(
            "  Behind a tunnel or proxy, send with --public-url set to the address Twilio calls, and configure "
            "the app with the same public_url.",
            file=out,
        )
        return
    hints = {
        400: "The app could not rebuild the URL: a missing or odd Host header, or a forwarding header it trusts "
        "that is malformed.",
        401: "The app wants credentials: put them in the URL (https://user:password@host/...), as you do in "
        "the Twilio console. send sends them as HTTP Basic; an app that takes only Digest (digest_auth) refuses "
        "them: try it with curl --digest. An app that requires a bearer token (oauth) wants one from your "
        "authorization server, which send cannot add: send it with curl -H 'Authorization: Bearer ...'.",
        404: "Nothing is routed at this path: check the URL's path against the app's routes.",
        405: "The app does not take this method here; Twilio sends webhooks as POST unless told GET.",
        413: "The body is over the app's max_body_size.",
    }
    if status in hints:
        print(hints[status], file=out)
    elif status >= 500:
        print(
            "The app failed while handling it: the signature was accepted (or this path is not protected) and the "
            "handler raised. Its log says why.",
            file=out,
        )


def _replayed(event: events.Event, renewed: bool, out: TextIO) -> None:
    """Say that a 409 is the app's replay guard refusing a copy, and how to send a new webhook instead."""
    print("REFUSED as a replay (409 Conflict).", file=out)
    print(
        "This exact signed request was already handled: the app's replay guard refuses a copy, as it must refuse "
        "a replay (it keys on the signature, which covers the URL and every parameter).",
        file=out,
    )
    if renewed:
        print(
            "Its SIDs were new, so it is no copy of an earlier send: the app answered 409 itself, or keys its "
            "replays on something other than the signature.",
            file=out,
        )
    elif fresh(event) != event:
        print(
            f"A catalogue webhook is the same request on every send. Send a new {event.kind} with --fresh "
            "(new message, call and event SIDs), or change a value with --set Name=Value.",
            file=out,
        )
    else:
        print(
            f"A catalogue webhook is the same request on every send, and {event.kind} carries no SID to renew: "
            "send a new one by changing a value with --set Name=Value.",
            file=out,
        )


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
