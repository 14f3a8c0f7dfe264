"""Headers and host: odd signatures, odd Host headers and odd request targets are refused, never a 5xx.

Every request here carries what would otherwise be a genuine signature, so a
refusal is the defence and not a missing secret. The Host-header and
request-target attacks are aimed at the adapters whose app sees the client's own
Host and target; behind API Gateway (the Lambda adapters) the domain name and
the path come from the gateway, which routes on Host, so those attacks do not
apply there and are not parametrized for them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.attacks.harness import ALL, FORM, HOSTED, SMS, Pool, Server, exchange, form_body, sign


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> None:
    pool.prestart(ALL, "default")


def _refused_4xx(status: int) -> None:
    assert 400 <= status < 500, status


def _genuine(server: Server) -> str:
    return sign(server.url("/twilio/sms"), SMS)


# --- the signature header ----------------------------------------------------------------

DUPLICATES: dict[str, Callable[[str], list[str]]] = {
    "genuine-twice": lambda genuine: [genuine, genuine],
    "garbage-then-genuine": lambda genuine: ["garbage", genuine],
    "genuine-then-garbage": lambda genuine: [genuine, "garbage"],
    "empty-then-genuine": lambda genuine: ["", genuine],
}


@pytest.mark.parametrize("values", DUPLICATES.values(), ids=DUPLICATES.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_duplicate_signature_headers_are_refused(server: Server, values: Callable[[str], list[str]]) -> None:
    """The attacker sends X-Twilio-Signature twice, so that the check and a proxy or gateway each pick a different one.

    API Gateway's 1.0 event keeps only the last value of a repeated header in
    ``headers``; a server joins them with commas.
    """
    headers = [("Content-Type", FORM)] + [("X-Twilio-Signature", value) for value in values(_genuine(server))]
    with server.unreached():
        response = server.request("POST", "/twilio/sms", form_body(SMS), headers=headers)
    _refused_4xx(response.status)


def _garbage_signatures(genuine: str) -> dict[str, str | bytes]:
    url_safe = genuine.replace("+", "-").replace("/", "_")
    return {
        "punctuation": "!!!",
        "only-padding": "=" * 28,
        "huge": "A" * 6000,
        "non-ascii-bytes": b"\xff\xfe\xfd",
        "utf8-lookalike": genuine[:-2] + "\u0410=",
        "extra-padding": genuine + "=",
        "truncated": genuine[:-2],
        "url-safe-alphabet": url_safe if url_safe != genuine else url_safe + "-",
        "lower-cased": genuine.lower() if genuine.lower() != genuine else genuine.upper(),
        "inner-space": genuine[:10] + " " + genuine[10:],
        "blank": "   ",
    }


GARBAGE_NAMES = list(_garbage_signatures("x" * 28))


@pytest.mark.parametrize("name", GARBAGE_NAMES)
@pytest.mark.parametrize("adapter", ALL)
def test_malformed_signature_is_refused_not_crashed(server: Server, name: str) -> None:
    """The attacker sends a garbage, huge, non-ASCII or re-spelled signature, hoping for a 5xx or a lenient decode."""
    signature = _garbage_signatures(_genuine(server))[name]
    headers = [("Content-Type", FORM), ("X-Twilio-Signature", signature)]
    with server.unreached():
        response = server.request("POST", "/twilio/sms", form_body(SMS), headers=headers)
    assert response.status in (400, 403), response


@pytest.mark.parametrize("adapter", ALL)
def test_signature_under_an_underscore_name_is_not_read(server: Server) -> None:
    """The attacker sends the signature as X_Twilio_Signature, which CGI-style environ keys merge with the real one.

    Exploits ``HTTP_X_TWILIO_SIGNATURE`` being both header names in WSGI: a proxy
    that strips or checks ``X-Twilio-Signature`` would let the underscore one through.
    """
    headers = [("Content-Type", FORM), ("X_Twilio_Signature", _genuine(server))]
    with server.unreached():
        response = server.request("POST", "/twilio/sms", form_body(SMS), headers=headers)
    assert response.status == 403, response


@pytest.mark.parametrize("name", ["x-twilio-signature", "X-TWILIO-SIGNATURE", "x-TwIlIo-SiGnAtUrE"])
@pytest.mark.parametrize("adapter", ALL)
def test_signature_header_name_case_does_not_matter(server: Server, name: str) -> None:
    """Control: header names are case-insensitive; a genuine signature in any case is accepted."""
    headers = [("Content-Type", FORM), (name, _genuine(server))]
    response = server.request("POST", "/twilio/sms", form_body(SMS), headers=headers)
    assert response.status == 200, response


@pytest.mark.parametrize("adapter", ALL)
def test_folded_signature_header_is_refused(server: Server) -> None:
    """The attacker folds the signature over two lines (obs-fold), which servers join, drop or reject differently."""
    genuine = _genuine(server)
    data = server.encode(
        "POST",
        "/twilio/sms",
        form_body(SMS),
        headers=[("Content-Type", FORM), ("X-Twilio-Signature", genuine[:14] + "\r\n " + genuine[14:])],
    )
    with server.unreached():
        response = exchange(server.port, data, "POST")
    _refused_4xx(response.status)


SETTINGS = {
    "unknown-key": "key=webhooks_sharedkey_nope,algorithm=HMAC_SHA1",
    "sha256-claimed-for-sha1": "algorithm=HMAC_SHA256",
    "unknown-algorithm": "algorithm=HMAC_MD5",
    "no-algorithm": "algorithm=NONE",
    "garbage": "\x7f;;==,,",
}


@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_signature_settings_header_cannot_downgrade(server: Server, settings: str) -> None:
    """The attacker adds X-Twilio-Webhooks-Signature-Settings naming another key or algorithm to confuse the check."""
    headers = [("X-Twilio-Webhooks-Signature-Settings", settings)]
    with server.unreached():
        response = server.post_form("/twilio/sms", SMS, headers=headers)
    assert response.status in (400, 403), response


# --- the Host header and the request target -----------------------------------------------


#: Host headers that are not a host (and port), given the server's own authority.
HOSTS: dict[str, Callable[[str], list[tuple[str, str]]]] = {
    "userinfo": lambda authority: [("Host", f"evil@{authority}")],
    "userinfo-after": lambda authority: [("Host", f"{authority}@evil.example")],
    "path": lambda authority: [("Host", f"{authority}/twilio")],
    "query": lambda authority: [("Host", f"{authority}?x=1")],
    "space": lambda authority: [("Host", authority.replace(":", " :"))],
    "trailing-word": lambda authority: [("Host", f"{authority} evil.example")],
    "backslash": lambda authority: [("Host", f"{authority}\\@evil.example")],
    "empty": lambda authority: [("Host", "")],
    "two-hosts": lambda authority: [("Host", authority), ("Host", "evil.example")],
    "bad-port": lambda authority: [("Host", "127.0.0.1:99999999")],
}


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("adapter", HOSTED)
def test_malformed_host_header_is_refused(server: Server, name: str) -> None:
    """The attacker sends a Host with userinfo, a path, spaces or two values, hoping the rebuilt URL still matches."""
    headers = HOSTS[name](server.authority)
    with server.unreached():
        response = server.post_form("/twilio/sms", SMS, signature=_genuine(server), headers=headers)
    _refused_4xx(response.status)


@pytest.mark.parametrize("signed_for", ["host-header", "target"])
@pytest.mark.parametrize("adapter", HOSTED)
def test_absolute_form_target_is_refused(server: Server, signed_for: str) -> None:
    """The attacker sends 'POST http://other.example/twilio/sms', signed for either the Host header or the target."""
    url = server.url("/twilio/sms") if signed_for == "host-header" else "http://other.example/twilio/sms"
    headers = [("Content-Type", FORM), ("X-Twilio-Signature", sign(url, SMS))]
    with server.unreached():
        response = server.request(
            "POST", "/twilio/sms", form_body(SMS), headers=headers, target="http://other.example/twilio/sms"
        )
    _refused_4xx(response.status)


# The Django integration takes the host as Django does (request.get_host(), bound by
# ALLOWED_HOSTS, falling back to SERVER_NAME), which Django's test client relies on; see
# docs/security.md. Every other adapter refuses a request without a Host header.
NOT_DJANGO = [name for name in HOSTED if not name.startswith("django")]


@pytest.mark.parametrize("adapter", NOT_DJANGO)
def test_request_without_host_is_refused(server: Server) -> None:
    """The attacker sends HTTP/1.0 with no Host, signed for the server's own address (SERVER_NAME, the bound port).

    Exploits a fallback to ``SERVER_NAME``/``scope["server"]``: the URL checked is
    then the server's bind address, which is never what Twilio called (Twilio always
    sends Host), so such a request is refused outright.
    """
    signature = sign(server.url("/twilio/sms"), SMS)
    headers = [("Content-Type", FORM), ("X-Twilio-Signature", signature)]
    with server.unreached():
        response = server.request("POST", "/twilio/sms", form_body(SMS), headers=headers, host=None, version="HTTP/1.0")
    _refused_4xx(response.status)
