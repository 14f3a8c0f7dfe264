"""Sign requests in your tests exactly as Twilio would, for every common test client.

A thin shell over :func:`twiliosig.compute_signature`, so tests exercise the same
code that production validates with. It imports no test framework; the pytest
fixture ``twilio_signer`` lives in :mod:`twiliosig.pytest_plugin`.

The one thing a test usually gets wrong is the URL: the signature covers the URL
the *test client* presents (``http://localhost`` for Flask and werkzeug,
``http://testserver`` for Django and Starlette, the ``base_url`` of an httpx
client). :class:`TwilioSigner` works that out from the client::

    signer = TwilioSigner("test-token")
    response = signer.post_form(client, "/twilio/sms", {"From": "+15005550006", "Body": "hi"})
    response = signer.post_json(client, "/twilio/events", [{"type": "..."}])
    response = signer.event("messaging.inbound", client, "/twilio/sms")   # from twiliosig.events
    response = signer.event("messaging.inbound", client, "/twilio/sms", fresh=True)   # new SIDs: a new webhook

Pass ``forged=True`` to send a request signed with the wrong secret, to test
that your app refuses it.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
import warnings
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from . import events
from ._forms import FORM_CONTENT_TYPE
from ._fresh import fresh as renew_sids
from ._keys import HMAC_SHA1
from ._params import Params, _pairs
from .events import SignedRequest
from .events._model import Overrides
from .signature import body_sha256, compute_signature

__all__ = ["TwilioSigner", "client_base_url", "signed_headers", "with_body_hash"]

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def _token(auth_token: str | None) -> str:
    token = auth_token if auth_token is not None else os.environ.get("TWILIO_AUTH_TOKEN")
    if not token:
        raise ValueError("give auth_token=..., or set TWILIO_AUTH_TOKEN, to sign test requests")
    return token


def with_body_hash(url: str, body: bytes | str) -> str:
    """The URL with ``bodySHA256=<hex>`` appended to its query, as Twilio does for JSON bodies."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}bodySHA256={body_sha256(body)}"


def signed_headers(
    url: str,
    params: Params = None,
    *,
    auth_token: str | None = None,
    algorithm: str = HMAC_SHA1,
    shared_key_id: str | None = None,
) -> dict[str, str]:
    """The headers Twilio would send for this URL and these form parameters.

    Args:
        url: The exact URL the test client will present, query string included.
        params: The form parameters (a mapping, a multi-dict or pairs).
        auth_token: The secret; defaults to ``TWILIO_AUTH_TOKEN``.
        algorithm: ``"HMAC_SHA1"`` or ``"HMAC_SHA256"``.
        shared_key_id: Sign as a shared key: adds the signature settings header.
    """
    headers = {SIGNATURE_HEADER: compute_signature(_token(auth_token), url, params, algorithm=algorithm)}
    if shared_key_id is not None:
        headers[SETTINGS_HEADER] = f"key={shared_key_id},algorithm={algorithm}"
    return headers


def client_base_url(client: Any, *, secure: bool = False) -> str:
    """The scheme and host a test client presents to the app, without a trailing slash.

    Knows Flask's and werkzeug's test clients (``http://localhost``, or Flask's
    ``SERVER_NAME``), Django's ``Client`` (``http://testserver``, its
    ``HTTP_HOST`` default, ``https`` with ``secure=True``), Starlette's
    ``TestClient`` and httpx clients (their ``base_url``).
    """
    base_url = getattr(client, "base_url", None)
    if base_url is not None and str(base_url):
        return str(base_url).rstrip("/")
    if type(client).__module__.startswith("django."):
        defaults = getattr(client, "defaults", {})
        host = defaults.get("HTTP_HOST") or defaults.get("SERVER_NAME", "testserver")
        scheme = "https" if secure or defaults.get("wsgi.url_scheme") == "https" else "http"
        return f"{scheme}://{host}"
    application = getattr(client, "application", None)
    config = getattr(application, "config", None)
    if isinstance(config, Mapping) and config.get("SERVER_NAME"):
        return f"{config.get('PREFERRED_URL_SCHEME', 'http')}://{config['SERVER_NAME']}"
    return "http://localhost"


class TwilioSigner:
    """Signs and sends webhook requests through a test client.

    Args:
        auth_token: The token the app under test validates with; defaults to
            ``TWILIO_AUTH_TOKEN`` when the signer is built.
        algorithm: ``"HMAC_SHA1"`` or ``"HMAC_SHA256"`` (with ``shared_key_id``).
        shared_key_id: Sign as this shared key (adds the settings header).
    """

    def __init__(
        self, auth_token: str | None = None, *, algorithm: str = HMAC_SHA1, shared_key_id: str | None = None
    ) -> None:
        self.auth_token = _token(auth_token)
        self.algorithm = algorithm
        self.shared_key_id = shared_key_id
        self._sessions: weakref.WeakSet[_OpenSession] = weakref.WeakSet()

    def close(self) -> None:
        """Close each WebSocket session :meth:`event` opened that is still open (the pytest fixture does it)."""
        for session in list(self._sessions):
            session.close()

    def __repr__(self) -> str:
        return f"TwilioSigner(algorithm={self.algorithm!r}, shared_key_id={self.shared_key_id!r})"

    def headers(self, url: str, params: Params = None, *, forged: bool = False) -> dict[str, str]:
        """Signature headers for ``url`` and ``params`` (``forged``: signed with a wrong secret)."""
        token = self.auth_token + "-forged" if forged else self.auth_token
        return signed_headers(url, params, auth_token=token, algorithm=self.algorithm, shared_key_id=self.shared_key_id)

    def form_request(
        self, base_url: str, path: str, params: Params = None, *, forged: bool = False
    ) -> tuple[str, bytes, dict[str, str]]:
        """The target, body and headers of a signed form POST to ``base_url + path``."""
        pairs = list(_pairs(params)) if params else []
        body = urlencode(pairs).encode("utf-8")
        headers = {"Content-Type": FORM_CONTENT_TYPE, **self.headers(base_url + path, pairs, forged=forged)}
        return path, body, headers

    def json_request(
        self, base_url: str, path: str, payload: Any, *, forged: bool = False
    ) -> tuple[str, bytes, dict[str, str]]:
        """The target (with ``bodySHA256``), body and headers of a signed JSON POST to ``base_url + path``."""
        body = payload if isinstance(payload, bytes) else jsonlib.dumps(payload).encode("utf-8")
        target = with_body_hash(path, body)
        headers = {"Content-Type": "application/json", **self.headers(base_url + target, forged=forged)}
        return target, body, headers

    def post_form(self, client: Any, path: str, params: Params = None, *, forged: bool = False, **kwargs: Any) -> Any:
        """POST a signed form through a Flask, werkzeug, Django, Starlette or httpx client.

        Extra keyword arguments go to the client's ``post`` (Django's ``secure=True`` is understood).
        """
        base_url = client_base_url(client, secure=bool(kwargs.get("secure")))
        path = _with_query(path, kwargs)
        return _post(client, *self.form_request(base_url, path, params, forged=forged), **kwargs)

    def post_json(self, client: Any, path: str, payload: Any, *, forged: bool = False, **kwargs: Any) -> Any:
        """POST a signed JSON body (``bodySHA256`` in the URL) through any supported client."""
        base_url = client_base_url(client, secure=bool(kwargs.get("secure")))
        path = _with_query(path, kwargs)
        return _post(client, *self.json_request(base_url, path, payload, forged=forged), **kwargs)

    def event_request(
        self,
        kind: str,
        base_url: str,
        path: str | None = None,
        *,
        params: Overrides | None = None,
        method: str | None = None,
        forged: bool = False,
        fresh: bool = False,
    ) -> SignedRequest:
        """A webhook from the :mod:`twiliosig.events` catalogue, signed for ``base_url + path``.

        Args:
            kind: The catalogue kind, such as ``"messaging.inbound"``.
            base_url: The scheme and host the client presents (:func:`client_base_url`).
            path: The path (and query) in the app; defaults to the entry's typical path.
            params: Values to change or add (a form name, or a JSON path such as ``"0.data.body"``).
            method: ``"GET"`` to send a form webhook as GET.
            forged: Sign with a wrong secret.
            fresh: Give the entry new message, call and event SIDs. Without it an entry is the
                same request every time (the same signature), and an app with a replay guard
                refuses a second identical one with 409, as a replay.
        """
        event = events.get(kind)
        if fresh:
            event = renew_sids(event)
        if params:
            event = event.with_params(params)
        if method is not None:
            event = event.with_method(method)
        token = self.auth_token + "-forged" if forged else self.auth_token
        url = base_url + (event.path if path is None else path)
        return event.sign(url, auth_token=token, algorithm=self.algorithm, shared_key_id=self.shared_key_id)

    def event(
        self,
        kind: str,
        client: Any,
        path: str | None = None,
        *,
        params: Overrides | None = None,
        method: str | None = None,
        forged: bool = False,
        fresh: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Send a realistic webhook from the :mod:`twiliosig.events` catalogue through a test client.

        ``signer.event("messaging.inbound", client, "/twilio/sms", params={"Body": "STOP"})``
        sends what Twilio sends when an SMS arrives, signed for the URL the client
        presents, and returns the client's response. Works with the clients
        :meth:`post_form` knows. Each call sends the same request (the catalogue's SIDs);
        ``fresh=True`` gives new ones, for an app whose replay guard would refuse a copy.

        For a WebSocket kind (``"media-streams"``, ``"conversation-relay"``) the client
        must be Starlette's ``TestClient``. The handshake is made here, before ``event``
        returns: a refused one raises (``WebSocketDisconnect``, or
        ``WebSocketDenialResponse``) right away, so a test cannot pass without
        connecting. Use the result as a context manager, which gives the open session
        (send it ``events.get(kind).messages``) and closes it::

            with signer.event("media-streams", client, "/twilio/media") as websocket:
                websocket.send_text(...)
        """
        base_url = client_base_url(client, secure=bool(kwargs.get("secure")))
        if any(name in kwargs for name in _QUERY_KEYWORDS):
            path = _with_query(events.get(kind).path if path is None else path, kwargs)
        signed = self.event_request(kind, base_url, path, params=params, method=method, forged=forged, fresh=fresh)
        headers = {name: value for name, value in signed.headers if name != "Content-Length"}
        if signed.websocket:
            if not hasattr(client, "websocket_connect"):
                raise TypeError(f"{kind} is a WebSocket: send it through Starlette's TestClient (websocket_connect)")
            session = _OpenSession(client.websocket_connect(signed.target, headers=headers, **kwargs))
            self._sessions.add(session)
            return session
        if signed.method == "GET":
            return client.get(signed.target, headers=headers, **kwargs)
        return _post(client, signed.target, signed.body, headers, **kwargs)

    async def aevent(
        self,
        kind: str,
        client: Any,
        path: str | None = None,
        *,
        params: Overrides | None = None,
        method: str | None = None,
        forged: bool = False,
        fresh: bool = False,
        **kwargs: Any,
    ) -> Any:
        """:meth:`event` through an ``httpx.AsyncClient``."""
        base_url = client_base_url(client)
        signed = self.event_request(kind, base_url, path, params=params, method=method, forged=forged, fresh=fresh)
        if signed.websocket:
            raise TypeError(f"{kind} is a WebSocket: httpx.AsyncClient has no WebSockets")
        headers = {name: value for name, value in signed.headers if name != "Content-Length"}
        if signed.method == "GET":
            return await client.get(signed.target, headers=headers, **kwargs)
        return await client.post(signed.target, content=signed.body, headers=headers, **kwargs)

    async def apost_form(
        self, client: Any, path: str, params: Params = None, *, forged: bool = False, **kwargs: Any
    ) -> Any:
        """POST a signed form through an ``httpx.AsyncClient``."""
        target, body, headers = self.form_request(client_base_url(client), path, params, forged=forged)
        return await client.post(target, content=body, headers=headers, **kwargs)

    async def apost_json(self, client: Any, path: str, payload: Any, *, forged: bool = False, **kwargs: Any) -> Any:
        """POST a signed JSON body through an ``httpx.AsyncClient``."""
        target, body, headers = self.json_request(client_base_url(client), path, payload, forged=forged)
        return await client.post(target, content=body, headers=headers, **kwargs)


class _OpenSession:
    """A Starlette ``WebSocketTestSession`` whose handshake has already been made.

    Starlette's session connects only when entered: a test that forgets ``with`` (or
    enters nothing) would never send the handshake, and a forged one would raise
    nothing. So :meth:`TwilioSigner.event` enters it at once, and hands back this
    object: entering it gives the open session, leaving it closes the session. Its
    attributes are the session's (``send_text``, ``receive_json``...), so it works
    without ``with`` too; then :meth:`close` it, or the signer's owner (the pytest
    fixture) does.
    """

    def __init__(self, session: Any) -> None:
        self._session = session
        session.__enter__()  # the handshake: a refusal raises here, before event() returns
        self._open = True

    def __enter__(self) -> Any:
        if not self._open:
            raise RuntimeError("this WebSocket session is closed: call event() again for a new handshake")
        return self._session

    def __exit__(self, *exc_info: object) -> None:
        self._end(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def close(self) -> None:
        """Close the connection and stop the app's task (once; later calls do nothing)."""
        self._end(None, None, None)

    def _end(self, *exc_info: object) -> None:
        if self._open:
            self._open = False
            self._session.__exit__(*exc_info)

    def __del__(self) -> None:
        if getattr(self, "_open", False):
            warnings.warn(
                "a WebSocket session from TwilioSigner.event() was never closed: use it with `with`",
                ResourceWarning,
                stacklevel=1,
            )
            with contextlib.suppress(Exception):  # a finalizer has nobody to report to
                self.close()


#: The test clients' keywords for a query sent beside the path: werkzeug's and Flask's, Django's.
_QUERY_KEYWORDS = ("query_string", "query_params")


def _with_query(path: str, kwargs: dict[str, Any]) -> str:
    """``path`` with the query a client keyword would add, the keyword taken out of ``kwargs``.

    The query is then part of the URL that is signed, as Twilio signs it, and the
    client sends it exactly as signed (a query it added itself would be one the
    app reads but nobody signed, and refused).
    """
    for name in _QUERY_KEYWORDS:
        query = kwargs.pop(name, None)
        if query is None:
            continue
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if not isinstance(query, str):
            query = urlencode(list(_pairs(query)))
        if query:
            path = f"{path}{'&' if '?' in path else '?'}{query}"
    return path


def _post(client: Any, target: str, body: bytes, headers: dict[str, str], **kwargs: Any) -> Any:
    """POST raw bytes with headers through whichever client this is."""
    module = type(client).__module__
    if module.startswith("django."):
        content_type = headers.pop("Content-Type")
        return client.post(target, data=body, content_type=content_type, headers=headers, **kwargs)
    if hasattr(client, "base_url"):  # httpx and Starlette's TestClient
        return client.post(target, content=body, headers=headers, **kwargs)
    return client.post(target, data=body, headers=headers, **kwargs)  # Flask and werkzeug
