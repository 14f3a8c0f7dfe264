"""Every record twiliosig logs about a request carries one documented set of structured fields.

A JSON formatter (the kind a log pipeline installs: it dumps ``record.__dict__``) is put on
the ``twiliosig`` logger, and each adapter is sent each refusal of tests/test_refusals.py:
one record, with every field of ``LOG_FIELDS``, the values ``on_reject`` gets, and never the
token, a signature, a password or a query value. The guard's other lines (the replay store
down or broken, a release that failed, ``on_reject`` raising) carry the same fields.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_refusals import ADAPTERS, CASES, EXPECTED, OPTIONS, REFUSED, TOKEN
from twiliosig import Reason, compute_signature
from twiliosig._guard import Decision, Guard, Head, RequestInfo
from twiliosig._logfields import EVENTS, LAYERS, LOG_FIELDS, layer_of, log_url
from twiliosig.oauth import CallableVerifier
from twiliosig.replay import MemoryReplayStore, StoreUnavailable

ROOT = Path(__file__).resolve().parent.parent
FORM = "application/x-www-form-urlencoded"


class JsonFormatter(logging.Formatter):
    """What a JSON log pipeline does: the message, and every extra field of the record, as one JSON object."""

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        extra = {name: value for name, value in record.__dict__.items() if name not in self._STANDARD}
        if record.exc_info:
            extra["exception"] = self.formatException(record.exc_info)
        return json.dumps({"level": record.levelname, "message": record.getMessage(), **extra})


class Lines(logging.Handler):
    """Keeps each formatted line, as a log shipper would read them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def shipped() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("twiliosig")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


#: The layer each refused case of tests/test_refusals.py is refused by.
LAYER_OF_CASE = {
    "forged": "signature",
    "unsigned": "signature",
    "too-large": "size_limit",
    "too-large-streamed": "size_limit",
    "method": "method",
    "raw-non-ascii": "body",
}


def test_the_cases_table_is_covered() -> None:
    """Every refusal tests/test_refusals.py sends has its layer here."""
    assert set(LAYER_OF_CASE) == set(REFUSED)


@pytest.mark.parametrize("case", REFUSED)
def test_every_adapter_logs_a_refusal_as_the_documented_fields(case: str, shipped: Lines) -> None:
    """One JSON line per refusal from each of the eight adapters: every field, the values on_reject gets."""
    method, headers, body = CASES[case]
    for name, adapter in ADAPTERS.items():
        reported: list[tuple[Any, RequestInfo]] = []
        shipped.lines.clear()
        options = {**OPTIONS, "on_reject": lambda verdict, info, seen=reported: seen.append((verdict, info))}
        adapter(options, method, headers, body)
        (record,) = shipped.records()
        ((verdict, info),) = reported
        fields = {key: value for key, value in record.items() if key.startswith("twiliosig_")}
        assert tuple(fields) == LOG_FIELDS, name
        scheme = "https" if name == "lambda" else "http"  # API Gateway serves only HTTPS
        assert fields == {
            "twiliosig_event": "refusal",
            "twiliosig_reason": verdict.reason.value,
            "twiliosig_layer": LAYER_OF_CASE[case],
            "twiliosig_status": EXPECTED[case],
            "twiliosig_report_only": False,
            "twiliosig_method": method,
            "twiliosig_path": "/twilio/sms",
            # the method is refused before the URL is rebuilt
            "twiliosig_url": None if case == "method" else f"{scheme}://testserver/twilio/sms",
            "twiliosig_urls_tried": verdict.urls_tried,
            "twiliosig_cause": None,
            "twiliosig_signed_url": None,  # a forgery: no reading matches (tests/test_diagnosis.py)
            "twiliosig_fix": None,
        }, name
        assert (info.method, info.path, info.url) == (method, "/twilio/sms", fields["twiliosig_url"]), name
        assert record["level"] == "WARNING"


def test_report_only_says_so_and_keeps_the_status_it_would_have_sent(shipped: Lines) -> None:
    """Under report_only the request goes through; the record says so, with the refusal's status."""
    ADAPTERS["wsgi"]({**OPTIONS, "report_only": True}, *CASES["forged"])
    (record,) = shipped.records()
    assert (record["twiliosig_report_only"], record["twiliosig_status"]) == (True, 403)
    assert record["message"].startswith("twiliosig let through (report only) POST /twilio/sms: signature_mismatch")


def head(target: str, headers: dict[str, str], *, method: str = "POST", scheme: str = "https") -> Head:
    path, _, query = target.partition("?")
    lowered = {key.lower(): value for key, value in headers.items()}
    return Head(method, path, scheme, "example.com", path, query, lowered.get)


def decide(guard: Guard, request: Head, body: bytes = b"") -> Decision:
    check = guard.start(request)
    assert check is not None
    return check.decision or guard.claim(check.finish(body))


def test_no_token_signature_password_or_query_value_reaches_a_field(shipped: Lines) -> None:
    """The query (a GET webhook's whole message) and every secret stay out."""
    query = "From=%2B15005550006&Body=my+pin+is+4321&key=hunter2"
    url = f"https://example.com/twilio/sms?{query}"
    signature = compute_signature("not-the-token-000000000000000000", url)
    headers = {"X-Twilio-Signature": signature, "Authorization": "Basic dHdpbGlvOnMzY3IzdC1wdw=="}
    guard = Guard(
        auth_token=TOKEN,
        basic_auth={"twilio": "s3cr3t-pw"},
        on_reject=lambda verdict, info: None,
    )
    decision = decide(guard, head(f"/twilio/sms?{query}", headers, method="GET"))
    assert decision.verdict.reason is Reason.SIGNATURE_MISMATCH
    (line,) = shipped.lines
    for secret in (TOKEN, signature, "s3cr3t-pw", "dHdpbGlvOnMzY3IzdC1wdw", "hunter2", "4321", "15005550006"):
        assert secret not in line
    assert json.loads(line)["twiliosig_url"] == "https://example.com/twilio/sms"


def test_a_password_in_the_url_is_redacted() -> None:
    """public_url refuses user:password@, but a URL that held one would reach a field redacted, as on_reject's."""
    assert (
        log_url("https://twilio:pw@example.com:8443/twilio/sms?x=1#f")
        == "https://twilio:***@example.com:8443/twilio/sms"
    )


def test_client_text_in_a_field_is_escaped_and_bounded(shipped: Lines) -> None:
    """A path holding a line break or megabytes reaches a field escaped and cut, as it reaches the sentence."""
    guard = Guard(auth_token=TOKEN)
    decide(guard, head("/twilio/\r\nFAKE " + "x" * 5000, {"X-Twilio-Signature": "AAAA"}, method="GET"))
    (record,) = shipped.records()
    assert "\n" not in record["twiliosig_path"]
    assert "\r" not in record["twiliosig_url"]
    assert len(record["twiliosig_path"]) <= 203
    assert len(record["twiliosig_url"]) <= 303


class Down(MemoryReplayStore):
    """A replay store that cannot be reached."""

    def claim(self, key: str) -> str | None:
        raise StoreUnavailable("connection refused")

    def release(self, key: str, token: str) -> None:
        raise StoreUnavailable("connection reset")


class Broken(MemoryReplayStore):
    """A store written for the protocol's first form: it answers True, not the claim's token."""

    def claim(self, key: str) -> Any:
        return True


def genuine() -> Head:
    url = "https://example.com/twilio/sms"
    return head("/twilio/sms", {"Content-Type": FORM, "X-Twilio-Signature": compute_signature(TOKEN, url, [])})


def _store_fields(record: dict[str, Any], event: str) -> None:
    assert tuple(key for key in record if key.startswith("twiliosig_")) == LOG_FIELDS
    assert record["twiliosig_event"] == event
    assert (record["twiliosig_reason"], record["twiliosig_layer"]) == ("replay_store_unavailable", "replay_guard")
    assert (record["twiliosig_method"], record["twiliosig_path"]) == ("POST", "/twilio/sms")
    assert record["twiliosig_url"] == "https://example.com/twilio/sms"


def test_a_store_outage_refused_carries_its_cause(shipped: Lines) -> None:
    """on_store_error='refuse': the refusal (503) says what the store answered, in the sentence and a field."""
    decide(Guard(auth_token=TOKEN, replay_guard=Down()), genuine())
    (record,) = shipped.records()
    _store_fields(record, "refusal")
    assert record["twiliosig_status"] == 503
    assert "connection refused" in record["twiliosig_cause"]
    assert "connection refused" in record["message"]


def test_a_store_outage_let_through_is_logged_with_the_fields(shipped: Lines) -> None:
    """on_store_error='allow': the warning that a genuine request went through unclaimed has the fields."""
    decision = decide(Guard(auth_token=TOKEN, replay_guard=Down(), on_store_error="allow"), genuine())
    assert decision.refusal is None
    (record,) = shipped.records()
    _store_fields(record, "store_error_allowed")
    assert record["twiliosig_status"] is None
    assert record["twiliosig_cause"] == "connection refused"


def test_a_broken_store_is_logged_with_the_fields(shipped: Lines) -> None:
    """A store that answers True: an error line (store_broken), then the refusal, each with the fields."""
    decide(Guard(auth_token=TOKEN, replay_guard=Broken()), genuine())
    broken, refusal = shipped.records()
    _store_fields(broken, "store_broken")
    assert broken["level"] == "ERROR"
    assert "answered bool" in broken["twiliosig_cause"]
    _store_fields(refusal, "refusal")


@pytest.mark.parametrize("asynchronous", [False, True], ids=["settle", "asettle"])
def test_a_failed_release_is_logged_with_the_fields(asynchronous: bool, shipped: Lines) -> None:
    """The app failed and the claim could not be released: the warning names the request and the cause."""
    guard = Guard(auth_token=TOKEN, replay_guard=Down())
    check = guard.start(genuine())
    assert check is not None
    decision = check.finish(b"")._replace(replay_token="token")  # as if the claim had been made
    if asynchronous:
        import asyncio

        asyncio.run(guard.asettle(decision, failed=True))
    else:
        guard.settle(decision, failed=True)
    (record,) = shipped.records()
    _store_fields(record, "release_failed")
    assert record["twiliosig_cause"] == "connection reset"


def test_on_reject_raising_is_logged_with_the_refusals_fields(shipped: Lines) -> None:
    """The callback's exception is logged (with its traceback) and the refusal's fields, under its own event."""

    def on_reject(verdict: object, info: object) -> None:
        raise RuntimeError("metrics backend down")

    guard = Guard(auth_token=TOKEN, on_reject=on_reject)
    decide(guard, head("/twilio/sms", {"X-Twilio-Signature": "AAAA"}, method="DELETE"))
    refusal, raised = shipped.records()
    assert raised["twiliosig_event"] == "on_reject_raised"
    assert _same_fields(refusal, raised)
    assert "RuntimeError: metrics backend down" in raised["exception"]
    assert raised["level"] == "ERROR"


def _same_fields(first: dict[str, Any], second: dict[str, Any]) -> bool:
    keep = [name for name in LOG_FIELDS if name != "twiliosig_event"]
    return [first[name] for name in keep] == [second[name] for name in keep]


LAYER_CASES: dict[str, tuple[dict[str, Any], Head]] = {
    "method": ({}, head("/twilio/sms", {"X-Twilio-Signature": "AAAA"}, method="PUT")),
    "url": ({"trust_forwarded": True}, head("/twilio/sms", {"X-Twilio-Signature": "AAAA", "X-Forwarded-Host": "a b"})),
    "basic_auth": ({"basic_auth": {"twilio": "pw"}}, head("/twilio/sms", {"X-Twilio-Signature": "AAAA"})),
    "digest_auth": (
        {"digest_auth": {"twilio": "pw"}, "basic_auth": {"twilio": "pw"}},
        head("/twilio/sms", {"X-Twilio-Signature": "AAAA", "Authorization": 'Digest username="twilio"'}),
    ),
    "oauth": (
        {"oauth": CallableVerifier(lambda token: {})},
        head("/twilio/sms", {"X-Twilio-Signature": "AAAA", "Authorization": "Bearer"}),
    ),
    "https": ({"require_https": True}, head("/twilio/sms", {"X-Twilio-Signature": "AAAA"}, scheme="http")),
    "size_limit": ({"max_body_size": 10}, head("/twilio/sms", {"X-Twilio-Signature": "AAAA", "Content-Length": "99"})),
    "body": ({}, head("/twilio/sms", {"X-Twilio-Signature": "AAAA", "Content-Type": FORM + "; charset=utf-7"})),
    "signature": ({}, head("/twilio/sms", {})),
    "replay_guard": ({"replay_guard": Down()}, genuine()),
}


@pytest.mark.parametrize("expected", LAYERS)
def test_each_layer_is_named_by_the_refusals_it_makes(expected: str, shipped: Lines) -> None:
    """Every value of twiliosig_layer is reached by a refusal of that layer."""
    options, request = LAYER_CASES[expected]
    decide(Guard(auth_token=TOKEN, **options), request)
    (record,) = shipped.records()
    assert record["twiliosig_layer"] == expected, record


def test_every_reason_has_a_documented_layer() -> None:
    """A new Reason falls into a layer the docs list."""
    assert set(LAYER_CASES) == set(LAYERS)
    assert {layer_of(reason) for reason in Reason} <= set(LAYERS)


def test_the_docs_list_every_field_event_and_layer() -> None:
    """docs/operations.md's table of fields is LOG_FIELDS, in order; it names every event and layer."""
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = page.split("## Structured log fields", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(twiliosig_\w+)` \|", section, re.M)
    assert tuple(documented) == LOG_FIELDS
    for name in (*EVENTS, *LAYERS):
        assert f"`{name}`" in section, name
