"""What every attack app shares: its configuration from the environment, a recorder, the log file.

A server process learns everything from its environment: ``ATTACK_ADAPTER``
(which adapter to build), ``ATTACK_PROFILE`` (which options, see
``tests.attacks.profiles``), ``ATTACK_CALLS`` (the file each view appends one
JSON line to when it runs, so a test can prove the app never ran) and
``ATTACK_LOG`` (where the ``twiliosig`` logger writes, one line per record).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from typing import Any

from tests.attacks.profiles import options

ADAPTER = os.environ.get("ATTACK_ADAPTER", "")
PROFILE = os.environ.get("ATTACK_PROFILE", "default")
#: Every method a real REST-ish app might route under a protected prefix.
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def guard_options(*, paths: bool) -> dict[str, Any]:
    """The options of this process's profile."""
    return options(PROFILE, paths=paths)


def configure_logging() -> None:
    """Send the ``twiliosig`` logger to ``ATTACK_LOG``, one record per line as a log shipper sees it."""
    path = os.environ.get("ATTACK_LOG")
    if not path:
        return
    logger = logging.getLogger("twiliosig")
    if any(getattr(handler, "attack_log", False) for handler in logger.handlers):
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.attack_log = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def record(
    route: str,
    method: str,
    path: str,
    body: bytes | None,
    form: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
    verdict: Any = None,
) -> bytes:
    """Append what the app saw to ``ATTACK_CALLS`` and return it as the response body."""
    seen = {
        "route": route,
        "method": method,
        "path": path,
        "sha256": None if body is None else hashlib.sha256(body).hexdigest(),
        "length": None if body is None else len(body),
        "form": [[name, value] for name, value in form],
        "query": [[name, value] for name, value in query],
        "reason": getattr(getattr(verdict, "reason", None), "value", None),
    }
    line = json.dumps(seen)
    with open(os.environ["ATTACK_CALLS"], "a", encoding="utf-8") as calls:
        calls.write(line + "\n")
    return line.encode()


def event_status(event: str) -> int:
    """The status a protected view answers for its event: ``fail`` answers 500 (``raise`` raises)."""
    return 500 if event.rstrip("/").endswith("fail") else 200


def should_raise(event: str) -> bool:
    return event.rstrip("/").endswith("raise")
