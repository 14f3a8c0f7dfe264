"""Methods: Twilio sends only GET and POST, so nothing else on a protected path reaches the app.

A GET webhook's signature covers its URL alone, so the same signature would
also "match" a DELETE, PUT, PATCH, HEAD or OPTIONS to that URL with no body. A
REST-ish app under a protected prefix routes those methods to other handlers.
They are refused with 405 and ``Allow: GET, POST`` before anything else (even
before the signature), unless the ``methods`` option opts them in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.harness import ALL, SMS, Pool, Server, sign

OTHER_METHODS = ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
CAPTURED_GET = "/twilio/voice?CallSid=CA1&From=%2B15005550006"


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> Iterator[None]:
    pool.prestart(ALL, "default")
    pool.prestart(ALL, "methods-put")
    yield
    pool.stop("methods-put")


def _allow(value: str | None) -> set[str]:
    return {method.strip() for method in (value or "").split(",") if method.strip()}


@pytest.mark.parametrize("method", OTHER_METHODS)
@pytest.mark.parametrize("adapter", ALL)
def test_captured_get_signature_is_not_another_method(server: Server, method: str) -> None:
    """The attacker replays a captured GET webhook's signature with another method the app routes elsewhere."""
    with server.unreached():
        response = server.get(CAPTURED_GET, method=method)
    assert response.status == 405, response
    assert _allow(response.header("Allow")) == {"GET", "POST"}, response.headers


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("adapter", ALL)
def test_unsigned_other_method_is_a_405_first(server: Server, method: str) -> None:
    """The attacker probes a protected path with an unsigned DELETE/PUT/PATCH: 405 comes before the signature check."""
    with server.unreached():
        response = server.post_form("/twilio/calls/CA1", SMS, signature=None, method=method)
    assert response.status == 405, response


@pytest.mark.parametrize("adapter", ALL)
def test_lower_case_method_is_refused(server: Server) -> None:
    """The attacker sends 'post', which some servers pass on and a case-insensitive method check would wave through."""
    with server.unreached():
        response = server.post_form("/twilio/sms", SMS, method="post")
    assert 400 <= response.status < 500, response


@pytest.mark.parametrize("adapter", ALL)
def test_opted_in_method_is_checked_like_post(pool: Pool, adapter: str) -> None:
    """Control: with methods=['GET', 'POST', 'PUT'], a genuine PUT is accepted and a forged one refused."""
    server = pool.server(adapter, "methods-put")
    assert server.post_form("/twilio/calls/CA1", SMS, method="PUT").status == 200
    with server.unreached():
        forged = server.post_form("/twilio/calls/CA1", SMS, signature=sign(server.url("/x"), SMS), method="PUT")
    assert forged.status == 403, forged


@pytest.mark.parametrize("adapter", ALL)
def test_opting_in_one_method_does_not_open_the_others(pool: Pool, adapter: str) -> None:
    """The attacker replays a captured GET as DELETE where only PUT was opted in: 405, Allow lists the three."""
    server = pool.server(adapter, "methods-put")
    with server.unreached():
        response = server.get(CAPTURED_GET, method="DELETE")
    assert response.status == 405, response
    assert _allow(response.header("Allow")) == {"GET", "POST", "PUT"}, response.headers
