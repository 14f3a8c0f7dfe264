"""Body and parameter confusion: the pairs checked are the pairs the app reads, and the body arrives intact.

The signature covers the form pairs as Twilio encodes them (UTF-8, every byte
outside ASCII percent-encoded). A framework that reads the same bytes another
way (Starlette decodes raw bytes as latin-1, werkzeug and Django as UTF-8,
Django honours a declared charset) would act on values nobody signed, so such
bodies are refused with 400. A body that is not a form and carries no
``bodySHA256`` is not covered by the signature at all: 403. Whatever is
accepted reaches the app byte for byte, and the app reads exactly the signed pairs.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.attacks.harness import ALL, FORM, HOSTED, SMS, Pool, Response, Server, form_body, sign


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> None:
    pool.prestart(ALL, "default")


def _app_saw_what_was_signed(server: Server, response: Response, body: bytes, pairs: list[tuple[str, str]]) -> None:
    """An accepted request reached the app with the same bytes and the signed pairs; else it never did."""
    if response.status == 200:
        seen = server.last_call()
        assert seen["sha256"] in (hashlib.sha256(body).hexdigest(), None)
        assert sorted(map(tuple, seen["form"])) == sorted(pairs), seen
    else:
        assert 400 <= response.status < 500, response


# --- bytes the frameworks read differently: 400 ----------------------------------------------

RAW_BYTES = {
    "utf8-bytes-read-as-utf8": (b"Body=caf\xc3\xa9&From=%2B15005550006", [("Body", "café"), ("From", "+15005550006")]),
    "utf8-bytes-read-as-latin1": (
        b"Body=caf\xc3\xa9&From=%2B15005550006",
        [("Body", "caf\u00c3\u00a9"), ("From", "+15005550006")],
    ),
    "latin1-byte": (b"Body=caf\xe9", [("Body", "café")]),
    "raw-byte-in-name": (b"B\xc3\xb6dy=x", [("Bödy", "x")]),
}


@pytest.mark.parametrize(("body", "pairs"), RAW_BYTES.values(), ids=RAW_BYTES.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_raw_non_ascii_bytes_in_a_form_are_refused(server: Server, body: bytes, pairs: list[tuple[str, str]]) -> None:
    """The attacker sends raw non-ASCII bytes, signed over one framework's reading, for the app to read another way."""
    with server.unreached():
        response = server.post_form("/twilio/sms", pairs, body=body)
    assert response.status == 400, response


INVALID_ESCAPES = {
    "lone-latin1-escape": b"Body=caf%E9",
    "overlong-slash": b"Body=%C0%AF",
    "utf16-surrogate": b"Body=%ED%A0%80",
    "truncated-sequence": b"Body=%E2%82",
    "invalid-escape-in-name": b"B%FFdy=x",
}


@pytest.mark.parametrize("body", INVALID_ESCAPES.values(), ids=INVALID_ESCAPES.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_escape_decoding_to_invalid_utf8_is_refused(server: Server, body: bytes) -> None:
    """The attacker percent-encodes bytes that are not UTF-8, which each framework repairs in its own way."""
    with server.unreached():
        response = server.post_form("/twilio/sms", [("Body", "caf\ufffd")], body=body)
    assert response.status == 400, response


FOREIGN_CHARSETS = {
    "iso-8859-1": f"{FORM}; charset=iso-8859-1",
    "latin-1-quoted-upper": f'{FORM}; charset="ISO-8859-1"',
    "cp1252": f"{FORM}; charset=windows-1252",
    "utf-16": f"{FORM}; charset=utf-16",
    "utf8-then-latin1": f"{FORM}; charset=utf-8; charset=iso-8859-1",
    "latin1-then-utf8": f"{FORM}; charset=iso-8859-1; charset=utf-8",
    "rfc2231": f"{FORM}; charset*=us-ascii''utf-7",
    "rfc2231-continued": f"{FORM}; charset*0=utf-; charset*1=7",
}


@pytest.mark.parametrize("adapter", ALL)
def test_a_get_declaring_utf7_cannot_inject_query_parameters(server: Server) -> None:
    """Tenant or captured GET: Django decodes the query by the declared charset, and in UTF-7 '+ACY-' is '&'.

    The signed query ``x=+ACY-AccountSid+AD0-ACb`` would read as a second AccountSid.
    """
    path = "/twilio/voice?CallSid=CA1&x=+ACY-AccountSid+AD0-ACb"
    headers = [("X-Twilio-Signature", sign(server.url(path))), ("Content-Type", "text/plain; charset=utf-7")]
    with server.unreached():
        response = server.request("GET", path, headers=headers)
    assert response.status == 400, response


@pytest.mark.parametrize("content_type", FOREIGN_CHARSETS.values(), ids=FOREIGN_CHARSETS.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_form_declaring_a_foreign_charset_is_refused(server: Server, content_type: str) -> None:
    """The attacker declares a charset Django honours (and we would not), so 'é' signed reads as 'Ã©' in the view.

    ``charset=utf-8; charset=iso-8859-1`` exploits a parser that reads the first
    parameter while the framework reads the last.
    """
    pairs = [("Body", "é"), ("From", "+15005550006")]
    with server.unreached():
        response = server.post_form("/twilio/sms", pairs, content_type=content_type)
    assert response.status == 400, response


UTF8_CHARSETS = {
    "none": FORM,
    "utf-8": f"{FORM}; charset=utf-8",
    "UTF-8-quoted": f'{FORM}; charset="UTF-8"',
    "upper-case-type": "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8",
}


@pytest.mark.parametrize("content_type", UTF8_CHARSETS.values(), ids=UTF8_CHARSETS.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_utf8_form_is_accepted_and_read_as_signed(server: Server, content_type: str) -> None:
    """Control: UTF-8 forms, however the Content-Type is spelled, reach the app with the signed pairs."""
    body = form_body(SMS)
    response = server.post_form("/twilio/sms", SMS, content_type=content_type)
    assert response.status == 200, response
    _app_saw_what_was_signed(server, response, body, SMS)


# --- bodies the signature does not cover: 403 -----------------------------------------------

UNSIGNED_BODIES = {
    "json": ("application/json", json.dumps({"AccountSid": "AC" + "6" * 32, "Body": "forged"}).encode()),
    "multipart": (
        "multipart/form-data; boundary=XyZ",
        b'--XyZ\r\nContent-Disposition: form-data; name="Body"\r\n\r\nforged\r\n--XyZ--\r\n',
    ),
    "text-plain-form-lookalike": ("text/plain", b"Body=forged&From=%2B15005550006"),
    "octet-stream": ("application/octet-stream", bytes(range(256))),
}


@pytest.mark.parametrize(("content_type", "body"), UNSIGNED_BODIES.values(), ids=UNSIGNED_BODIES.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_body_the_signature_does_not_cover_is_refused(server: Server, content_type: str, body: bytes) -> None:
    """The attacker attaches a non-form body to a captured URL-only signature (no bodySHA256): nothing signs it."""
    signature = sign(server.url("/twilio/sms"))
    with server.unreached():
        response = server.post_form("/twilio/sms", [], signature=signature, body=body, content_type=content_type)
    assert response.status == 403, response


@pytest.mark.parametrize("adapter", ALL)
def test_form_body_without_content_type_is_refused(server: Server) -> None:
    """The attacker sends form bytes with no Content-Type under a URL-only signature, for a lenient parser to read."""
    signature = sign(server.url("/twilio/sms"))
    with server.unreached():
        response = server.request("POST", "/twilio/sms", b"Body=forged", headers=[("X-Twilio-Signature", signature)])
    assert response.status == 403, response


@pytest.mark.parametrize("adapter", ALL)
def test_json_with_body_hash_is_accepted_and_a_swapped_body_refused(server: Server) -> None:
    """The attacker keeps a captured JSON webhook's signed URL (bodySHA256) and swaps the body."""
    body = json.dumps([{"type": "com.twilio.messaging.inbound-message.received", "data": {"body": "Zoë"}}]).encode()
    path = f"/twilio/events?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = [("Content-Type", "application/json"), ("X-Twilio-Signature", sign(server.url(path)))]
    response = server.request("POST", path, body, headers=headers)
    assert response.status == 200, response
    assert server.last_call()["sha256"] == hashlib.sha256(body).hexdigest()
    with server.unreached():
        swapped = server.request("POST", path, body.replace(b"Zo\\u00eb", b"Eve"), headers=headers)
    assert swapped.status == 403, swapped


@pytest.mark.parametrize("adapter", ALL)
def test_body_hash_name_in_the_path_does_not_switch_to_raw_mode(server: Server) -> None:
    """The attacker puts 'bodySHA256=' in the path so a substring test takes a URL-only signature as covering the body.

    Exploits a check for ``"bodySHA256" in url`` that skips the query parsing:
    the JSON body would go unhashed and unsigned.
    """
    body = b'{"forged": true}'
    path = f"/twilio/bodySHA256={hashlib.sha256(body).hexdigest()}/events"
    headers = [("Content-Type", "application/json"), ("X-Twilio-Signature", sign(server.url(path)))]
    with server.unreached():
        response = server.request("POST", path, body, headers=headers)
    assert response.status == 403, response


# --- encodings the frameworks agree on: accepted, and read exactly as signed -----------------

TRICKY_FORMS = {
    "plus-and-encoded-plus": (b"Body=a+b%2Bc&From=%2B1", [("Body", "a b+c"), ("From", "+1")]),
    "empty-pieces": (b"Body=a&&From=b&", [("Body", "a"), ("From", "b")]),
    "piece-without-equals": (b"Flag&Body=x", [("Flag", ""), ("Body", "x")]),
    "semicolon-is-not-a-separator": (b"Body=a;From=evil", [("Body", "a;From=evil")]),
    "equals-in-value": (b"Body=a=b=c", [("Body", "a=b=c")]),
    "empty-name": (b"=x&Body=y", [("", "x"), ("Body", "y")]),
    "repeated-values": (b"To=1&To=2&To=1", [("To", "1"), ("To", "2"), ("To", "1")]),
    "encoded-name": (b"B%6Fdy=x", [("Body", "x")]),
    "encoded-ampersand-and-equals": (b"Body=a%26From%3Devil", [("Body", "a&From=evil")]),
    "lower-case-escapes": (b"Body=caf%c3%a9", [("Body", "café")]),
}


@pytest.mark.parametrize(("body", "pairs"), TRICKY_FORMS.values(), ids=TRICKY_FORMS.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_app_reads_exactly_the_signed_pairs(server: Server, body: bytes, pairs: list[tuple[str, str]]) -> None:
    """The attacker re-encodes a signed form (separators, escapes, blanks) hoping the app splits it differently."""
    response = server.post_form("/twilio/sms", pairs, body=body)
    _app_saw_what_was_signed(server, response, body, pairs)


@pytest.mark.parametrize("adapter", ALL)
def test_genuine_form_arrives_byte_identical(server: Server) -> None:
    """Control: a genuine webhook (Unicode, blank and repeated values) reaches the app intact."""
    body = form_body(SMS)
    response = server.post_form("/twilio/sms", SMS)
    assert response.status == 200, response
    _app_saw_what_was_signed(server, response, body, SMS)


@pytest.mark.parametrize("adapter", HOSTED)
def test_content_length_zero_with_a_chunked_body_smuggles_nothing(server: Server) -> None:
    """The attacker sends Content-Length: 0 and Transfer-Encoding: chunked under a URL-only signature.

    Exploits a check that trusts Content-Length (an empty body, so the URL-only
    signature matches) while the server and framework read the chunked form.
    """
    signature = sign(server.url("/twilio/sms"))
    chunk = b"AccountSid=AC666&Body=forged"
    body = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    headers = [
        ("Content-Type", FORM),
        ("X-Twilio-Signature", signature),
        ("Content-Length", "0"),
        ("Transfer-Encoding", "chunked"),
    ]
    response = server.request("POST", "/twilio/sms", body, headers=headers)
    _app_saw_what_was_signed(server, response, b"", [])


@pytest.mark.parametrize("adapter", ALL)
def test_form_body_on_a_signed_get_is_not_read(server: Server) -> None:
    """The attacker adds a form body to a captured GET webhook, whose signature covers the URL alone."""
    path = "/twilio/voice?CallSid=CA1&From=%2B15005550006"
    headers = [("Content-Type", FORM), ("X-Twilio-Signature", sign(server.url(path)))]
    response = server.request("GET", path, b"AccountSid=AC666&Digits=1234", headers=headers)
    _app_saw_what_was_signed(server, response, b"AccountSid=AC666&Digits=1234", [])


DUPLICATE_TYPES = {
    "form-then-json": [("Content-Type", FORM), ("Content-Type", "application/json")],
    "json-then-form": [("Content-Type", "application/json"), ("Content-Type", FORM)],
}


@pytest.mark.parametrize("headers", DUPLICATE_TYPES.values(), ids=DUPLICATE_TYPES.keys())
@pytest.mark.parametrize("adapter", HOSTED)
def test_duplicate_content_types_never_split_the_reading(server: Server, headers: list[tuple[str, str]]) -> None:
    """The attacker sends two Content-Types so that the check and the framework each pick a different one."""
    body = form_body(SMS)
    signature = sign(server.url("/twilio/sms"), SMS)
    response = server.request("POST", "/twilio/sms", body, headers=[*headers, ("X-Twilio-Signature", signature)])
    _app_saw_what_was_signed(server, response, body, SMS)


# --- FastAPI: the form parsed before the dependency ran -----------------------------------------

#: The FastAPI adapters, each serving a route with Form fields at /twilio/typed/<event>.
FASTAPI_FORM_ROUTES = ["fastapi-depends", "fastapi-router", "fastapi-route-class"]


@pytest.mark.parametrize(("body", "pairs"), {**TRICKY_FORMS, **RAW_BYTES}.values(), ids=[*TRICKY_FORMS, *RAW_BYTES])
@pytest.mark.parametrize("adapter", FASTAPI_FORM_ROUTES)
def test_fastapi_form_fields_are_the_signed_pairs(server: Server, body: bytes, pairs: list[tuple[str, str]]) -> None:
    """The attacker targets a route with Form fields, which FastAPI parses (raw bytes as latin-1) before the check."""
    response = server.post_form("/twilio/typed/sms", pairs, body=body)
    _app_saw_what_was_signed(server, response, body, pairs)


@pytest.mark.parametrize("content_type", FOREIGN_CHARSETS.values(), ids=FOREIGN_CHARSETS.keys())
@pytest.mark.parametrize("adapter", FASTAPI_FORM_ROUTES)
def test_fastapi_form_fields_with_a_foreign_charset_are_refused(server: Server, content_type: str) -> None:
    """The attacker declares a foreign charset on a route whose Form fields FastAPI parsed before the check."""
    with server.unreached():
        response = server.post_form("/twilio/typed/sms", [("Body", "é")], content_type=content_type)
    assert response.status == 400, response
