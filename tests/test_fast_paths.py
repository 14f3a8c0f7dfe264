"""The middlewares' fast paths decide exactly as the general path would, and the app reads what was checked.

A genuine form webhook takes shortcuts: a one-HMAC form lane in front of the core's
check (``RequestValidator.accept_form_body``), one screen that caches the signature and
Content-Type, no charset parser for Twilio's exact Content-Type, ASGI headers read
in one comprehension unless a name repeats, a WSGI body read in one call, an ASGI
body taken whole from its first message, and a replay claim made only when there
is a key. Each test sends a request a shortcut could get wrong (a repeated header,
an odd signature or charset, a shared key, a short or broken read, a split body)
and pins the general path's decision or what the application reads; a few use raw
ASGI header lists and WSGI streams the shared harnesses cannot express.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.contract import FORM, PAIRS, TOKEN, form_body, sign
from tests.test_asgi import AsgiHarness, http_scope, run_asgi
from tests.test_wsgi import WsgiHarness
from twiliosig import Reason, RequestValidator
from twiliosig._guard import Guard, Head
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.replay import MemoryReplayStore
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

URL = "https://example.com/twilio/sms"
BODY = form_body(PAIRS)
GOOD = sign(URL, PAIRS)
KEY_ID, SHARED = "k1", "shared-secret-0123456789abcdef"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"

HARNESSES = [pytest.param(WsgiHarness, id="wsgi"), pytest.param(AsgiHarness, id="asgi")]


def hmac_signature(secret: str, message: str, digest: Any = hashlib.sha1) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), digest).digest()).decode()


def post(harness: Any, headers: dict[str, str], body: bytes = BODY, target: str = "/twilio/sms", **kw: Any) -> Any:
    return harness.send("POST", target, headers=headers, body=body, **kw)


# --- raw ASGI: header lists with repeats and odd names, and the first body message ---------------


def asgi_call(
    options: dict[str, Any],
    headers: list[tuple[bytes, bytes]],
    messages: list[dict[str, Any]],
    target: str = "/twilio/sms",
) -> tuple[int | None, list[bytes]]:
    """One raw ASGI request: the status sent (None if nothing was) and every body the app read."""
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        seen.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = http_scope(target, headers)
    sent = asyncio.run(run_asgi(AsgiMiddleware(app, **options), scope, messages))
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    return (statuses[0] if statuses else None), seen


def raw_headers(*pairs: tuple[str, str], host: str = "example.com") -> list[tuple[bytes, bytes]]:
    return [(b"host", host.encode())] + [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]


ONE_MESSAGE = [{"type": "http.request", "body": BODY}]


@pytest.mark.parametrize(
    "signatures",
    [
        pytest.param([("x-twilio-signature", GOOD), ("x-twilio-signature", "AAAA")], id="good-then-forged"),
        pytest.param([("x-twilio-signature", "AAAA"), ("x-twilio-signature", GOOD)], id="forged-then-good"),
        pytest.param([("x-twilio-signature", GOOD), ("x-twilio-signature", GOOD)], id="good-twice"),
        pytest.param([("X-Twilio-Signature", GOOD), ("x-twilio-signature", "AAAA")], id="names-differ-in-case"),
        pytest.param([("X-TWILIO-SIGNATURE", "AAAA"), ("x-twilio-signature", GOOD)], id="upper-then-lower"),
    ],
)
def test_a_repeated_signature_header_is_never_read_as_one_copy(signatures: list[tuple[str, str]]) -> None:
    """Two X-Twilio-Signature headers: joined as before, never first- or last-wins (the comprehension's dict)."""
    status, seen = asgi_call({"auth_token": TOKEN}, raw_headers(("content-type", FORM), *signatures), ONE_MESSAGE)
    assert status == 403
    assert not seen


def test_upper_case_header_names_without_repeats_still_work() -> None:
    """A server that does not lower-case names: the one-pass read lower-cases them as the loop did."""
    headers = raw_headers(("Content-Type", FORM), ("X-Twilio-Signature", GOOD), ("Content-Length", str(len(BODY))))
    status, seen = asgi_call({"auth_token": TOKEN}, headers, ONE_MESSAGE)
    assert status == 200
    assert seen == [BODY]


@pytest.mark.parametrize(
    "content_types",
    [
        pytest.param([FORM, "text/plain; charset=utf-7"], id="form-then-utf7"),
        pytest.param(["text/plain; charset=utf-7", FORM], id="utf7-then-form"),
        pytest.param([FORM, FORM + "; charset=iso-8859-1"], id="form-then-latin1"),
        pytest.param([FORM, FORM], id="form-twice"),
    ],
)
def test_a_repeated_content_type_is_refused(content_types: list[str]) -> None:
    """Two Content-Types: the joined value is not Twilio's, so the exact-match shortcut never applies."""
    headers = raw_headers(*[("content-type", value) for value in content_types], ("x-twilio-signature", GOOD))
    status, seen = asgi_call({"auth_token": TOKEN}, headers, ONE_MESSAGE)
    assert status in (400, 403)
    assert not seen


def test_a_repeated_host_is_refused() -> None:
    """Host twice (the genuine one first): the URL is rebuilt from the joined value and does not match."""
    headers = raw_headers(("host", "evil.example"), ("content-type", FORM), ("x-twilio-signature", GOOD))
    status, seen = asgi_call({"auth_token": TOKEN}, headers, ONE_MESSAGE)
    assert status in (400, 403)
    assert not seen


@pytest.mark.parametrize("client_host_signed", [False, True])
def test_repeated_forwarded_host_keeps_the_proxys_value(client_host_signed: bool) -> None:
    """trust_forwarded=True: the client's X-Forwarded-Host and the proxy's arrive as two headers; the proxy's wins."""
    signed_host = "client.example" if client_host_signed else "proxy.example"
    signature = sign(f"https://{signed_host}/twilio/sms", PAIRS)
    headers = raw_headers(
        ("content-type", FORM),
        ("x-forwarded-host", "client.example"),
        ("x-forwarded-host", "proxy.example"),
        ("x-twilio-signature", signature),
    )
    status, seen = asgi_call({"auth_token": TOKEN, "trust_forwarded": True}, headers, ONE_MESSAGE)
    assert status == (403 if client_host_signed else 200)
    assert len(seen) == (0 if client_host_signed else 1)


# --- Content-Type: only the exact Twilio value skips the charset parser ---------------------------

FOREIGN_CHARSETS = [
    FORM + "; charset=utf-7",
    FORM + ";charset=UTF-7",
    FORM.upper() + "; CHARSET=utf-7",
    " " + FORM + ' ; charset="utf-7"',
    FORM + "; charset=utf-8; charset=utf-7",
    FORM + "; charset*=utf-8''",
    FORM + "; Charset*0=utf-7",
    FORM + "\t; charset=latin-1",
]


@pytest.mark.parametrize("harness", HARNESSES)
@pytest.mark.parametrize("content_type", FOREIGN_CHARSETS)
def test_a_foreign_charset_is_refused_in_any_spelling(harness: Any, content_type: str) -> None:
    """Any case, spacing or quoting of a charset other than UTF-8 is refused, however close to Twilio's value."""
    outcome = post(harness(auth_token=TOKEN), {"Content-Type": content_type, "X-Twilio-Signature": GOOD})
    assert outcome.status == 400
    assert not outcome.seen


@pytest.mark.parametrize("harness", HARNESSES)
@pytest.mark.parametrize(
    "content_type", [FORM, FORM.upper(), " " + FORM + " ", FORM + "; charset=utf-8", FORM + ';charset="UTF8"']
)
def test_twilios_content_type_in_any_spelling_is_accepted(harness: Any, content_type: str) -> None:
    """The shortcut and the parser agree: every UTF-8 spelling of the form type reaches the app."""
    outcome = post(harness(auth_token=TOKEN), {"Content-Type": content_type, "X-Twilio-Signature": GOOD})
    assert outcome.status == 200
    assert outcome.seen[0].body == BODY


def test_a_foreign_charset_is_refused_before_the_body_is_read() -> None:
    """The charset refusal stays in the screen: not a byte of the body is read for it."""

    class Unreadable(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise AssertionError("the body was read")

    h = WsgiHarness(auth_token=TOKEN)
    headers = {"Content-Type": FORM + "; charset=utf-7", "X-Twilio-Signature": GOOD}
    environ = h.environ("POST", "/twilio/sms", headers, BODY, "https", "example.com", None)
    environ["wsgi.input"] = io.BufferedReader(Unreadable())
    assert h.call(environ).status == 400


# --- the signature itself -------------------------------------------------------------------------


@pytest.mark.parametrize("harness", HARNESSES)
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(" " + GOOD, id="leading-space"),
        pytest.param(GOOD + " ", id="trailing-space"),
        pytest.param(GOOD + "\t", id="trailing-tab"),
        pytest.param(GOOD[:-2] + "é=", id="non-ascii"),
        pytest.param(GOOD + "," + GOOD, id="joined-twice"),
        pytest.param(GOOD.rstrip("="), id="unpadded"),
        pytest.param(GOOD.replace("+", "-").replace("/", "_") + "A", id="urlsafe-longer"),
        pytest.param(" ", id="blank"),
    ],
)
def test_a_near_miss_signature_is_refused_not_crashed(harness: Any, signature: str) -> None:
    """What the lane hands to the general path (whitespace, non-ASCII, repeats): a refusal, never a 200 or a 500."""
    outcome = post(harness(auth_token=TOKEN), {"Content-Type": FORM, "X-Twilio-Signature": signature})
    assert outcome.status in (400, 403)
    assert not outcome.seen


@pytest.mark.parametrize(
    "signature",
    [GOOD, " " + GOOD, GOOD + "\n", GOOD[:-1], GOOD[:-2] + "é=", "", "AAAA", GOOD.lower(), GOOD + "=="],
)
@pytest.mark.parametrize(
    "settings", [None, "", " ", "key=k1", "keyid=k1", "algorithm=HMAC_SHA256", "key=nope", "key=k1,key=k1", "garbage"]
)
def test_the_lane_gives_checks_verdict_on_odd_signatures_and_settings(signature: str, settings: str | None) -> None:
    """The lane then ``check``, as the guard runs them, against ``check`` alone: byte for byte the verdict."""
    validator = RequestValidator(["rotated-out-token", TOKEN], shared_keys={KEY_ID: SHARED})
    lane = validator.accept_form_body(URL, BODY, signature, settings) or validator.check(
        URL, list(PAIRS), signature, signature_settings=settings
    )
    general = validator.check(URL, list(PAIRS), signature, signature_settings=settings)
    assert lane == general


@pytest.mark.parametrize(
    ("url", "body", "signature"),
    [
        pytest.param("/twilio/sms", BODY, sign("/twilio/sms", PAIRS), id="relative-url-signed-over-itself"),
        pytest.param("example.com/twilio/sms", BODY, sign("example.com/twilio/sms", PAIRS), id="no-scheme"),
        pytest.param(URL, BODY, None, id="no-signature"),
        pytest.param(URL, BODY, GOOD.encode(), id="signature-bytes"),
        pytest.param(URL, BODY.decode(), GOOD, id="body-str"),
        pytest.param(URL.encode(), BODY, GOOD, id="url-bytes"),
    ],
)
def test_the_public_pre_check_never_raises_and_never_accepts_what_check_refuses(
    url: Any, body: Any, signature: Any
) -> None:
    """The pre-check is public: odd input is declined (None) for ``check`` to judge, never accepted or raised on."""
    validator = RequestValidator(TOKEN)
    lane = validator.accept_form_body(url, body, signature)
    if lane is not None:
        assert lane == validator.check(url, list(PAIRS), signature)
    if not validator.check(url, list(PAIRS), signature).valid:
        assert lane is None


@pytest.mark.parametrize("pairs", [[("a", ["x"])], [("a",)]], ids=["a list as a value", "not a pair"])
def test_the_lane_refuses_params_that_are_not_text_pairs_even_under_a_url_only_signature(pairs: Any) -> None:
    """Parameters ``check`` cannot read (pairs a framework parsed) are refused, never signed as if there were none."""
    validator = RequestValidator(TOKEN)
    signature = sign(URL, [])
    headers = {"x-twilio-signature": signature, "content-type": FORM}
    check = Guard(auth_token=TOKEN).start(
        Head("POST", "/twilio/sms", "https", "example.com", "/twilio/sms", "", headers.get)
    )
    assert check is not None
    lane = check.finish_parsed(pairs).verdict
    assert lane == validator.check(URL, pairs, signature)
    assert lane.reason is Reason.MALFORMED_PARAMS


@pytest.mark.parametrize("harness", HARNESSES)
def test_a_genuine_webhook_is_accepted_in_one_pass_without_the_parser(harness: Any, monkeypatch: Any) -> None:
    """The common webhook takes the one-pass reading and one HMAC: the pair parser (the slow path) never runs."""

    def parser_called(body: bytes) -> list[tuple[str, str]]:
        raise AssertionError("a genuine form webhook went to the parser")

    monkeypatch.setattr("twiliosig._guard.parse_form", parser_called)
    outcome = post(harness(auth_token=TOKEN), {"X-Twilio-Signature": GOOD, "Content-Type": FORM})
    assert outcome.status == 200


# --- shared keys, settings and looked-up tokens: the lane must step aside -------------------------


def params_text(pairs: list[tuple[str, str]]) -> str:
    return "".join(name + value for name, value in sorted(set(pairs)))


@pytest.mark.parametrize("harness", HARNESSES)
def test_a_token_signature_with_a_shared_key_setting_is_refused(harness: Any) -> None:
    """The settings header names a shared key: a signature made with the auth token must not pass the lane."""
    h = harness(auth_token=TOKEN, shared_keys={KEY_ID: SHARED})
    outcome = post(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD, SETTINGS: f"key={KEY_ID}"})
    assert outcome.status == 403
    assert not outcome.seen


@pytest.mark.parametrize("harness", HARNESSES)
def test_a_sha1_token_signature_under_a_sha256_setting_is_refused(harness: Any) -> None:
    """The settings header says HMAC-SHA256: the lane's SHA-1 check must not accept the token's SHA-1 signature."""
    outcome = post(
        harness(auth_token=TOKEN), {"Content-Type": FORM, "X-Twilio-Signature": GOOD, SETTINGS: "algorithm=HMAC_SHA256"}
    )
    assert outcome.status == 403
    assert not outcome.seen


@pytest.mark.parametrize("harness", HARNESSES)
@pytest.mark.parametrize("algorithm", ["HMAC_SHA1", "HMAC_SHA256"])
def test_a_shared_key_webhook_is_accepted(harness: Any, algorithm: str) -> None:
    """The general path still serves shared keys, alongside an auth token."""
    digest = hashlib.sha256 if algorithm == "HMAC_SHA256" else hashlib.sha1
    signature = hmac_signature(SHARED, URL + params_text(PAIRS), digest)
    h = harness(auth_token=TOKEN, shared_keys={KEY_ID: SHARED})
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature, SETTINGS: f"key={KEY_ID},algorithm={algorithm}"}
    outcome = post(h, headers)
    assert outcome.status == 200
    assert outcome.seen[0].verdict.valid


@pytest.mark.parametrize("harness", HARNESSES)
def test_a_shared_key_signature_without_settings_is_refused(harness: Any) -> None:
    """Without the settings header only the auth token is tried: a shared-key signature is not a token's."""
    signature = hmac_signature(SHARED, URL + params_text(PAIRS))
    outcome = post(
        harness(auth_token=TOKEN, shared_keys={KEY_ID: SHARED}), {"Content-Type": FORM, "X-Twilio-Signature": signature}
    )
    assert outcome.status == 403


@pytest.mark.parametrize("harness", HARNESSES)
def test_looked_up_tokens_still_refuse_an_ambiguous_account(harness: Any) -> None:
    """A token lookup goes to the general path, which refuses two AccountSids (body and query)."""
    account = dict(PAIRS)["AccountSid"]
    other = "AC" + "2" * 32
    target = f"/twilio/sms?AccountSid={other}"
    signature = sign(f"https://example.com{target}", PAIRS)
    h = harness(auth_token=lambda sid: TOKEN if sid in (account, other) else None)
    outcome = post(h, {"Content-Type": FORM, "X-Twilio-Signature": signature}, target=target)
    assert outcome.status == 403
    assert not outcome.seen


@pytest.mark.parametrize("harness", HARNESSES)
def test_the_middlewares_verdict_is_checks_verdict_under_rotation(harness: Any) -> None:
    """Two tokens, the second signs: the verdict the app reads is the very one ``check`` gives."""
    tokens = ["rotated-out-token-000000000000", TOKEN]
    outcome = post(harness(auth_token=tokens), {"Content-Type": FORM, "X-Twilio-Signature": GOOD})
    assert outcome.status == 200
    expected = RequestValidator(tokens).check(URL, list(PAIRS), GOOD)
    assert outcome.seen[0].verdict == expected


@pytest.mark.parametrize("harness", HARNESSES)
def test_a_utf16_ordered_signature_still_passes_the_general_path(harness: Any) -> None:
    """An astral name against U+E000..U+FFFF signed in UTF-16 order (Java, Node): the lane misses, check accepts."""
    pairs = [("\U0001f600", "a"), ("\ue000", "b")]
    utf16 = "".join(n + v for n, v in sorted(pairs, key=lambda pair: pair[0].encode("utf-16-be")))
    signature = hmac_signature(TOKEN, URL + utf16)
    assert signature != sign(URL, pairs)  # the orders really differ
    outcome = post(
        harness(auth_token=TOKEN), {"Content-Type": FORM, "X-Twilio-Signature": signature}, body=form_body(pairs)
    )
    assert outcome.status == 200
    assert outcome.seen[0].verdict == RequestValidator(TOKEN).check(URL, pairs, signature)


# --- bodySHA256: a form body never passes as parameters -------------------------------------------

HASH_NAMES = ["bodySHA256", "bodySHA%32%356", "body%53HA256", "%62odySHA256"]


@pytest.mark.parametrize("harness", HARNESSES)
@pytest.mark.parametrize("name", HASH_NAMES)
def test_a_form_body_under_an_escaped_body_hash_is_refused(harness: Any, name: str) -> None:
    """bodySHA256 in any escaped spelling with a form body signed as parameters: never checked as a form."""
    target = f"/twilio/sms?{name}={hashlib.sha256(b'{}').hexdigest()}"
    signature = sign(f"https://example.com{target}", PAIRS)
    outcome = post(harness(auth_token=TOKEN), {"Content-Type": FORM, "X-Twilio-Signature": signature}, target=target)
    assert outcome.status == 403
    assert not outcome.seen


@pytest.mark.parametrize("name", HASH_NAMES)
def test_parsed_pairs_under_an_escaped_body_hash_are_refused(name: str) -> None:
    """``finish_parsed`` (FastAPI, Flask) reaches the lane itself: it must still demand the raw body."""
    target = f"/twilio/sms?{name}={hashlib.sha256(b'{}').hexdigest()}"
    url = f"https://example.com{target}"
    headers = {"x-twilio-signature": sign(url, PAIRS), "content-type": FORM}
    path, _, query = target.partition("?")
    check = Guard(auth_token=TOKEN).check(Head("POST", path, "https", "example.com", path, query, headers.get))
    decision = check.finish_parsed(list(PAIRS))
    assert not decision.verdict.valid
    assert decision.verdict.reason is Reason.RAW_BODY_REQUIRED
    assert decision.refusal is not None


def test_a_raw_body_under_an_escaped_body_hash_is_accepted() -> None:
    """The escaped name is still read as bodySHA256 for a genuine JSON body (no regression the other way)."""
    raw = b'{"a": 1}'
    target = f"/twilio/sms?bodySHA%32%356={hashlib.sha256(raw).hexdigest()}"
    signature = sign(f"https://example.com{target}")
    for harness in (WsgiHarness, AsgiHarness):
        headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
        outcome = post(harness(auth_token=TOKEN), headers, body=raw, target=target)
        assert outcome.status == 200
        assert outcome.seen[0].body == raw


# --- the WSGI body read: whatever each read() gives, bounded -----------------------------------------


class Trickle(io.RawIOBase):
    """A stream that gives at most ``step`` bytes per read (a slow client, a small server buffer)."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__()
        self._data = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._step if size is None or size < 0 else min(size, self._step))


def wsgi_environ(h: WsgiHarness, headers: dict[str, str], body: bytes, *, chunked: bool = False) -> dict[str, Any]:
    return h.environ("POST", "/twilio/sms", headers, body, "https", "example.com", [body] if chunked else None)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("step", [1, 7, 4096])
def test_a_body_that_arrives_in_short_reads_is_read_whole(step: int, chunked: bool) -> None:
    """The first read returns less than asked: the loop reads the rest, and the app sees it all."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY, chunked=chunked)
    environ["wsgi.input"] = Trickle(BODY, step)
    outcome = h.call(environ, validate=False)
    assert outcome.status == 200
    assert outcome.seen[0].body == BODY


def test_a_stream_that_returns_more_than_asked_is_checked_on_what_the_app_reads() -> None:
    """A server stream that ignores the size: the unsigned extra bytes are checked too (and refuse), never dropped."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY)
    extra = BODY + b"&Body=forged"

    class Greedy:
        def read(self, size: int = -1) -> bytes:
            nonlocal extra
            data, extra = extra, b""
            return data

    environ["wsgi.input"] = Greedy()
    outcome = h.call(environ, validate=False)
    assert outcome.status == 403
    assert not outcome.seen


def test_a_stream_that_breaks_midway_is_400() -> None:
    """The first read gives part of the body, the second raises (a reset connection): refused, app not run."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY)

    class Breaks:
        calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError
            return BODY[:10]

    environ["wsgi.input"] = Breaks()
    outcome = h.call(environ, validate=False)
    assert outcome.status == 400
    assert not outcome.seen


@pytest.mark.parametrize("chunked", [False, True])
def test_a_stream_whose_first_read_is_empty_is_not_a_body_less_request(chunked: bool) -> None:
    """Nothing to read although a body was declared: 400 with a length; without one, checked as empty (403 here)."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY, chunked=chunked)
    environ["wsgi.input"] = io.BytesIO(b"")
    outcome = h.call(environ, validate=False)
    assert outcome.status == (403 if chunked else 400)
    assert not outcome.seen


@pytest.mark.parametrize("chunked", [False, True])
def test_a_stream_read_that_returns_none_is_refused_not_raised(chunked: bool) -> None:
    """``read()`` answering None (io.RawIOBase without data): before the rewrite a refusal, never an exception."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY, chunked=chunked)

    class NoData:
        def read(self, size: int = -1) -> None:
            return None

    environ["wsgi.input"] = NoData()
    outcome = h.call(environ, validate=False)
    assert outcome.status in (400, 403)
    assert not outcome.seen


def limit_body(size: int) -> tuple[bytes, str]:
    """A signed form body of exactly ``size`` bytes, and its signature."""
    body = b"a=" + b"x" * (size - 2)
    return body, sign(URL, [("a", "x" * (size - 2))])


# --- the ASGI first message -----------------------------------------------------------------------


def signed(size: int | None = None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body, signature = (BODY, GOOD) if size is None else limit_body(size)
    return body, raw_headers(("content-type", FORM), ("x-twilio-signature", signature))


@pytest.mark.parametrize(
    "first",
    [
        pytest.param({}, id="more_body-missing"),
        pytest.param({"more_body": False}, id="more_body-false"),
        pytest.param({"more_body": None}, id="more_body-none"),
        pytest.param({"more_body": 0}, id="more_body-zero"),
    ],
)
def test_a_whole_body_in_one_message(first: dict[str, Any]) -> None:
    """Every falsy ``more_body`` means the body is whole: taken directly, and given to the app once."""
    body, headers = signed()
    status, seen = asgi_call({"auth_token": TOKEN}, headers, [{"type": "http.request", "body": body, **first}])
    assert status == 200
    assert seen == [body]


@pytest.mark.parametrize("split", [0, 1, 10])
def test_a_body_that_starts_with_more_body_is_read_to_the_end(split: int) -> None:
    """The first message says more is coming (even an empty one): the loop reads on, the app sees it whole."""
    body, headers = signed()
    messages = [
        {"type": "http.request", "body": body[:split], "more_body": True},
        {"type": "http.request", "body": body[split:], "more_body": False},
    ]
    status, seen = asgi_call({"auth_token": TOKEN}, headers, messages)
    assert status == 200
    assert seen == [body]


def test_a_forged_tail_after_a_signed_first_message_is_refused() -> None:
    """The signed body, then more_body=True and a forged pair: the whole body is checked, not the first message."""
    body, headers = signed()
    messages = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.request", "body": b"&Body=forged", "more_body": False},
    ]
    status, seen = asgi_call({"auth_token": TOKEN}, headers, messages)
    assert status == 403
    assert not seen


def test_a_disconnect_first_runs_nothing() -> None:
    """``http.disconnect`` as the first message: no answer, and the app never runs."""
    _, headers = signed()
    status, seen = asgi_call({"auth_token": TOKEN}, headers, [{"type": "http.disconnect"}])
    assert status is None
    assert not seen


def test_a_disconnect_midway_runs_nothing() -> None:
    """Part of the body, then the client leaves: no answer, and the app never runs."""
    body, headers = signed()
    messages = [{"type": "http.request", "body": body[:5], "more_body": True}, {"type": "http.disconnect"}]
    status, seen = asgi_call({"auth_token": TOKEN}, headers, messages)
    assert status is None
    assert not seen


def test_a_message_without_a_body_under_a_declared_length_is_400() -> None:
    """``http.request`` without ``body`` although Content-Length says 50: unreadable, not an empty form."""
    headers = raw_headers(("content-type", FORM), ("content-length", "50"), ("x-twilio-signature", sign(URL)))
    status, seen = asgi_call({"auth_token": TOKEN}, headers, [{"type": "http.request"}])
    assert status == 400
    assert not seen


def test_a_none_body_in_the_first_message_is_refused_not_raised() -> None:
    """A server that sends ``body: None``: before the rewrite read as no body (400 under a declared length)."""
    headers = raw_headers(("content-type", FORM), ("content-length", "50"), ("x-twilio-signature", GOOD))
    status, seen = asgi_call({"auth_token": TOKEN}, headers, [{"type": "http.request", "body": None}])
    assert status == 400
    assert not seen


# --- replay claims: still made on both adapters, once across layers ---------------------------------


@pytest.mark.parametrize("harness", HARNESSES)
def test_the_claim_is_made_on_the_one_message_and_one_read_paths(harness: Any) -> None:
    """The common request (whole body, one read) is still claimed: its copy is a 409."""
    store = MemoryReplayStore(ttl=60)
    h = harness(auth_token=TOKEN, replay_guard=store)
    headers = {"Content-Type": FORM, "X-Twilio-Signature": GOOD}
    assert post(h, headers).status == 200
    assert len(store) == 1
    again = post(h, headers)
    assert again.status == 409
    assert not again.seen


def test_the_claim_is_made_on_the_chunked_and_split_paths() -> None:
    """The slower paths (WSGI chunked, ASGI in two messages) claim too."""
    store = MemoryReplayStore(ttl=60)
    h = WsgiHarness(auth_token=TOKEN, replay_guard=store)
    headers = {"Content-Type": FORM, "X-Twilio-Signature": GOOD}
    assert h.send("POST", "/twilio/sms", headers=headers, chunks=[BODY[:9], BODY[9:]]).status == 200
    assert h.send("POST", "/twilio/sms", headers=headers, chunks=[BODY]).status == 409
    body, raw = signed()
    split = [{"type": "http.request", "body": body[:9], "more_body": True}, {"type": "http.request", "body": body[9:]}]
    options = {"auth_token": TOKEN, "replay_guard": MemoryReplayStore(ttl=60)}
    assert asgi_call(options, raw, split)[0] == 200
    assert asgi_call(options, raw, [{"type": "http.request", "body": body}]) == (409, [])


def test_a_get_webhook_is_claimed() -> None:
    """A GET (no body at all) is still claimed on both adapters."""
    query = urlencode([("CallSid", "CA1")])
    signature = sign(f"{URL}?{query}")
    for harness in (WsgiHarness, AsgiHarness):
        h = harness(auth_token=TOKEN, replay_guard=MemoryReplayStore(ttl=60))
        headers = {"X-Twilio-Signature": signature}
        assert h.send("GET", f"/twilio/sms?{query}", headers=headers).status == 200
        assert h.send("GET", f"/twilio/sms?{query}", headers=headers).status == 409


class Recorder:
    def __init__(self) -> None:
        self.calls = 0


def wsgi_stack(outer: dict[str, Any], inner: dict[str, Any]) -> tuple[Any, Recorder]:
    recorder = Recorder()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read()
        recorder.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return WsgiMiddleware(WsgiMiddleware(app, **inner), **outer), recorder


def wsgi_status(app: Any) -> int:
    environ = wsgi_environ(WsgiHarness(auth_token=TOKEN), {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY)
    captured: list[str] = []
    result = app(environ, lambda status, headers, exc_info=None: captured.append(status))
    b"".join(result)
    getattr(result, "close", lambda: None)()
    return int(captured[0].split()[0])


def asgi_stack(outer: dict[str, Any], inner: dict[str, Any]) -> tuple[Any, Recorder]:
    recorder = Recorder()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        recorder.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return AsgiMiddleware(AsgiMiddleware(app, **inner), **outer), recorder


def asgi_status(app: Any) -> int:
    body, headers = signed()
    scope = http_scope("/twilio/sms", headers)
    sent = asyncio.run(run_asgi(app, scope, [{"type": "http.request", "body": body}]))
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


STACKS = [pytest.param(wsgi_stack, wsgi_status, id="wsgi"), pytest.param(asgi_stack, asgi_status, id="asgi")]


@pytest.mark.parametrize(("stack", "status"), STACKS)
@pytest.mark.parametrize("layout", ["same-store", "outer-only", "inner-only", "two-stores"])
def test_two_middleware_layers_claim_once(stack: Any, status: Any, layout: str) -> None:
    """Middleware over middleware: a genuine request is not its own replay, and its copy is refused by someone."""
    shared = MemoryReplayStore(ttl=60)
    stores = {
        "same-store": (shared, shared),
        "outer-only": (shared, None),
        "inner-only": (None, shared),
        "two-stores": (shared, MemoryReplayStore(ttl=60)),
    }[layout]
    outer, inner = ({"auth_token": TOKEN, "replay_guard": store} for store in stores)
    app, recorder = stack(outer, inner)
    assert status(app) == 200
    assert recorder.calls == 1
    assert status(app) == 409
    assert recorder.calls == 1


@pytest.mark.parametrize(("stack", "status"), STACKS)
def test_a_report_only_outer_layer_does_not_claim_for_the_inner_one(stack: Any, status: Any) -> None:
    """A report-only outer layer with a forged signature claims nothing; the inner strict layer still refuses."""
    store = MemoryReplayStore(ttl=60)
    app, recorder = stack(
        {"auth_token": "other-token-0000", "report_only": True, "replay_guard": store},
        {"auth_token": TOKEN, "replay_guard": store},
    )
    assert status(app) == 200  # genuine for the inner layer, forged for the outer
    assert status(app) == 409
    assert recorder.calls == 1


def test_replay_key_is_the_screens_signature() -> None:
    """The key claimed is the one of the signature the screen read (cached), as ``replay_key`` names it."""
    from twiliosig.replay import replay_key

    store = MemoryReplayStore(ttl=60)
    h = WsgiHarness(auth_token=TOKEN, replay_guard=store)
    assert post(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}).status == 200
    assert not store.claim(replay_key(GOOD))


# --- URL and Head pieces the rewrite inlined --------------------------------------------------------


@pytest.mark.parametrize("harness", HARNESSES)
@pytest.mark.parametrize(
    "host", ["example.com\n", "example.com/evil", "exa mple.com", "example.com@evil", "ex\u00e9.com"]
)
def test_a_host_that_cannot_stand_in_a_url_is_refused(harness: Any, host: str) -> None:
    """The inlined host check still refuses what would change the URL's structure (400 or 403, never the app)."""
    outcome = post(
        harness(auth_token=TOKEN),
        {"Content-Type": FORM, "X-Twilio-Signature": sign(f"https://{host}/twilio/sms", PAIRS)},
        host=host,
    )
    assert outcome.status in (400, 403)
    assert not outcome.seen


@pytest.mark.parametrize("harness", HARNESSES)
def test_a_non_ascii_path_is_signed_as_sent(harness: Any) -> None:
    """PATH_INFO / raw path with UTF-8: the ASCII fast path does not change how the URL is rebuilt."""
    target = "/twilio/" + quote("café")
    url = f"https://example.com{target}"
    outcome = post(
        harness(auth_token=TOKEN), {"Content-Type": FORM, "X-Twilio-Signature": sign(url, PAIRS)}, target=target
    )
    assert outcome.status == 200


def test_a_non_ascii_wsgi_host_header_is_decoded_as_before() -> None:
    """A latin-1 native string Host (UTF-8 bytes): decoded, then refused as not a URL host, as before."""
    h = WsgiHarness(auth_token=TOKEN)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY)
    environ["HTTP_HOST"] = "exa\u00c3\u00a9mple.com"
    outcome = h.call(environ, validate=False)
    assert outcome.status == 400
    assert not outcome.seen


@pytest.mark.parametrize("chunked", [False, True])
def test_no_read_asks_for_more_than_a_chunk(chunked: bool) -> None:
    """A stream may allocate all it is asked for before a byte arrives: with a large ``max_body_size``, one
    tiny chunked request must not make the server allocate the whole limit (the first read is bounded too)."""
    h = WsgiHarness(auth_token=TOKEN, max_body_size=50 * 1024 * 1024)
    environ = wsgi_environ(h, {"Content-Type": FORM, "X-Twilio-Signature": GOOD}, BODY, chunked=chunked)
    asked: list[int] = []
    stream = environ["wsgi.input"]

    class Recording:
        def read(self, size: int = -1) -> bytes:
            asked.append(size)
            return bytes(stream.read(size))

    environ["wsgi.input"] = Recording()
    outcome = h.call(environ, validate=False)
    assert outcome.status == 200
    assert asked
    assert max(asked) <= 64 * 1024
