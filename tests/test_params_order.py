"""The fast paths of the refusal give exactly what the straightforward code gives.

Refusing a forged body of a hundred thousand parameters must cost no more than
the framework's own parse of it, so the parameter string is sorted as one string
per pair, the UTF-16 order is derived from the code-point order, HMACs are keyed
once and the form is decoded in bulk. Each is checked here against the plain
implementation it replaces (written out below as the reference), in both orders.
Timing lives in ``benchmarks/forged.py``, never in the tests.
"""

from __future__ import annotations

import base64
import hmac
import io
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from twiliosig import _params as params_module
from twiliosig._forms import form_signing_text, parse_form
from twiliosig._keys import ALGORITHMS, Secret
from twiliosig._params import canonical_params, sorted_params, utf16_order_may_differ, utf16_params

# Characters where the orders and the separators could go wrong: NUL and U+0001
# (the separator and its escape), ASCII, U+D7FF and U+E000..U+FFFF (below and
# above the surrogates), astral characters (two UTF-16 units).
TRICKY = st.sampled_from(
    ["\0", "\1", "a", "b", "Z", " ", "=", "\ud7ff", "\ue000", "\uff21", "\uffff", "😀", "\U00010000"]
)
TEXT = st.text(TRICKY, max_size=4) | st.text(max_size=4)
PAIRS = st.lists(st.tuples(TEXT, TEXT), max_size=40)


def reference(params: Any, *, utf16_order: bool = False) -> str:
    """Twilio's order written plainly: group the values by name, sort names, then each name's distinct values."""
    grouped: dict[str, set[str]] = {}
    for name, value in params.items() if isinstance(params, dict) else params:
        grouped.setdefault(name, set()).add(value)

    def key(text: str) -> Any:
        return text.encode("utf-16-be", "surrogatepass") if utf16_order else text

    return "".join(name + value for name in sorted(grouped, key=key) for value in sorted(grouped[name], key=key))


# Every list sorted as strings (threshold 0), and with the threshold as shipped.
PATHS = pytest.mark.parametrize("many", [0, params_module._MANY], ids=["strings path", "pairs path"])


@PATHS
@given(pairs=PAIRS)
@example(pairs=[("a", "x"), ("a\0", "y"), ("a", "x\0"), ("a", "")])
@example(pairs=[("", "\0"), ("", ""), ("\0", ""), ("\0\1", "\0\0")])
@example(pairs=[("😀", "1"), ("\uff21", "2"), ("Body", "😀"), ("Body", "\uff21")])
def test_both_orders_match_the_reference_for_pairs(many: int, pairs: list[tuple[str, str]]) -> None:
    """Pairs, repeated names, NULs and astral characters: both orders are the plain implementation's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(params_module, "_MANY", many)
        text, ordered = sorted_params(pairs)
        assert text == reference(pairs)
        assert utf16_params(ordered) == reference(pairs, utf16_order=True)
        assert canonical_params(pairs) == reference(pairs)
        assert canonical_params(pairs, utf16_order=True) == reference(pairs, utf16_order=True)


@given(params=st.dictionaries(TEXT, TEXT, max_size=20))
def test_both_orders_match_the_reference_for_a_dict(params: dict[str, str]) -> None:
    """A plain dict of str takes its own path, with the same result."""
    assert canonical_params(params) == reference(params)
    assert canonical_params(params, utf16_order=True) == reference(params, utf16_order=True)


@given(pairs=PAIRS)
def test_utf16_order_may_differ_never_misses(pairs: list[tuple[str, str]]) -> None:
    """When the cheap test says the orders cannot differ, they do not."""
    if not utf16_order_may_differ(reference(pairs).encode("utf-8")):
        assert reference(pairs, utf16_order=True) == reference(pairs)


def test_utf16_order_may_differ_on_the_cases_that_matter() -> None:
    """Astral and U+E000..U+FFFF together may differ; either alone, or Hangul (lead byte ED), may not."""
    assert utf16_order_may_differ("😀1\uff212".encode())
    assert not utf16_order_may_differ("😀1😀2".encode())
    assert not utf16_order_may_differ("\uff211\uffff".encode())
    assert not utf16_order_may_differ("😀\ud7a3".encode())


@PATHS
@pytest.mark.parametrize(
    "params",
    [
        [("a", b"x")],
        [("a", None), ("b", 3)],
        [("a", "x", "y")],
        [("a", ["x"])],
        [(b"a", "x")],
    ],
    ids=["bytes value", "none and number", "triple", "list value", "bytes name"],
)
def test_odd_items_take_the_general_path_whatever_the_size(
    many: int, params: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Non-str items give the general path's result or its TypeError, on the string path too."""
    monkeypatch.setattr(params_module, "_MANY", many)
    padded = params * 100
    for shape in (params, padded):
        try:
            expected: Any = canonical_params(iter(shape))
        except TypeError as error:
            expected = type(error)
        try:
            got: Any = canonical_params(shape)
        except TypeError as error:
            got = type(error)
        assert got == expected


# --- HMAC keyed once -------------------------------------------------------------


@given(
    key=st.binary(min_size=1, max_size=200),
    message=st.binary(max_size=300),
    suffix=st.binary(max_size=300),
    algorithm=st.sampled_from(sorted(ALGORITHMS)),
)
@example(key=b"k" * 64, message=b"m", suffix=b"", algorithm="HMAC_SHA1")  # exactly one block: used as it is
@example(key=b"k" * 65, message=b"m", suffix=b"", algorithm="HMAC_SHA256")  # one byte more: hashed first
def test_secret_signs_as_the_hmac_module_does(key: bytes, message: bytes, suffix: bytes, algorithm: str) -> None:
    """Keys shorter and longer than a block, both algorithms: the same bytes as hmac.new."""
    digest = ALGORITHMS[algorithm]
    expected = base64.b64encode(hmac.new(key, message + suffix, digest.hashlib_name).digest())
    secret = Secret("test", key)
    assert secret.sign(message, digest, suffix) == expected
    assert secret.sign(message + suffix, digest) == expected  # and again, from the kept state


def test_keys_module_imports_no_private_module() -> None:
    """_keys.py uses public modules only (no _hashlib)."""
    import twiliosig._keys

    assert "_hashlib" not in Path(twiliosig._keys.__file__).read_text(encoding="utf-8")


# --- the form decoded in bulk ----------------------------------------------------

# Any two hex digits, whatever their case, as werkzeug, Django and Starlette decode them.
_HEX = {f"{i:02x}"[0] + f"{i:02x}"[1]: bytes([i]) for i in range(256)}
_HEX |= {
    a + b: byte
    for pair, byte in list(_HEX.items())
    for a in {pair[0], pair[0].upper()}
    for b in {pair[1], pair[1].upper()}
}


def _decode_one(text: str) -> str:
    first, *rest = text.split("%")
    out = [first.encode("utf-8")]
    for part in rest:
        byte = _HEX.get(part[:2])
        if byte is None:
            out.append(b"%" + part.encode("utf-8"))
        else:
            out += [byte, part[2:].encode("utf-8")]
    return b"".join(out).decode("utf-8")


def reference_form(body: bytes) -> list[tuple[str, str]] | None:
    """The form parser written plainly, one escape at a time; None for a refused body."""
    if not body.isascii():
        return None
    pairs = []
    for piece in body.decode("ascii").replace("+", " ").split("&"):
        if piece:
            name, _, value = piece.partition("=")
            try:
                pairs.append((_decode_one(name), _decode_one(value)))
            except UnicodeDecodeError:
                return None
    return pairs


# Separators and plain characters; escapes of every kind (escaped separators, broken,
# mixed-case, invalid UTF-8, an encoded surrogate); an escape in quoted-printable; raw non-ASCII.
PLAIN = ("&", "=", "+", "%", "a", "F", "f", "0", "9", "\r\n", "\0")
ESCAPES = ("%00", "%01", "%3D", "%26", "%25", "%2B", "%41", "%4a", "%aF", "%eA", "%C3%A9", "%c3%a9", "%E2%82")
ODD = ("%F0%9F%98%80", "%EF%BC%A1", "%FF", "%80", "%ED%A0%80", "=3D", "%%41", "%4%41", "\xff")
FORM_PIECES = st.sampled_from((*PLAIN, *ESCAPES, *ODD))


def _parsed(body: bytes) -> list[tuple[str, str]] | None:
    try:
        return parse_form(body)
    except ValueError:
        return None


@given(body=st.lists(FORM_PIECES, max_size=30).map("".join).map(lambda s: s.encode("latin-1")))
@example(body=b"a=%F0%9F%98%80&%FF=x")
@example(body=b"a=%E2%82&=b")
@example(body=b"a=%2&b=%")
@example(body=b"a=x%20=41&b=%3D3D&c=%25=3D")  # a literal '=' beside an escape stays an '=', never an escape
def test_form_parser_matches_the_reference(body: bytes) -> None:
    """Escapes, broken escapes, escaped separators, invalid UTF-8, raw non-ASCII: as the plain parser."""
    assert _parsed(body) == reference_form(body)


# A mixed-case escape ("%aF") is decoded by werkzeug and Django, and left literal here.


@given(body=st.lists(FORM_PIECES.filter(lambda piece: piece != "\xff"), max_size=30).map("".join))
def test_form_parser_reads_what_werkzeug_and_django_read(body: str) -> None:
    """Every body it accepts gives the pairs werkzeug's Request.form and Django's QueryDict give."""
    from django.http import QueryDict
    from werkzeug.wrappers import Request

    pairs = _parsed(body.encode("ascii"))
    if pairs is None:
        return
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body.encode("ascii")),
        "wsgi.errors": sys.stderr,
    }
    # A multi-dict groups each name's values where the name first appears.
    grouped = sorted(pairs, key=lambda pair: [name for name, _ in pairs].index(pair[0]))
    assert list(Request(environ).form.items(multi=True)) == grouped
    assert [(name, value) for name, values in QueryDict(body).lists() for value in values] == grouped


def _signed_text(body: bytes) -> str | None:
    """What the general path signs for a form body: its parsed pairs in Twilio's order (None if refused)."""
    pairs = _parsed(body)
    return None if pairs is None else sorted_params(pairs)[0]


@given(body=st.lists(FORM_PIECES, max_size=30).map("".join).map(lambda s: s.encode("latin-1")))
@example(body=b"a=x%20=41&b=%3D3D&c=%25=3D")
@example(body=b"To=1&To-x=2&To=0")  # a name that is a prefix of another, before and after '-' and '0'
@example(body=b"a=1&a=1&a=0")  # a repeated pair is signed once
@example(body=b"a%3Db=c&a=b%3Dc")  # an escaped '=' belongs to its name or value
@example(body=b"a%26b=c&a=b%26c")  # and so does an escaped '&'
def test_the_one_pass_form_text_is_what_the_parsed_pairs_sign(body: bytes) -> None:
    """The middlewares' one-pass reading of a form body answers what the parsed pairs sign, or declines."""
    text = form_signing_text(body)
    if text is not None:
        assert text == _signed_text(body)


# Names and values of every odd piece but the literal separators, so that most bodies take the one pass.
FIELD = st.lists(FORM_PIECES.filter(lambda piece: "&" not in piece and "=" not in piece), max_size=6).map("".join)


@given(st.lists(st.tuples(FIELD, FIELD), min_size=1, max_size=70))
def test_the_one_pass_form_text_agrees_on_well_formed_bodies_of_odd_escapes(pairs: list[tuple[str, str]]) -> None:
    """Pieces of one '=' each, of any escape (NUL, U+0001, '&', broken, not UTF-8): the one pass or the parser."""
    body = "&".join(f"{name}={value}" for name, value in pairs).encode("latin-1")
    text = form_signing_text(body)
    if text is not None:
        assert text == _signed_text(body)


# Every shape it must decline: each would be read differently by a split on '=' alone,
# or by a decode of the whole body before the split.
DECLINED = {
    "empty body": b"",
    "piece without '='": b"a=1&b&c=2",
    "piece with a second '='": b"a=b=c&d=1",
    "second '=' and a piece without one": b"a=b=c&d",
    "empty piece": b"a=1&&b=2",
    "trailing '&'": b"a=1&",
    "leading '&'": b"&a=1",
    "raw NUL": b"a=\x00&b=1",
    "escaped NUL": b"a=%00&b=1",
    "raw U+0001": b"a=\x01&b=1",
    "escaped U+0001": b"a=%01&b=1",
    "raw non-ASCII": b"a=\xc3\xa9",
    "escape that is not UTF-8": b"a=%FF",
    "'%' that starts no escape": b"a=%4&b=%",
    "escape of half a character": b"a=%C3&b=%A9",
    "more pairs than the one pass takes": "&".join(f"n{i}=v" for i in range(65)).encode(),
    "a body larger than any webhook": b"a=" + b"%41" * 11_000,
}


@pytest.mark.parametrize("body", DECLINED.values(), ids=DECLINED.keys())
def test_the_one_pass_form_text_declines_what_it_could_read_differently(body: bytes) -> None:
    """Each shape the one pass could misread goes to the parser (which then refuses it or signs its pairs)."""
    assert form_signing_text(body) is None


# What Twilio's parameters hold: any text, but NUL and U+0001 (the one pass declines those).
WEBHOOK_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\1"), max_size=12)


@given(st.lists(st.tuples(WEBHOOK_TEXT.filter(bool), WEBHOOK_TEXT), min_size=1, max_size=64))
def test_the_one_pass_form_text_reads_every_body_twilio_sends(pairs: list[tuple[str, str]]) -> None:
    """Any form Twilio writes (urlencoded UTF-8, up to 64 pairs, repeats allowed) takes the one pass."""
    body = urlencode(pairs).encode("ascii")
    assert form_signing_text(body) == sorted_params(pairs)[0]


def test_form_parser_keeps_a_large_body_exact() -> None:
    """A near-limit body of escapes decodes as the plain parser decodes it."""
    body = "&".join(f"n%F0%9F%98%80{i}=%EF%BC%A1{i}+%3D%26" for i in range(20_000)).encode()
    pairs = parse_form(body)
    assert pairs == reference_form(body)
    assert all(type(pair) is tuple and type(pair[0]) is str and type(pair[1]) is str for pair in pairs)
