"""docs/deployment.md's nginx and Caddy configurations, run as written with the real servers, TLS at the proxy.

Each configuration is read from the page by its title (so the page cannot drift from
what is tested) and only its ports, certificate paths and upstream are filled in; the
proxy terminates TLS with a certificate from a CA made for the run, which the client
trusts. Behind it run the attack suite's gunicorn (WSGI middleware) and uvicorn (ASGI
middleware, with a Media Streams route). Through each proxy: Twilio's webhook, signed
over ``https://hooks.example.com:PORT/...``, is accepted, also when the client adds its
own forwarding headers; one Twilio signed for another app or for ``http://`` is refused;
a Media Streams handshake signed over ``wss://`` opens and a forged one does not. Then
the page's claims: ``$host`` (and Debian's ``proxy_params``) drop the port and refuse a
genuine webhook; gunicorn and uvicorn alone make the scheme ``https`` behind nginx on
loopback (and no longer with ``--forwarded-allow-ips ''``); the capture wrapper keeps a
refused request that ``twiliosig explain --request`` explains; ``twiliosig send`` fails
with a certificate error without ``--cacert`` and gets through with it.

Skipped, saying what to install, without nginx or Caddy (``make test`` installs both
where it can).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from tests.attacks import proxy_servers
from tests.attacks.harness import ADAPTERS, SMS, Pool, Server, form_body, request_head, server_argv, server_env, sign
from tests.attacks.profiles import TOKEN
from tests.attacks.proxy_servers import NEEDS_CADDY, NEEDS_NGINX, Certificates, docs_config, fill
from tests.docs_harness import blocks, every_block
from tests.e2e import servers
from twiliosig.cli import main

PUBLIC = "hooks.example.com"
OTHER = "other-app.example"
NGINX_SITE = "/etc/nginx/conf.d/hooks.example.com.conf"
NGINX_BEHIND_LB = "/etc/nginx/conf.d/behind-the-load-balancer.conf"
CADDYFILE = "/etc/caddy/Caddyfile"
#: What a client adds to make its request look like it came another way; every proxy here must overwrite it.
CLIENT_FORWARDING = [("X-Forwarded-Host", OTHER), ("X-Forwarded-Proto", "http")]


def test_every_proxy_configuration_in_the_docs_is_run_here() -> None:
    """The nginx and caddy blocks of every page are the ones this module fills in and runs."""
    titles = {(block.language, block.title) for block in every_block() if block.language in {"nginx", "caddy"}}
    assert titles == {("nginx", NGINX_SITE), ("nginx", NGINX_BEHIND_LB), ("caddy", CADDYFILE)}


# --- the client: TLS to 127.0.0.1, as if hooks.example.com resolved there ----------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return proxy_servers.certificates(tmp_path_factory.mktemp("tls"), PUBLIC)


def tls_exchange(port: int, data: bytes, certs: Certificates, method: str = "POST") -> http.client.HTTPResponse:
    """Send ``data`` over TLS to 127.0.0.1:port (SNI and certificate check for hooks.example.com); the response."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = certs.client_context().wrap_socket(raw, server_hostname=PUBLIC)
    sock.sendall(data)
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    if response.status != 101:
        response.read()
    sock.close()
    return response


def post(port: int, certs: Certificates, signed_url: str, headers: Sequence[tuple[str, str]] = ()) -> int:
    """An SMS webhook signed over ``signed_url``, sent to the proxy with Host hooks.example.com:port; its status."""
    body = form_body(SMS)
    lines = [
        ("Host", f"{PUBLIC}:{port}"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Twilio-Signature", sign(signed_url, SMS)),
        *headers,
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    return tls_exchange(port, request_head("POST", "/twilio/sms", lines) + body, certs).status


def handshake(port: int, certs: Certificates, signed_url: str) -> int:
    """A Media Streams WebSocket handshake signed over ``signed_url``; the status the proxy answers."""
    lines = [
        ("Host", f"{PUBLIC}:{port}"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("X-Twilio-Signature", sign(signed_url)),
    ]
    return tls_exchange(port, request_head("GET", "/twilio/media", lines), certs, "GET").status


def check_webhooks(port: int, certs: Certificates, server: Server) -> None:
    """Twilio's webhook through the proxy is accepted (client headers or not); another app's and http's are refused."""
    genuine = f"https://{PUBLIC}:{port}/twilio/sms"
    before = server.count()
    assert post(port, certs, genuine) == 200
    assert post(port, certs, genuine, CLIENT_FORWARDING) == 200, "a client's forwarding headers reached the app"
    assert server.count() == before + 2
    with server.unreached():
        assert post(port, certs, f"https://{OTHER}/twilio/sms", CLIENT_FORWARDING) == 403
        assert post(port, certs, f"http://{PUBLIC}:{port}/twilio/sms") == 403
        assert post(port, certs, genuine.replace("sms", "voice")) == 403


def check_media_stream(port: int, certs: Certificates, server: Server) -> None:
    """A Media Streams handshake signed over wss:// gets its 101 through the proxy; a forged one does not."""
    assert handshake(port, certs, f"wss://{PUBLIC}:{port}/twilio/media") == 101
    with server.unreached(settle=0.2):
        assert handshake(port, certs, f"wss://{OTHER}/twilio/media") == 403


# --- nginx ---------------------------------------------------------------------------------------


def nginx_site(port: int, upstream: int, certs: Certificates, **changes: str) -> str:
    """docs/deployment.md's nginx site, on 127.0.0.1:port in front of upstream, with the test's certificate."""
    text = fill(
        docs_config(NGINX_SITE).code,
        {
            "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
            "proxy_pass http://127.0.0.1:8000;": f"proxy_pass http://127.0.0.1:{upstream};",
            "/etc/letsencrypt/live/hooks.example.com/fullchain.pem": str(certs.cert),
            "/etc/letsencrypt/live/hooks.example.com/privkey.pem": str(certs.key),
        },
    )
    return fill(text, changes) if changes else text


@contextlib.contextmanager
def docs_nginx(
    directory: Path, upstream: int, certs: Certificates, changes: dict[str, str] | None = None
) -> Iterator[int]:
    port = servers.free_port()
    with proxy_servers.nginx(directory, nginx_site(port, upstream, certs, **(changes or {})), port):
        yield port


@NEEDS_NGINX
@pytest.mark.parametrize("profile", ["proxy-true", "default"], ids=["trust_forwarded=True", "nothing-set"])
@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_the_nginx_site_passes_twilio_and_refuses_forgeries(
    pool: Pool, adapter: str, profile: str, certs: Certificates, tmp_path: Path
) -> None:
    """TLS at nginx: with trust_forwarded=True, or with nothing set (the server trusts loopback), as the page says."""
    server = pool.server(adapter, profile)
    with docs_nginx(tmp_path, server.port, certs) as port:
        check_webhooks(port, certs, server)
        if adapter == "asgi":
            check_media_stream(port, certs, server)


HOST_ONLY = {"proxy_set_header Host              $http_host;": "proxy_set_header Host              $host;"}
#: Debian's own file in place of the page's four Host and forwarding lines, as `include proxy_params;` would be.
PROXY_PARAMS = {
    "proxy_set_header Host              $http_host;": "include /etc/nginx/proxy_params;",
    "proxy_set_header X-Forwarded-Proto $scheme;": "",
    "proxy_set_header X-Forwarded-Host  $http_host;": "",
    "proxy_set_header X-Forwarded-For   $proxy_add_x_forwarded_for;": "",
}


@NEEDS_NGINX
@pytest.mark.parametrize("changes", [HOST_ONLY, PROXY_PARAMS], ids=["Host-$host", "include-proxy_params"])
def test_host_drops_the_port_and_a_genuine_webhook_is_refused(
    pool: Pool, certs: Certificates, tmp_path: Path, changes: dict[str, str]
) -> None:
    """On a port other than 443, `$host` (as Debian's proxy_params sets it) loses the port Twilio signed."""
    if changes is PROXY_PARAMS:
        params = Path("/etc/nginx/proxy_params")
        if not params.exists() or "proxy_set_header Host $host;" not in params.read_text(encoding="utf-8"):
            pytest.skip("this machine's /etc/nginx/proxy_params does not set Host $host")
    server = pool.server("wsgi", "default")
    with docs_nginx(tmp_path, server.port, certs, changes) as port, server.unreached():
        assert post(port, certs, f"https://{PUBLIC}:{port}/twilio/sms") == 403
    with docs_nginx(tmp_path / "as-written", server.port, certs) as port:
        assert post(port, certs, f"https://{PUBLIC}:{port}/twilio/sms") == 200


# --- nginx behind a load balancer ----------------------------------------------------------------

#: The load balancer, played by nginx: TLS, Host kept, X-Forwarded-Proto written, upgrades passed on.
_LOAD_BALANCER = """
server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate     {cert};
    ssl_certificate_key {key};
    location / {{
        proxy_pass http://127.0.0.1:{upstream};
        proxy_http_version 1.1;
        proxy_set_header Host              $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade           $http_upgrade;
        proxy_set_header Connection        $connection_upgrade;
    }}
}}
"""


def _map() -> str:
    """The page's `map` for the Connection header, which the load-balancer block uses "with the map above"."""
    site = docs_config(NGINX_SITE).code
    return site[: site.index("server {")]


@NEEDS_NGINX
@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_nginx_behind_a_load_balancer_with_a_count_of_one_for_x_proto(
    pool: Pool, adapter: str, certs: Certificates, tmp_path: Path
) -> None:
    """The load balancer ends TLS and writes X-Forwarded-Proto; the page's nginx passes it; the app counts one."""
    server = pool.server(adapter, "proxy-proto-only")
    inner, outer = servers.free_port(), servers.free_port()
    site = fill(
        docs_config(NGINX_BEHIND_LB).code,
        {"listen 8080;": f"listen 127.0.0.1:{inner};", "127.0.0.1:8000": f"127.0.0.1:{server.port}"},
    )
    balancer = _LOAD_BALANCER.format(port=outer, cert=certs.cert, key=certs.key, upstream=inner)
    with (
        proxy_servers.nginx(tmp_path / "nginx", _map() + site, inner),
        proxy_servers.nginx(tmp_path / "load-balancer", _map() + balancer, outer),
    ):
        check_webhooks(outer, certs, server)
        if adapter == "asgi":
            check_media_stream(outer, certs, server)


# --- Caddy ---------------------------------------------------------------------------------------


def caddyfile(port: int, upstream: int, certs: Certificates) -> str:
    """docs/deployment.md's Caddyfile on port, with the test's certificate, no admin endpoint and no port 80."""
    site = fill(
        docs_config(CADDYFILE).code,
        {
            f"{PUBLIC} {{": f"{PUBLIC}:{port} {{\n    bind 127.0.0.1\n    tls {certs.cert} {certs.key}",
            "reverse_proxy 127.0.0.1:8000": f"reverse_proxy 127.0.0.1:{upstream}",
        },
    )
    return "{\n    admin off\n    auto_https disable_redirects\n}\n\n" + site


@NEEDS_CADDY
@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_the_caddyfile_passes_twilio_and_refuses_forgeries(
    pool: Pool, adapter: str, certs: Certificates, tmp_path: Path
) -> None:
    """TLS at Caddy, trust_forwarded=True: Caddy replaces a client's X-Forwarded-* and passes WebSockets on."""
    server = pool.server(adapter, "proxy-true")
    port = servers.free_port()
    with proxy_servers.caddy(tmp_path, caddyfile(port, server.port, certs), port):
        check_webhooks(port, certs, server)
        if adapter == "asgi":
            check_media_stream(port, certs, server)


# --- twiliosig send --cacert through the real proxies ---------------------------------------------


@pytest.fixture
def resolve_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """hooks.example.com resolves to 127.0.0.1 for the CLI run in this process (its own DNS is not touched)."""
    connect = socket.create_connection

    def to_loopback(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        return connect(("127.0.0.1" if host == PUBLIC else host, port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", to_loopback)


@contextlib.contextmanager
def proxy(kind: str, tmp_path: Path, upstream: int, certs: Certificates) -> Iterator[int]:
    if kind == "nginx":
        if proxy_servers.NGINX is None:
            pytest.skip("nginx is not installed: apt-get install nginx to run this test")
        with docs_nginx(tmp_path, upstream, certs) as port:
            yield port
    else:
        if proxy_servers.CADDY is None:
            pytest.skip("caddy is not installed: apt-get install caddy to run this test")
        port = servers.free_port()
        with proxy_servers.caddy(tmp_path, caddyfile(port, upstream, certs), port):
            yield port


@pytest.mark.usefixtures("resolve_public")
@pytest.mark.parametrize("kind", ["nginx", "caddy"])
def test_send_needs_cacert_for_a_proxy_with_a_private_certificate(
    pool: Pool, kind: str, certs: Certificates, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --cacert: a certificate error that names the option; with it, the genuine webhook and stream get in."""
    server = pool.server("asgi", "proxy-true")
    with proxy(kind, tmp_path, server.port, certs) as port:
        for kind_and_url in (
            ["messaging.inbound", f"https://{PUBLIC}:{port}/twilio/sms"],
            ["media-streams", f"wss://{PUBLIC}:{port}/twilio/media"],
        ):
            status = main(["send", *kind_and_url, "--token", TOKEN])
            captured = capsys.readouterr()
            assert status == 2, captured.out
            assert "its TLS certificate is not trusted" in captured.err
            assert "--cacert FILE" in captured.err
            assert "Traceback" not in captured.err
            before = server.count()
            status = main(["send", *kind_and_url, "--token", TOKEN, "--cacert", str(certs.ca)])
            captured = capsys.readouterr()
            assert status == 0, captured.out + captured.err
            assert server.count() == before + 1


def test_send_cacert_that_is_not_a_certificate_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing or unreadable --cacert file is a one-line error before anything is sent."""
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate", encoding="utf-8")
    for path, words in ((tmp_path / "missing.pem", "no such file"), (garbage, "not a PEM file")):
        status = main(
            ["send", "messaging.inbound", "https://127.0.0.1:9/twilio/sms", "--token", TOKEN, "--cacert", str(path)]
        )
        err = capsys.readouterr().err
        assert status == 2
        assert f"--cacert {path}: {words}" in err


# --- capturing a refused request ------------------------------------------------------------------


def capture_program() -> str:
    """The page's capture wrapper: the Python block under "Capturing a refused request in production"."""
    [block] = [
        block
        for block in blocks(proxy_servers.DEPLOYMENT)
        if block.section == "Capturing a refused request in production" and block.language == "python"
    ]
    return block.code


def test_a_refused_webhook_is_kept_without_credentials_and_explain_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Behind a TLS proxy the app sees http: refused, kept (no Authorization, mode 0600), explained from the file."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_REFUSED_DIR", str(tmp_path / "refused"))
    namespace: dict[str, Any] = {"__name__": "capture"}
    exec(compile(capture_program(), "docs/deployment.md", "exec"), namespace)
    client = Client(namespace["application"])
    body = form_body(SMS)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(f"https://{PUBLIC}/twilio/sms", SMS),
        "Authorization": "Basic dXNlcjpzM2NyZXQ=",
        "X-Forwarded-Proto": "https",
    }
    genuine_here = sign(f"http://{PUBLIC}/twilio/sms", SMS)
    ok = client.post(
        "/twilio/sms", data=body, headers={**headers, "X-Twilio-Signature": genuine_here}, base_url=f"http://{PUBLIC}"
    )
    assert ok.status_code == 200
    assert not list((tmp_path / "refused").iterdir()), "an accepted request was kept"

    refused = client.post("/twilio/sms", data=body, headers=headers, base_url=f"http://{PUBLIC}")
    assert refused.status_code == 403
    [kept] = list((tmp_path / "refused").iterdir())
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "refused").stat().st_mode) == 0o700
    raw = kept.read_bytes()
    assert raw.startswith(b"POST /twilio/sms HTTP/1.1\r\n")
    assert raw.endswith(b"\r\n\r\n" + body)
    assert b"Authorization" not in raw
    assert b"dXNlcjpzM2NyZXQ" not in raw
    assert b"X-Twilio-Signature: " in raw
    assert b"X-Forwarded-Proto: https" in raw

    status = main(["explain", "--request", str(kept), "--scheme", "http", "--public-url", f"https://{PUBLIC}"])
    out = capsys.readouterr().out
    assert f"It matches with public_url='https://{PUBLIC}'" in out, out
    assert status == 1  # the request as the app saw it does not match: the explanation names the fix
    assert TOKEN not in out


def test_an_oversized_body_is_passed_on_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wrapper never reads a body it cannot bound: the middleware answers it as it would without the wrapper."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_REFUSED_DIR", str(tmp_path / "refused"))
    namespace: dict[str, Any] = {"__name__": "capture"}
    exec(compile(capture_program(), "docs/deployment.md", "exec"), namespace)
    client = Client(namespace["application"])
    big = b"Body=" + b"x" * (2 * 1024 * 1024)
    taken: list[int] = []

    class Counted(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            taken.append(len(data))
            return data

    response = client.post(
        "/twilio/sms",
        input_stream=Counted(big),
        content_length=len(big),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign("https://x/")},
        base_url=f"http://{PUBLIC}",
    )
    assert response.status_code == 413
    assert sum(taken) == 0, "the body over the limit was read"
    assert not list((tmp_path / "refused").iterdir())


@NEEDS_NGINX
@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_with_nothing_set_it_is_the_servers_trust_of_loopback_that_lets_the_webhook_in(
    adapter: str, certs: Certificates, tmp_path: Path
) -> None:
    """The same server told to trust no one (--forwarded-allow-ips '') sees http, and Twilio's webhook is refused."""
    spec = ADAPTERS[adapter]
    port = servers.free_port()
    argv = [*server_argv(spec.server, spec.app, port), "--forwarded-allow-ips", ""]
    env = server_env(spec.process, "default", tmp_path)
    with (
        servers.running(argv, port, env, log_path=tmp_path / "server.log"),
        docs_nginx(tmp_path / "nginx", port, certs) as proxy_port,
    ):
        assert post(proxy_port, certs, f"https://{PUBLIC}:{proxy_port}/twilio/sms") == 403
        assert post(proxy_port, certs, f"http://{PUBLIC}:{proxy_port}/twilio/sms") == 200


def test_only_webhook_paths_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 403 outside the webhook paths (the app's own, an admin page's) is never written down."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_REFUSED_DIR", str(tmp_path / "refused"))
    namespace: dict[str, Any] = {"__name__": "capture"}
    exec(compile(capture_program(), "docs/deployment.md", "exec"), namespace)

    def forbidden(environ: Any, start_response: Any) -> list[bytes]:
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"no"]

    application = namespace["KeepRefused"](forbidden, tmp_path / "refused")
    response = Client(application).post("/admin/login", data=b"password=s3cret", base_url=f"http://{PUBLIC}")
    assert response.status_code == 403
    assert not list((tmp_path / "refused").iterdir())
    assert Client(application).post("/twilio/sms", data=b"x=1", base_url=f"http://{PUBLIC}").status_code == 403
    assert len(list((tmp_path / "refused").iterdir())) == 1
