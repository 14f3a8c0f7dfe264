"""The command line: sign, explain (with curl and raw-request input) and demo, errors as one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from twiliosig import body_sha256, compute_signature
from twiliosig.cli import main

TOKEN = "cli-test-token-0123456789abcdef0"
URL = "https://example.com/twilio/sms"
PARAMS = [("From", "+15005550006"), ("Body", "hello world"), ("MediaUrl0", "")]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def p_args(pairs: list[tuple[str, str]]) -> list[str]:
    return [arg for name, value in pairs for arg in ("-p", f"{name}={value}")]


def test_sign_prints_the_signature(capsys: pytest.CaptureFixture[str]) -> None:
    """sign prints exactly what compute_signature gives, token from the environment."""
    code, out, _ = run(capsys, "sign", URL, *p_args(PARAMS))
    assert code == 0
    assert out == compute_signature(TOKEN, URL, PARAMS) + "\n"


def test_sign_json_body_adds_the_body_hash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """With a JSON body, sign prints the URL with bodySHA256 and the signature over it."""
    body = tmp_path / "event.json"
    body.write_bytes(b'{"type": "ping"}')
    _, out, _ = run(capsys, "sign", URL, "--body", str(body), "--algorithm", "HMAC_SHA256")
    url, signature = out.split()
    assert url == f"{URL}?bodySHA256={body_sha256(body.read_bytes())}"
    assert signature == compute_signature(TOKEN, url, algorithm="HMAC_SHA256")


def test_explain_genuine_names_the_matching_form(capsys: pytest.CaptureFixture[str]) -> None:
    """A signature over the port-443 form is explained as such; exit 0."""
    signature = compute_signature(TOKEN, "https://example.com:443/twilio/sms", PARAMS)
    code, out, _ = run(capsys, "explain", URL, "--signature", signature, *p_args(PARAMS))
    assert code == 0
    assert out.startswith("GENUINE: matches if the URL is https://example.com:443/twilio/sms, with the port 443 added")


def test_explain_spots_a_tls_proxy(capsys: pytest.CaptureFixture[str]) -> None:
    """The app rebuilt http:// but Twilio signed https://: explain says so and points at public_url."""
    signature = compute_signature(TOKEN, URL, PARAMS)
    code, out, _ = run(capsys, "explain", "http://example.com/twilio/sms", "-s", signature, *p_args(PARAMS))
    assert code == 1
    assert "It matches if the URL is https://example.com/twilio/sms" in out
    assert "public_url" in out


def test_explain_spots_dropped_blank_values(capsys: pytest.CaptureFixture[str]) -> None:
    """Signed after blank values were dropped: explain finds it."""
    signature = compute_signature(TOKEN, URL, [pair for pair in PARAMS if pair[1]])
    code, out, _ = run(capsys, "explain", URL, "-s", signature, *p_args(PARAMS))
    assert code == 1
    assert "without the blank-valued parameters" in out


def test_explain_wrong_token_ranks_causes(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing testable matches: every URL form tried is listed and the causes ranked."""
    signature = compute_signature("another-token", URL, PARAMS)
    code, out, _ = run(capsys, "explain", URL, "-s", signature, *p_args(PARAMS))
    assert code == 1
    assert "Tried 4 URL form(s) with auth token" in out
    assert "1. The URL differs" in out
    assert "2. The wrong token" in out
    assert TOKEN not in out
    assert signature not in out


def test_explain_malformed_signature_lists_no_url_forms(capsys: pytest.CaptureFixture[str]) -> None:
    """A signature that is not base64 of the right length was never compared: no URL form list to send the reader
    after, just what is wrong with the signature."""
    code, out, _ = run(capsys, "explain", URL, "-s", "not-a-signature", *p_args(PARAMS))
    assert code == 1
    assert "malformed_signature" in out
    assert "URL form(s)" not in out


def test_explain_from_curl_names_a_plus_sent_raw(capsys: pytest.CaptureFixture[str]) -> None:
    """curl -d 'From=+1...' sends a '+' the app reads as a space: signed over the plus, it is named, not guessed."""
    signature = compute_signature(TOKEN, URL, [("From", "+15005550006")])
    command = f"curl -s -X POST '{URL}' -H 'X-Twilio-Signature: {signature}' -d 'From=+15005550006'"
    code, out, _ = run(capsys, "explain", "--from-curl", command)
    assert code == 1
    assert "curl -d sends '+' as it is" in out
    assert "Likely causes" not in out


def test_explain_from_curl(capsys: pytest.CaptureFixture[str]) -> None:
    """A curl command line is read for URL, headers and form data."""
    signature = compute_signature(TOKEN, URL, PARAMS)
    command = (
        f"curl -s -X POST '{URL}' -H 'X-Twilio-Signature: {signature}' "
        "--data-urlencode 'From=+15005550006' --data-urlencode 'Body=hello world' -d 'MediaUrl0='"
    )
    code, out, _ = run(capsys, "explain", "--from-curl", command)
    assert code == 0, out


def test_explain_raw_request_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A saved raw HTTP request (as a server logged it) is explained; the scheme is https by default."""
    from urllib.parse import urlencode

    body = urlencode(PARAMS)
    signature = compute_signature(TOKEN, URL, PARAMS)
    raw = (
        f"POST /twilio/sms HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )
    path = tmp_path / "request.http"
    path.write_text(raw)
    assert run(capsys, "explain", "--request", str(path))[0] == 0
    code, out, _ = run(capsys, "explain", "--request", str(path), "--scheme", "http")
    assert code == 1
    assert "It matches if the URL is https://" in out


def test_explain_saved_request_without_length_ignores_the_editors_final_line_break(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Saved by hand (no Content-Length), the file ends with a line break that was never sent: still genuine."""
    from urllib.parse import urlencode

    signature = compute_signature(TOKEN, URL, PARAMS)
    head = "POST /twilio/sms HTTP/1.1\nHost: example.com\nContent-Type: application/x-www-form-urlencoded\n"
    path = tmp_path / "request.http"
    path.write_text(f"{head}X-Twilio-Signature: {signature}\n\n{urlencode(PARAMS)}\n")
    code, out, _ = run(capsys, "explain", "--request", str(path))
    assert code == 0, out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", URL], "no signature"),
        (["explain"], "give the URL"),
        (["sign", URL, "-p", "novalue"], "NAME=VALUE"),
        (["sign", URL, "--body", "/nonexistent/file.json"], "No such file"),
        (["explain", "--from-curl", "curl -H 'X: y'"], "no URL"),
        (["sign", URL, "--token-env", "NOT_SET_ANYWHERE"], "$NOT_SET_ANYWHERE"),
        (["sign", "/twilio/sms", "-p", "a=b"], "absolute URL"),
        (["sign", "example.com/twilio/sms"], "absolute URL"),
        (["explain", URL, "-s", "x", "--public-url", "/twilio"], "--public-url: public_url must be an absolute"),
        (["explain", URL, "-s", "x", "--public-url", "https://example.com/?a=1"], "--public-url: public_url must not"),
        (["explain", "--from-curl", f"curl --frobnicate {URL}"], "cannot read the curl option --frobnicate"),
    ],
)
def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    """Every user error is one line on stderr and exit 2, never a traceback."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_help_everywhere() -> None:
    """--help works for the program and each command."""
    for argv in ([], ["sign"], ["explain"], ["demo"]):
        result = subprocess.run(
            [sys.executable, "-m", "twiliosig", *argv, "--help"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0
        assert "usage:" in result.stdout


def test_demo_runs_and_exits_zero() -> None:
    """The demo shows 200 for the genuine webhook, 403 for the forged one and the explanation."""
    result = subprocess.run([sys.executable, "-m", "twiliosig", "demo"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "-> 200 <Response>" in result.stdout
    assert "-> 403 Forbidden" in result.stdout
    assert "REFUSED (signature_mismatch)" in result.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package's one version."""
    import twiliosig

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"twiliosig {twiliosig.__version__}\n"


INTERNAL = "http://10.0.0.5:8000/twilio/sms"


def test_explain_public_url_names_the_one_twilio_signed(capsys: pytest.CaptureFixture[str]) -> None:
    """Behind a proxy the app sees an internal host: each candidate public_url is tested, the signed one named."""
    signature = compute_signature(TOKEN, URL, PARAMS)
    argv = ["explain", INTERNAL, "-s", signature, *p_args(PARAMS)]
    code, out, _ = run(
        capsys, *argv, "--public-url", "https://hooks.example.com", "--public-url", "https://example.com"
    )
    assert code == 1  # the URL as the app rebuilt it is still refused
    assert "It matches with public_url='https://example.com': Twilio called https://example.com/twilio/sms." in out
    assert "public_url='https://hooks.example.com': no form of https://hooks.example.com/twilio/sms matches" in out
    assert "Likely causes" not in out
    code, out, _ = run(capsys, *argv)
    assert "It matches with public_url" not in out
    assert "--public-url URL` tests a candidate" in out


def test_explain_public_url_with_a_prefix_and_a_port_form(capsys: pytest.CaptureFixture[str]) -> None:
    """A path prefix the proxy strips is prepended, as the middleware does; the matching URL form is named."""
    signature = compute_signature(TOKEN, "https://example.com:443/app/twilio/sms", PARAMS)
    argv = ["explain", INTERNAL, "-s", signature, *p_args(PARAMS), "--public-url", "https://example.com/app/"]
    code, out, _ = run(capsys, *argv)
    assert code == 1
    assert "Twilio called https://example.com:443/app/twilio/sms, with the port 443 added." in out


def test_explain_public_url_for_a_websocket(capsys: pytest.CaptureFixture[str]) -> None:
    """A ws:// handshake URL with an https public_url is checked as wss://, as the ASGI middleware does."""
    signature = compute_signature(TOKEN, "wss://example.com/media")
    code, out, _ = run(
        capsys, "explain", "ws://10.0.0.5:8000/media", "-s", signature, "--public-url", "https://example.com"
    )
    assert code == 1
    assert "Twilio called wss://example.com/media." in out


def test_explain_from_curl_with_form_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """curl -F sends multipart, which the signature never covers: refused, and the form-encoded fields tested."""
    signature = compute_signature(TOKEN, URL, PARAMS)
    fields = " ".join(f"-F '{name}={value}'" for name, value in PARAMS)
    code, out, _ = run(capsys, "explain", "--from-curl", f"curl {URL} -H 'X-Twilio-Signature: {signature}' {fields}")
    assert code == 1
    assert out.startswith("REFUSED (unsigned_body)")
    assert "curl -F sends multipart/form-data" in out
    assert "the same fields form-encoded (-d or --data-urlencode) match." in out
    other = compute_signature(TOKEN, URL, [("From", "someone else")])
    _, out, _ = run(capsys, "explain", "--from-curl", f"curl {URL} -H 'X-Twilio-Signature: {other}' {fields}")
    assert "do not match either" in out


def test_explain_from_curl_json(capsys: pytest.CaptureFixture[str]) -> None:
    """curl --json: the body is the data, concatenated as curl does, and checked against bodySHA256."""
    body = b'{"a": 1}'
    url = f"{URL}?bodySHA256={body_sha256(body)}"
    signature = compute_signature(TOKEN, url)
    command = f"""curl '{url}' -H 'X-Twilio-Signature: {signature}' --json '{{"a":' --json ' 1}}'"""
    assert run(capsys, "explain", "--from-curl", command)[0] == 0
    code, out, _ = run(capsys, "explain", "--from-curl", command.replace(" 1}", " 2}"))
    assert code == 1
    assert "body_hash_mismatch" in out
