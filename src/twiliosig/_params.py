"""The parameter half of the string Twilio signs.

After the URL, Twilio appends every POST parameter as its name followed by its
value, names sorted by code point, and for a repeated name each distinct value
once, values sorted. No separators: a blank value adds the name alone.

Parameters reach us in many shapes: a plain dict, a dict of lists, a framework
multi-dict (werkzeug ``MultiDict``, Django ``QueryDict``, Starlette
``FormData``, ``multidict``) or ``(name, value)`` pairs straight from a form
parser. Pairs are the safest: a plain dict built from a form has already lost
every repeated name, and the signature with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import methodcaller
from typing import Any, NamedTuple, Union

__all__ = ["Params", "all_values", "canonical_params", "first_value"]

#: Every shape of parameters accepted: a mapping of name to value or values, a
#: multi-dict with ``getlist``/``getall``, or an iterable of (name, value) pairs.
Params = Union[
    Mapping[str, Union[str, Sequence[str]]],
    Iterable[tuple[str, str]],
    None,
]


# The UTF-16 sort key: the code units, big-endian, so that byte order is unit order.
# A C-level callable, as it runs once per name on the refusal path.
_utf16_key: Callable[[str], bytes] = methodcaller("encode", "utf-16-be", "surrogatepass")

# In UTF-8 an astral character starts with a byte F0..F4 and one in U+E000..U+FFFF
# with EE or EF; a lone surrogate (ED A0..ED BF) never gets this far, as the
# signed string is encoded strictly.
_ASTRAL_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")
_HIGH_BMP_LEADS = (b"\xee", b"\xef")
# From this many pairs on, sorting them as strings pays for building the strings
# (measured: below it the plain sort of tuples costs as much or less).
_MANY = 512


def canonical_params(params: Any, *, utf16_order: bool = False) -> str:
    """Concatenate name+value for every parameter, in the order Twilio signs them.

    Args:
        params: The form parameters in any shape :data:`Params` allows, or None.
        utf16_order: Sort by UTF-16 code unit (Java's and JavaScript's order)
            instead of by code point (Python's). The orders differ only when an
            astral character meets a character in U+E000..U+FFFF.

    Raises:
        TypeError: a name or value is not text (bytes must be valid UTF-8;
            ``None`` counts as a blank value and numbers as their decimal form).
    """
    if not params:
        return ""
    text, ordered = sorted_params(params)
    return utf16_params(ordered) if utf16_order else text


def utf16_order_may_differ(encoded: bytes) -> bool:
    """Whether the UTF-16 order of these parameters can differ from their code-point order.

    ``encoded`` is the parameter string in UTF-8. The two orders disagree only
    where an astral character meets one in U+E000..U+FFFF at the same position,
    so a string without both kinds has nothing to re-sort. A few byte searches
    (memchr) instead of a pass in Python over up to a mebibyte.
    """
    return any(lead in encoded for lead in _HIGH_BMP_LEADS) and any(lead in encoded for lead in _ASTRAL_LEADS)


class SortedKeys(NamedTuple):
    """Many pairs sorted by code point, each as one string (see :func:`_keyed`)."""

    keys: list[str]
    escaped: bool


def sorted_params(params: Any) -> tuple[str, Any]:
    """The parameter string in code-point order, and what :func:`utf16_params` needs to re-sort it.

    A refusal reads both orders, and a forged body can carry a hundred thousand
    parameters, so sorting is most of what a refusal costs: sorted once here,
    many pairs as one string each (several times cheaper than sorting tuples),
    and the UTF-16 order derived from this code-point order, which it finds
    nearly sorted (the orders differ only where an astral character meets
    U+E000..U+FFFF). A few pairs, as every genuine webhook has, take the plainer
    path, which costs less for them. The second item is opaque: hand it to
    :func:`utf16_params`.

    Raises:
        TypeError: a name or value is not text (see :func:`canonical_params`).
    """
    if not params:
        return "", None
    try:
        # Concatenating raises TypeError for anything but text, which sends the
        # caller to the general path below.
        if type(params) is dict:
            return "".join([name + params[name] for name in sorted(params)]), params
        if type(params) is list:
            if len(params) > _MANY:
                keys, escaped = _keyed(params)
                keys.sort()
                return _unkeyed(keys, escaped), SortedKeys(keys, escaped)
            # Sorting the distinct pairs sorts the names and, within a name, its
            # distinct values: exactly Twilio's order. Sorted first and repeats
            # skipped as they meet, which spares hashing every string for a set.
            return _distinct_sorted(params), params
    except (TypeError, ValueError):
        pass  # lists as values, non-str items, not pairs: the general path says which
    grouped = _group(params)
    return "".join([name + value for name in sorted(grouped) for value in sorted(grouped[name])]), grouped


def _distinct_sorted(pairs: list[tuple[str, str]]) -> str:
    """``name + value`` of each distinct pair, in code-point order, as one string (TypeError for non-text)."""
    pieces = []
    previous = None
    for pair in sorted(pairs):
        if pair != previous:
            name, value = pair
            pieces.append(name + value)
            previous = pair
    return "".join(pieces)


def utf16_params(ordered: Any) -> str:
    """The parameter string with names, and each name's values, sorted by UTF-16 code unit.

    Args:
        ordered: The second item :func:`sorted_params` returned.
    """
    if not ordered:
        return ""
    if isinstance(ordered, SortedKeys):
        keys, escaped = ordered
    else:
        keys, escaped = _keyed([(name, value) for name, values in _group(ordered).items() for value in values])
    return _unkeyed(sorted(keys, key=_utf16_key), escaped)


def _keyed(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], bool]:
    """Each distinct pair as one string that sorts as the pair does, and whether NUL is escaped in them.

    ``name + "\\0" + value``: NUL is below every other character, so comparing
    two such strings compares the names, then the values, by code point and by
    UTF-16 unit alike. A NUL inside a name or value would break that, so when
    there is one, every NUL is written NUL, U+0001 and the separator is two
    NULs: the order is kept (a lone NUL still sorts below anything after it)
    and :func:`_unkeyed` can still take the separators out.

    Raises:
        TypeError: a name or value that is not a str.
        ValueError: an item that is not a pair.
    """
    pairs = list(pairs)
    keys = [name + "\0" + value for name, value in pairs]
    if "".join(keys).count("\0") == len(keys):
        return list(dict.fromkeys(keys)), False
    keys = [name.replace("\0", "\0\1") + "\0\0" + value.replace("\0", "\0\1") for name, value in pairs]
    return list(dict.fromkeys(keys)), True


def _unkeyed(keys: list[str], escaped: bool) -> str:
    """The parameter string: sorted keys from :func:`_keyed`, their separators taken out."""
    text = "".join(keys)
    if escaped:
        # Every NUL left is a separator (two NULs, taken first, from the left) or an
        # escaped NUL (NUL, U+0001): no other NUL stands next to either.
        return text.replace("\0\0", "").replace("\0\1", "\0")
    return text.replace("\0", "")


def _group(params: Any) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for raw_name, raw_value in _pairs(params):
        name = _text(raw_name, None)
        grouped.setdefault(name, set()).add(_text(raw_value, name))
    return grouped


def _pairs(params: Any) -> Iterable[tuple[Any, Any]]:
    """Flatten any accepted shape into (name, value) pairs, repeated names kept."""
    getlist = getattr(params, "getlist", None) or getattr(params, "getall", None)
    if callable(getlist) and hasattr(params, "keys"):
        for name in dict.fromkeys(params.keys()):
            for value in getlist(name):
                yield name, value
        return
    if isinstance(params, Mapping):
        for name, value in params.items():
            if isinstance(value, (str, bytes)) or value is None or not isinstance(value, Iterable):
                yield name, value
            else:
                for item in value:
                    yield name, item
        return
    if isinstance(params, (str, bytes)):
        raise TypeError("params must be form parameters, not a raw body string")
    if not isinstance(params, Iterable):
        raise TypeError(f"params must be a mapping or (name, value) pairs, not {type(params).__name__}")
    for pair in params:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError("params given as an iterable must hold (name, value) pairs")
        yield pair[0], pair[1]


def _text(value: Any, name: str | None) -> str:
    what = "a parameter name" if name is None else f"the value of {name!r}"
    if isinstance(value, str):
        return value
    if value is None and name is not None:
        return ""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise TypeError(f"{what} is not valid UTF-8") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{what} is a {type(value).__name__}, not text")


def first_value(params: Any, name: str) -> str | None:
    """The first text value of ``name`` in ``params``, or None. Never raises.

    Used to read ``AccountSid`` for a per-account token lookup before the
    parameters have been checked.
    """
    try:
        for key, value in _pairs(params):
            if key == name and isinstance(value, str):
                return value
    except (TypeError, ValueError):
        return None
    return None


def all_values(params: Any, name: str) -> list[str]:
    """Every text value of ``name`` in ``params``, in order; empty when unreadable. Never raises.

    Used to refuse a request that names two accounts before a token is chosen
    for one of them.
    """
    try:
        return [value for key, value in _pairs(params) if key == name and isinstance(value, str)]
    except (TypeError, ValueError):
        return []
