"""The structured fields of every log record twiliosig writes about a request, for JSON log pipelines.

A refusal's log line is a sentence for a person; the same facts ride on the record as
``extra`` attributes, so a JSON formatter (or any ``logging.Formatter`` that reads
``record.__dict__``) gets them as fields without parsing the sentence. Every record the
guard logs about a request carries all of :data:`LOG_FIELDS` (None where one does not
apply), so a pipeline's schema never depends on which line it got.

What a field never holds: the auth token, a signature (received or computed), a password,
or the query string. The URL field is the rebuilt URL as ``on_reject`` gets it (password
redacted) without its query: a GET webhook carries the whole message in its query
(``From``, ``To``, ``Body``), and teams put their own secrets there; the log line's
sentence has always left it out, and ``on_reject`` still gets the whole URL in code you
control. Client-controlled text passes through :func:`~twiliosig._logtext.loggable`:
escaped and bounded, safe for a plain-text formatter too.
"""

from __future__ import annotations

from typing import Final

from ._logtext import loggable
from ._urls import redact
from .verdict import Finding, Reason

__all__ = ["EVENTS", "LAYERS", "LOG_FIELDS", "layer_of", "log_fields", "log_url"]

#: The names of the ``extra`` fields, the one list of them (docs/operations.md shows it, and a test
#: holds the two together). Each is prefixed, so none collides with a ``LogRecord`` attribute.
LOG_FIELDS: Final = (
    "twiliosig_event",
    "twiliosig_reason",
    "twiliosig_layer",
    "twiliosig_status",
    "twiliosig_report_only",
    "twiliosig_method",
    "twiliosig_path",
    "twiliosig_url",
    "twiliosig_urls_tried",
    "twiliosig_cause",
    "twiliosig_signed_url",
    "twiliosig_fix",
)

#: What a record is about (``twiliosig_event``).
EVENTS: Final = (
    "refusal",  # a request refused (or, under report_only, let through that would have been)
    "on_reject_raised",  # the on_reject callback raised while a refusal was reported
    "store_error_allowed",  # the replay store failed and on_store_error="allow" let the request through
    "store_broken",  # the replay store answered something that is not a claim's token
    "release_failed",  # the claim of a request whose app failed could not be released
)

#: Which layer of the guard refused (``twiliosig_layer``), by reason; anything else is the signature's.
_LAYER_OF = {
    Reason.METHOD_NOT_ALLOWED: "method",
    Reason.MALFORMED_URL: "url",
    Reason.UNAUTHORIZED: "basic_auth",  # the guard names the layer that refused, when another one did
    Reason.NOT_HTTPS: "https",
    Reason.BODY_TOO_LARGE: "size_limit",
    Reason.MALFORMED_BODY: "body",
    Reason.REPLAYED: "replay_guard",
    Reason.REPLAY_STORE_UNAVAILABLE: "replay_guard",
    Reason.INSUFFICIENT_SCOPE: "oauth",
    Reason.AUTHORIZATION_SERVER_UNAVAILABLE: "oauth",
}
#: Every value ``twiliosig_layer`` takes.
LAYERS: Final = (
    "method",
    "url",
    "basic_auth",
    "digest_auth",
    "oauth",
    "https",
    "size_limit",
    "body",
    "signature",
    "replay_guard",
)

#: The longest URL a field carries before it is cut (a path is bounded at 200 characters already).
_URL_LIMIT = 300


def layer_of(reason: Reason) -> str:
    """The layer that refuses with ``reason``: the method check, the URL rebuild, Basic auth, ..."""
    return _LAYER_OF.get(reason, "signature")


def log_url(url: str | None) -> str | None:
    """The rebuilt URL for a log: password redacted, query and fragment left out, escaped and bounded."""
    if url is None:
        return None
    return loggable(redact(url).partition("?")[0].partition("#")[0], _URL_LIMIT)


def log_fields(
    event: str,
    reason: Reason,
    method: str,
    path: str,
    url: str | None,
    *,
    report_only: bool,
    status: int | None = None,
    urls_tried: int = 0,
    cause: str | None = None,
    finding: Finding | None = None,
    layer: str | None = None,
) -> dict[str, object]:
    """The ``extra`` of one record: every name of :data:`LOG_FIELDS`, each value safe to log.

    Args:
        event: One of :data:`EVENTS`.
        reason: The refusal's reason (a store's failure is ``replay_store_unavailable``).
        method: The request's method, as received.
        path: The path the application routes on.
        url: The rebuilt URL, or None if it could not be rebuilt.
        report_only: Whether the guard only reports (lets every request through).
        status: The refusal's HTTP status (under report_only, the one it would have had);
            None when nothing was refused.
        urls_tried: How many URL forms the signature was tried against.
        cause: What the operator fixes (what the store answered, which header is wrong),
            never a value from the request; None when the reason speaks for itself.
        finding: What the signature does match (a signature mismatch only): the URL
            Twilio signed, as ``twiliosig_url`` is written, and the option that fixes it.
        layer: The authentication layer that refused (one of :data:`LAYERS`), when the
            reason alone does not say which.
    """
    return {
        "twiliosig_event": event,
        "twiliosig_reason": reason.value,
        "twiliosig_layer": layer or layer_of(reason),
        "twiliosig_status": status,
        "twiliosig_report_only": report_only,
        "twiliosig_method": loggable(method, 20),
        "twiliosig_path": loggable(path),
        "twiliosig_url": log_url(url),
        "twiliosig_urls_tried": urls_tried,
        "twiliosig_cause": None if cause is None else loggable(cause),
        "twiliosig_signed_url": None if finding is None else log_url(finding.signed_url),
        "twiliosig_fix": None if finding is None else loggable(finding.fix),
    }
