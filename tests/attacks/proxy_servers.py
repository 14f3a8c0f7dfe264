"""Real nginx and Caddy on loopback for the proxy tests, a throwaway CA, and the docs' configurations.

Shared by tests/attacks/test_proxy_nginx.py (two nginx playing a CDN and a load
balancer) and tests/attacks/test_deployment.py (the configurations of
docs/deployment.md, run as written with only their ports, paths and certificate
filled in). Each server runs in the foreground from a temporary directory, bound to
127.0.0.1 only, and is stopped when its block ends. A test module marks itself with
:data:`NEEDS_NGINX` or :data:`NEEDS_CADDY` so that it is skipped, saying what to
install, on a machine without the server (``make test`` installs both where it can).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.docs_harness import ROOT, Block, blocks
from tests.e2e import servers


def _which(name: str) -> str | None:
    found = shutil.which(name)
    return found or next((p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if Path(p).exists()), None)


NGINX = _which("nginx")
CADDY = _which("caddy")
NEEDS_NGINX = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed: apt-get install nginx (make test does it as root) to run this test"
)
NEEDS_CADDY = pytest.mark.skipif(
    CADDY is None, reason="caddy is not installed: apt-get install caddy (make test does it as root) to run this test"
)

# --- nginx ---------------------------------------------------------------------------------


def nginx_config(directory: Path, http: str) -> str:
    """A whole nginx.conf: ``http`` (what a file in /etc/nginx/conf.d/ holds) in an http block, files in directory."""
    return f"""
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{http}
}}
"""


@contextlib.contextmanager
def nginx(directory: Path, http: str, port: int) -> Iterator[int]:
    """Run nginx with ``http`` (which listens on 127.0.0.1:port) until the block ends; its port."""
    assert NGINX is not None
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(nginx_config(directory, http), encoding="utf-8")
    with servers.running([NGINX, "-p", str(directory), "-c", str(conf)], port, log_path=directory / "output.log"):
        yield port


# --- Caddy ---------------------------------------------------------------------------------


@contextlib.contextmanager
def caddy(directory: Path, caddyfile: str, port: int) -> Iterator[int]:
    """Run Caddy with ``caddyfile`` (which listens on port) until the block ends; its port.

    Its admin endpoint is off and its state lives under directory, so nothing on the
    machine is touched and several can run at once.
    """
    assert CADDY is not None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Caddyfile"
    path.write_text(caddyfile, encoding="utf-8")
    home = {"HOME": str(directory), "XDG_DATA_HOME": str(directory / "data"), "XDG_CONFIG_HOME": str(directory)}
    argv = [CADDY, "run", "--config", str(path), "--adapter", "caddyfile"]
    with servers.running(argv, port, home, log_path=directory / "output.log"):
        yield port


# --- a certificate authority for one test run ---------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A private CA's certificate, and a server certificate and key it signed, as PEM files."""

    ca: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts this CA only, as a staging client given ``--cacert`` would."""
        return ssl.create_default_context(cafile=str(self.ca))


def certificates(directory: Path, *names: str) -> Certificates:
    """A fresh CA, and a certificate for ``names`` (DNS names; 127.0.0.1 is added) that it signed, under directory."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "twiliosig test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alternative = [x509.DNSName(name) for name in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    found.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    found.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    found.key.chmod(0o600)
    return found


# --- the docs' configurations --------------------------------------------------------------

DEPLOYMENT = ROOT / "docs" / "deployment.md"


def docs_config(title: str, page: Path = DEPLOYMENT) -> Block:
    """The block of ``page`` whose fence says ``title="..."``: the configuration the reader copies."""
    found = [block for block in blocks(page) if block.title == title]
    assert len(found) == 1, f"{page.name}: {len(found)} blocks titled {title!r}"
    return found[0]


def fill(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each placeholder replaced; each must be there, so a change to the docs fails here, not later."""
    for old, new in replacements.items():
        assert old in text, f"the docs' configuration no longer holds {old!r}: update the test with it"
        text = text.replace(old, new)
    return text
