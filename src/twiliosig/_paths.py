"""Which requests are protected: the ``paths`` option, tested against every reading of a path.

A server, a router and a framework may each read a path differently (decoded once
more, dot segments resolved, slashes merged, backslashes as separators), so a
prefix is tested against every such reading and a path is protected if any
reading falls under it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from ._logtext import loggable

logger = logging.getLogger("twiliosig")

__all__ = ["PathMatcher", "normalise_path", "path_matcher", "path_readings"]


def normalise_path(path: str, *, backslashes: bool = False) -> str:
    """The path with repeated slashes merged and dot segments resolved.

    With ``backslashes``, a ``\\`` also separates segments (as some proxies and
    non-Python routers read it).
    """
    if backslashes:
        path = path.replace("\\", "/")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalised = "/" + "/".join(segments)
    if path.endswith("/") and normalised != "/":
        normalised += "/"
    return normalised


# Characters of a glob, a regex or a route converter: never in a Twilio webhook URL, and a
# sign that a paths entry (a literal prefix) was written as a pattern, which matches nothing.
_PATTERN_CHARACTERS = re.compile(r"[*?<>{}\[\]()^$]")
# A path holding none of these reads the same to every server and router.
_AMBIGUOUS_PATH = re.compile(r"%|//|/\.|\\")
# How many times a path is percent-decoded for its readings: the server once, a router
# or gateway once more, and a margin.
_MAX_DECODINGS = 3


def path_readings(path: str) -> tuple[str, ...]:
    """Every path a server or router might dispatch this request to, the path itself first.

    The path the adapter gives is the one the server decoded. A router may use
    it as it is (werkzeug and Starlette keep ``..`` and ``//``), decode it once
    more (or twice, where a gateway such as API Gateway's REST API passes it
    still encoded), resolve dot segments and merge slashes (as a proxy in front, or a
    router, may), or treat ``\\`` as a separator. A request is protected when any
    of these readings falls under a protected prefix: the test errs towards
    protecting more, never less.
    """
    if _AMBIGUOUS_PATH.search(path) is None:
        return (path,)
    readings = dict.fromkeys([path])
    decoded = path
    for _ in range(_MAX_DECODINGS):  # a path the server left encoded, or encoded twice
        if "%" not in decoded:
            break
        decoded = unquote(decoded, errors="surrogateescape")
        readings[decoded] = None
    for reading in list(readings):
        readings[normalise_path(reading)] = None
        if "\\" in reading:
            readings[normalise_path(reading, backslashes=True)] = None
    return tuple(readings)


PathMatcher = Callable[[str], bool]


def path_matcher(paths: Iterable[str] | PathMatcher | None) -> PathMatcher:
    """Build the test for which paths must be signed.

    Every reading of the path (:func:`path_readings`) is tested, so a request
    cannot leave a protected prefix by dot segments, doubled slashes or
    percent-encoding that the server or router reads differently from us.

    Args:
        paths: None for every path; a callable ``path -> bool``, called with
            each reading (protected if any answers True; protected too if it
            raises); or path prefixes, matched by whole segments: ``"/twilio"``
            and ``"/twilio/"`` both protect ``/twilio``, ``/twilio/`` and
            ``/twilio/sms``, not ``/twiliox``. A prefix written percent-encoded
            is matched in its decoded form too.

    Raises:
        TypeError: a str instead of a list of prefixes, or prefixes that are not str.
        ValueError: a prefix that does not start with ``/``, or an empty list.
    """
    if paths is None:
        return lambda path: True
    if callable(paths):
        return _custom_matcher(paths)
    if isinstance(paths, str):
        raise TypeError("paths must be a list of prefixes, e.g. paths=['/twilio/'], not a single str")
    if not isinstance(paths, Iterable):
        raise TypeError(f"paths must be a list of path prefixes or a callable, not {type(paths).__name__}")
    prefixes: dict[str, None] = {}
    for prefix in paths:
        if not isinstance(prefix, str):
            raise TypeError("each entry of paths must be a str path prefix")
        if not prefix.startswith("/"):
            raise ValueError(f"path prefixes start with '/': {prefix!r}")
        if _PATTERN_CHARACTERS.search(prefix):
            raise ValueError(
                f"paths holds {prefix!r}, which looks like a pattern; entries are literal prefixes "
                "(paths=['/twilio/'] protects everything under /twilio/), or give a callable"
            )
        prefixes[prefix.rstrip("/")] = None
        if "%" in prefix:
            prefixes[unquote(prefix).rstrip("/")] = None
    if not prefixes:
        raise ValueError("paths is empty, which would protect nothing; use None to protect every path")
    if "" in prefixes:
        return lambda path: True
    exact = tuple(prefixes)
    below = tuple(prefix + "/" for prefix in prefixes)

    def matches(path: str) -> bool:
        return any(reading in exact or reading.startswith(below) for reading in path_readings(path))

    return matches


def _custom_matcher(custom: PathMatcher) -> PathMatcher:
    def matches(path: str) -> bool:
        try:
            return any(custom(reading) for reading in path_readings(path))
        except Exception as error:  # a broken matcher must not open the door
            logger.error(
                "twiliosig: the paths callable raised %s for %s; treating the path as protected",
                type(error).__name__,
                loggable(path),
            )
            return True

    return matches
