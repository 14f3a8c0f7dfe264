"""What Twilio signed besides the URL: the form body's parameters, and the headers that carry the signature.

A form body is read exactly as the frameworks read it (``parse_form``), or, for the
common webhook, straight into the string the signature covers in one pass
(``form_signing_text``), which declines anything it could read differently.
"""

from __future__ import annotations

import binascii
import re
from typing import Union

__all__ = [
    "FORM_CONTENT_TYPE",
    "SETTINGS_HEADER",
    "SIGNATURE_HEADER",
    "BodyParams",
    "form_signing_text",
    "parse_form",
]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"

#: Parameters as the middlewares hand them to the core: form pairs, or the raw body.
BodyParams = Union[list[tuple[str, str]], bytes, None]


# A "%" that starts no escape, left as it is (as werkzeug and Django leave it). An escape
# is any two hex digits, whatever their case ("%aF" too), as every framework decodes it:
# left literal here, a captured "%25aF" re-sent as "%aF" would still validate while the
# application read another character.
_NOT_AN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# What surrogateescape makes of a byte that is not UTF-8, except the separator 0xFF.
_UNDECODABLE = re.compile("[\udc80-\udcfe]")


def _percent_decode(texts: list[str]) -> list[str]:
    """The ``%XX`` escapes of many ASCII strings decoded as UTF-8 (strict); a broken escape stays as it is.

    A body near the size limit can hold a third of a million escapes, and a
    Python loop per escape decodes them slower than a framework parses the
    whole body, so all the strings are decoded at once, in a few passes in C:
    joined by the byte 0xFF, which no UTF-8 holds; a literal ``=`` made
    ``=3D`` and the ``%`` of each escape ``=``, so that ``binascii.a2b_qp``
    (quoted-printable escapes are ``=XX``) decodes every escape; then UTF-8 with
    ``surrogateescape``, which turns each separator into U+DCFF, where the
    strings are split again, and any byte that is not UTF-8 into another lone
    surrogate, which refuses the body.

    Raises:
        ValueError: an escape decodes to invalid UTF-8.
    """
    joined = "\xff".join(texts)
    if "%" not in joined:
        return texts
    data = _NOT_AN_ESCAPE.sub(b"%25", joined.encode("latin-1").replace(b"=", b"=3D"))
    decoded = binascii.a2b_qp(data.replace(b"%", b"=")).decode("utf-8", "surrogateescape")
    strings = decoded.split("\udcff")
    if len(strings) != len(texts) or _UNDECODABLE.search(decoded):
        raise ValueError("a %-escape in the form body decodes to invalid UTF-8")
    return strings


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` body into pairs, blanks and repeats kept.

    ``+`` is a space and ``%XX`` is decoded as UTF-8, as Twilio encodes; pieces
    split on ``&`` only, empty pieces skipped, a piece without ``=`` is a blank
    value: the same pairs werkzeug and Django parse, so the parameters checked
    are the parameters the application reads. A broken escape stays literal
    (and then fails the signature, as it should).

    Twilio percent-encodes every byte outside ASCII, and frameworks disagree on
    how to read a raw one (werkzeug and Django as UTF-8, Starlette as latin-1),
    so a raw non-ASCII byte would let the application read other values than
    the ones checked: such a body is refused.

    Raises:
        ValueError: a raw non-ASCII byte, or a decoded escape that is not valid UTF-8.
    """
    if not body.isascii():
        raise ValueError("the form body holds raw non-ASCII bytes (Twilio percent-encodes them)")
    pairs: list[tuple[str, str]] = []
    escaped = []  # where the pairs with an escape are
    for piece in body.decode("ascii").replace("+", " ").split("&"):
        if piece:
            if "%" in piece:
                escaped.append(len(pairs))
            name, _, value = piece.partition("=")
            pairs.append((name, value))
    if escaped:
        # Decoded after the split, so an escaped "&" or "=" stays in its name or value;
        # all together, so a body of escapes costs passes in C, not a loop per escape.
        decoded = _percent_decode([text for index in escaped for text in pairs[index]])
        for index, name, value in zip(escaped, decoded[::2], decoded[1::2], strict=True):
            pairs[index] = (name, value)
    return pairs


# Every byte but the separators "&" and "=", and the two bytes form_signing_text puts in their place.
_NOT_A_SEPARATOR = bytes(byte for byte in range(256) if byte not in b"&=\x00\x01")
# The separators of a body of up to 64 pairs, each "name=value", in order: "=&=&...=".
_ALTERNATING = b"=&" * 63 + b"="
# Larger than any webhook Twilio sends (1,600 characters of message, each escaped, fit many
# times over): a forged body near max_body_size goes straight to the parser, read once.
_ONE_PASS_BYTES = 32 * 1024


def form_signing_text(body: bytes) -> str | None:
    """What a signature covers of a plain form body, straight from its bytes; None: ask :func:`parse_form`.

    Exactly ``sorted_params(parse_form(body))[0]`` (names and values decoded,
    distinct pairs in code-point order, each name then its value) for the body
    of every genuine webhook, in a dozen passes in C instead of a loop per pair:
    the middlewares do this once per request. The separators become control
    characters before the escapes are decoded, so an escaped ``&`` or ``=``
    stays in its name or value: ``&`` becomes U+0001, where the pairs are split,
    and ``=`` becomes NUL, which sorts below every character, so sorting whole
    ``name NUL value`` strings sorts the pairs by name, then value; a set drops
    repeated pairs. It answers None (and the caller parses the pairs) for
    anything it could read differently from :func:`parse_form`: a piece without
    ``=`` or with a second one, an empty piece, more than 64 pairs or 32 KiB,
    NUL or U+0001 raw or escaped, a ``%`` that starts no escape, a raw non-ASCII
    byte, an escape that is not UTF-8.
    """
    if len(body) > _ONE_PASS_BYTES or not body.isascii():
        return None
    separators = body.translate(None, _NOT_A_SEPARATOR)
    if not (len(separators) & 1 and _ALTERNATING.startswith(separators)):
        return None
    data = body.replace(b"+", b" ").replace(b"=", b"\x00").replace(b"&", b"\x01")
    if b"%" in data:
        if b"%00" in data or b"%01" in data or _NOT_AN_ESCAPE.search(data):
            return None  # would decode to a separator, or a '%' that starts no escape (Twilio sends none)
        try:
            text = binascii.a2b_qp(data.replace(b"%", b"=")).decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = data.decode("ascii")
    return "".join(sorted(set(text.split("\x01")))).replace("\x00", "")
