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
from typing import Any, Union

__all__ = ["Params", "all_values", "canonical_params", "first_value"]

#: Every shape of parameters accepted: a mapping of name to value or values, a
#: multi-dict with ``getlist``/``getall``, or an iterable of (name, value) pairs.
Params = Union[
    Mapping[str, Union[str, Sequence[str]]],
    Iterable[tuple[str, str]],
    None,
]


def _code_point_key(text: str) -> str:
    return text


def _utf16_key(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


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
    if not utf16_order:
        # The common cases in one sorted pass: a dict of str to str, or a list of
        # (str, str) pairs, where sorting the distinct pairs gives names sorted and,
        # within a name, its distinct values sorted: exactly Twilio's order.
        try:
            if type(params) is dict:
                return "".join([name + params[name] for name in sorted(params)])
            if type(params) is list:
                return "".join([name + value for name, value in sorted(set(params))])
        except (TypeError, ValueError):
            pass  # lists as values, non-str items, not pairs: the general path says which
    grouped = _group(params)
    key: Callable[[str], Any] = _utf16_key if utf16_order else _code_point_key
    pieces = []
    for name in sorted(grouped, key=key):
        for value in sorted(grouped[name], key=key):
            pieces.append(name)
            pieces.append(value)
    return "".join(pieces)


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
