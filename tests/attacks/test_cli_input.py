"""The command line fed odd input: a one-line error and exit 2, never a traceback, never a secret printed.

And ``twiliosig send`` (with ``TwilioSigner.event``) must send the request it signed:
a URL without a path still carries its query (the GET parameters, ``bodySHA256``) on
the wire, or a genuine webhook is refused by the very app it was meant to test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from twiliosig import RequestValidator, events
from twiliosig.cli import main
from twiliosig.wsgi import TwilioSignatureMiddleware

TOKEN = "cli-token-0123456789abcdef0123456"
SECRET = "shared-secret-never-printed-0123"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


TIMEOUTS = ["inf", "1e308", "nan", "-1", "0", "soon"]


@pytest.mark.parametrize("timeout", TIMEOUTS)
def test_send_refuses_a_timeout_no_socket_can_wait(timeout: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--timeout inf`` crashed with OverflowError from inside the socket module."""
    code, output = _run(["send", "messaging.inbound", "http://127.0.0.1:9/x", "--timeout", timeout], capsys)
    assert code == 2
    assert "Traceback" not in output
    assert "--timeout" in output


@pytest.mark.parametrize("public_url", ["https://", "https:///path", "ftp://example.com"])
def test_send_refuses_a_public_url_without_a_host(public_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A public URL with no host would sign 'https:/x', a URL Twilio never calls."""
    argv = ["send", "messaging.inbound", "http://127.0.0.1:9/x", "--public-url", public_url, "--dry-run"]
    code, output = _run(argv, capsys)
    assert code == 2
    assert "--public-url" in output


@pytest.mark.parametrize("item", [f"webhooks_key={SECRET}", SECRET])
def test_explain_never_echoes_a_secret_given_where_a_variable_name_belongs(
    item: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user types ``--shared-key KEY=<the secret>`` instead of ``KEY=ENV``: the error must not print it."""
    argv = ["explain", "https://example.com/x", "--signature", "abc", "--shared-key", item]
    code, output = _run(argv, capsys)
    assert code == 2
    assert SECRET not in output
    assert "--shared-key" in output


@pytest.mark.parametrize("item", ["=SHARED_SECRET", " =SHARED_SECRET"])
def test_explain_with_an_empty_shared_key_id_is_a_usage_error(
    item: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--shared-key =ENV`` crashed with the validator's ValueError and a traceback."""
    monkeypatch.setenv("SHARED_SECRET", SECRET)
    code, output = _run(["explain", "https://example.com/x", "--signature", "abc", "--shared-key", item], capsys)
    assert code == 2
    assert "empty key id" in output
    assert SECRET not in output


# --- a URL without a path ------------------------------------------------------------------------

PATHLESS = [
    pytest.param("event-streams.batch", None, id="json-bodySHA256"),
    pytest.param("messaging.inbound", "GET", id="form-as-GET"),
    pytest.param("messaging.inbound", None, id="form-with-query"),
]


@pytest.mark.parametrize(("kind", "method"), PATHLESS)
@pytest.mark.parametrize("base", ["https://example.com", "https://example.com?tenant=7"])
def test_a_url_without_a_path_keeps_its_query_on_the_wire(kind: str, method: str | None, base: str) -> None:
    """The request target of ``https://example.com?q`` is ``/?q``: the query is what the signature covers."""
    event = events.get(kind) if method is None else events.get(kind).with_method(method)
    signed = event.sign(base, auth_token=TOKEN)
    query = signed.url.partition("?")[2]
    assert signed.target == "/" + ("?" + query if query else "")
    received = "https://example.com" + signed.target
    params: Any = signed.body if signed.body and not signed.params else list(signed.params) or None
    assert RequestValidator(TOKEN).check(received, params, signed.header("X-Twilio-Signature")).valid


@pytest.fixture
def protected_server() -> Iterator[int]:
    """A protected WSGI app on loopback, served by the standard library."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, TwilioSignatureMiddleware(app, auth_token=TOKEN), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("kind", "method"), PATHLESS)
def test_send_to_a_url_without_a_path_is_accepted(
    protected_server: int, kind: str, method: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """``twiliosig send KIND http://host:port`` reaches a protected app that accepts it (it was 403)."""
    argv = ["send", kind, f"http://127.0.0.1:{protected_server}", *(["--method", method] if method else [])]
    code, output = _run(argv, capsys)
    assert code == 0, output


def test_tampered_websocket_handshake_to_a_url_without_a_path_goes_to_that_host() -> None:
    """The tampered handshake of ``wss://host`` is ``wss://host?session=...``: host and target stay apart."""
    from twiliosig._wsclient import Connection

    signed = events.get("media-streams").sign("wss://example.com:8443", auth_token=TOKEN).tampered()
    connection = Connection(signed.url, list(signed.headers))
    assert (connection.host, connection.port, connection.target) == ("example.com", 8443, "/?session=attacker")
