"""End to end through real servers on loopback, signed by the twilio package.

gunicorn serves a Flask app and a Django app through the WSGI middleware;
uvicorn serves a FastAPI app and a Starlette app through the ASGI middleware.
Every test runs against all four.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.e2e import servers
from tests.e2e.wsgi_apps import MAX_BODY, TOKEN
from tests.oracle import FORM, twilio_signature
from tests.oracle import SMS as PAIRS


def sign(url: str, pairs: list[tuple[str, str]] | None = None, token: str = TOKEN) -> str:
    return twilio_signature(token, url, pairs)


@dataclass
class Server:
    framework: str
    port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app_calls(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = headers or {}
            connection.putrequest(method, target, skip_host="Host" in headers, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value.encode("utf-8"))
            if chunked:
                connection.putheader("Transfer-Encoding", "chunked")
                connection.endheaders()
                data = body or b""
                for start in range(0, len(data), 17):
                    piece = data[start : start + 17]
                    connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                connection.send(b"0\r\n\r\n")
            else:
                if body is not None:
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def post_form(
        self, path: str, pairs: list[tuple[str, str]], signature: str | None, **kwargs: Any
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": FORM, **kwargs.pop("headers", {})}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        body = kwargs.pop("body", urlencode(pairs).encode())
        return self.request("POST", path, body, headers, **kwargs)


FRAMEWORKS = {
    "flask": ("gunicorn", "tests.e2e.wsgi_apps:flask"),
    "django": ("gunicorn", "tests.e2e.wsgi_apps:django"),
    "fastapi": ("uvicorn", "tests.e2e.asgi_apps:fastapi"),
    "starlette": ("uvicorn", "tests.e2e.asgi_apps:starlette"),
}


@pytest.fixture(scope="module", params=list(FRAMEWORKS))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    framework = request.param
    kind, app = FRAMEWORKS[framework]
    port = servers.free_port()
    log = tmp_path_factory.mktemp(framework) / "calls.jsonl"
    env = {"E2E_FRAMEWORK": framework, "E2E_LOG": str(log)}
    start = servers.gunicorn if kind == "gunicorn" else servers.uvicorn
    with start(app, port, env):
        yield Server(framework, port, log)


@pytest.fixture
def asgi_server(server: Server) -> Server:
    if FRAMEWORKS[server.framework][0] != "uvicorn":
        pytest.skip("ASGI only")
    return server


def seen(response: bytes) -> dict[str, Any]:
    return dict(json.loads(response))


def test_genuine_form_post_arrives_byte_identical(server: Server) -> None:
    """Unicode, blank and repeated names: accepted; the framework sees the same bytes and every pair."""
    body = urlencode(PAIRS).encode()
    status, response = server.post_form("/plain/sms", PAIRS, sign(server.origin + "/plain/sms", PAIRS), body=body)
    assert status == 200
    assert seen(response)["sha256"] == hashlib.sha256(body).hexdigest()
    assert sorted(map(tuple, seen(response)["form"])) == sorted(PAIRS)


def test_get_with_query(server: Server) -> None:
    """A GET webhook signs the full URL with no params."""
    target = "/plain/voice?" + urlencode([("CallSid", "CA1"), ("From", "+15005550006"), ("Name", "O'Hara x")])
    status, _ = server.request("GET", target, None, {"X-Twilio-Signature": sign(server.origin + target)})
    assert status == 200


def test_json_with_body_hash(server: Server) -> None:
    """A JSON webhook with bodySHA256: accepted, the body byte-identical; a changed body refused."""
    body = json.dumps([{"type": "com.twilio.voice.status", "data": {"name": "Zoë"}}]).encode()
    target = f"/plain/events?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": sign(server.origin + target)}
    status, response = server.request("POST", target, body, headers)
    assert status == 200
    assert seen(response)["sha256"] == hashlib.sha256(body).hexdigest()
    before = server.app_calls()
    assert server.request("POST", target, body + b" ", headers)[0] == 403
    assert server.app_calls() == before


def test_chunked_body(server: Server) -> None:
    """A chunked upload is read to the end and replayed whole to the framework."""
    body = urlencode(PAIRS).encode()
    status, response = server.post_form("/plain/sms", PAIRS, sign(server.origin + "/plain/sms", PAIRS), chunked=True)
    assert status == 200
    assert seen(response)["sha256"] == hashlib.sha256(body).hexdigest()
    assert sorted(map(tuple, seen(response)["form"])) == sorted(PAIRS)


def test_percent_encoded_path(server: Server) -> None:
    """The path is signed as sent, percent-encoding included."""
    target = "/plain/caf%C3%A9/O%27Hara"
    assert server.post_form(target, PAIRS, sign(server.origin + target, PAIRS))[0] == 200


def test_trailing_slash(server: Server) -> None:
    """Signed with a trailing slash, received without: accepted through the slash variant."""
    status, response = server.post_form("/plain/sms", PAIRS, sign(server.origin + "/plain/sms/", PAIRS))
    assert status == 200
    assert seen(response)["variant"] == "with a trailing slash added"


def test_public_url_behind_a_pretend_tls_proxy(server: Server) -> None:
    """The proxy strips /public and terminates TLS; public_url restores what Twilio signed."""
    signature = sign("https://example.com/public/proxied/sms", PAIRS)
    headers = {"Host": "internal.local:8000"}
    assert server.post_form("/proxied/sms", PAIRS, signature, headers=headers)[0] == 200
    assert server.post_form("/plain/sms", PAIRS, signature, headers=headers)[0] == 403


def test_trust_forwarded_on_and_off(server: Server) -> None:
    """X-Forwarded-Proto/Host are used where trusted and ignored elsewhere."""
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
    forwarded = sign("https://hooks.example.com/forwarded/sms", PAIRS)
    assert server.post_form("/forwarded/sms", PAIRS, forwarded, headers=headers)[0] == 200
    plain = sign("https://hooks.example.com/plain/sms", PAIRS)
    assert server.post_form("/plain/sms", PAIRS, plain, headers=headers)[0] == 403


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("forged", 403),
        ("missing", 403),
        ("tampered", 403),
        ("oversized", 413),
        ("invalid-utf8", 400),
        ("binary", 403),
        ("garbage-header", 403),
    ],
)
def test_refusals_never_reach_the_app(server: Server, case: str, expected: int) -> None:
    """Forged, missing, tampered, oversized and garbage requests are refused before the framework runs."""
    url = server.origin + "/plain/sms"
    signature: str | None = sign(url, PAIRS)
    kwargs: dict[str, Any] = {}
    if case == "forged":
        signature = sign(url, PAIRS, token="not-the-token")
    elif case == "missing":
        signature = None
    elif case == "tampered":
        kwargs["body"] = urlencode([*PAIRS[:-1], ("ForwardedFrom", "c")]).encode()
    elif case == "oversized":
        kwargs["body"] = b"Body=" + b"x" * (MAX_BODY + 1)
    elif case == "invalid-utf8":
        kwargs["body"] = b"Body=caf\xe9"
    elif case == "binary":
        kwargs["body"] = bytes(range(256)) * 4
        kwargs["headers"] = {"Content-Type": "application/octet-stream"}
    else:
        signature = "=,; +/" * 1000
    before = server.app_calls()
    status, body = server.post_form("/plain/sms", PAIRS, signature, **kwargs)
    assert status == expected
    assert len(body) < 40
    assert server.app_calls() == before


def test_signed_websocket_handshake(asgi_server: Server) -> None:
    """A Media Streams handshake signed over wss:// is accepted; the app answers on the socket."""
    from websockets.sync.client import connect

    uri = f"ws://127.0.0.1:{asgi_server.port}/ws/media"
    signature = sign(f"wss://127.0.0.1:{asgi_server.port}/ws/media")
    with connect(uri, additional_headers={"X-Twilio-Signature": signature}) as websocket:
        assert websocket.recv(timeout=5) == "as received"


def test_unsigned_websocket_handshake_gets_403(asgi_server: Server) -> None:
    """A forged handshake is closed before accept, which uvicorn answers with an HTTP 403."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    uri = f"ws://127.0.0.1:{asgi_server.port}/ws/media"
    with pytest.raises(InvalidStatus) as caught, connect(uri, additional_headers={"X-Twilio-Signature": "forged"}):
        pass
    assert caught.value.response.status_code == 403


def test_mounted_sub_app_root_path(asgi_server: Server) -> None:
    """A protected sub-app under Mount('/mounted'): the URL carries the mount prefix once."""
    url = asgi_server.origin + "/mounted/twilio/sms"
    assert asgi_server.post_form("/mounted/twilio/sms", PAIRS, sign(url, PAIRS))[0] == 200
    before = asgi_server.app_calls()
    wrong = sign(asgi_server.origin + "/twilio/sms", PAIRS)  # without the prefix
    assert asgi_server.post_form("/mounted/twilio/sms", PAIRS, wrong)[0] == 403
    assert asgi_server.app_calls() == before


@pytest.fixture(scope="module")
def root_path_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """uvicorn --root-path /api: a proxy in front strips /api before the request arrives."""
    port = servers.free_port()
    log = tmp_path_factory.mktemp("root-path") / "calls.jsonl"
    env = {"E2E_FRAMEWORK": "starlette", "E2E_LOG": str(log)}
    with servers.uvicorn("tests.e2e.asgi_apps:starlette", port, env, "--root-path", "/api"):
        yield Server("starlette", port, log)


def test_uvicorn_root_path_prefix_is_signed(root_path_server: Server) -> None:
    """Twilio signed /api/plain/sms; the stripped request arrives as /plain/sms and is accepted."""
    url = root_path_server.origin + "/api/plain/sms"
    assert root_path_server.post_form("/plain/sms", PAIRS, sign(url, PAIRS))[0] == 200
    bare = sign(root_path_server.origin + "/plain/sms", PAIRS)
    assert root_path_server.post_form("/plain/sms", PAIRS, bare)[0] == 403
