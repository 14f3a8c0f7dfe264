"""URL variants: a signature for one route never becomes valid at a route the app dispatches differently.

The validator tries a few forms of the URL besides the one received, because
Twilio and its SDKs disagree on ports, trailing slashes and query encoding. An
attacker holding a genuine signature for ``/twilio/sms`` (a leaked log, a
compromised proxy) tries to spend it at a path that normalises to the same URL
(dot segments, backslashes) but that the framework routes elsewhere (the
catch-all gets another ``event``). Those must be refused; the genuine variants
Twilio really produces (port, trailing slash, query re-encodings, host case,
percent-encoded paths) must still be accepted.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.attacks.harness import ALL, HOSTED, SMS, WEBSOCKET, Pool, Server, sign
from tests.attacks.profiles import LAMBDA_DOMAIN

#: Paths the app routes differently from /twilio/sms but that some URL normalisation maps onto it.
MOVED = {
    "dot-dot": "/twilio/hooks/x/../../sms",
    "encoded-dot-dot": "/twilio/hooks/%2e%2e/sms",
    "backslash": "/twilio\\sms",
    "backslash-dot-dot": "/twilio/hooks\\..\\sms",
    "dot-segment": "/twilio/./sms",
    "encoded-dot-segment": "/twilio/%2e/sms",
    "trailing-dot-segment": "/twilio/sms/.",
    "double-slash": "/twilio//sms",
    "upper-case-encoded-dot-dot": "/twilio/hooks/%2E%2E/sms",
}


@pytest.fixture(scope="module", autouse=True)
def _servers(pool: Pool) -> None:
    pool.prestart(ALL, "default")


@pytest.mark.parametrize("path", MOVED.values(), ids=MOVED.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_signature_does_not_move_to_another_route(server: Server, path: str) -> None:
    """The attacker replays a genuine /twilio/sms signature at a path that normalises to it but routes elsewhere.

    A refusal, or a framework's redirect to the canonical path (werkzeug merges
    slashes with a 308), never the view.
    """
    signature = sign(server.url("/twilio/sms"), SMS)
    with server.unreached():
        response = server.post_form(path, SMS, signature=signature)
    assert 300 <= response.status < 500, response


@pytest.mark.parametrize("adapter", ALL)
def test_encoded_question_mark_does_not_turn_the_path_into_a_query(server: Server) -> None:
    """The attacker sends a captured GET's query inside the path (%3F), hoping a decoded path rebuilds the signed URL.

    Exploits an adapter that is handed an already-decoded path (API Gateway HTTP
    APIs decode rawPath) and pastes it into the URL: the path the app routes on
    (``/twilio/voice?CallSid=CA1``) is not the one Twilio called.
    """
    signature = sign(server.url("/twilio/voice?CallSid=CA1"))
    with server.unreached():
        response = server.get("/twilio/voice%3FCallSid=CA1", signature=signature)
    assert 400 <= response.status < 500, response


@pytest.mark.parametrize("adapter", ALL)
def test_encoded_hash_does_not_cut_the_path(server: Server) -> None:
    """The attacker appends %23 and junk to a signed path, hoping a decoded '#' starts a fragment the check drops.

    Exploits an adapter that pastes a decoded path into the URL: everything after
    the decoded ``#`` would vanish from the URL checked but not from the path routed.
    """
    signature = sign(server.url("/twilio/sms"), SMS)
    with server.unreached():
        response = server.post_form("/twilio/sms%23/../../admin/users", SMS, signature=signature)
    assert 400 <= response.status < 500, response


# --- variants Twilio really produces: still accepted -------------------------------------


def _port_removed(server: Server) -> tuple[str, str, list[tuple[str, str]]]:
    return "/twilio/sms", "http://127.0.0.1/twilio/sms", []


def _port_added(server: Server) -> tuple[str, str, list[tuple[str, str]]]:
    if server.adapter.is_lambda:
        return "/twilio/sms", f"https://{LAMBDA_DOMAIN}:443{server.adapter.mount}/twilio/sms", []
    return "/twilio/sms", "http://127.0.0.1:80/twilio/sms", [("Host", "127.0.0.1")]


def _slash_added_by_twilio(server: Server) -> tuple[str, str, list[tuple[str, str]]]:
    return "/twilio/sms", server.url("/twilio/sms/"), []


def _slash_removed_by_twilio(server: Server) -> tuple[str, str, list[tuple[str, str]]]:
    return "/twilio/sms/", server.url("/twilio/sms"), []


def _host_case(server: Server) -> tuple[str, str, list[tuple[str, str]]]:
    return "/twilio/sms", f"http://localhost:{server.port}/twilio/sms", [("Host", f"LocalHost:{server.port}")]


def _encoded_path(server: Server) -> tuple[str, str, list[tuple[str, str]]]:
    path = "/twilio/caf%C3%A9/O%27Hara%20x"
    return path, server.url(path), []


Variant = Callable[[Server], tuple[str, str, list[tuple[str, str]]]]
#: (sent path, signed URL, extra headers) for a form POST.
POST_VARIANTS: dict[str, tuple[Variant, list[str]]] = {
    "port-removed": (_port_removed, HOSTED),
    "port-added": (_port_added, ALL),
    "slash-added-by-twilio": (_slash_added_by_twilio, ALL),
    "slash-removed-by-twilio": (_slash_removed_by_twilio, ALL),
    "host-case": (_host_case, HOSTED),
    "percent-encoded-path": (_encoded_path, ALL),
}
POST_CASES = [
    pytest.param(adapter, name, id=f"{adapter}-{name}")
    for name, (_, adapters) in POST_VARIANTS.items()
    for adapter in adapters
]


@pytest.mark.parametrize(("adapter", "variant"), POST_CASES)
def test_genuine_variant_is_accepted(server: Server, variant: str) -> None:
    """Control: the URL forms Twilio itself signs (port, trailing slash, host case, encoded path) are accepted."""
    path, signed_url, headers = POST_VARIANTS[variant][0](server)
    before = server.count()
    response = server.post_form(path, SMS, signed_url=signed_url, headers=headers)
    assert response.status == 200, response
    assert server.count() == before + 1


#: (query sent, query signed): the re-encodings Twilio has been seen to sign.
QUERY_VARIANTS = {
    "apostrophe-escaped-when-signed": ("Name=O'Hara", "Name=O%27Hara"),
    "apostrophe-escaped-when-sent": ("Name=O%27Hara", "Name=O'Hara"),
    "space-as-plus-when-sent": ("Name=a+b", "Name=a%20b"),
    "space-as-plus-when-signed": ("Name=a%20b", "Name=a+b"),
}


@pytest.mark.parametrize(("sent", "signed"), QUERY_VARIANTS.values(), ids=QUERY_VARIANTS.keys())
@pytest.mark.parametrize("adapter", ALL)
def test_genuine_query_re_encoding_is_accepted(server: Server, sent: str, signed: str) -> None:
    """Control: a GET webhook whose query Twilio signed in another encoding than it sent is accepted."""
    response = server.get(
        f"/twilio/voice?CallSid=CA1&{sent}", signed_url=server.url(f"/twilio/voice?CallSid=CA1&{signed}")
    )
    assert response.status == 200, response


# --- WebSocket handshakes ------------------------------------------------------------------


@pytest.mark.parametrize("adapter", WEBSOCKET)
def test_handshake_signature_does_not_authorise_a_plain_get(server: Server) -> None:
    """The attacker spends a captured Media Streams handshake signature (wss://) on a plain HTTP GET to the same path.

    Exploits a check that would normalise ``wss`` to ``https``/``http`` for HTTP
    requests as it does for handshakes: the HTTP route under the same path would run.
    """
    signature = sign(f"wss://{server.authority}/twilio/media")
    with server.unreached():
        response = server.get("/twilio/media", signature=signature)
    assert response.status == 403, response


@pytest.mark.parametrize("adapter", WEBSOCKET)
def test_http_signature_does_not_open_a_websocket(server: Server) -> None:
    """The attacker opens a WebSocket with the signature of a captured plain GET to the same path."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    signature = sign(server.url("/twilio/media"))
    with (
        server.unreached(),
        pytest.raises(InvalidStatus) as refused,
        connect(f"ws://{server.authority}/twilio/media", additional_headers={"X-Twilio-Signature": signature}),
    ):
        pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("adapter", WEBSOCKET)
def test_genuine_handshake_is_accepted(server: Server) -> None:
    """Control: a handshake signed over wss:// opens the socket."""
    from websockets.sync.client import connect

    signature = sign(f"wss://{server.authority}/twilio/media")
    with connect(f"ws://{server.authority}/twilio/media", additional_headers={"X-Twilio-Signature": signature}) as ws:
        assert ws.recv(timeout=5) == "connected"
