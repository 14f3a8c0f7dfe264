"""The guard driven directly, as an adapter drives it: head, body, claim, settle.

Every adapter shares these decisions, so the rules no single adapter test pins
down (what a refusal's verdict says, which requests the replay guard claims,
how Basic credentials are read, when an empty body counts as unread) are
stated here once, without a server or a framework.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import pytest

from twiliosig import Reason, compute_signature
from twiliosig._guard import Decision, Guard, Head
from twiliosig.replay import MemoryReplayStore, StoreUnavailable, replay_key

TOKEN = "guard-test-token-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
BODY = b"From=%2B15005550006&Body=hi"
PAIRS = [("From", "+15005550006"), ("Body", "hi")]


def head(
    target: str = "/twilio/sms",
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    websocket: bool = False,
) -> Head:
    """The head of a request to https://example.com with these headers (names in any case)."""
    path, _, query = target.partition("?")
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    return Head(method, path, "https", "example.com", path, query, lowered.get, websocket)


def signed(pairs: list[tuple[str, str]] | None = PAIRS, url: str = "https://example.com/twilio/sms") -> dict[str, str]:
    """The headers of a form POST Twilio signed for ``url``."""
    return {"Content-Type": FORM, "X-Twilio-Signature": compute_signature(TOKEN, url, pairs)}


def through(guard: Guard, request: Head, body: bytes = BODY) -> Decision:
    """What a synchronous adapter decides for one request: the head, then the body, then the replay claim."""
    check = guard.start(request)
    assert check is not None
    return check.decision or guard.claim(check.finish(body))


class Down(MemoryReplayStore):
    """A replay store that cannot be reached."""

    def claim(self, key: str) -> str | None:
        raise StoreUnavailable("connection refused")


HEAD_REFUSALS: dict[str, tuple[Head, dict[str, Any]]] = {
    "method": (head(headers=signed(), method="PUT"), {}),
    "absolute-form": (head(headers=signed())._replace(raw_path="http://example.com/twilio/sms"), {}),
    "no-host": (head(headers=signed())._replace(host=None), {}),
    "unusable-host": (head(headers=signed())._replace(host="example.com/x?"), {}),
    "bad-forwarded-host": (head(headers={**signed(), "X-Forwarded-Host": "a b"}), {"trust_forwarded": True}),
    "no-credentials": (head(headers=signed()), {"basic_auth": {"twilio": "pw"}}),
    "not-https": (head(headers=signed())._replace(scheme="http"), {"require_https": True}),
    "no-signature": (head(headers={"Content-Type": FORM}), {}),
    "bad-content-length": (head(headers={**signed(), "Content-Length": "1e3"}), {}),
    "foreign-charset": (head(headers={**signed(), "Content-Type": FORM + ";charset=utf-7"}), {}),
    "foreign-charset-holding-equals": (head(headers={**signed(), "Content-Type": FORM + '; charset="x=y"'}), {}),
}


def refused(case: str, **options: Any) -> Decision:
    """The decision for one kind of refusal that is not a signature mismatch."""
    if case in HEAD_REFUSALS:
        request, more = HEAD_REFUSALS[case]
        return through(Guard(auth_token=TOKEN, **more, **options), request)
    if case == "raw-non-ascii-form":
        return through(Guard(auth_token=TOKEN, **options), head(headers=signed()), "Body=café".encode())
    if case == "declared-too-large":
        guard = Guard(auth_token=TOKEN, max_body_size=10, **options)
        return through(guard, head(headers={**signed(), "Content-Length": "11"}))
    guard = Guard(auth_token=TOKEN, replay_guard=Down() if case == "store-down" else MemoryReplayStore(), **options)
    check = guard.start(head(headers=signed()))
    assert check is not None
    if case == "overflowed":
        return check.overflowed(2_000_000)
    if case == "unreadable":
        return check.unreadable()
    if case == "files":
        return check.finish_parsed(PAIRS, files=True)
    if case == "replayed":
        guard.claim(check.finish(BODY))
        return through(guard, head(headers=signed()))
    return guard.claim(check.finish(BODY))  # store-down


REFUSALS = [
    ("method", Reason.METHOD_NOT_ALLOWED, 405),
    ("absolute-form", Reason.MALFORMED_URL, 400),
    ("no-host", Reason.MALFORMED_URL, 400),
    ("unusable-host", Reason.MALFORMED_URL, 400),
    ("bad-forwarded-host", Reason.MALFORMED_URL, 400),
    ("no-credentials", Reason.UNAUTHORIZED, 401),
    ("not-https", Reason.NOT_HTTPS, 403),
    ("no-signature", Reason.MISSING_SIGNATURE, 403),
    ("bad-content-length", Reason.MALFORMED_BODY, 400),
    ("foreign-charset", Reason.MALFORMED_BODY, 400),
    ("foreign-charset-holding-equals", Reason.MALFORMED_BODY, 400),
    ("raw-non-ascii-form", Reason.MALFORMED_BODY, 400),
    ("declared-too-large", Reason.BODY_TOO_LARGE, 413),
    ("overflowed", Reason.BODY_TOO_LARGE, 413),
    ("unreadable", Reason.MALFORMED_BODY, 400),
    ("files", Reason.UNSIGNED_BODY, 403),
    ("replayed", Reason.REPLAYED, 409),
    ("store-down", Reason.REPLAY_STORE_UNAVAILABLE, 503),
]


@pytest.mark.parametrize(("case", "reason", "status"), REFUSALS, ids=[case for case, _, _ in REFUSALS])
def test_every_refusal_says_invalid_and_why(case: str, reason: Reason, status: int) -> None:
    """A refusal's verdict is invalid, names its reason and explains it; on_reject gets that same verdict."""
    rejected: list[Any] = []
    decision = refused(case, on_reject=lambda verdict, info: rejected.append(verdict))
    assert decision.refusal is not None
    assert decision.refusal.status == status
    assert decision.refusal.status_line.startswith(f"{status} ")
    assert dict(decision.refusal.headers)["Content-Length"] == str(len(decision.refusal.body))
    assert decision.verdict.valid is False
    assert decision.verdict.reason is reason
    assert decision.verdict.detail
    assert decision.request.path == "/twilio/sms"
    assert rejected == [decision.verdict]


@pytest.mark.parametrize(("case", "reason", "status"), REFUSALS, ids=[case for case, _, _ in REFUSALS])
def test_report_only_lets_through_a_verdict_that_still_says_invalid(case: str, reason: Reason, status: int) -> None:
    """Under report_only the app is called, and the verdict it finds still says the request was not genuine."""
    decision = refused(case, report_only=True)
    assert decision.refusal is None
    assert decision.verdict.valid is False
    assert decision.verdict.reason is reason


@pytest.mark.parametrize(
    ("pairs", "valid"),
    [
        pytest.param(PAIRS, True, id="genuine"),
        pytest.param([*PAIRS, ("Extra", "1")], False, id="added-pair"),
    ],
)
def test_a_form_the_framework_parsed_is_checked_as_those_pairs(pairs: list[tuple[str, str]], valid: bool) -> None:
    """When the framework read the form first (FastAPI), the pairs it parsed are the ones checked."""
    check = Guard(auth_token=TOKEN).start(head(headers=signed()))
    assert check is not None
    decision = check.finish_parsed(pairs)
    assert decision.verdict.valid is valid
    assert (decision.refusal is None) is valid


def test_a_genuine_request_is_remembered_by_its_signature() -> None:
    """With a replay guard, an accepted request's key is the replay key of its signature."""
    guard = Guard(auth_token=TOKEN, replay_guard=MemoryReplayStore())
    headers = signed()
    decision = through(guard, head(headers=headers))
    assert decision.refusal is None
    assert decision.replay_key == replay_key(headers["X-Twilio-Signature"])


def test_a_refused_request_is_never_remembered() -> None:
    """A forged request refused twice is refused twice for its signature, never as a replay of itself."""
    store = MemoryReplayStore()
    guard = Guard(auth_token=TOKEN, replay_guard=store)
    forged = {**signed(), "X-Twilio-Signature": compute_signature("not-the-token", "https://example.com/", PAIRS)}
    for _ in range(2):
        assert through(guard, head(headers=forged)).verdict.reason is Reason.SIGNATURE_MISMATCH
    assert len(store) == 0


def test_a_websocket_handshake_is_never_taken_for_a_replay() -> None:
    """Every stream to a URL carries the same signature: each handshake is let through, sync and async."""
    store = MemoryReplayStore()
    guard = Guard(auth_token=TOKEN, replay_guard=store)
    handshake = head(
        "/twilio/media",
        {"X-Twilio-Signature": compute_signature(TOKEN, "wss://example.com/twilio/media")},
        method="GET",
        websocket=True,
    )
    for _ in range(2):
        check = guard.start(handshake)
        assert check is not None
        finished = check.finish()
        assert finished.verdict.valid
        assert finished.replay_key is None
        assert guard.claim(finished).refusal is None
        assert asyncio.run(guard.aclaim(finished)).refusal is None
    assert len(store) == 0


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        pytest.param({}, b"", None, id="no-content-length"),
        pytest.param({"Content-Length": "0"}, b"", None, id="content-length-0"),
        pytest.param({"Content-Length": "1"}, b"", Reason.MALFORMED_BODY, id="content-length-1"),
        pytest.param({"Content-Length": "27"}, b"", Reason.MALFORMED_BODY, id="declared-body-missing"),
    ],
)
def test_an_empty_body_counts_as_unread_only_when_one_was_declared(
    headers: dict[str, str], body: bytes, reason: Reason | None
) -> None:
    """A request signed over the URL alone is accepted without a body, refused if it declared one nobody read."""
    guard = Guard(auth_token=TOKEN)
    decision = through(guard, head(headers={**signed(None), **headers}), body)
    if reason is None:
        assert decision.refusal is None
        assert decision.verdict.valid
    else:
        assert decision.refusal is not None
        assert decision.verdict.reason is reason


def basic(credentials: str, separator: str = " ") -> str:
    """An Authorization header value carrying ``user:password`` in Basic form."""
    return "Basic" + separator + base64.b64encode(credentials.encode()).decode()


VALID = basic("twilio:pa:ss")


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        pytest.param(VALID, True, id="colon-in-password"),
        pytest.param(basic("backup:other"), True, id="second-user"),
        pytest.param(basic("twilio:pa:ss", "  "), True, id="two-spaces"),
        pytest.param(basic("twilio:pa"), False, id="password-cut-at-its-colon"),
        pytest.param(basic("twilio:other"), False, id="other-users-password"),
        pytest.param(VALID[:10] + "!" + VALID[10:], False, id="not-base64"),
    ],
)
def test_basic_credentials(authorization: str, accepted: bool) -> None:
    """Each configured user with its own password, a password may hold ':', and the credentials must be base64."""
    guard = Guard(auth_token=TOKEN, basic_auth={"twilio": "pa:ss", "backup": "other"})
    decision = through(guard, head(headers={**signed(), "Authorization": authorization}))
    assert (decision.refusal is None) is accepted
    if not accepted:
        assert decision.verdict.reason is Reason.UNAUTHORIZED


@pytest.mark.parametrize(
    ("headers", "options"),
    [
        pytest.param({"Content-Length": "27"}, {"max_body_size": 27}, id="content-length-at-the-limit"),
        pytest.param({"Content-Type": FORM + '; charset="utf-8"'}, {}, id="quoted-utf-8-charset"),
    ],
)
def test_accepted_at_the_edges(headers: dict[str, str], options: dict[str, Any]) -> None:
    """A body exactly max_body_size long, and a charset of "utf-8" in quotes, are a genuine request's."""
    decision = through(Guard(auth_token=TOKEN, **options), head(headers={**signed(), **headers}))
    assert decision.refusal is None
    assert decision.verdict.valid


def test_require_https_accepts_a_secure_websocket() -> None:
    """A handshake Twilio made over wss:// passes require_https."""
    url = "wss://example.com/twilio/media"
    handshake = head(
        "/twilio/media", {"X-Twilio-Signature": compute_signature(TOKEN, url)}, method="GET", websocket=True
    )
    check = Guard(auth_token=TOKEN, require_https=True).start(handshake)
    assert check is not None
    assert check.decision is None
    assert check.finish().verdict.valid


def test_a_decorated_view_is_checked_wherever_it_is_routed() -> None:
    """Guard.check ignores paths: a view decorated outside the protected prefixes is still checked."""
    guard = Guard(auth_token=TOKEN, paths=["/twilio/"])
    assert guard.start(head("/elsewhere", {"Content-Type": FORM})) is None
    check = guard.check(head("/elsewhere", {"Content-Type": FORM}))
    assert check.decision is not None
    assert check.decision.verdict.reason is Reason.MISSING_SIGNATURE


def test_url_variants_narrowed_by_the_user_are_honoured() -> None:
    """With url_variants=UrlVariant.NONE a signature for the trailing-slash form is refused."""
    from twiliosig import UrlVariant

    headers = signed(url="https://example.com/twilio/sms/")
    assert through(Guard(auth_token=TOKEN), head(headers=headers)).refusal is None
    narrowed = Guard(auth_token=TOKEN, url_variants=UrlVariant.NONE)
    assert through(narrowed, head(headers=headers)).verdict.reason is Reason.SIGNATURE_MISMATCH


def test_shared_keys_alone_are_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TWILIO_AUTH_TOKEN, shared_keys alone build a guard that checks shared-key webhooks."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    guard = Guard(shared_keys={"k": "shared-secret"})
    url = "https://example.com/twilio/sms"
    headers = {
        "Content-Type": FORM,
        "X-Twilio-Signature": compute_signature("shared-secret", url, PAIRS, algorithm="HMAC_SHA256"),
        "X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_SHA256",
    }
    assert through(guard, head(headers=headers)).verdict.valid


def test_a_json_webhook_signed_with_a_shared_key_is_checked_with_that_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A raw body (bodySHA256 in the URL) goes to the core with the signature settings header, as a form does.

    Event Streams sign JSON with a shared key and HMAC-SHA256: without the header
    the core would check it with the auth token and refuse every genuine delivery.
    """
    from twiliosig import body_sha256

    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    guard = Guard(auth_token=TOKEN, shared_keys={"k": "shared-secret"})
    body = b'[{"type": "com.twilio.messaging.message.delivered"}]'
    target = "/twilio/events?bodySHA256=" + body_sha256(body)
    url = "https://example.com" + target
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": compute_signature("shared-secret", url, None, algorithm="HMAC_SHA256"),
        "X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_SHA256",
    }
    decision = through(guard, head(target, headers), body)
    assert decision.verdict.valid, decision.verdict.detail
    assert decision.verdict.algorithm == "HMAC_SHA256"


def test_the_log_line_names_scheme_and_host_never_the_query(caplog: pytest.LogCaptureFixture) -> None:
    """A refused GET's log line shows the rebuilt scheme and host, not its query (the parameters)."""
    target = "/twilio/sms?Body=s3cret/part&Next=http://s3cret"
    with caplog.at_level("WARNING", logger="twiliosig"):
        through(Guard(auth_token=TOKEN), head(target, {}, method="GET"))
    (record,) = caplog.records
    assert "scheme and host rebuilt as https://example.com," in record.getMessage()
    assert "s3cret" not in record.getMessage()


def test_a_store_that_cannot_serve_the_adapter_fails_at_start_up() -> None:
    """A replay store serving only sync adapters is refused by an asyncio adapter when it is built."""

    class SyncOnly(MemoryReplayStore):
        @property
        def modes(self) -> frozenset[str]:
            return frozenset({"sync"})

    guard = Guard(auth_token=TOKEN, replay_guard=SyncOnly())
    guard.require_mode(asynchronous=False)
    with pytest.raises(TypeError, match="sync"):
        guard.require_mode(asynchronous=True)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param({"basic_auth": {"": "pw"}}, ValueError, id="empty-user"),
        pytest.param({"basic_auth": {"user": 123}}, ValueError, id="password-not-str"),
        pytest.param({"methods": ["GET", 1]}, ValueError, id="method-not-str"),
        pytest.param({"methods": ["GÉT"]}, ValueError, id="method-not-ascii"),
        pytest.param({"max_body_size": True}, ValueError, id="max-body-size-bool"),
    ],
)
def test_configuration_that_fails_at_start_up(options: dict[str, Any], error: type[Exception]) -> None:
    """Credentials, methods and limits that are not what they name are errors when the guard is built."""
    with pytest.raises(error):
        Guard(auth_token=TOKEN, **options)


def test_a_body_hash_in_the_url_takes_the_body_raw_whatever_its_content_type() -> None:
    """With bodySHA256 in the URL the body goes to the core as bytes, even if it is labelled a form."""
    from twiliosig._guard import body_params

    url = "https://example.com/twilio/events?bodySHA256=abc"
    assert body_params(url, FORM, b"a=1") == b"a=1"
    assert body_params("https://example.com/twilio/events?x=1", FORM, b"a=1") == [("a", "1")]


# --- trust_forwarded counted per header ------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com"}, "X-Forwarded-Proto header holds 1 value"),
        ({"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "example.com, "}, "X-Forwarded-Host header is empty"),
    ],
)
def test_a_chain_short_of_the_counted_proxies_is_refused_naming_the_header(headers: dict[str, str], named: str) -> None:
    """Fewer values than the proxies counted (or an empty one): a 400 whose detail names the header and the option."""
    rejected: list[Any] = []
    guard = Guard(
        auth_token=TOKEN,
        trust_forwarded={"x_proto": 2, "x_host": 1},
        on_reject=lambda verdict, info: rejected.append(verdict),
    )
    decision = through(guard, head(headers={**signed(), **headers}))
    assert decision.refusal is not None
    assert decision.refusal.status == 400
    assert decision.verdict.reason is Reason.MALFORMED_URL
    assert named in decision.verdict.detail
    assert "trust_forwarded" in decision.verdict.detail
    assert "example.com" not in decision.verdict.detail
    assert rejected == [decision.verdict]


def test_a_chain_that_matches_its_count_is_accepted() -> None:
    """Control: the CDN's proto second from the right, the load balancer's host rightmost, a client's left of both."""
    guard = Guard(auth_token=TOKEN, trust_forwarded={"x_proto": 2, "x_host": 1})
    headers = {"X-Forwarded-Proto": "http, https, http", "X-Forwarded-Host": "other.example, example.com"}
    assert through(guard, head(headers={**signed(), **headers})).verdict.valid


def test_the_log_line_of_a_short_chain_names_the_header_and_the_option(caplog: pytest.LogCaptureFixture) -> None:
    """The operator reads which header fell short of which count in the log line itself, never its value."""
    guard = Guard(auth_token=TOKEN, trust_forwarded={"x_proto": 2, "x_host": 1})
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "secret-host.example"}
    with caplog.at_level(logging.WARNING, logger="twiliosig"):
        through(guard, head(headers={**signed(), **headers}))
    (line,) = [record.getMessage() for record in caplog.records]
    assert "malformed_url" in line
    assert "X-Forwarded-Proto header holds 1 value" in line
    assert "trust_forwarded" in line
    assert "secret-host" not in line
