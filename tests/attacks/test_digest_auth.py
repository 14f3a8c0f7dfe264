"""HTTP Digest and Basic on the wire, every adapter: the challenges a client is offered, and what it takes to pass.

The servers run the ``digest`` profile (``digest_auth`` and ``basic_auth``, one user).
The attacker reads what a 401 hands out, then answers it without the password, with
another realm, an algorithm not challenged or a nonce of its own making; the client
Twilio is answers it right. Responses are computed here with hashlib (RFC 7616), never
by the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.attacks.harness import ALL, Response, Server
from tests.attacks.profiles import DIGEST_PASSWORD, DIGEST_USER

PROFILE = "digest"
PATH = "/twilio/sms?CallSid=CA1"
PAIRS = [("From", "+15005550006"), ("Body", "hi")]


def challenges(response: Response) -> list[str]:
    """Every WWW-Authenticate challenge, sent on its own line or folded into one (RFC 9110 §11.6.1)."""
    value = response.header("www-authenticate") or ""
    return [challenge for challenge in re.split(r", (?=(?:Digest|Basic) )", value) if challenge]


def params(challenge: str) -> dict[str, str]:
    return {name: quoted or token for name, token, quoted in re.findall(r'(\w+)=(?:([^",\s]+)|"([^"]*)")', challenge)}


def authorization(server: Server, challenge: str, *, password: str = DIGEST_PASSWORD, **overrides: str) -> str:
    """A client's answer to ``challenge`` for a POST to ``PATH``: SHA-256 or MD5 as it says, qop=auth."""
    given = params(challenge)
    algorithm = overrides.pop("algorithm", given["algorithm"])
    realm = overrides.pop("realm", given["realm"])
    nonce = overrides.pop("nonce", given["nonce"])
    uri = server.target(PATH)
    digest = hashlib.sha256 if algorithm.upper().startswith("SHA-256") else hashlib.md5

    def h(text: str) -> str:
        return digest(text.encode()).hexdigest()

    nc, cnonce = "00000001", "0a4f113b"
    response = h(f"{h(f'{DIGEST_USER}:{realm}:{password}')}:{nonce}:{nc}:{cnonce}:auth:{h(f'POST:{uri}')}")
    return (
        f'Digest username="{DIGEST_USER}", realm="{realm}", uri="{uri}", algorithm={algorithm}, nonce="{nonce}", '
        f'nc={nc}, cnonce="{cnonce}", qop=auth, response="{response}", opaque="{given["opaque"]}"'
    )


def first_challenges(server: Server) -> list[str]:
    with server.unreached():
        refused = server.post_form(PATH, PAIRS)
    assert refused.status == 401, refused
    return challenges(refused)


@pytest.mark.parametrize("adapter", ALL)
def test_every_challenge_is_offered_in_order(server: Server) -> None:
    """Digest SHA-256, Digest MD5 (one nonce), then Basic: none dropped by a framework that keeps one header."""
    offered = first_challenges(server)
    assert [params(c).get("algorithm") for c in offered] == ["SHA-256", "MD5", None], offered
    assert offered[2] == 'Basic realm="twilio", charset="UTF-8"'
    assert params(offered[0])["nonce"] == params(offered[1])["nonce"]


@pytest.mark.parametrize("adapter", ALL)
def test_only_the_right_answer_passes(server: Server) -> None:
    """Twilio's answer (either algorithm) and Basic pass; the same without the password, or bent, is a 401."""
    sha256, md5, _ = first_challenges(server)
    wrong = [
        authorization(server, sha256, password="guess"),
        authorization(server, sha256, realm="elsewhere"),
        authorization(server, sha256, algorithm="SHA-512"),
        authorization(server, sha256, nonce=base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")),
        authorization(server, md5).replace("qop=auth", "qop=auth-int"),
        "Basic " + base64.b64encode(f"{DIGEST_USER}:guess".encode()).decode(),
    ]
    for header in wrong:
        with server.unreached():
            refused = server.post_form(PATH, PAIRS, headers=[("Authorization", header)])
        assert refused.status == 401, (header, refused)
        assert challenges(refused), header
    basic = "Basic " + base64.b64encode(f"{DIGEST_USER}:{DIGEST_PASSWORD}".encode()).decode()
    for header in (authorization(server, sha256), authorization(server, md5), basic):
        before = server.count()
        accepted = server.post_form(PATH, PAIRS, headers=[("Authorization", header)])
        assert accepted.status == 200, (header, accepted)
        assert server.count() == before + 1
    unsigned = server.post_form(PATH, PAIRS, signature=None, headers=[("Authorization", authorization(server, md5))])
    assert unsigned.status == 403  # authenticated, and still the signature
