"""`twiliosig send` against real servers: every catalogue entry is accepted by each middleware, a tampered copy refused.

One gunicorn (the WSGI middleware) and one uvicorn (the ASGI middleware) serve
``tests/e2e/send_apps.py`` for the whole module; each test runs the CLI in process, as
a user would run it, and reads what it printed and its exit status. WebSocket entries go
to uvicorn only: WSGI has no WebSockets.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator

import pytest

from tests.e2e import servers
from tests.e2e.send_apps import PUBLIC_URL, TOKEN
from twiliosig import events
from twiliosig.cli import main

HTTP_KINDS = [kind for kind, event in events.CATALOGUE.items() if not event.websocket]
FORM_KINDS = [kind for kind, event in events.CATALOGUE.items() if not event.websocket and event.body is None]
WEBSOCKET_KINDS = [kind for kind, event in events.CATALOGUE.items() if event.websocket]


@pytest.fixture(scope="module")
def wsgi_port() -> Iterator[int]:
    port = servers.free_port()
    with servers.gunicorn("tests.e2e.send_apps:wsgi", port, {"SEND_APP": "wsgi"}):
        yield port


@pytest.fixture(scope="module")
def asgi_port() -> Iterator[int]:
    port = servers.free_port()
    with servers.uvicorn("tests.e2e.send_apps:asgi", port, {"SEND_APP": "asgi"}):
        yield port


@pytest.fixture(params=["wsgi", "asgi"])
def port(request: pytest.FixtureRequest) -> int:
    """The port of the server behind each middleware."""
    return int(request.getfixturevalue(f"{request.param}_port"))


def send(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(["send", *argv, "--token", TOKEN])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def answer(output: str) -> dict[str, int]:
    """The JSON the app answered with (the line after the status line)."""
    lines = output.splitlines()
    status_line = next(index for index, line in enumerate(lines) if line.startswith("← "))
    return dict(json.loads(lines[status_line + 1]))


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_every_webhook_is_accepted_and_its_tampered_copy_refused(
    kind: str, port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The genuine request reaches the app whole; one changed after signing gets a 403 and never reaches it."""
    url = f"http://127.0.0.1:{port}/twilio/{kind.replace('.', '/')}"
    status, output = send(capsys, kind, url)
    assert status == 0, output
    assert "← 200 OK" in output
    event = events.get(kind)
    assert answer(output) == {
        "method": "POST",
        "params": len(event.params),
        "body": len(event.sign(url, auth_token=TOKEN).body),
    }

    status, output = send(capsys, kind, url, "--tampered")
    assert status == 0, output
    assert "← 403 Forbidden" in output
    assert "Refused as it should be" in output


@pytest.mark.parametrize("kind", FORM_KINDS)
def test_every_form_webhook_sent_as_get_is_accepted_and_its_tampered_copy_refused(
    kind: str, port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --method GET every parameter moves to the query and the signature covers the whole URL."""
    url = f"http://127.0.0.1:{port}/twilio/get?configured=1"
    status, output = send(capsys, kind, url, "--method", "GET")
    assert status == 0, output
    assert answer(output) == {"method": "GET", "params": 0, "body": 0}
    status, output = send(capsys, kind, url, "--method", "GET", "--tampered")
    assert status == 0, output
    assert "← 403 Forbidden" in output


@pytest.mark.parametrize("kind", WEBSOCKET_KINDS)
def test_every_websocket_handshake_is_accepted_and_its_messages_delivered(
    kind: str, asgi_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The handshake is signed over wss:// though sent over ws://; each message is answered; a tampered URL is a 403."""
    url = f"ws://127.0.0.1:{asgi_port}/ws/{kind}"
    status, output = send(capsys, kind, url)
    assert status == 0, output
    assert "← 101 Switching Protocols" in output
    assert f"signed over wss://127.0.0.1:{asgi_port}/ws/{kind}" in output
    messages = events.get(kind).messages
    assert f"sent {len(messages)} messages; the app sent {len(messages)}:" in output
    for message in messages:
        item = json.loads(message)
        assert f"⇠ got {item.get('event') or item.get('type')}" in output

    status, output = send(capsys, kind, url, "--tampered")
    assert status == 0, output
    assert "← 403 Forbidden" in output


def test_a_genuine_request_the_app_refuses_is_explained(asgi_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Signed with another token, the request is refused; send exits 1 and says what explain would."""
    url = f"http://127.0.0.1:{asgi_port}/twilio/sms"
    status = main(["send", "messaging.inbound", url, "--token", "not-the-apps-token"])
    output = capsys.readouterr().out
    assert status == 1
    assert "REFUSED (403 Forbidden)" in output
    assert f"GENUINE: matches if the URL is {url}" in output
    assert "The wrong token" in output


def test_a_tampered_request_the_app_accepts_is_reported(port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """A path the middleware does not protect takes a tampered copy: send exits 1 and says so."""
    status, output = send(capsys, "messaging.inbound", f"http://127.0.0.1:{port}/open/sms", "--tampered")
    assert status == 1
    assert "ACCEPTED A TAMPERED REQUEST" in output


def test_behind_a_proxy_the_refusal_points_at_public_url(port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """An app configured with public_url refuses a request signed for its own address; send says what to do."""
    url = f"http://127.0.0.1:{port}/public/sms"
    status, output = send(capsys, "messaging.inbound", url)
    assert status == 1
    assert "--public-url" in output


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
def test_public_url_signs_the_address_twilio_calls(
    server: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """--public-url signs the tunnel's address while sending to the app, as the middleware's public_url expects."""
    port = request.getfixturevalue(f"{server}_port")
    url = f"http://127.0.0.1:{port}/public/voice?tenant=caf%C3%A9"
    status, output = send(capsys, "voice.incoming", url, "--public-url", PUBLIC_URL)
    assert status == 0, output
    assert f"signed over {PUBLIC_URL}/public/voice?tenant=caf%C3%A9" in output


def test_set_changes_a_parameter_and_the_signature_follows(asgi_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """--set replaces one value, adds a new name, and edits a JSON path; every one is still accepted."""
    url = f"http://127.0.0.1:{asgi_port}/twilio/sms"
    status, output = send(capsys, "messaging.inbound", url, "--set", "Body=STOP", "--set", "OptOutType=STOP")
    assert status == 0, output
    assert answer(output)["params"] == len(events.get("messaging.inbound").params) + 1
    status, output = send(
        capsys, "event-streams.batch", url, "--set", "0.data.numMedia:=2", "--set", "1.data.Index:=99"
    )
    assert status == 0, output


def test_an_unreachable_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening: exit 2 and one line naming the URL."""
    url = f"http://127.0.0.1:{servers.free_port()}/twilio/sms"
    status, output = send(capsys, "messaging.inbound", url)
    assert status == 2
    assert f"could not reach {url}" in output


def test_an_unreachable_app_is_named_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    """A URL with user:password@ (Basic auth in front of the app): the error never repeats the password."""
    port = servers.free_port()
    status, output = send(capsys, "messaging.inbound", f"http://twilio:s3cret-pw@127.0.0.1:{port}/twilio/sms")
    assert status == 2
    assert f"could not reach http://***@127.0.0.1:{port}/twilio/sms" in output
    assert "s3cret-pw" not in output


FRONTLINE_KINDS = [kind for kind in events.CATALOGUE if kind.startswith("frontline.")]


def test_the_frontline_example_answers_every_callback_and_refuses_tampered_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """examples/frontline_app.py serves the four callbacks as Frontline expects, and only to signed requests."""
    port = servers.free_port()
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "PORT": str(port)}
    with servers.running([sys.executable, "examples/frontline_app.py"], port, env):
        replies = {}
        for kind in FRONTLINE_KINDS:
            url = f"http://127.0.0.1:{port}{events.get(kind).path}"
            status, output = send(capsys, kind, url)
            assert status == 0, output
            lines = output.splitlines()
            status_line = next(index for index, line in enumerate(lines) if line.startswith("← "))
            replies[kind] = json.loads("\n".join(lines[status_line + 1 :]))
            status, output = send(capsys, kind, url, "--tampered")
            assert status == 0, output
            assert "← 403 Forbidden" in output
    assert replies["frontline.crm.customers"]["objects"]["customers"]
    assert replies["frontline.crm.customer"]["objects"]["customer"]["customer_id"] == "cust-7f3a9c"
    assert replies["frontline.outgoing"]["proxy_address"].startswith("whatsapp:+")
    assert replies["frontline.templates"][0]["templates"]
    assert replies["frontline.routing"] == {"routed_to": "ana.souza@example.com"}


def test_a_dry_run_shows_no_password_from_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run prints every header it would send: the Authorization built from user:password@ is masked.

    Basic's value is the password in base64, as good as the password to whoever reads
    the output (a CI log, a pasted terminal).
    """
    url = f"http://twilio:s3cret-pw@127.0.0.1:{servers.free_port()}/twilio/sms"
    status, output = send(capsys, "messaging.inbound", url, "--dry-run")
    assert status == 0
    assert "Authorization: Basic ***" in output
    assert base64.b64encode(b"twilio:s3cret-pw").decode() not in output
    assert "s3cret-pw" not in output
