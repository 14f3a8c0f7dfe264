"""``explain --from-curl`` reads a curl command as curl sends it: checked against curl itself.

Each case is a curl command and what it sends (the request target, Content-Type and body).
The table is the specification; where curl is installed, the same command is run against a
recording server on 127.0.0.1 and what curl really sent must equal the table.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twiliosig._curl import BOUNDARY, parse_curl, shell_words

FORM = "application/x-www-form-urlencoded"


class Sent(NamedTuple):
    target: str  # path and query, as the server sees them
    content_type: str | None
    body: bytes


def multipart(*parts: tuple[str, str]) -> bytes:
    """A multipart body of (disposition and headers, content) parts."""
    chunks = [f"--{BOUNDARY}\r\n{head}\r\n\r\n{content}\r\n".encode() for head, content in parts]
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


# (id, the curl arguments after the URL, what is sent). Files: note.txt holds "a b\r\nc&d\n", body.json '{"x": 1}\n'.
CASES: list[tuple[str, str, Sent]] = [
    ("data", "-d From=%2B1555 -d 'Body=hi there'", Sent("/hook", FORM, b"From=%2B1555&Body=hi there")),
    ("data-attached", "-sSXPOST -HX-Test:1 -d'a=b'", Sent("/hook", FORM, b"a=b")),
    ("data-file-strips-newlines", "-d @note.txt", Sent("/hook", FORM, b"a bc&d")),
    ("data-ascii-file", "--data-ascii @note.txt", Sent("/hook", FORM, b"a bc&d")),
    ("data-binary-file", "--data-binary @note.txt", Sent("/hook", FORM, b"a b\r\nc&d\n")),
    ("data-raw-at", "--data-raw @note.txt", Sent("/hook", FORM, b"@note.txt")),
    (
        "data-urlencode-forms",
        "--data-urlencode 'Body=hi there & more' --data-urlencode '=x?y' --data-urlencode 'plain ~text' "
        "--data-urlencode Note@note.txt --data-urlencode @note.txt --data-urlencode 'a=b@c'",
        Sent(
            "/hook",
            FORM,
            b"Body=hi+there+%26+more&x%3Fy&plain+~text&Note=a+b%0D%0Ac%26d%0A&a+b%0D%0Ac%26d%0A&a=b%40c",
        ),
    ),
    ("data-urlencode-unicode", "--data-urlencode 'Body=héllo ☃'", Sent("/hook", FORM, b"Body=h%C3%A9llo+%E2%98%83")),
    ("json", """--json '{"a":' --json ' 1}'""", Sent("/hook", "application/json", b'{"a": 1}')),
    ("json-file", "--json @body.json", Sent("/hook", "application/json", b'{"x": 1}\n')),
    (
        "json-content-type-overridden",
        "--json '{}' -H 'Content-Type: text/plain'",
        Sent("/hook", "text/plain", b"{}"),
    ),
    (
        "header-content-type",
        """-H 'Content-Type: application/json' -d '{"x":1}'""",
        Sent("/hook", "application/json", b'{"x":1}'),
    ),
    ("get", "-G -d a=1 --data-urlencode 'b=x y'", Sent("/hook?a=1&b=x+y", None, b"")),
    ("get-cluster", "-sG -d a=1", Sent("/hook?a=1", None, b"")),
    ("url-query", "--url-query 'q=a b' --url-query '+r=a+b' -d c=1", Sent("/hook?q=a+b&r=a+b", FORM, b"c=1")),
    (
        "form",
        "-F From=+1555 -F 'Body=hi there' --form-string 'Raw=<not a file' -F 'Note=<note.txt'",
        Sent(
            "/hook",
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(
                ('Content-Disposition: form-data; name="From"', "+1555"),
                ('Content-Disposition: form-data; name="Body"', "hi there"),
                ('Content-Disposition: form-data; name="Raw"', "<not a file"),
                ('Content-Disposition: form-data; name="Note"', "a b\r\nc&d\n"),
            ),
        ),
    ),
    (
        "form-upload",
        "-F 'Media=@note.txt;type=text/plain'",
        Sent(
            "/hook",
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart(
                (
                    'Content-Disposition: form-data; name="Media"; filename="note.txt"\r\nContent-Type: text/plain',
                    "a b\r\nc&d\n",
                )
            ),
        ),
    ),
]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "note.txt").write_bytes(b"a b\r\nc&d\n")
    (tmp_path / "body.json").write_bytes(b'{"x": 1}\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def read(path: str) -> bytes:
    return Path(path).read_bytes()


def parsed(url: str, arguments: str) -> Sent:
    request = parse_curl(f"curl '{url}' {arguments}", read)
    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return Sent(target, request.headers.get("content-type"), request.body)


@pytest.mark.parametrize(("arguments", "sent"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_what_the_command_sends(files: Path, arguments: str, sent: Sent) -> None:
    """The request rebuilt from the command is the one in the table."""
    assert parsed("https://example.com/hook", arguments) == sent


class _Recorder(BaseHTTPRequestHandler):
    sent: list[Sent]

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.sent.append(Sent(self.path, self.headers.get("Content-Type"), body))
        self.send_response(204)
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def recorder() -> Iterator[tuple[str, list[Sent]]]:
    sent: list[Sent] = []
    handler = type("Recorder", (_Recorder,), {"sent": sent})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sent
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(("arguments", "sent"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_curl_itself_sends_the_same(files: Path, recorder: tuple[str, list[Sent]], arguments: str, sent: Sent) -> None:
    """Real curl, run on the same command against a loopback server, sends what the table says."""
    base, requests = recorder
    requests.clear()
    command = ["curl", "-s", "-o", "/dev/null", f"{base}/hook", *shlex.split(arguments)]
    result = subprocess.run(command, capture_output=True, check=False, timeout=30)
    if result.returncode == 2 and b"option" in result.stderr:
        pytest.skip(f"this curl is too old for {arguments!r}: {result.stderr.decode(errors='replace')}")
    assert result.returncode == 0, result.stderr
    assert len(requests) == 1
    real = requests[0]
    content_type = real.content_type
    if content_type and content_type.startswith("multipart/form-data; boundary="):
        boundary = content_type.partition("boundary=")[2]
        real = Sent(
            real.target,
            f"multipart/form-data; boundary={BOUNDARY}",
            real.body.replace(boundary.encode(), BOUNDARY.encode()),
        )
    assert real == sent
    assert parsed(f"{base}/hook", arguments) == sent


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("curl --frobnicate https://example.com/", "cannot read the curl option --frobnicate"),
        ("curl -T note.txt https://example.com/", "--upload-file"),
        ("curl -K curlrc https://example.com/", "--config"),
        ("curl -I https://example.com/", "HEAD"),
        ("curl -H @headers.txt https://example.com/", "-H @file"),
        ("curl https://example.com/a https://example.com/b", "2 URLs"),
        ("curl -X POST", "no URL"),
        ("curl https://example.com/ -d", "needs a value"),
        ("curl https://example.com/ -F a=b -d c=d", "-F together with -d"),
        ("curl https://example.com/ -F novalue", "NAME=CONTENT"),
        ("curl 'https://example.com/", "cannot read the curl command"),
    ],
)
def test_what_it_cannot_read_is_named(command: str, message: str) -> None:
    """An option that would change the request in a way not rebuilt here is an error naming it, never a guess."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_curl(command, read)


def test_continuation_lines_and_ignored_options() -> None:
    """Backslash-newline continuations, curl's path, and options that change nothing signed."""
    command = (
        "/usr/bin/curl -sS --compressed --max-time 5 -o out.html -u user:pass -w '%{http_code}' \\\n"
        "  --url https://example.com/hook \\\n  -d a=1"
    )
    request = parse_curl(command, read)
    assert (request.url, request.body, request.form_fields) == ("https://example.com/hook", b"a=1", None)


def test_form_fields_are_kept_for_the_explanation(files: Path) -> None:
    """-F text fields (and <file contents) are kept as pairs; an upload is not a field."""
    request = parse_curl("curl https://example.com/ -F a=1 -F 'b=<note.txt' -F 'c=@note.txt'", read)
    assert request.form_fields == [("a", "1"), ("b", "a b\r\nc&d\n")]


@given(st.text(alphabet=st.sampled_from(list("ab \t\r\n'\"\\#é$")), max_size=24))
@settings(max_examples=3000, deadline=None)
def test_words_are_split_as_shlex_splits_them(command: str) -> None:
    """The linear word splitter gives shlex.split's words, or its error, for any command line."""
    try:
        expected: list[str] | str = shlex.split(command)
    except ValueError as error:
        expected = str(error)
    try:
        got: list[str] | str = shell_words(command)
    except ValueError as error:
        got = str(error)
    assert got == expected


@pytest.mark.parametrize(
    "command",
    [
        pytest.param("curl -d 'a b' \"c \\\" \\d\" e\\ f ''", id="quotes-and-escapes"),
        pytest.param('curl -d "x\\\\"y', id="escaped-backslash-in-double-quotes"),
        pytest.param("a'b c'd", id="quotes-inside-a-word"),
    ],
)
def test_words_examples(command: str) -> None:
    """Quotes and escapes read as a POSIX shell reads them (the examples the mutation profile runs)."""
    assert shell_words(command) == shlex.split(command)
