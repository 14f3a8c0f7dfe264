"""OAuth 2.0 bearer tokens end to end: a real authorization server, Twilio's part played, real web servers.

The authorization server is oidc-provider (npm; ``make test`` installs it into
tests/oauth_server), started on loopback with a client-credentials client for Twilio
(client_secret_post), another client, and our resource (JWT access tokens, and opaque
ones for introspection). The tests do what Twilio does with an OAuth AuthProfile: ask
the token URL for a token with the AuthProfile's scope and audience, then send signed
webhooks carrying it, to the WSGI middleware under gunicorn and the ASGI middleware
under uvicorn (tests/e2e/oauth_apps.py). Accepted; refused for an expired token,
another audience or issuer, another client of the same server, ``alg: none``, an HMAC
keyed with the server's public key, a tampered token, a token without the scope;
accepted again after the server rotates its signing key; 503 while it is down.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e import servers
from tests.oauth_support import AUDIENCE, CLIENT_ID, OTHER_AUDIENCE
from tests.oracle import FORM, SMS, form_body, twilio_signature

ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = ROOT / "tests" / "oauth_server"
TOKEN = "oauth-e2e-auth-token-0123456789abcdef"
SECRET = "oauth-e2e-client-secret-0123456789abcdef"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir(),
    reason="oidc-provider is not installed in tests/oauth_server: `make test` installs it with npm "
    "(install Node.js 20+ with npm, or run `npm ci` in tests/oauth_server)",
)


def signing_key(kid: str) -> dict[str, Any]:
    """A private RSA JWK for the server to sign with."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(private, as_dict=True)
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return jwk


class AuthorizationServer:
    """oidc-provider on two loopback ports (two issuers, the same keys), restartable with other keys."""

    def __init__(self, log: Path) -> None:
        self.ports = [servers.free_port(), servers.free_port()]
        self.issuer = f"http://127.0.0.1:{self.ports[0]}"
        self.other_issuer = f"http://127.0.0.1:{self.ports[1]}"
        self.log = log
        self._running: contextlib.ExitStack | None = None

    def start(self, *keys: dict[str, Any]) -> None:
        env = {
            "PORTS": ",".join(map(str, self.ports)),
            "JWKS": json.dumps({"keys": list(keys)}),
            "AUDIENCE": AUDIENCE,
            "OTHER_AUDIENCE": OTHER_AUDIENCE,
            "SECRET": SECRET,
        }
        stack = contextlib.ExitStack()
        argv = ["node", str(SERVER_DIR / "server.mjs")]
        process = stack.enter_context(servers.running(argv, self.ports[0], env, log_path=self.log))
        servers.wait_for_port(self.ports[1], process)
        self._running = stack

    def stop(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None

    def token(
        self,
        *,
        scope: str = "webhooks",
        audience: str = AUDIENCE,
        client_id: str = CLIENT_ID,
        issuer: str | None = None,
    ) -> str:
        """What Twilio does: a client-credentials grant (client_secret_post), the AuthProfile's scope and audience."""
        body = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": SECRET,
            "scope": scope,
            "audience": audience,
        }
        request = urllib.request.Request(
            f"{issuer or self.issuer}/token", urllib.parse.urlencode(body).encode(), {"Content-Type": FORM}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        assert answer["token_type"] == "Bearer"  # Twilio raises 97001 for anything else
        return str(answer["access_token"])

    def public_pem(self) -> bytes:
        with urllib.request.urlopen(f"{self.issuer}/jwks", timeout=10) as response:
            (jwk,) = json.load(response)["keys"]
        public = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def keys() -> dict[str, dict[str, Any]]:
    return {kid: signing_key(kid) for kid in ("key-1", "key-2", "key-3")}


@pytest.fixture
def oidc(tmp_path: Path) -> Iterator[AuthorizationServer]:
    server = AuthorizationServer(tmp_path / "oidc.log")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def app(kind: str, issuer: str, mode: str, log: Path) -> Iterator[int]:
    port = servers.free_port()
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "OAUTH_ISSUER": issuer, "OAUTH_MODE": mode, "OAUTH_SECRET": SECRET}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    if kind == "gunicorn":
        server = servers.gunicorn("tests.e2e.oauth_apps:wsgi_app", port, env, log_path=log)
    else:
        server = servers.uvicorn("tests.e2e.oauth_apps:asgi_app", port, env, log_path=log)
    with server:
        yield port


def webhook(port: int, bearer: str | None, *, forged: bool = False) -> tuple[int, str | None]:
    """A signed SMS webhook, as Twilio sends it under an OAuth AuthProfile: the status and the challenge."""
    url = f"http://127.0.0.1:{port}/twilio/sms"
    headers = {"Content-Type": FORM, "X-Twilio-Signature": twilio_signature("wrong" if forged else TOKEN, url, SMS)}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/twilio/sms", form_body(SMS), headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("WWW-Authenticate")
    finally:
        connection.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_none(token: str) -> str:
    """The server's token, its header made ``alg: none``, its signature dropped."""
    _, payload, _ = token.split(".")
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'at+jwt'}).encode())}.{payload}."


def hmac_confused(token: str, public_pem: bytes) -> str:
    """The server's claims, signed HS256 with the server's public key (PEM) as the secret, under its kid."""
    header = jwt.get_unverified_header(token)
    _, payload, _ = token.split(".")
    head = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}).encode())
    signature = hmac.new(public_pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{_b64(signature)}"


def tampered(token: str) -> str:
    """The server's token with a claim changed (its client) and the signature kept."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "webhooks admin"
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


INVALID = 'Bearer realm="twilio", error="invalid_token"'


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_jwt_access_tokens_through_a_real_server(
    kind: str, oidc: AuthorizationServer, keys: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    oidc.start(keys["key-1"])
    with app(kind, oidc.issuer, "jwt", tmp_path / "app.log") as port:
        token = oidc.token()
        assert webhook(port, token) == (200, None)
        assert webhook(port, token) == (200, None)  # seen before: from memory
        assert webhook(port, oidc.token()) == (200, None)  # another token of Twilio's
        assert webhook(port, None) == (401, 'Bearer realm="twilio"')
        assert webhook(port, token, forged=True)[0] == 403  # the token does not replace the signature

        refused = {
            "another audience": oidc.token(audience=OTHER_AUDIENCE),
            "another issuer": oidc.token(issuer=oidc.other_issuer),
            "another client": oidc.token(client_id="other-client"),
            "alg none": alg_none(token),
            "hmac with the public key": hmac_confused(token, oidc.public_pem()),
            "tampered": tampered(token),
        }
        for case, bad in refused.items():
            assert webhook(port, bad) == (401, INVALID), case
        no_scope = oidc.token(scope="short")  # a valid token, without the webhooks scope
        assert webhook(port, no_scope) == (403, 'Bearer realm="twilio", error="insufficient_scope", scope="webhooks"')
        expiring = oidc.token(scope="webhooks short")  # lives 2 seconds
        assert webhook(port, expiring) == (200, None)
        time.sleep(3.1)
        assert webhook(port, expiring) == (401, INVALID)

        # The server rotates its signing key: the first token under the new key fetches the key set again.
        oidc.stop()
        oidc.start(keys["key-2"])
        time.sleep(1.1)  # the verifier's refresh_interval
        rotated = oidc.token()
        assert jwt.get_unverified_header(rotated)["kid"] == "key-2"
        assert webhook(port, rotated) == (200, None)

        # A token under a key the app has not fetched yet, while the server is down: 503, never a pass.
        oidc.stop()
        oidc.start(keys["key-3"])
        unseen = oidc.token()
        oidc.stop()
        time.sleep(1.1)
        assert webhook(port, unseen) == (503, None)
        assert webhook(port, rotated) == (200, None)  # a token seen before still passes until it expires
        oidc.start(keys["key-3"])
        time.sleep(1.1)  # the pause after a failed fetch
        assert webhook(port, unseen) == (200, None)


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_opaque_tokens_by_introspection_through_a_real_server(
    kind: str, oidc: AuthorizationServer, keys: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    oidc.start(keys["key-1"])
    with app(kind, oidc.issuer, "introspection", tmp_path / "app.log") as port:
        token = oidc.token(scope="webhooks opaque")
        assert "." not in token  # opaque: only the server can say what it is
        assert webhook(port, token) == (200, None)
        assert webhook(port, token) == (200, None)
        assert webhook(port, oidc.token(scope="webhooks opaque", client_id="other-client")) == (401, INVALID)
        assert webhook(port, oidc.token(scope="webhooks opaque", audience=OTHER_AUDIENCE)) == (401, INVALID)
        assert webhook(port, "made-up-token-0123456789") == (401, INVALID)
        unseen = oidc.token(scope="webhooks opaque")
        oidc.stop()
        assert webhook(port, unseen) == (503, None)
        assert webhook(port, token) == (200, None)  # answered before: remembered until its exp
