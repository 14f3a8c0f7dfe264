"""``python -m twiliosig`` (or ``twiliosig``): sign requests, explain refusals, run the demo.

    twiliosig sign URL [-p Name=Value]... [--body FILE|-] [--algorithm HMAC_SHA256]
    twiliosig explain URL --signature SIG [-p Name=Value]... [--body FILE|-]
    twiliosig explain --from-curl "curl -X POST https://... -H 'X-Twilio-Signature: ...' -d ..."
    twiliosig explain --request saved-request.http [--public-url https://example.com]...
                      [--basic-auth USER=ENV] [--digest-auth USER=ENV] [--oauth]
    twiliosig demo
    twiliosig send KIND URL [--set Name=Value]... [--method GET] [--tampered]   (send --list names the kinds)
    twiliosig --version

The secret is read from the environment (``--token-env``, default
``TWILIO_AUTH_TOKEN``; several tokens may be separated by commas), so it never
lands in shell history unless you insist with ``--token``. Errors are one line
on stderr and a non-zero exit; ``explain`` exits 0 for a genuine request and 1
for a refused one. ``explain --request`` also reads the saved request's forwarding
headers and names the ones the app would have to trust for the signature to match.
With ``--basic-auth``/``--digest-auth`` (the password read from the named variable), a
request's ``Authorization`` header is checked as the middlewares' authentication
layers check it, and a missing or failed layer is named before any signature. With
``--oauth``, a missing or malformed bearer token is named; a present one is not
verified (that takes the authorization server, and a saved token has expired), but a
JWT's claims are shown beside what the verifier compares them with.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import __version__
from ._auth import ACCEPTED, Authenticator, AuthRequest, TokenResult, Waiting
from ._curl import parse_curl
from ._diagnosis import Diagnosis, RateLimit, readings
from ._digest import DigestAuth
from ._guard import Guard, Head, _target, body_params
from ._keys import ALGORITHMS, HMAC_SHA1
from ._logtext import loggable
from ._options import authenticator
from ._origin import ForwardedTrust, split_target
from ._send import add_parser as add_send_parser
from ._urls import UrlVariant, redact, split_url
from .demo import run_demo
from .explain import Explanation, explain
from .signature import RequestValidator, compute_signature
from .testing import with_body_hash
from .verdict import Reason, Verdict

__all__ = ["main"]


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logger = logging.getLogger("twiliosig")
    if not logger.handlers:
        # The guard logs each refusal for servers; here the command prints its own account of it.
        logger.addHandler(logging.NullHandler())
    try:
        return int(args.run(args))
    except CliError as error:
        print(f"twiliosig: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"twiliosig: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twiliosig",
        description="Sign Twilio webhook requests, explain why a signature does not match, or run the demo.",
    )
    parser.add_argument("--version", action="version", version=f"twiliosig {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sign = commands.add_parser("sign", help="print the X-Twilio-Signature Twilio would send")
    sign.add_argument("url", help="the exact URL Twilio calls, query string included")
    _add_request_options(sign)
    sign.add_argument(
        "--algorithm", default=HMAC_SHA1, choices=sorted(ALGORITHMS), help="HMAC_SHA1 (auth tokens, the default)"
    )
    _add_token_options(sign)
    sign.set_defaults(run=_sign)

    explain_cmd = commands.add_parser(
        "explain", help="say which URL form and secret match a signature, or why none does"
    )
    explain_cmd.add_argument("url", nargs="?", help="the URL the app rebuilt, query string included")
    explain_cmd.add_argument("-s", "--signature", help="the X-Twilio-Signature header")
    explain_cmd.add_argument("--settings", help="the X-Twilio-Webhooks-Signature-Settings header, if any")
    _add_request_options(explain_cmd)
    source = explain_cmd.add_mutually_exclusive_group()
    source.add_argument("--from-curl", metavar="COMMAND", help="a curl command line (or - to read it from stdin)")
    source.add_argument(
        "--request",
        metavar="FILE",
        help="a saved raw HTTP request (or - for stdin); its X-Forwarded-*/Forwarded headers are read too",
    )
    explain_cmd.add_argument(
        "--scheme", default="https", help="with --request: the scheme Twilio called (default https)"
    )
    explain_cmd.add_argument(
        "--public-url",
        action="append",
        default=[],
        metavar="URL",
        help="a candidate for the middleware's public_url (https://example.com): says whether Twilio signed it "
        "(repeatable)",
    )
    _add_token_options(explain_cmd)
    explain_cmd.add_argument(
        "--shared-key",
        action="append",
        default=[],
        metavar="KEY_ID=ENV",
        help="a shared key id and the environment variable holding its secret",
    )
    for scheme in ("basic", "digest"):
        explain_cmd.add_argument(
            f"--{scheme}-auth",
            action="append",
            default=[],
            metavar="USER=ENV",
            help=f"with --from-curl or --request: check the request's credentials as {scheme}_auth does, "
            "ENV naming the variable that holds USER's password (repeatable)",
        )
    explain_cmd.add_argument(
        "--oauth",
        action="store_true",
        help="with --from-curl or --request: the app requires a bearer token (oauth=...): a missing or malformed "
        "one is named; a JWT's claims are shown, unverified (the verifier checks it against your server)",
    )
    explain_cmd.set_defaults(run=_explain)

    demo = commands.add_parser(
        "demo", help="run a protected app on loopback and send it a genuine and a forged webhook"
    )
    demo.set_defaults(run=_demo)
    add_send_parser(commands)
    return parser


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a form parameter (repeatable)"
    )
    parser.add_argument(
        "--body",
        metavar="FILE",
        help="a raw body (- for stdin): a JSON body is covered by bodySHA256 in the URL, a form body is parsed",
    )


def _add_token_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token-env",
        default="TWILIO_AUTH_TOKEN",
        metavar="NAME",
        help="environment variable holding the auth token(s), comma-separated (default TWILIO_AUTH_TOKEN)",
    )
    parser.add_argument("--token", help="the auth token itself (it will be in your shell history)")


# --- sign -------------------------------------------------------------------------------------


def _sign(args: argparse.Namespace) -> int:
    parts = split_url(args.url)
    if parts is None or not parts.host:
        raise CliError(
            f"sign wants the absolute URL Twilio calls (https://host/path?query), not {redact(args.url)!r}: "
            "the signature covers the scheme and host too"
        )
    token = _tokens(args)[0]
    if args.body is not None:
        body = _read(args.body)
        if _is_form(body) and not args.param:
            print(compute_signature(token, args.url, _form(body), algorithm=args.algorithm))
            return 0
        url = args.url if "bodySHA256=" in args.url else with_body_hash(args.url, body)
        print(url)
        print(compute_signature(token, url, algorithm=args.algorithm))
        return 0
    print(compute_signature(token, args.url, _params(args.param), algorithm=args.algorithm))
    return 0


# --- explain ----------------------------------------------------------------------------------


def _explain(args: argparse.Namespace) -> int:
    shared = {}
    for item in args.shared_key:
        key_id, equals, env = item.partition("=")
        if not equals or not os.environ.get(env):
            # Never echo what follows '=': someone who typed the secret itself must not see it printed.
            where = f"for {key_id!r} no such variable is set" if equals else "got no '='"
            raise CliError(f"--shared-key wants KEY_ID=ENV, ENV naming a variable that holds the secret; {where}")
        shared[key_id] = os.environ[env]
    tokens = _tokens(args, required=not shared)
    try:
        validator = RequestValidator(tokens or None, shared_keys=shared or None)
    except (TypeError, ValueError) as error:  # an empty key id (--shared-key =ENV): the messages hold no secret
        raise CliError(str(error)) from None

    form_fields = None
    if args.from_curl is not None or args.request is not None:
        if args.from_curl is not None:
            command = sys.stdin.read() if args.from_curl == "-" else args.from_curl
            try:
                curl = parse_curl(command, _read)
            except ValueError as error:
                raise CliError(str(error)) from None
            url, headers, body, form_fields = curl.url, curl.headers, curl.body, curl.form_fields
            method = curl.method
        else:
            method, url, headers, body = _parse_raw_request(_read(args.request), args.scheme)
        refused = _authentication(args, method, url, headers, validator._static_secrets())
        if refused is not None:
            sys.stdout.write(refused)
            return 1
        signature = args.signature or headers.get("x-twilio-signature")
        settings = args.settings or headers.get("x-twilio-webhooks-signature-settings")
        if not args.public_url:
            refused = _refused_before_the_signature(tokens, shared, method, url, headers, body)
            if refused is not None:
                sys.stdout.write(refused)
                return 1
        params: Any = body_params(url, headers.get("content-type"), body)
        if isinstance(params, Verdict):
            raise CliError(params.detail)
    else:
        if not args.url:
            raise CliError("give the URL, or --from-curl, or --request")
        url, signature, settings = args.url, args.signature, args.settings
        params = _params(args.param)
        if args.body is not None:
            body = _read(args.body)
            params = body if "bodySHA256=" in url or not _is_form(body) else _form(body)
    if not signature:
        raise CliError("no signature: give --signature, or a request with an X-Twilio-Signature header")
    try:
        explanation = explain(
            validator, url, params, signature, signature_settings=settings, public_urls=args.public_url
        )
    except (TypeError, ValueError) as error:
        raise CliError(f"--public-url: {error}") from None
    if args.request is not None and explanation.verdict.reason is Reason.SIGNATURE_MISMATCH:
        _forwarding(explanation, tokens, shared, url, headers, params, signature, settings)
    if form_fields is not None and not explanation.verdict.valid:
        # curl -F: a multipart body, which Twilio never sends; would the same fields, form-encoded, match?
        as_form = validator.check(url, form_fields, signature, signature_settings=settings).valid
        explanation.findings.append(
            "curl -F sends multipart/form-data, which Twilio never sends and its signature does not cover; "
            + (
                "the same fields form-encoded (-d or --data-urlencode) match."
                if as_form
                else "the same fields form-encoded (-d or --data-urlencode) do not match either."
            )
        )
    if args.from_curl is not None and not explanation.verdict.valid and b"+" in body and isinstance(params, list):
        # curl -d 'From=+1555...' sends the plus as is, and every form parser reads it as a space.
        literal = body_params(url, headers.get("content-type"), body.replace(b"+", b"%2B"))
        if isinstance(literal, list) and validator.check(url, literal, signature, signature_settings=settings).valid:
            explanation.findings.append(
                "It matches if each '+' in the data is a plus sign: curl -d sends '+' as it is, and a form body "
                "reads '+' as a space (Twilio writes a plus as %2B). Write %2B, or use --data-urlencode "
                "'From=+15005550006'."
            )
            explanation.causes = []
    sys.stdout.write(explanation.render())
    return 0 if explanation.verdict.valid else 1


def _passwords(items: list[str], option: str) -> dict[str, str] | None:
    """``USER=ENV`` items as ``{user: password}``, each password read from its variable (never typed)."""
    users = {}
    for item in items:
        user, equals, env = item.partition("=")
        if not equals or not user or not os.environ.get(env):
            # Never echo what follows '=': someone who typed the password itself must not see it printed.
            raise CliError(f"{option} wants USER=ENV, ENV naming a variable that holds USER's password")
        users[user] = os.environ[env]
    return users or None


def _authentication(
    args: argparse.Namespace, method: str, url: str, headers: dict[str, str], secrets: tuple[bytes, ...]
) -> str | None:
    """The authentication layers' refusal of a request, as the middlewares would answer it; None when accepted.

    The layers are the ones the options build (``_options.authenticator``: a new layer
    is explained as soon as it is built there). A Digest nonce's age is not checked:
    a saved request's nonce has long expired, and what explain answers is whether the
    credentials are right. Its MAC is checked with ``secrets``, the signing secrets given
    (the server keys its nonces with them and the credentials).
    """
    try:
        basic = _passwords(args.basic_auth, "--basic-auth")
        digest_users = _passwords(args.digest_auth, "--digest-auth")
        digest = None if digest_users is None else DigestAuth(digest_users, nonce_lifetime=1e12)
        oauth = _UnverifiedTokens() if args.oauth else None
        # Digest's nonces are keyed by the signing secrets too: the ones given here, as the server's.
        layers: Authenticator | None = authenticator(basic, digest, oauth, secrets=secrets)
    except (TypeError, ValueError) as error:  # the messages hold no password
        raise CliError(str(error)) from None
    if layers is None:
        return None
    answer = layers.authenticate(AuthRequest(method, _target(url), url, headers.get))
    if isinstance(answer, Waiting):
        answer = answer.resolve()
    if answer is None:
        if oauth is not None:
            sys.stdout.write(_token_claims(headers.get("authorization", "")))
        return None
    status = answer.reason.status
    return (
        f"REFUSED ({answer.reason.value}) by {answer.layer}: {answer.detail}\n"
        f"The middlewares answer {status} before they compare any signature"
        + (
            " (with their challenges: Twilio repeats the request with credentials)"
            if status == 401 and answer.layer != "oauth"
            else ""
        )
        + ".\n"
    )


class _UnverifiedTokens:
    """A verifier for explain: every well-formed bearer token passes (the layer still refuses a missing one).

    Verifying needs the authorization server and a token that has not expired; a saved
    request has neither, so explain shows the claims instead (:func:`_token_claims`).
    """

    def lookup(self, token: str) -> TokenResult:
        return ACCEPTED

    def verify(self, token: str) -> TokenResult:
        return ACCEPTED

    async def averify(self, token: str) -> TokenResult:
        return ACCEPTED


#: The claims a verifier compares, in the order explain shows them (never the token itself).
_SHOWN_CLAIMS = ("iss", "aud", "client_id", "azp", "sub", "scope", "nbf", "exp")


def _token_claims(authorization: str) -> str:
    """What a bearer token says about itself, unverified: the claims the verifier checks, or that it is opaque."""
    token = authorization.strip().partition(" ")[2].strip()
    lines = ["NOTE: a bearer token is present; explain does not verify it (the app's verifier checks its signature, "]
    lines[0] += "issuer, audience, client, scope and expiry against your authorization server).\n"
    parts = token.split(".")
    claims: object = None
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, UnicodeDecodeError):
            claims = None
    if not isinstance(claims, dict):
        lines.append(
            "  It is not a JWT: an opaque token, which only introspection (IntrospectionVerifier) can check.\n"
        )
        return "".join(lines)
    now = time.time()
    lines.append("  Its claims, unverified:\n")
    for name in _SHOWN_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        shown = loggable(json.dumps(value, ensure_ascii=False), 200)
        if name in ("exp", "nbf") and isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                when = datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat(timespec="seconds")
            except (OverflowError, OSError, ValueError):
                when = "a time no clock reaches"
            ago = now - value
            shown = f"{when} ({f'{ago:.0f} s ago' if ago >= 0 else f'in {-ago:.0f} s'})"
            if name == "exp" and ago > 0:
                shown += ": expired (normal for a saved request)"
        lines.append(f"    {name}: {shown}\n")
    return "".join(lines)


def _forwarding(
    explanation: Explanation,
    tokens: list[str],
    shared: dict[str, str],
    url: str,
    headers: dict[str, str],
    params: Any,
    signature: str,
    settings: str | None,
) -> None:
    """Which forwarding headers of a saved request the app would have to trust, and the option that does.

    The middlewares believe no ``X-Forwarded-*`` or ``Forwarded`` header by default; the
    readings they would refuse are checked as the guard's own diagnosis checks them, with
    the same secrets, and the one Twilio signed is named with its ``trust_forwarded``.
    """
    carried = [name for name in _FORWARDING if headers.get(name.lower(), "").strip()]
    parts = split_url(url)
    if not carried or parts is None:
        return
    path, _, query = parts.rest.partition("#")[0].partition("?")
    candidates = [
        reading
        for reading in readings(
            parts.scheme,
            parts.host + parts.port,
            path,
            query,
            headers.get,
            trust=ForwardedTrust(),
            public_url=None,
            websocket=parts.scheme.lower() in ("ws", "wss"),
            tried=url,
        )
        if reading.fix.startswith("trust_forwarded")
    ]
    validator = RequestValidator(tokens or None, shared_keys=shared or None, url_variants=UrlVariant.NONE)
    finding = Diagnosis(validator, RateLimit()).diagnose(candidates, params, signature, settings)
    if finding is None:
        explanation.ruled_out.append(
            f"the request's {', '.join(carried)}: no URL they give matches (trusting them would not help)"
        )
        return
    explanation.findings.append(
        f"It matches if the app trusts the request's forwarding headers: Twilio signed {finding.signed_url}, and "
        f"{finding.cause}. Set {finding.fix}, only if your own proxy writes that header (docs/proxies.md). "
        "(--scheme says what the app sees: http behind a TLS proxy.)"
    )
    explanation.causes = []


_FORWARDING = ("X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded")


# What the middlewares refuse before the signature is compared: the request itself is wrong for
# a webhook, and no URL form or secret would change that.
_BEFORE_THE_SIGNATURE = frozenset(
    {
        Reason.MISSING_SIGNATURE,
        Reason.METHOD_NOT_ALLOWED,
        Reason.BODY_TOO_LARGE,
        Reason.MALFORMED_URL,
        Reason.MALFORMED_BODY,
        Reason.MALFORMED_PARAMS,
    }
)


def _refused_before_the_signature(
    tokens: list[str], shared: dict[str, str], method: str, url: str, headers: dict[str, str], body: bytes
) -> str | None:
    """The middlewares' own refusal of this request, when it comes before any signature is compared.

    The CLI asks the same guard as every adapter (default options), so a request the
    middleware answers 405, 413, 400 or 403 for want of a signature is explained as that,
    not as a signature problem.
    """
    parts = split_url(url)
    if parts is None:
        return None
    raw_path, query = split_target(parts.rest)
    head = Head(
        method=method,
        path=raw_path,
        scheme=parts.scheme,
        host=headers.get("host") or f"{parts.host}{parts.port}",
        raw_path=raw_path,
        query=query,
        header=headers.get,
    )
    guard = Guard(auth_token=tokens or None, shared_keys=shared or None)
    check = guard.check(head)
    decision = check.decision
    if decision is None:
        decision = check.overflowed(len(body)) if len(body) > check.body_limit else check.finish(body)
    verdict, refusal = decision.verdict, decision.refusal
    if refusal is None or verdict.reason not in _BEFORE_THE_SIGNATURE:
        return None
    return (
        f"REFUSED ({verdict.reason.value}): {verdict.detail}\n"
        f"The middlewares answer {refusal.status} {refusal.phrase} before they compare any signature.\n"
    )


def _parse_raw_request(raw: bytes, scheme: str) -> tuple[str, str, dict[str, str], bytes]:
    """Method, URL, headers and body from a saved HTTP/1.1 request (request line, headers, blank line, body)."""
    normalised = raw.replace(b"\r\n", b"\n")
    head, _, body = normalised.partition(b"\n\n")
    lines = head.decode("latin-1").split("\n")
    request_line = lines[0].split()
    if len(request_line) < 2:
        raise CliError("the request file does not start with a request line such as 'POST /path HTTP/1.1'")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "")
    if length.isascii() and length.isdigit():
        digits = length.lstrip("0") or "0"
        size = int(digits) if len(digits) <= 18 else len(raw)  # int() refuses over 4,300 digits
        body = raw.partition(b"\r\n\r\n")[2][:size] if b"\r\n\r\n" in raw else body[:size]
    elif body.endswith(b"\n"):
        body = body[:-1]  # the line break an editor adds at the end of a saved file, not a byte that was sent
    method, target = request_line[0].upper(), request_line[1]
    if split_url(target) is not None:
        return method, target, headers, body
    host = headers.get("host")
    if not host:
        raise CliError("the request has no Host header: give the URL instead")
    path, query = split_target(target)
    return method, f"{scheme}://{host}{path}{'?' + query if query else ''}", headers, body


# --- demo ---------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    return run_demo()


# --- helpers --------------------------------------------------------------------------------------


def _tokens(args: argparse.Namespace, *, required: bool = True) -> list[str]:
    if args.token:
        return [args.token]
    value = os.environ.get(args.token_env, "")
    tokens = [token.strip() for token in value.split(",") if token.strip()]
    if not tokens and required:
        raise CliError(f"no auth token: set ${args.token_env} (or choose another variable with --token-env)")
    return tokens


def _params(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, equals, value = item.partition("=")
        if not equals:
            raise CliError(f"-p wants NAME=VALUE, got {item!r}")
        pairs.append((name, value))
    return pairs


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def _is_form(body: bytes) -> bool:
    stripped = body.strip()
    return bool(stripped) and stripped[:1] not in (b"{", b"[") and b"=" in stripped


def _form(body: bytes) -> list[tuple[str, str]]:
    params = body_params("", "application/x-www-form-urlencoded", body.strip())
    if isinstance(params, Verdict):
        raise CliError(params.detail)
    return params if isinstance(params, list) else []
