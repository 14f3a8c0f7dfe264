"""A misconfiguration told from a forgery, in the refusal's own log line.

A webhook Twilio signed for the public URL, rebuilt by the app as another one
(behind a proxy whose forwarding headers it does not trust, over http, without the
port or prefix the proxy dropped), is refused as before; but the guard checks the
signature against those readings, and when one matches, the log line (ERROR, once
per fix per interval) and ``on_reject``'s verdict say Twilio signed it and name
the option that fixes it. A forged signature gets no finding, and the work is
bounded: a few HMACs per diagnosis, a few diagnoses a minute.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from twiliosig import Finding, Reason, RequestValidator, Verdict, compute_signature
from twiliosig._diagnosis import DIAGNOSES_PER_MINUTE, LOG_INTERVAL, MAX_READINGS, RateLimit
from twiliosig._guard import Decision, Guard, Head, RequestInfo

TOKEN = "diagnosis-test-token-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
BODY = b"From=%2B15005550006&Body=hi"
PAIRS = [("From", "+15005550006"), ("Body", "hi")]
PATH = "/twilio/sms"


def request(
    signed_for: str, headers: dict[str, str], *, scheme: str = "http", host: str = "public.example.com"
) -> Head:
    """A form POST to ``PATH`` as the app sees it, carrying Twilio's signature for ``signed_for``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    lowered["content-type"] = FORM
    lowered["x-twilio-signature"] = compute_signature(TOKEN, signed_for, PAIRS)
    return Head("POST", PATH, scheme, host, PATH, "", lowered.get)


def decide(guard: Guard, head: Head) -> Decision:
    check = guard.start(head)
    assert check is not None
    assert check.decision is None
    return check.finish(BODY)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fresh(**options: Any) -> tuple[Guard, Clock]:
    """A guard whose diagnosis budget runs on a clock the test controls."""
    guard = Guard(auth_token=TOKEN, **options)
    clock = Clock()
    guard._diagnosis.limit = RateLimit(clock=clock)
    return guard, clock


CASES: dict[str, tuple[str, dict[str, str], dict[str, Any], str, str]] = {
    # name: (URL Twilio signed, headers, guard options, the app's scheme, the fix the line names)
    "x-forwarded-proto": (
        "https://public.example.com/twilio/sms",
        {"X-Forwarded-Proto": "https"},
        {},
        "http",
        'trust_forwarded={"x_proto": 1}',
    ),
    "x-forwarded-host": (
        "https://public.example.com/twilio/sms",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"},
        {},
        "http",
        'trust_forwarded={"x_proto": 1, "x_host": 1}',
    ),
    "x-forwarded-host-over-https": (
        "https://public.example.com/twilio/sms",
        {"X-Forwarded-Host": "public.example.com"},
        {},
        "https",
        'trust_forwarded={"x_host": 1}',
    ),
    "x-forwarded-port": (
        "https://public.example.com:8443/twilio/sms",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "8443"},
        {},
        "http",
        'trust_forwarded={"x_proto": 1, "x_port": 1}',
    ),
    "x-forwarded-prefix": (
        "https://public.example.com/api/twilio/sms",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/api"},
        {},
        "http",
        'trust_forwarded={"x_proto": 1, "x_prefix": 1}',
    ),
    "forwarded": (
        "https://public.example.com/twilio/sms",
        {"Forwarded": "for=203.0.113.9;proto=https;host=public.example.com"},
        {},
        "http",
        'trust_forwarded={"forwarded": 1}',
    ),
    "no-headers-https": (
        "https://public.example.com/twilio/sms",
        {},
        {},
        "http",
        'public_url="https://public.example.com"',
    ),
    "x-host-trusted-proto-not": (
        "https://public.example.com/twilio/sms",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"},
        {"trust_forwarded": {"x_host": 1}},
        "http",
        'trust_forwarded={"x_proto": 1, "x_host": 1}',
    ),
    "wrong-public-url": (
        "https://public.example.com/twilio/sms",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"},
        {"public_url": "https://old.example.com"},
        "http",
        'trust_forwarded={"x_proto": 1, "x_host": 1} in place of public_url',
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_webhook_signed_for_another_reading_is_refused_and_the_error_names_the_fix(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    signed_for, headers, options, scheme, fix = CASES[case]
    guard, _ = fresh(**options)
    head = request(
        signed_for,
        headers,
        scheme=scheme,
        host="internal:8000" if "X-Forwarded-Host" in headers else "public.example.com",
    )
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        decision = decide(guard, head)
    assert decision.refusal is not None
    assert decision.refusal.status == 403
    assert decision.verdict.reason is Reason.SIGNATURE_MISMATCH
    assert decision.verdict.finding is not None
    assert decision.verdict.finding.fix == fix
    assert decision.verdict.finding.signed_url == signed_for
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert fix in message
    assert f"Twilio signed it, for {signed_for}" in message
    assert record.twiliosig_fix == fix  # type: ignore[attr-defined]
    assert record.twiliosig_signed_url == signed_for  # type: ignore[attr-defined]
    assert head.header("x-twilio-signature") not in message
    assert TOKEN not in message


def test_a_port_the_proxy_kept_in_host_over_http_is_named_in_public_url(caplog: pytest.LogCaptureFixture) -> None:
    signed_for = "https://public.example.com:8443/twilio/sms"
    guard, _ = fresh()
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        decision = decide(guard, request(signed_for, {}, host="public.example.com:8443"))
    assert decision.verdict.finding == Finding(
        signed_for,
        "the request arrived over http, but Twilio called https",
        'public_url="https://public.example.com:8443"',
    )
    assert caplog.records[0].levelno == logging.ERROR


def test_a_forged_signature_gets_no_finding(caplog: pytest.LogCaptureFixture) -> None:
    guard, _ = fresh()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com", "Forwarded": "proto=https"}
    head = request("https://public.example.com/twilio/sms", headers, host="internal:8000")
    forged = {**headers, "content-type": FORM, "x-twilio-signature": "A" * 27 + "="}
    lowered = {name.lower(): value for name, value in forged.items()}
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        decision = decide(guard, head._replace(header=lowered.get))
    assert decision.refusal is not None
    assert decision.verdict.finding is None
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.twiliosig_fix is None  # type: ignore[attr-defined]
    assert record.twiliosig_signed_url is None  # type: ignore[attr-defined]
    assert "Twilio signed it" not in record.getMessage()


def test_a_genuine_request_is_let_through_without_a_diagnosis() -> None:
    guard, _ = fresh()
    calls = count_checks(guard)
    decision = decide(guard, request("http://public.example.com/twilio/sms", {"X-Forwarded-Proto": "https"}))
    assert decision.refusal is None
    assert decision.verdict.finding is None
    assert calls == []


def count_checks(guard: Guard) -> list[str]:
    """Every URL the diagnosis checks (one HMAC per secret each), recorded in order."""
    calls: list[str] = []
    real = guard._diagnosis.validator

    class Counting:
        def check(self, url: str, *args: Any, **kwargs: Any) -> Verdict:
            calls.append(url)
            return real.check(url, *args, **kwargs)

    guard._diagnosis.validator = Counting()  # type: ignore[assignment]
    return calls


def test_a_diagnosis_checks_at_most_a_few_readings() -> None:
    guard, _ = fresh()
    calls = count_checks(guard)
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "a.example.com",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/api",
    }
    decision = decide(guard, request("https://nowhere.example.com/twilio/sms", headers, host="internal:8000"))
    assert decision.verdict.finding is None
    assert 0 < len(calls) <= MAX_READINGS
    # The most likely reading first: every header the proxy sent, believed.
    assert calls[0] == "https://a.example.com:8443/api/twilio/sms"


def test_at_most_a_few_diagnoses_a_minute_and_the_rest_cost_nothing(caplog: pytest.LogCaptureFixture) -> None:
    guard, clock = fresh()
    calls = count_checks(guard)
    head = request("https://public.example.com/twilio/sms", {"X-Forwarded-Proto": "https"})
    findings = [decide(guard, head).verdict.finding for _ in range(DIAGNOSES_PER_MINUTE)]
    assert all(finding is not None for finding in findings)
    spent = len(calls)
    assert spent == DIAGNOSES_PER_MINUTE  # one reading each (the first matched)
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        over = decide(guard, head)
    assert over.refusal is not None
    assert over.verdict.finding is None  # over budget: refused as before, undiagnosed
    assert len(calls) == spent  # and not one HMAC more
    assert caplog.records[-1].levelno == logging.WARNING
    assert "Twilio signed it" not in caplog.records[-1].getMessage()
    clock.now += 60.0 / DIAGNOSES_PER_MINUTE  # the bucket refills: one more a while later
    assert decide(guard, head).verdict.finding is not None
    assert decide(guard, head).verdict.finding is None


def test_the_error_is_logged_once_per_fix_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    guard, clock = fresh()
    proto = request("https://public.example.com/twilio/sms", {"X-Forwarded-Proto": "https"})
    bare = request("https://public.example.com/twilio/sms", {})
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        decide(guard, proto)
        decide(guard, proto)
        decide(guard, bare)  # another fix: its own error
        clock.now += LOG_INTERVAL + 1
        decide(guard, proto)
    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.ERROR, logging.WARNING, logging.ERROR, logging.ERROR]
    # The quieter repeat still carries the finding, in its fields and its sentence.
    assert caplog.records[1].twiliosig_fix == 'trust_forwarded={"x_proto": 1}'  # type: ignore[attr-defined]
    assert 'trust_forwarded={"x_proto": 1}' in caplog.records[1].getMessage()


def test_on_reject_gets_the_finding() -> None:
    seen: list[tuple[Verdict, RequestInfo]] = []
    guard, _ = fresh(on_reject=lambda verdict, info: seen.append((verdict, info)))  # the process's budget may be spent
    decide(
        guard,
        request("https://public.example.com/twilio/sms?x=1", {"X-Forwarded-Proto": "https"})._replace(query="x=1"),
    )
    ((verdict, info),) = seen
    assert verdict.reason is Reason.SIGNATURE_MISMATCH
    assert verdict.finding == Finding(
        "https://public.example.com/twilio/sms?x=1",
        "the app does not trust the proxy's X-Forwarded-Proto",
        'trust_forwarded={"x_proto": 1}',
    )
    assert info.url == "http://public.example.com/twilio/sms?x=1"
    assert "finding=Finding(" in repr(verdict)


def test_the_log_line_leaves_the_query_and_password_out_of_the_signed_url(caplog: pytest.LogCaptureFixture) -> None:
    guard, _ = fresh()
    head = request("https://public.example.com/twilio/sms?secret=1", {"X-Forwarded-Proto": "https"})
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        decision = decide(guard, head._replace(query="secret=1"))
    assert decision.verdict.finding is not None
    (record,) = caplog.records
    assert record.twiliosig_signed_url == "https://public.example.com/twilio/sms"  # type: ignore[attr-defined]
    assert "secret=1" not in record.getMessage()


def test_the_diagnosis_validator_checks_each_reading_as_written() -> None:
    from twiliosig._diagnosis import Diagnosis

    with pytest.raises(ValueError, match=r"UrlVariant\.NONE"):
        Diagnosis(RequestValidator(TOKEN))


def saved(tmp_path: Any, headers: dict[str, str], signed_for: str) -> str:
    """A raw request as a server behind a proxy saw it (Host: internal:8000), saved to a file."""
    from urllib.parse import urlencode

    body = urlencode(PAIRS)
    lines = [
        "POST /twilio/sms HTTP/1.1",
        "Host: internal:8000",
        f"Content-Type: {FORM}",
        f"X-Twilio-Signature: {compute_signature(TOKEN, signed_for, PAIRS)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        f"Content-Length: {len(body)}",
    ]
    path = tmp_path / "request.http"
    path.write_text("\r\n".join(lines) + "\r\n\r\n" + body)
    return str(path)


def test_explain_request_names_the_forwarding_headers_to_trust(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from twiliosig.cli import main

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"}
    path = saved(tmp_path, proxy, "https://public.example.com/twilio/sms")
    assert main(["explain", "--request", path, "--scheme", "http"]) == 1
    out = capsys.readouterr().out
    assert "Twilio signed https://public.example.com/twilio/sms" in out
    assert "the app does not trust the proxy's X-Forwarded-Proto and X-Forwarded-Host" in out
    assert 'Set trust_forwarded={"x_proto": 1, "x_host": 1}' in out
    assert "Likely causes" not in out
    # As the default --scheme (https) reads it, only the host is missing.
    assert main(["explain", "--request", path]) == 1
    assert 'Set trust_forwarded={"x_host": 1}' in capsys.readouterr().out


def test_explain_request_rules_out_headers_that_do_not_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from twiliosig.cli import main

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    path = saved(tmp_path, {"X-Forwarded-Host": "public.example.com"}, "https://elsewhere.example.com/twilio/sms")
    assert main(["explain", "--request", path]) == 1
    out = capsys.readouterr().out
    assert "the request's X-Forwarded-Host: no URL they give matches" in out
    assert "trust_forwarded={" not in out


def test_the_troubleshooting_page_shows_the_line_as_logged(caplog: pytest.LogCaptureFixture) -> None:
    """docs/troubleshooting.md's "All my webhooks are refused" quotes the line the guard writes, word for word."""
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    guard, _ = fresh()
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
    head = request("https://hooks.example.com/twilio/sms", proxy, host="10.0.0.5:8000")
    with caplog.at_level(logging.INFO, logger="twiliosig"):
        decide(guard, head)
    (record,) = caplog.records
    assert f"\n{record.getMessage()}\n" in page


def test_the_budget_is_the_process_s_shared_by_every_guard() -> None:
    """Several middlewares in one app spend one budget: mounting more of them buys a flood no more HMACs."""
    from twiliosig import _diagnosis

    first, second = Guard(auth_token=TOKEN), Guard(auth_token=TOKEN, paths=["/twilio/"])
    assert first._diagnosis.limit is second._diagnosis.limit is _diagnosis.PROCESS_LIMIT


def test_a_trusted_proxy_that_sent_no_proto_is_told_to_send_it() -> None:
    guard, _ = fresh(trust_forwarded={"x_proto": 1})
    decision = decide(guard, request("https://public.example.com/twilio/sms", {}))
    assert decision.verdict.finding is not None
    assert decision.verdict.finding.fix == "have the trusted proxy send X-Forwarded-Proto: https (the app rebuilt http)"


def test_a_websocket_handshake_signed_for_wss_behind_an_untrusted_proxy() -> None:
    guard, _ = fresh()
    signature = compute_signature(TOKEN, "wss://public.example.com/stream", None)
    headers = {"x-twilio-signature": signature, "x-forwarded-proto": "https"}
    head = Head("GET", "/stream", "http", "public.example.com", "/stream", "", headers.get, websocket=True)
    check = guard.start(head)
    assert check is not None
    decision = check.finish(b"")
    assert decision.refusal is not None
    assert decision.verdict.finding is not None
    assert decision.verdict.finding.signed_url == "wss://public.example.com/stream"
    assert decision.verdict.finding.fix == 'trust_forwarded={"x_proto": 1}'
