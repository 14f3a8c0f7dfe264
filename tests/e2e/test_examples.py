"""Every runnable example starts as its docstring says and tells a genuine webhook from a forged one."""

from __future__ import annotations

import http.client
import json
import sys
from urllib.parse import urlencode

import pytest

from tests.e2e import servers
from twiliosig import compute_signature

TOKEN = "example-token-0123456789abcdef01"
PARAMS = {"From": "+15005550006", "To": "+15005550001", "Body": "Hi there", "FromCity": "PARIS"}

EXAMPLES = {
    "flask": ([sys.executable, "examples/flask_app.py"], "/twilio/sms"),
    "fastapi": ([sys.executable, "examples/fastapi_app.py"], "/twilio/sms"),
    "starlette": ([sys.executable, "examples/starlette_app.py"], "/twilio/voice"),
    "media_stream": ([sys.executable, "examples/media_stream.py"], "/twilio/voice"),
    "django": ([sys.executable, "examples/django_project/manage.py", "runserver", "--noreload"], "/twilio/sms"),
}


def post(port: int, path: str, signature: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = urlencode(PARAMS)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    connection.request("POST", path, body, headers)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_accepts_genuine_and_refuses_forged(name: str) -> None:
    """Start the example on loopback, send a webhook signed with its token and one signed with another."""
    argv, path = EXAMPLES[name]
    port = servers.free_port()
    if name == "django":
        argv = [*argv, f"127.0.0.1:{port}"]
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "PORT": str(port)}
    with servers.running(argv, port, env):
        url = f"http://127.0.0.1:{port}{path}"
        status, text = post(port, path, compute_signature(TOKEN, url, PARAMS))
        assert status == 200, text
        assert text.startswith("<Response>")
        status, text = post(port, path, compute_signature("forged-token", url, PARAMS))
        assert status == 403
        assert "Response" not in text


def test_media_stream_example_checks_the_websocket_handshake() -> None:
    """The Media Streams example accepts a signed handshake, counts frames, and refuses a forged one."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    port = servers.free_port()
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "PORT": str(port), "PUBLIC_URL": f"https://127.0.0.1:{port}"}
    with servers.running([sys.executable, "examples/media_stream.py"], port, env):
        uri = f"ws://127.0.0.1:{port}/twilio/media"
        signature = compute_signature(TOKEN, f"wss://127.0.0.1:{port}/twilio/media")
        with connect(uri, additional_headers={"X-Twilio-Signature": signature}) as websocket:
            for event in ("start", "media", "media", "stop"):
                websocket.send(json.dumps({"event": event}))
            assert json.loads(websocket.recv(timeout=5)) == {"frames": 2}
        with pytest.raises(InvalidStatus), connect(uri, additional_headers={"X-Twilio-Signature": "forged"}):
            pass
