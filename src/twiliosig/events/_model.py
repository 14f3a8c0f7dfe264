"""What one catalogue entry is, how Twilio signs it, and how a copy of it is tampered with.

An :class:`Event` is data: the method, the content type, the parameters (or the JSON
body, or the WebSocket messages) and the names Twilio documents for that webhook.
:meth:`Event.sign` turns it into a :class:`SignedRequest` for one URL, exactly as
Twilio would send it; :meth:`SignedRequest.tampered` is the same request changed after
signing, which a protected app must refuse.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Union
from urllib.parse import parse_qsl, urlencode

from .._keys import HMAC_SHA1
from ..signature import body_sha256, compute_signature

FORM = "application/x-www-form-urlencoded"
JSON = "application/json; charset=utf-8"

#: The User-Agent Twilio sends on webhooks, and on the WebSocket handshakes of Media Streams.
HTTP_USER_AGENT = "TwilioProxy/1.1"
WEBSOCKET_USER_AGENT = "Twilio.TmeWs/1.0"

Pairs = tuple[tuple[str, str], ...]
Overrides = Union[Mapping[str, Any], Iterable[tuple[str, Any]]]


def sid(prefix: str, label: str) -> str:
    """A SID as Twilio writes them: a two-letter prefix and 32 lowercase hex digits.

    Derived from ``label`` so the catalogue is the same on every run and two entries
    that mean the same call or message share its SID.
    """
    assert len(prefix) == 2, prefix
    assert prefix.isupper(), prefix
    return prefix + hashlib.sha256(label.encode("utf-8")).hexdigest()[:32]


class Presence(str, Enum):
    """How a source says a parameter arrives: the three answers a catalogue entry records per name."""

    #: Twilio documents it as sent with every request of this kind.
    ALWAYS = "always"
    #: Twilio documents it, sent only when it applies (the field's note says when).
    WHEN = "when"
    #: No Twilio table lists it, but Twilio sends it: a public source shows it arriving.
    PRACTICE = "practice"


@dataclass(frozen=True)
class Field:
    """One parameter name, how it arrives, and the page (or public source) that says so.

    Attributes:
        name: The name as sent; for a JSON body or WebSocket messages a path
            (``"data.messageSid"``, or ``"start/start.streamSid"`` for the ``streamSid``
            inside the ``start`` message's ``start`` object); a regular expression
            when ``pattern`` (``MediaUrl\\d+``).
        presence: :class:`Presence`: always sent, sent when it applies, or sent in
            practice without a Twilio table naming it.
        source: The address of the page or public source that says so.
        note: When it is sent, or what the source shows (required for ``WHEN`` and
            ``PRACTICE``).
        pattern: ``name`` is a regular expression for numbered names.
    """

    name: str
    presence: Presence
    source: str
    note: str = ""
    pattern: bool = False

    def matches(self, name: str) -> bool:
        """Whether ``name`` is this field (or, for a pattern, one of its numbered names)."""
        return re.fullmatch(self.name, name) is not None if self.pattern else name == self.name


@dataclass(frozen=True)
class Documented:
    """Every name one webhook may carry, each with how it arrives and who says so.

    A name no source shows is not here: the entry does not send it, and ``left_out``
    says which names were heard of and why they are missing.

    Attributes:
        source: The Twilio page holding the webhook's table (most fields cite it).
        fields: One :class:`Field` per name (or numbered-name pattern).
        left_out: ``(name, why)`` for names other catalogues or older versions send
            that no source could back.
    """

    source: str
    fields: tuple[Field, ...]
    left_out: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> frozenset[str]:
        """Every plain (non-pattern) name."""
        return frozenset(item.name for item in self.fields if not item.pattern)

    @property
    def patterns(self) -> tuple[str, ...]:
        """The regular expressions for numbered names."""
        return tuple(item.name for item in self.fields if item.pattern)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every page or public source the fields cite, the main page first."""
        cited = dict.fromkeys([self.source, *(item.source for item in self.fields)])
        return tuple(cited)

    def field(self, name: str) -> Field | None:
        """The record for ``name``, or None when no source backs it."""
        return next((item for item in self.fields if item.matches(name)), None)

    def allows(self, name: str) -> bool:
        """Whether ``name`` has a source (documented by Twilio, or shown sent in practice)."""
        return self.field(name) is not None

    def documents(self, name: str) -> bool:
        """Whether a Twilio page documents ``name`` (not merely shows it sent in practice)."""
        item = self.field(name)
        return item is not None and item.presence is not Presence.PRACTICE

    def always(self) -> frozenset[str]:
        """The names Twilio documents as sent every time: an entry must send each."""
        return frozenset(item.name for item in self.fields if item.presence is Presence.ALWAYS and not item.pattern)


def _fields(presence: Presence, source: str, names: Iterable[str], note: str, pattern: bool) -> tuple[Field, ...]:
    return tuple(Field(name, presence, source, note, pattern) for name in names)


def always(source: str, *names: str, note: str = "") -> tuple[Field, ...]:
    """Fields Twilio documents on ``source`` as sent with every request of the kind."""
    return _fields(Presence.ALWAYS, source, names, note, False)


def when(source: str, *names: str, note: str, pattern: bool = False) -> tuple[Field, ...]:
    """Fields ``source`` documents as sent when they apply; ``note`` says when."""
    return _fields(Presence.WHEN, source, names, note, pattern)


def practice(source: str, *names: str, note: str) -> tuple[Field, ...]:
    """Fields no Twilio table lists that ``source`` shows Twilio sending; ``note`` says how it shows it."""
    return _fields(Presence.PRACTICE, source, names, note, False)


def documented(source: str, *groups: Iterable[Field], left_out: Mapping[str, str] | None = None) -> Documented:
    """A :class:`Documented` from groups of fields; a later field for a name replaces an earlier one."""
    by_name: dict[str, Field] = {}
    for group in groups:
        for item in group:
            by_name[item.name] = item
    return Documented(source, tuple(by_name.values()), tuple((left_out or {}).items()))


@dataclass(frozen=True)
class SignedRequest:
    """One request, signed as Twilio would sign it for one URL.

    Attributes:
        kind: The catalogue entry it was built from.
        method: ``"POST"`` or ``"GET"`` (``GET`` for a WebSocket handshake).
        url: Where to send it: the URL given, plus the parameters of a GET or the
            ``bodySHA256`` of a JSON body.
        signed_url: The URL the signature covers: ``url``, or its ``wss://`` form for a
            WebSocket handshake, or the URL Twilio would call when the app sits behind a
            proxy (``public_url``).
        params: The form parameters in the body (empty for GET, JSON and WebSocket
            handshakes): the ones the signature covers, unless :meth:`tampered`.
        headers: Every header Twilio sends, the signature among them.
        body: The raw body.
        messages: For a WebSocket: the text messages Twilio sends once connected.
    """

    kind: str
    method: str
    url: str
    signed_url: str
    params: Pairs
    headers: tuple[tuple[str, str], ...]
    body: bytes
    messages: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """The request target: the path and query of :attr:`url`."""
        return request_target(self.url)

    @property
    def websocket(self) -> bool:
        """Whether this is a WebSocket handshake."""
        return self.signed_url.startswith(("ws://", "wss://"))

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    def tampered(self) -> SignedRequest:
        """This request changed after it was signed, as an attacker holding a genuine copy would.

        A form POST has one parameter changed (``Body`` when there is one, else the
        last), a GET the same parameter in its query, a JSON body one byte added (its
        ``bodySHA256`` no longer matches), and a WebSocket handshake a query added to
        the URL it connects to. Each keeps the genuine signature; a protected app must
        refuse every one.
        """
        if self.websocket:
            joiner = "&" if "?" in self.url else "?"
            return replace(self, url=f"{self.url}{joiner}session=attacker")
        if self.method == "GET":
            base, _, query = self.url.partition("?")
            pairs = _change_one(_parse_query(query))
            return replace(self, url=f"{base}?{urlencode(pairs)}")
        if self.params:
            params = tuple(_change_one(self.params))
            body = urlencode(params).encode("utf-8")
            return replace(self, params=params, body=body, headers=_with_length(self.headers, len(body)))
        body = self.body + b" "
        return replace(self, body=body, headers=_with_length(self.headers, len(body)))


@dataclass(frozen=True)
class Event:
    """One kind of webhook, with realistic content, and how Twilio signs it.

    Attributes:
        kind: Its name in the catalogue (``"messaging.inbound"``).
        product: The product family (``"messaging"``, ``"voice"``, ...).
        title: What happened, in a few words.
        path: A typical path for it in an app.
        documented: Every name it may carry, each recorded as always sent, sent when
            it applies, or sent in practice, with the page or public source that says
            so; the entry sends no other name, and every name recorded as always sent
            (tests hold the catalogue to this).
        method: ``"POST"`` or ``"GET"``; a WebSocket handshake is always ``GET``.
        params: The form parameters, in the order Twilio tends to send them.
        body: The raw JSON body, for products that post JSON (Event Streams).
        messages: For a WebSocket (Media Streams, ConversationRelay): the text
            messages Twilio sends after the handshake, in order.
        websocket: The request is a WebSocket handshake (signed over ``wss://``).
    """

    kind: str
    product: str
    title: str
    path: str
    documented: Documented = field(repr=False)
    method: str = "POST"
    params: Pairs = ()
    body: str | None = None
    messages: tuple[str, ...] = ()
    websocket: bool = False

    @property
    def content_type(self) -> str | None:
        """The Content-Type Twilio sends: form, JSON, or None (GET and handshakes have no body)."""
        if self.websocket or self.method == "GET":
            return None
        return JSON if self.body is not None else FORM

    @property
    def signing(self) -> str:
        """How Twilio signs it, in words."""
        if self.websocket:
            return "the wss:// URL of the handshake, no parameters"
        if self.body is not None:
            return "the URL with bodySHA256 (the hex SHA-256 of the body) added to its query, no parameters"
        if self.method == "GET":
            return "the URL with every parameter in its query, no parameters"
        return "the URL, then each form parameter's name and value, names sorted"

    def field_names(self) -> set[str]:
        """Every name this entry sends, in the form :class:`Documented` lists them."""
        if self.websocket:
            names: set[str] = set()
            for message in self.messages:
                item = json.loads(message)
                label = item.get("event") or item.get("type")
                names.update(f"{label}/{name}" for name in _flatten(item))
            return names
        if self.body is not None:
            payload = json.loads(self.body)
            items = payload if isinstance(payload, list) else [payload]
            return {name for item in items for name in _flatten(item)}
        return {name for name, _ in self.params}

    def unsourced(self) -> list[str]:
        """The names this entry sends that no source backs (none, in the catalogue: a test holds it)."""
        return sorted(name for name in self.field_names() if not self.documented.allows(name))

    def undocumented(self) -> list[str]:
        """The names this entry sends that no Twilio page documents: sent in practice, or unsourced."""
        return sorted(name for name in self.field_names() if not self.documented.documents(name))

    def with_params(self, overrides: Overrides) -> Event:
        """A copy with some values changed: a form parameter by name, or a JSON value by path.

        For a form: each ``name`` replaces every value of that parameter, or is added
        when the entry does not send it. For a JSON body: ``name`` is a dotted path
        (``"0.data.body"``: item 0 of the batch, its ``data``, its ``body``); the value
        is set as given (a string from the command line, or any JSON value from Python).

        Raises:
            ValueError: For a WebSocket entry (its handshake signs the URL alone), or a
                JSON path that does not lead into the body.
        """
        pairs = list(overrides.items()) if isinstance(overrides, Mapping) else list(overrides)
        if not pairs:
            return self
        if self.websocket:
            raise ValueError(f"{self.kind} has no parameters to set: its handshake signs the wss:// URL alone")
        if self.body is not None:
            payload = json.loads(self.body)
            for path, value in pairs:
                payload = _set_path(payload, path, value)
            return replace(self, body=json.dumps(payload, ensure_ascii=False))
        params = list(self.params)
        for name, value in pairs:
            text = str(value)
            if all(key != name for key, _ in params):
                params.append((name, text))
                continue
            first = next(index for index, (key, _) in enumerate(params) if key == name)
            params = [(key, text if index == first else old) for index, (key, old) in enumerate(params)]
            params = [pair for index, pair in enumerate(params) if pair[0] != name or index == first]
        return replace(self, params=tuple(params))

    def with_method(self, method: str) -> Event:
        """A copy sent with another HTTP method (``GET``: every parameter moves to the query).

        Raises:
            ValueError: For an unknown method, a JSON body or a WebSocket handshake,
                which Twilio sends only one way.
        """
        method = method.upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"Twilio sends webhooks as GET or POST, not {method}")
        if method != self.method and (self.websocket or self.body is not None):
            how = "a WebSocket handshake (GET)" if self.websocket else "a JSON POST"
            raise ValueError(f"{self.kind} is always sent as {how}")
        return replace(self, method=method)

    def sign(
        self,
        url: str,
        *,
        auth_token: str,
        signed_url: str | None = None,
        algorithm: str = HMAC_SHA1,
        shared_key_id: str | None = None,
    ) -> SignedRequest:
        """This event as Twilio would send it to ``url``, signed with ``auth_token``.

        Args:
            url: The URL to send it to. For a WebSocket, ``ws://`` or ``wss://`` (an
                ``http(s)://`` URL is taken as its WebSocket form).
            auth_token: The secret: the auth token, or a shared key's secret.
            signed_url: The URL Twilio would call, when it differs from ``url`` (the app
                behind a proxy or tunnel); the GET query and ``bodySHA256`` are added
                to it as to ``url``.
            algorithm: ``"HMAC_SHA1"``, or ``"HMAC_SHA256"`` with a shared key.
            shared_key_id: Sign as this shared key (adds the signature settings header).
        """
        signed = url if signed_url is None else signed_url
        headers: list[tuple[str, str]] = []
        body = b""
        params: Pairs = ()
        if self.websocket:
            signed = "wss://" + signed.split("://", 1)[-1]
            headers.append(("User-Agent", WEBSOCKET_USER_AGENT))
        else:
            headers.append(("User-Agent", HTTP_USER_AGENT))
            headers.append(("I-Twilio-Idempotency-Token", str(uuid.uuid4())))
            if self.body is not None:
                body = self.body.encode("utf-8")
                digest = f"bodySHA256={body_sha256(body)}"
                url, signed = _with_query(url, digest), _with_query(signed, digest)
            elif self.method == "GET":
                query = urlencode(self.params)
                url, signed = _with_query(url, query), _with_query(signed, query)
            else:
                params = self.params
                body = urlencode(params).encode("utf-8")
            if self.content_type is not None:
                headers.append(("Content-Type", self.content_type))
                headers.append(("Content-Length", str(len(body))))
        signature = compute_signature(auth_token, signed, params or None, algorithm=algorithm)
        headers.append(("X-Twilio-Signature", signature))
        if shared_key_id is not None:
            headers.append(("X-Twilio-Webhooks-Signature-Settings", f"key={shared_key_id},algorithm={algorithm}"))
        return SignedRequest(
            kind=self.kind,
            method="GET" if self.websocket else self.method,
            url=url,
            signed_url=signed,
            params=params,
            headers=tuple(headers),
            body=body,
            messages=self.messages,
        )


def request_target(url: str) -> str:
    """The path and query of an absolute URL: ``/`` when it has no path, even before a query."""
    rest = url.split("://", 1)[-1]
    ends = [index for index in (rest.find("/"), rest.find("?")) if index >= 0]
    if not ends:
        return "/"
    target = rest[min(ends) :]
    return target if target.startswith("/") else "/" + target


def _with_query(url: str, query: str) -> str:
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _parse_query(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


def _change_one(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs with one value changed: ``Body`` when present, else the last one."""
    changed = list(pairs)
    names = [name for name, _ in changed]
    index = names.index("Body") if "Body" in names else len(changed) - 1
    name, value = changed[index]
    changed[index] = (name, value + " (changed)")
    return changed


def _with_length(headers: tuple[tuple[str, str], ...], length: int) -> tuple[tuple[str, str], ...]:
    return tuple((name, str(length) if name == "Content-Length" else value) for name, value in headers)


def _flatten(item: Mapping[str, Any]) -> Iterator[str]:
    """``key`` for each key, and ``key.inner`` for each key of a nested object (one level)."""
    for key, value in item.items():
        yield key
        if isinstance(value, Mapping):
            yield from (f"{key}.{inner}" for inner in value)


def _set_path(payload: Any, path: str, value: Any) -> Any:
    steps = path.split(".")
    node = payload
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        if isinstance(node, list):
            if not step.isdigit() or int(step) >= len(node):
                raise ValueError(f"{path!r}: {step!r} is not an index of a list of {len(node)}")
            if last:
                node[int(step)] = value
            else:
                node = node[int(step)]
        elif isinstance(node, dict):
            if last:
                node[step] = value
            else:
                if step not in node:
                    raise ValueError(f"{path!r}: the body has no {step!r} here")
                node = node[step]
        else:
            raise ValueError(f"{path!r}: {'.'.join(steps[:position])!r} is not an object or a list")
    return payload
