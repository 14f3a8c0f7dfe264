"""Logging: every refusal is one line on the ``twiliosig`` logger, and request data cannot forge another.

Each server writes the ``twiliosig`` logger to its own file, one record per
line, as a log shipper would read it; its stdout and stderr go to another. The
attacker puts line breaks (CR, LF, U+2028, NEL), terminal escapes and NULs, or
kilobytes of text, into what gets logged: the path, the method, the
``AccountSid`` handed to a token lookup that raises, the path of a request let
through while the replay store is down. No line of either file may start with
the attacker's text, no raw control character may reach the file, and each piece
of request data is cut to about 200 characters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests.attacks.harness import ALL, FORM, SMS, STREAMING, Pool, Server, answer_before_body, sign
from tests.attacks.profiles import ACCOUNT_RAISING, MAX_BODY, TOKEN_A

#: Bytes that end or rewrite a line for some reader: CR, VT, FF, NUL, ESC, NEL, U+2028, U+2029.
LINE_BREAKERS = [b"\r", b"\x0b", b"\x0c", b"\x00", b"\x1b", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9"]
#: The longest line a refusal may log: fixed text plus a few bounded pieces of request data.
MAX_LINE = 800


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> Iterator[None]:
    pool.prestart(ALL, "default")
    pool.prestart(ALL, "tenants")
    pool.prestart(ALL, "store-down")
    yield
    pool.stop("store-down")  # tenants: test_tenants stops it


def marker() -> str:
    return "m" + uuid.uuid4().hex[:10]


def physical_lines(data: bytes) -> list[bytes]:
    """Every line a reader might see: split on LF, CR, NEL, U+2028 and U+2029."""
    return re.split(rb"\r\n|\n|\r|\xc2\x85|\xe2\x80\xa8|\xe2\x80\xa9", data)


def assert_no_forged_line(server: Server, forged: bytes) -> None:
    """Neither the twiliosig log nor the server's output has a line that starts with the attacker's text."""
    for name, data in (("twiliosig log", server.log_bytes()), ("server output", server.output_bytes())):
        for line in physical_lines(data):
            assert not line.lstrip(b"\x1b[0123456789;HJKGm").startswith(forged), f"forged line in the {name}: {line!r}"
    log = server.log_bytes()
    for raw in LINE_BREAKERS:
        assert raw not in log, f"raw {raw!r} reached the twiliosig log"


def lines_with(server: Server, text: str) -> list[bytes]:
    return [line for line in server.log_bytes().split(b"\n") if text.encode() in line]


# --- one line per refusal ------------------------------------------------------------------


def _refuse(server: Server, kind: str, path: str) -> int:
    if kind == "missing-signature":
        return server.post_form(path, SMS, signature=None).status
    if kind == "forged-signature":
        return server.post_form(path, SMS, signature="forged").status
    if kind == "wrong-token":
        return server.post_form(path, SMS, token="not-the-token-0123456789abcdef01").status
    if kind == "method":
        return server.get(path, method="DELETE").status
    if kind == "raw-bytes-body":
        return server.post_form(path, [("Body", "é")], body=b"Body=\xc3\xa9").status
    if kind == "too-large":
        head = server.encode(
            "POST",
            path,
            None,
            headers=[("Content-Type", FORM), ("X-Twilio-Signature", "forged"), ("Content-Length", str(MAX_BODY + 1))],
        )
        response = answer_before_body(server.port, head)
        assert response is not None
        return response.status
    raise AssertionError(kind)


KINDS = ["missing-signature", "forged-signature", "wrong-token", "method", "raw-bytes-body"]
REFUSAL_CASES = [pytest.param(adapter, kind, id=f"{adapter}-{kind}") for kind in KINDS for adapter in ALL] + [
    pytest.param(adapter, "too-large", id=f"{adapter}-too-large") for adapter in STREAMING
]


@pytest.mark.parametrize(("adapter", "kind"), REFUSAL_CASES)
def test_every_refusal_logs_exactly_one_line(server: Server, kind: str) -> None:
    """The attacker's refused request must leave one trace on the twiliosig logger: not none, not a flood."""
    mark = marker()
    with server.unreached():
        status = _refuse(server, kind, f"/twilio/{mark}")
    assert 400 <= status < 500
    logged = lines_with(server, mark)
    assert len(logged) == 1, logged
    assert logged[0].startswith(b"WARNING twiliosig "), logged


# --- line injection ------------------------------------------------------------------------

INJECTIONS = {
    "crlf": "%0D%0A",
    "lf": "%0A",
    "cr": "%0D",
    "line-separator": "%E2%80%A8",
    "next-line": "%C2%85",
    "terminal-escape": "%1B%5B2K%1B%5B1G",
    "nul": "%00%0A",
    "vertical-tab": "%0B",
}


@pytest.mark.parametrize("injection", INJECTIONS.values(), ids=INJECTIONS.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_path_cannot_forge_a_log_line(server: Server, injection: str) -> None:
    """The attacker puts a line break (or a terminal escape) and a fake record into the path of a refused request.

    Routers do not match a path holding LF, so a decorator or per-route
    dependency never sees it (a 404, nothing to log); every adapter that refuses
    it logs one escaped line.
    """
    mark = marker()
    forged = f"FORGED-{mark}"
    with server.unreached():
        status = server.post_form(
            f"/twilio/{mark}{injection}{forged}%20twiliosig%20accepted", SMS, signature=None
        ).status
    assert_no_forged_line(server, forged.encode())
    logged = lines_with(server, mark)
    if status != 404:
        assert len(logged) == 1, logged
    assert all(line.startswith(b"WARNING twiliosig ") for line in logged), logged


@pytest.mark.parametrize("adapter", ALL)
def test_long_path_is_cut_in_the_log(server: Server) -> None:
    """The attacker sends a path of kilobytes to flood the log (and the log shipper's line limit)."""
    mark = marker()
    with server.unreached():
        server.post_form(f"/twilio/{mark}" + "a" * 3000, SMS, signature=None)
    logged = lines_with(server, mark)
    assert len(logged) == 1, logged
    assert len(logged[0]) < MAX_LINE, len(logged[0])


@pytest.mark.parametrize("adapter", ALL)
def test_long_method_is_cut_in_the_log(server: Server) -> None:
    """The attacker sends a method of a thousand letters (servers that accept it pass it on) to flood the log."""
    method = "Q" * 1000
    with server.unreached():
        server.get("/twilio/sms", method=method)
    for line in server.log_bytes().split(b"\n"):
        if b"Q" * 50 in line:
            assert len(line) < MAX_LINE, len(line)


@pytest.mark.parametrize("where", ["body", "query"])
@pytest.mark.parametrize("adapter", ALL)
def test_account_given_to_a_raising_lookup_cannot_forge_a_log_line(pool: Pool, adapter: str, where: str) -> None:
    """The attacker names an AccountSid with a line break and a fake record, for a token lookup that raises to log."""
    server = pool.server(adapter, "tenants")
    mark = marker()
    forged = f"FORGED-{mark}"
    account = f"{ACCOUNT_RAISING}\r\n{forged} twiliosig accepted " + "A" * 2000
    with server.unreached():
        if where == "body":
            status = server.post_form("/twilio/sms", [("AccountSid", account)], token=TOKEN_A).status
        else:
            query = f"AccountSid={ACCOUNT_RAISING}%0D%0A{forged}%20" + "A" * 2000
            status = server.get(f"/twilio/voice?{query}", token=TOKEN_A).status
    assert status == 403
    assert_no_forged_line(server, forged.encode())
    for line in lines_with(server, mark):
        assert len(line) < MAX_LINE, len(line)


@pytest.mark.parametrize("adapter", ALL)
def test_path_let_through_while_the_store_is_down_cannot_forge_a_log_line(pool: Pool, adapter: str) -> None:
    """The attacker gets a request let through (on_store_error='allow') whose path carries a fake log record.

    A carriage return (which routers match, unlike LF) ends the line for many
    log readers.
    """
    server = pool.server(adapter, "store-down")
    mark = marker()
    forged = f"FORGED-{mark}"
    path = f"/twilio/{mark}%0D{forged}%20twiliosig%20accepted"
    response = server.post_form(path, SMS, signature=sign(server.url(path), SMS))
    assert response.status == 200, response
    assert_no_forged_line(server, forged.encode())
    logged = lines_with(server, mark)
    assert logged, "the replay store outage was not logged"
    assert all(line.startswith(b"WARNING twiliosig ") and len(line) < MAX_LINE for line in logged), logged
