"""An authorization server's keys and endpoints, in process, for the unit tests of twiliosig.oauth.

Keys are generated here (RSA, EC P-256, Ed25519, with ``cryptography``); tokens are
signed with PyJWT, as any server would sign them. :class:`FakeServer` serves the
RFC 8414 metadata, the key set and an RFC 7662 introspection endpoint on loopback
with the standard library's HTTP server, counts each call, and can go down. The
tests against a real authorization server (oidc-provider) are in
tests/e2e/test_oauth_server.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

AUDIENCE = "https://app.example.com/twilio"
OTHER_AUDIENCE = "https://other.example.com/api"
CLIENT_ID = "twilio-webhooks"
RESOURCE_ID = "resource-server"
RESOURCE_SECRET = "resource-server-secret"


class Key:
    """One signing key of the server: its private half, its public JWK, its algorithm."""

    def __init__(self, kind: str, kid: str, *, alg_in_jwk: bool = True) -> None:
        self.kid = kid
        if kind in {"RS256", "PS256"}:
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        elif kind == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key()))
        self.alg = kind
        self.jwk.update({"kid": kid, "use": "sig"})
        if alg_in_jwk:
            self.jwk["alg"] = kind

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **header})


def claims(issuer: str, **changes: Any) -> dict[str, Any]:
    """The claims of a client-credentials access token for Twilio, as RFC 9068 writes them."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "client_id": CLIENT_ID,
        "sub": CLIENT_ID,
        "scope": "webhooks",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def _part(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """A token with ``alg: none``: no signature at all."""
    return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}."


def hmac_signed(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """A token with ``alg: HS256`` keyed with ``secret`` (the server's public key, in the confusion attack)."""
    signing_input = f"{_part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_part(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


class FakeServer:
    """Metadata, keys and introspection on 127.0.0.1; ``calls`` counts requests by path."""

    def __init__(self) -> None:
        self.keys: list[Key] = []
        self.calls: Counter[str] = Counter()
        self.down = False
        self.active: dict[str, Any] = {}  # introspection: token -> answer (bytes: sent as they are)
        self.metadata_issuer: str | None = None  # None: the real issuer
        self.openid_only = False  # serve OpenID discovery, not RFC 8414 metadata
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                server.calls[self.path] += 1
                if server.down:
                    self._answer(503, {"error": "down"})
                elif self.path == server.metadata_path():
                    self._answer(200, server.metadata())
                elif self.path == "/jwks":
                    self._answer(200, {"keys": [key.jwk for key in server.keys]})
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                server.calls[self.path] += 1
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                expected = base64.b64encode(f"{RESOURCE_ID}:{RESOURCE_SECRET}".encode()).decode()
                if server.down:
                    self._answer(503, {"error": "down"})
                elif self.path != "/introspect":
                    self._answer(404, {"error": "not_found"})
                elif self.headers.get("Authorization") != f"Basic {expected}":
                    self._answer(401, {"error": "invalid_client"})
                else:
                    token = parse_qs(body)["token"][0]
                    self._answer(200, server.active.get(token, {"active": False}))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def metadata_path(self) -> str:
        return "/.well-known/openid-configuration" if self.openid_only else "/.well-known/oauth-authorization-server"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.metadata_issuer or self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "introspection_endpoint": f"{self.issuer}/introspect",
        }

    @contextmanager
    def running(self) -> Iterator[FakeServer]:
        # A short poll: shutdown() waits for serve_forever's next poll (0.5 s by default), which is most of
        # each test's time and multiplies across every mutant `make mutate` runs these tests for.
        thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
