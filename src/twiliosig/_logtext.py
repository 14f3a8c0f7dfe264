"""The one way request data reaches a log line: escaped and bounded.

Anything a client controls (a method, a path, an ``AccountSid``, a header) can
hold CR, LF or other control characters that would forge a second log line, or
be megabytes long. Every log call that includes such text passes it through
:func:`loggable` first.
"""

from __future__ import annotations

__all__ = ["loggable"]

#: The longest piece of request data a log line carries before it is cut.
DEFAULT_LIMIT = 200


def loggable(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` safe for one log line: control and non-printable characters escaped, length bounded.

    Escaping comes before cutting, so the result is at most ``limit`` characters
    plus ``"..."`` and never ends inside an escape sequence that could be
    mistaken for something else.
    """
    if not isinstance(text, str):
        text = repr(text)
    if len(text) <= limit and text.isprintable():
        return text
    # Each character escapes to one or more: the first limit + 1 decide the result, whatever follows
    # (a megabyte AccountSid cost each forged request 13 ms to escape whole, for 64 characters shown).
    escaped = text[: limit + 1].encode("unicode_escape", "backslashreplace").decode("ascii")
    if len(escaped) <= limit:
        return escaped
    cut = escaped[:limit]
    backslash = cut.rfind("\\", max(0, limit - 10))
    if backslash != -1:
        cut = cut[:backslash]  # never leave half an escape behind
    return cut + "..."
