"""Path scoping: with ``paths=["/twilio/"]`` (or a callable), no spelling of a protected path slips through.

A request is protected when any reading a server or router could take of its
path falls under a protected prefix: as sent, percent-decoded once more, with
dot segments resolved, with slashes merged. Each trick below is sent unsigned;
it must be refused with 403 and never reach a view, whichever route the
framework would have dispatched it to (``/twilio/<event>``, ``/status``,
``/admin/<path>``).

Only the adapters that take ``paths`` are attacked here: a decorator or a
per-route dependency protects its own view, wherever the router sends a request,
and has no ``paths`` to get wrong.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.harness import ADAPTERS, FORM, SMS, WITH_PATHS, Pool, form_body

#: The two ways of saying which paths are protected: a list of prefixes, a callable.
PATHS_KINDS = ["default", "callable-paths"]

#: Unsigned spellings of protected paths, by what they try.
TRICKS = {
    # From the specification.
    "encoded-dot-dot-to-status": "/twilio/%2e%2e/status",
    "climb-out-of-prefix": "/twilio/x/../..",
    "encoded-slash-dot-dot": "/twilio/..%2Fstatus",
    "dot-dot-to-status": "/twilio/../status",
    "double-slash": "//twilio/sms",
    "leading-dot-segment": "/./twilio/sms",
    "climb-into-prefix": "/x/../twilio/sms",
    "encoded-letter": "/%74wilio/sms",
    "double-encoded-letter": "/%2574wilio/sms",
    # Beyond it: other spellings routers and servers are known to disagree on.
    "upper-case-encoded-dot-dot": "/twilio/%2E%2E/status",
    "half-encoded-dot-dot": "/twilio/.%2e/status",
    "encoded-dot-dot-to-admin": "/twilio/%2e%2e/admin/users",
    "dot-dot-to-admin": "/twilio/../admin/users",
    "encoded-slash-in-prefix": "/twilio%2Fsms",
    "encoded-leading-slash": "/%2Ftwilio/sms",
    "triple-slash": "///twilio/sms",
    "trailing-dot-segment": "/twilio/.",
    "climb-in-from-status": "/status/../twilio/sms",
}


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> Iterator[None]:
    pool.prestart(WITH_PATHS, "default")
    pool.prestart(WITH_PATHS, "callable-paths")
    yield
    pool.stop("callable-paths")


def _refused(pool: Pool, adapter: str, profile: str, path: str, method: str = "POST") -> None:
    server = pool.server(adapter, profile)
    body = form_body(SMS) if method == "POST" else None
    with server.unreached():
        response = server.request(method, path, body, headers=[("Content-Type", FORM)] if body else [])
    if ADAPTERS[adapter].on_routed_only and response.status == 404:
        return  # a router-level dependency: the router sent it nowhere, so no view ran (checked above)
    assert response.status == 403, response


@pytest.mark.parametrize("profile", PATHS_KINDS)
@pytest.mark.parametrize("path", TRICKS.values(), ids=TRICKS.keys())
@pytest.mark.parametrize("adapter", WITH_PATHS)
def test_unsigned_post_to_a_spelling_of_a_protected_path_is_refused(
    pool: Pool, adapter: str, profile: str, path: str
) -> None:
    """The attacker spells /twilio/... so the path check reads an unprotected path while a router serves it."""
    _refused(pool, adapter, profile, path)


@pytest.mark.parametrize("profile", PATHS_KINDS)
@pytest.mark.parametrize(
    "path",
    ["/twilio/%2e%2e/status?CallSid=CA1", "//twilio/voice?CallSid=CA1", "/%74wilio/voice?CallSid=CA1"],
    ids=["encoded-dot-dot", "double-slash", "encoded-letter"],
)
@pytest.mark.parametrize("adapter", WITH_PATHS)
def test_unsigned_get_to_a_spelling_of_a_protected_path_is_refused(
    pool: Pool, adapter: str, profile: str, path: str
) -> None:
    """The attacker uses a GET webhook shape (query, no body) to get a protected path's spelling past the check."""
    _refused(pool, adapter, profile, path, method="GET")


@pytest.mark.parametrize("profile", PATHS_KINDS)
@pytest.mark.parametrize("adapter", WITH_PATHS)
def test_genuine_request_under_the_prefix_is_accepted(pool: Pool, adapter: str, profile: str) -> None:
    """Control: a genuine webhook to /twilio/sms gets through (so the refusals above are about the path)."""
    server = pool.server(adapter, profile)
    response = server.post_form("/twilio/sms", SMS)
    assert response.status == 200, response
    assert response.json()["route"] == "twilio"


@pytest.mark.parametrize("profile", PATHS_KINDS)
@pytest.mark.parametrize("path", ["/status", "/admin/users"])
@pytest.mark.parametrize("adapter", WITH_PATHS)
def test_unprotected_paths_stay_open(pool: Pool, adapter: str, profile: str, path: str) -> None:
    """Control: unsigned requests outside the prefix still reach their views (the check is scoped, not global)."""
    server = pool.server(adapter, profile)
    response = server.post_form(path, SMS, signature=None)
    assert response.status == 200, response
