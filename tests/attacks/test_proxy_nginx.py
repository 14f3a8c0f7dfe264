"""The "CDN, then a load balancer" recipe behind two real nginx instances on loopback, in front of gunicorn and uvicorn.

The outer nginx plays the CDN: it keeps the client's Host, appends
``X-Forwarded-Proto`` (it stands for the TLS Twilio spoke, so it writes
``https``) and passes every other header through, the client's
``X-Forwarded-Host`` included. The inner nginx plays the load balancer: it
appends its own ``$scheme`` (``http``: the CDN reached it in clear) and writes
``X-Forwarded-Host`` (appending, or overwriting with ``proxy_set_header
X-Forwarded-Host $host``, the usual line). The app runs
``trust_forwarded={"x_proto": 2, "x_host": 1}``: Twilio's webhook is accepted,
and a webhook Twilio signed for another app on the same token, replayed with the
client's ``X-Forwarded-Host`` naming that app, is refused; with one count for
every header (``trust_forwarded=2``, refused at start-up now) the client's host,
second from the right, was the one believed.

Skipped, saying so, when nginx is not installed (``apt-get install nginx``); the nginx runner is
tests/attacks/proxy_servers.py, shared with the test of docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.attacks import proxy_servers
from tests.attacks.harness import SMS, Pool, exchange, form_body, request_head, sign
from tests.e2e import servers
from twiliosig._origin import ForwardedTrust, forwarded_origin, parse_trust

pytestmark = proxy_servers.NEEDS_NGINX

PUBLIC = "hooks.example.com"
OTHER = "other-app.example"
PROFILE = "proxy-cdn-lb"

#: Append the proxy's value to what it received, as an appending proxy does (nothing received: its value alone).
_APPEND = """
map $http_x_forwarded_proto $appended_proto {{ "" "{proto}"; default "$http_x_forwarded_proto, {proto}"; }}
map $http_x_forwarded_host $appended_host {{ "" "$host"; default "$http_x_forwarded_host, $host"; }}
"""


def config(port: int, upstream: int, headers: str, maps: str = "") -> str:
    """The http block of one nginx on 127.0.0.1:port in front of 127.0.0.1:upstream, writing ``headers``."""
    return f"""
    {maps}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            {headers}
        }}
    }}
"""


@contextlib.contextmanager
def nginx(directory: Path, upstream: int, headers: str, maps: str = "") -> Iterator[int]:
    """Run one nginx until the block ends; its port."""
    port = servers.free_port()
    with proxy_servers.nginx(directory, config(port, upstream, headers, maps), port):
        yield port


LB_HOST = {
    "lb-appends-host": "proxy_set_header X-Forwarded-Host $appended_host;",
    "lb-overwrites-host": "proxy_set_header X-Forwarded-Host $host;",
}


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def chain(request: pytest.FixtureRequest, pool: Pool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """gunicorn (wsgi) or uvicorn (asgi) with the recipe, behind an inner "load balancer" nginx, behind a "CDN" one."""
    adapter: str = request.param
    server = pool.server(adapter, PROFILE)
    root = tmp_path_factory.mktemp(f"nginx-{adapter}")
    ports: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for mode, host_line in LB_HOST.items():
            lb = stack.enter_context(
                nginx(
                    root / f"lb-{mode}",
                    server.port,
                    f"proxy_set_header X-Forwarded-Proto $appended_proto; {host_line}",
                    _APPEND.format(proto="$scheme"),
                )
            )
            ports[mode] = stack.enter_context(
                nginx(
                    root / f"cdn-{mode}",
                    lb,
                    "proxy_set_header X-Forwarded-Proto $appended_proto;",
                    _APPEND.format(proto="https"),
                )
            )
        yield server, ports
    pool.stop(PROFILE)


def post(port: int, signed_url: str, headers: Sequence[tuple[str, str]] = ()) -> int:
    """A webhook signed over ``signed_url``, sent to the outer nginx with Host: hooks.example.com; its status."""
    body = form_body(SMS)
    lines = [
        ("Host", PUBLIC),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Twilio-Signature", sign(signed_url, SMS)),
        *headers,
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    return exchange(port, request_head("POST", "/twilio/sms", lines) + body, "POST").status


FORGED = [("X-Forwarded-Host", OTHER), ("X-Forwarded-Proto", "http")]


@pytest.mark.parametrize("mode", LB_HOST)
def test_twilios_webhook_through_two_nginx_is_accepted(chain: Any, mode: str) -> None:
    """Twilio calls https://hooks.example.com; the CDN's https is second from the right, the LB's host rightmost."""
    server, ports = chain
    before = server.count()
    assert post(ports[mode], f"https://{PUBLIC}/twilio/sms") == 200
    assert post(ports[mode], f"https://{PUBLIC}/twilio/sms", FORGED) == 200, "the client's headers were not ignored"
    assert server.count() == before + 2


@pytest.mark.parametrize("signed_for", [f"https://{OTHER}/twilio/sms", f"http://{PUBLIC}/twilio/sms"])
@pytest.mark.parametrize("mode", LB_HOST)
def test_a_webhook_for_another_app_through_two_nginx_is_refused(chain: Any, mode: str, signed_for: str) -> None:
    """The attacker's X-Forwarded-Host passes the CDN untouched: it must not make another app's signature valid here."""
    server, ports = chain
    with server.unreached():
        assert post(ports[mode], signed_for, FORGED) == 403


class _Echo(BaseHTTPRequestHandler):
    """Records the headers a request arrives with (the app's view, minus the app)."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # Repeated lines joined with commas, as every adapter's Head does.
        joined: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        _Echo.seen.append(joined)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_headers_two_nginx_deliver_are_why_a_bare_count_is_refused(tmp_path: Path) -> None:
    """What the app receives through the chain: a count of two for X-Forwarded-Host reads the client's host."""
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=echo.serve_forever, daemon=True)
    thread.start()
    try:
        lb_headers = f"proxy_set_header X-Forwarded-Proto $appended_proto; {LB_HOST['lb-appends-host']}"
        with (
            nginx(tmp_path / "lb", echo.server_address[1], lb_headers, _APPEND.format(proto="$scheme")) as lb,
            nginx(
                tmp_path / "cdn",
                lb,
                "proxy_set_header X-Forwarded-Proto $appended_proto;",
                _APPEND.format(proto="https"),
            ) as cdn,
        ):
            assert post(cdn, f"https://{OTHER}/twilio/sms", FORGED) == 200
    finally:
        echo.shutdown()
        echo.server_close()
    delivered = _Echo.seen[-1]
    assert delivered["x-forwarded-host"] == f"{OTHER}, {PUBLIC}"
    assert delivered["x-forwarded-proto"] == "http, https, http"
    assert forwarded_origin(delivered.get, ForwardedTrust(x_proto=2, x_host=2)).host == OTHER  # what 2 believed
    recipe = forwarded_origin(delivered.get, parse_trust({"x_proto": 2, "x_host": 1}))
    assert (recipe.scheme, recipe.host) == ("https", PUBLIC)
    with pytest.raises(ValueError, match="proxies differ in the headers they write"):
        parse_trust(2)
