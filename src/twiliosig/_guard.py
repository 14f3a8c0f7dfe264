"""All policy, in one place: which requests are checked, how, and what a refusal looks like.

Every adapter (both middlewares, the framework integrations) builds one
:class:`Guard` from the same options and drives it the same way, in the shape of
h11: the adapter does the I/O, the guard says what happens next.

1. The adapter describes the request's head as a :class:`Head`.
2. :meth:`Guard.start` answers None (not protected: pass it through untouched)
   or a :class:`Check`. A check may already hold its :class:`Decision`: a
   method Twilio never sends, a bad host or forwarding header, not HTTPS (before
   any challenge), no or wrong credentials, no signature, a body too large by its
   Content-Length. Those are decided before a byte of the body is read.
3. Otherwise the adapter reads the body, never more than :attr:`Check.body_limit`
   bytes, and hands what became of it to :meth:`Check.decide`: the bytes, or
   :data:`OVERFLOWED`, :data:`UNREADABLE`, or the :class:`Parsed` pairs a
   framework read first; the check returns the decision.
4. :meth:`Check.claim` (or :meth:`Check.aclaim`) claims the replay key of a
   genuine request, unless an outer twiliosig layer already claimed it.
5. The adapter runs the app and hands its outcome to :meth:`Check.settle` (or
   :meth:`Check.asettle`): the status it answered, the exception it raised, or
   :data:`NO_ANSWER`. One rule (:func:`failed`) for every adapter: raised, 5xx or
   no answer releases the claim (never a later one of the same key), so Twilio's
   retry gets through; anything else keeps it. A response whose body is still to
   be produced (a stream) is settled when it ends: :meth:`Check.watch`.

A decision carries the verdict, the refusal to send (status, headers and body,
the same bytes in every adapter) or None to let the request through, and the
replay key with the token of the claim made on it. Every refusal is logged once,
here, with the same fields, and reported to ``on_reject``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Final, NamedTuple, TypeVar

from ._auth import Authenticator, AuthRequest, Denied, Waiting
from ._diagnosis import Diagnosis, readings
from ._forms import FORM_CONTENT_TYPE, SETTINGS_HEADER, SIGNATURE_HEADER, BodyParams, parse_form
from ._logfields import log_fields
from ._logtext import loggable
from ._options import (  # the options' one list, meanings, defaults and checks; re-exported here
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_METHODS,
    FROM_ENVIRONMENT,
    GUARD_OPTIONS,
    GuardOptions,
    check_option_names,
    parse_options,
)
from ._origin import ForwardedTrust, TrustedOrigin, forwarded_origin, rebuild_url
from ._paths import PathMatcher
from ._replay_net import StoreFull
from ._urls import query_values, redact
from .replay import StoreUnavailable, replay_key, require_mode
from .verdict import Reason, Verdict

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "CLAIMED_KEY",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_METHODS",
    "FROM_ENVIRONMENT",
    "GUARD_OPTIONS",
    "NOT_CHECKED",
    "NO_ANSWER",
    "OVERFLOWED",
    "REFUSAL_STATUSES",
    "UNREADABLE",
    "VERDICT_KEY",
    "BodyLost",
    "Check",
    "Decision",
    "Guard",
    "GuardOptions",
    "Head",
    "Outcome",
    "Parsed",
    "Refusal",
    "RejectCallback",
    "RequestInfo",
    "body_params",
    "check_option_names",
    "failed",
    "fold_headers",
]

logger = logging.getLogger("twiliosig")

#: Where an accepted request's verdict is left for the application (WSGI environ, ASGI scope).
VERDICT_KEY: Final = "twiliosig.verdict"
#: Where an adapter leaves the replay key it claimed, so that an inner layer (a decorator
#: under a middleware) does not claim it again and refuse the request as its own replay.
CLAIMED_KEY: Final = "twiliosig.replay_key"


class RequestInfo(NamedTuple):
    """What ``on_reject`` learns about a refused request besides its verdict."""

    method: str
    path: str
    url: str | None  # the rebuilt URL, password redacted; None if it could not be rebuilt


RejectCallback = Callable[[Verdict, RequestInfo], object]


class Head(NamedTuple):
    """What an adapter knows of a request before its body: everything the guard decides on.

    Attributes:
        method: The HTTP method (``GET`` for a WebSocket handshake).
        path: The path the application routes on (decoded, without the mount
            prefix), for ``paths`` and logs.
        scheme: The scheme the server saw.
        host: The Host header, or the server's name and port; None if unknown.
        raw_path: The path as sent, percent-encoding intact, mount prefix included.
        query: The raw query string, without ``?``.
        header: Returns a request header by lower-case name, or None.
        websocket: A WebSocket handshake (signed over ``wss://``, no body).
    """

    method: str
    path: str
    scheme: str
    host: str | None
    raw_path: str
    query: str
    header: Callable[[str], str | None]
    websocket: bool = False


class Refusal(NamedTuple):
    """A refusal ready to send: the same status, headers and bytes from every adapter."""

    status: int
    phrase: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def status_line(self) -> str:
        """``"403 Forbidden"``, as WSGI's ``start_response`` wants it."""
        return f"{self.status} {self.phrase}"

    def folded_headers(self) -> tuple[tuple[str, str], ...]:
        """:attr:`headers` with each name once (see :func:`fold_headers`): for a response that keeps one per name."""
        return fold_headers(self.headers)


def fold_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Each name once, a repeated one's values joined by ``", "`` in order (RFC 9110 section 5.3).

    For a response that keeps one value per name (Django's, an ``HTTPException``'s, a
    Lambda's ``headers``): a 401 carries one ``WWW-Authenticate`` line per challenge
    (Digest SHA-256, MD5, Basic), and setting them one by one would keep only the last.
    """
    folded: dict[str, str] = {}
    for name, value in headers:
        folded[name] = f"{folded[name]}, {value}" if name in folded else value
    return tuple(folded.items())


class Decision(NamedTuple):
    """What happens to one protected request.

    Attributes:
        verdict: Whether it is genuine, and why.
        refusal: The response to send instead of calling the app, or None to
            call the app (a genuine request, or any request under ``report_only``).
        replay_key: The key to claim (from :meth:`Check.decide`) or the key
            claimed (after :meth:`Check.claim`), to release if the app fails.
        request: Method, path and URL, for the log line of a later refusal.
        replay_token: The token of the claim this request made (after
            :meth:`Check.claim`): a release names it, so only that claim is
            released. None until then, and when an outer layer holds the claim.
    """

    verdict: Verdict
    refusal: Refusal | None
    replay_key: str | None
    request: RequestInfo
    replay_token: str | None = None


#: The reason phrase of each status a refusal has (:attr:`Reason.status <twiliosig.Reason.status>` says which):
#: written here, not taken from ``http.HTTPStatus``, whose phrase for 413 changed in Python 3.13.
_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    503: "Service Unavailable",
}
#: Refusals whose log line carries the verdict's detail: each names a cause the operator fixes, never a value.
_CAUSE_LOGGED = frozenset({Reason.REPLAY_STORE_UNAVAILABLE, Reason.MALFORMED_URL})
#: Every status a refusal can have: anything else came from the app (or the server), not from twiliosig.
REFUSAL_STATUSES: Final = frozenset(_PHRASES)
_UTF8 = frozenset({"utf-8", "utf8"})


#: The verdict a disabled guard (``enabled=False``) leaves where views read it: let
#: through, and saying why, so that code reading the verdict keeps working in development.
NOT_CHECKED: Final = Verdict(True, Reason.NOT_CHECKED, "not checked: twiliosig is disabled (enabled=False)")


def _foreign_charset(content_type: str | None) -> Verdict | None:
    """The refusal of a request whose Content-Type declares a charset other than UTF-8, if it does.

    Django decodes the query string and a form by the declared charset (UTF-7
    turns ``+ACY-`` into ``&``), werkzeug and Starlette ignore it, and twiliosig
    reads UTF-8 as Twilio sends it: any other charset, a charset given twice, or
    one in RFC 2231 form (``charset*=``, which Django also reads) is refused.
    """
    if content_type is None or "charset" not in content_type.lower():
        return None
    charsets = []
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        name = name.strip().lower()
        if name.startswith("charset*"):
            charsets.append(name + "=" + value.strip())  # never UTF-8 as written: refused below
        elif name == "charset":
            charsets.append(value.strip().strip('"').lower())
    foreign = [charset for charset in charsets if charset not in _UTF8]
    if not foreign:
        return None
    return Verdict(
        False,
        Reason.MALFORMED_BODY,
        f"the Content-Type declares charset {loggable(foreign[0], 40)}; Twilio sends UTF-8",
    )


def body_params(url: str, content_type: str | None, body: bytes) -> BodyParams | Verdict:
    """What of the body the signature covers: form pairs, the raw body, or nothing.

    A body with ``bodySHA256`` in the URL goes to the core raw, to be hashed;
    a form body is parsed into pairs; any other non-empty body goes raw too,
    and the core refuses it as unsigned. (A declared charset other than UTF-8
    is refused before the body is read: see :meth:`Guard.start`.)
    """
    if "?" in url and query_values(url, "bodySHA256"):
        return body
    if (content_type or "").partition(";")[0].strip().lower() == FORM_CONTENT_TYPE:
        if not body:
            return None
        try:
            return parse_form(body)
        except ValueError as error:
            return Verdict(False, Reason.MALFORMED_BODY, str(error))
    return body or None


class BodyLost(enum.Enum):
    """A body the adapter could not hand over: :data:`OVERFLOWED` or :data:`UNREADABLE`."""

    OVERFLOWED = "overflowed"
    UNREADABLE = "unreadable"


#: The body grew past :attr:`Check.body_limit` while it was read (its size unknown).
OVERFLOWED: Final = BodyLost.OVERFLOWED
#: The body could not be read: the client went away, the stream broke, something consumed it first.
UNREADABLE: Final = BodyLost.UNREADABLE


class Parsed(NamedTuple):
    """A body the framework parsed before the check could read it: the pairs the view reads."""

    pairs: list[tuple[str, str]]
    files: bool = False  # the body held files: not a form Twilio signs


#: The app ran and answered nothing at all (the server answers 500 for it).
NO_ANSWER: Final = None
#: What became of the app: the status it answered, the exception it raised, or :data:`NO_ANSWER`.
#: An adapter turns a framework's own answering exception (``abort(404)``, ``Http404``) into its status.
Outcome = int | BaseException | None
_T = TypeVar("_T")


def _target(url: str) -> str:
    """The request target of a rebuilt URL: its path and query (what Digest's ``uri`` names)."""
    rest = url.partition("://")[2]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def failed(outcome: Outcome) -> bool:
    """The one rule for the app's outcome: raised, 5xx, or no answer at all is a failure.

    A failure releases the replay claim, so Twilio's retry reaches the app again;
    any answer below 500 (a 4xx too: the app saw the request) keeps it, so a
    captured copy is refused as a replay.
    """
    return type(outcome) is not int or outcome >= 500


class Check:
    """One protected request, from its head to the app's outcome (see the module's docstring).

    Attributes:
        decision: Already decided from the head alone (no body needed), or None
            while the body is still to be read and handed to :meth:`decide`;
            then the decision, holding the replay claim once :meth:`claim` made it.
        body_limit: Read at most this many bytes; one more is over the limit.
    """

    __slots__ = (
        "_content_type",
        "_guard",
        "_head",
        "_info",
        "_signature",
        "_url",
        "body_limit",
        "decision",
        "waiting",
    )

    def __init__(self, guard: Guard, head: Head) -> None:
        self._guard = guard
        self._head = head
        self.body_limit: int = guard.max_body_size
        # Set by the screen once the head has given them, each header read once per request.
        self._url: str | None = None
        self._info: RequestInfo | None = None
        self._signature: str | None = None
        self._content_type: str | None = None
        self.decision: Decision | None = None
        self.waiting: Waiting | None = None

    def authenticate(self) -> None:
        """Resolve an authentication layer that needs the network first, blocking; before the body is read.

        A sync adapter calls it when :attr:`waiting` is set (a bearer token not seen
        before): the layer fetches what it needs in this worker thread, then the rest
        of the head is screened. Afterwards :attr:`decision` is set or the body is due.
        """
        waiting = self.waiting
        if waiting is not None:
            self.waiting = None
            self._guard.authenticated(self, waiting.resolve())

    async def aauthenticate(self) -> None:
        """:meth:`authenticate` for async adapters: the layer's I/O never blocks the event loop."""
        waiting = self.waiting
        if waiting is not None:
            self.waiting = None
            self._guard.authenticated(self, await waiting.aresolve())

    def finish(self, body: bytes = b"") -> Decision:
        """The decision for the whole request, once its body is read: :meth:`decide` with the bytes."""
        return self.decide(body)

    def decide(self, body: bytes | Parsed | BodyLost = b"") -> Decision:
        """The decision, once the adapter knows what became of the body; kept for :meth:`claim` and :meth:`settle`.

        An empty body where the head declared a length means the adapter could not
        read it (something consumed the stream first): refused, never checked as
        a request without parameters. One function, no helper in between: every
        genuine webhook comes this way.

        Args:
            body: The bytes read (at most :attr:`body_limit` + 1: more is over the
                limit), :data:`OVERFLOWED`, :data:`UNREADABLE`, or the :class:`Parsed`
                pairs a framework read first. A WebSocket handshake has none.
        """
        decision = self.decision
        if decision is not None:
            return decision
        if self.waiting is not None:  # an adapter that skipped authenticate(): a bug, never an open door
            raise RuntimeError("twiliosig: the request's authentication was not resolved before its body")
        if type(body) is not bytes or len(body) > self.body_limit:
            decision = self.decision = self._lost(body)
            return decision
        url = self._url
        assert url is not None  # a check without a decision always has its URL
        if not body and self._declares_a_body():
            decision = self.decision = self.unreadable()
            return decision
        if self._content_type == FORM_CONTENT_TYPE and body:  # Twilio's own form: one pass, one HMAC
            signature = self._signature
            assert signature is not None  # the screen refused a request without one
            verdict = self._guard.validator.accept_form_body(url, body, signature, self._head.header(SETTINGS_HEADER))
            if verdict is not None:
                decision = self.decision = self._admitted(verdict)
                return decision
        # Not accepted in one pass: the pairs the application reads, and the core's general check decides.
        decision = self.decision = self._judge(body_params(url, self._content_type, body))
        return decision

    def _lost(self, body: bytes | Parsed | BodyLost) -> Decision:
        """The decision for a body that is not bytes within the limit."""
        if type(body) is bytes or body is OVERFLOWED:
            return self.overflowed()
        if isinstance(body, Parsed):
            return self.finish_parsed(body.pairs, files=body.files)
        return self.unreadable()

    def finish_parsed(self, pairs: list[tuple[str, str]], *, files: bool = False) -> Decision:
        """The decision for a body the framework parsed before the check could read it.

        FastAPI parses a form before it runs dependencies, and a Flask hook may
        read ``request.form`` first: the pairs it parsed are the pairs the view
        reads, so those are checked. A body with files is not a form Twilio
        signs, and is refused.
        """
        if self.decision is not None:
            return self.decision
        if files:
            verdict = Verdict(False, Reason.UNSIGNED_BODY, "the body holds files: not a form Twilio signs")
            return self._guard.decide(verdict, self.request)
        return self._judge(pairs)

    def _declares_a_body(self) -> bool:
        declared = (self._head.header("content-length") or "").strip()
        return declared.isascii() and declared.isdigit() and declared.strip("0") != ""  # never int(): any length

    @property
    def request(self) -> RequestInfo:
        """Method, path and (once rebuilt) URL, for log lines and ``on_reject``."""
        info = self._info
        return info if info is not None else RequestInfo(self._head.method, self._head.path, self._url)

    def _judge(self, params: BodyParams | Verdict) -> Decision:
        guard, head, url = self._guard, self._head, self._url
        assert url is not None
        if isinstance(params, Verdict):
            return guard.decide(params, self.request)
        signature = self._signature
        assert signature is not None  # the screen refused a request without one
        settings = head.header(SETTINGS_HEADER)
        verdict = guard.validator.check(url, params, signature, signature_settings=settings)
        if not verdict.valid:
            if verdict.reason is Reason.SIGNATURE_MISMATCH:
                verdict = self._diagnosed(verdict, params, signature, settings)
            return guard.decide(verdict, self.request)
        return self._admitted(verdict)

    def _diagnosed(self, verdict: Verdict, params: BodyParams, signature: str, settings: str | None) -> Verdict:
        """The mismatch with its :class:`~twiliosig.verdict.Finding` when a reading the guard refuses matches.

        Only a well-formed signature that matched no accepted URL form gets here; the
        diagnosis is bounded (a few HMACs, a few times a minute: see ``_diagnosis``).
        """
        guard, head, url = self._guard, self._head, self._url
        if not guard._diagnosis.limit.ready():  # over budget: a flood pays one clock read, nothing more
            return verdict
        assert url is not None  # the screen rebuilt the URL from the Host
        assert head.host is not None
        candidates = readings(
            head.scheme,
            head.host,
            head.raw_path,
            head.query,
            head.header,
            trust=guard.trust,
            public_url=guard.public_url,
            websocket=head.websocket,
            tried=url,
        )
        finding = guard._diagnosis.diagnose(candidates, params, signature, settings)
        return verdict if finding is None else verdict._replace(finding=finding)

    def _admitted(self, verdict: Verdict) -> Decision:
        """The decision for a genuine request: let through, with the replay key to claim when a store is set."""
        key = None
        if self._guard.replay_guard is not None and not self._head.websocket:
            signature = self._signature
            assert signature is not None  # the screen refused a request without one
            key = replay_key(signature)
        return Decision(verdict, None, key, self.request)

    def overflowed(self, size: int | None = None) -> Decision:
        """The decision when the body grew past :attr:`body_limit` while it was read."""
        return self._guard.decide(self._guard.too_large(size), self.request)

    def unreadable(self) -> Decision:
        """The decision when the body could not be read (the client went away, the stream broke)."""
        verdict = Verdict(False, Reason.MALFORMED_BODY, "the body could not be read (client disconnected?)")
        return self._guard.decide(verdict, self.request)

    # --- the request's whole life: its body, its replay claim, the app's outcome ----------------

    def refuse(self, verdict: Verdict) -> Decision:
        """Decide a request the adapter cannot describe to the guard (an event of a shape no gateway builds)."""
        decision = self.decision = self._guard.decide(verdict, self.request)
        return decision

    def claim(self, claimed: object = None) -> Decision:
        """Claim a genuine request's replay key: the decision, a refusal (409, 503), or unchanged with nothing to claim.

        Args:
            claimed: The key an outer twiliosig layer already claimed for this very
                request (the adapter finds it at :data:`CLAIMED_KEY`): it is not
                claimed twice, and its release is left to that layer.
        """
        decision = self.decision
        assert decision is not None  # decide() first
        if decision.replay_key is not None:
            decision = self.decision = self._guard.claim(decision, claimed=claimed)
        return decision

    async def aclaim(self, claimed: object = None) -> Decision:
        """:meth:`claim` for ASGI apps: the store's asyncio client, never blocking the loop."""
        decision = self.decision
        assert decision is not None  # decide() first
        if decision.replay_key is not None:
            decision = self.decision = await self._guard.aclaim(decision, claimed=claimed)
        return decision

    def _settling(self) -> Decision | None:
        """The decision whose claim the app's outcome settles, once: None when there is none (or it is settled)."""
        decision = self.decision
        if decision is None or decision.replay_token is None:
            return None
        self.decision = decision._replace(replay_token=None)  # the first outcome is the one that counts
        return decision

    def settle(self, outcome: Outcome) -> None:
        """After the app: release this request's claim if the outcome is a failure (:func:`failed`); never raises.

        Only the first call counts: the ASGI middleware settles as a 5xx starts,
        before the status leaves, and an exception after that changes nothing.
        """
        decision = self._settling()
        if decision is not None:
            self._guard.settle(decision, failed=failed(outcome))

    async def asettle(self, outcome: Outcome) -> None:
        """:meth:`settle` for ASGI apps."""
        decision = self._settling()
        if decision is not None:
            await self._guard.asettle(decision, failed=failed(outcome))

    def watch(self, chunks: Iterable[_T], status: int) -> Iterable[_T]:
        """A streamed response's body, to send in its place: settled when it ends, with ``status`` or what it raised.

        A failing status settles now (the retry must not wait for the body); the
        body is then handed back as it was, as it is when there is no claim to settle.
        """
        decision = self.decision
        if decision is None or decision.replay_token is None:
            return chunks
        if failed(status):
            self.settle(status)
            return chunks
        return self._watching(chunks, status)

    def _watching(self, chunks: Iterable[_T], status: int) -> Iterator[_T]:
        try:
            yield from chunks
        except GeneratorExit:  # closed before its end (the server stopped reading): answered, as WSGI's close() is
            self.settle(status)
            raise
        except BaseException as error:
            self.settle(error)
            raise
        self.settle(status)

    async def awatch(self, chunks: AsyncIterable[_T], status: int) -> AsyncIterable[_T]:
        """:meth:`watch` for an asynchronous body, settled with the store's asyncio client."""
        decision = self.decision
        if decision is None or decision.replay_token is None:
            return chunks
        if failed(status):
            await self.asettle(status)
            return chunks
        return self._awatching(chunks, status)

    async def _awatching(self, chunks: AsyncIterable[_T], status: int) -> AsyncIterator[_T]:
        try:
            async for chunk in chunks:
                yield chunk
        except GeneratorExit:
            await self.asettle(status)
            raise
        except BaseException as error:
            await self.asettle(error)
            raise
        await self.asettle(status)


class Guard:
    """The options every adapter takes, checked once when it is built, and the decision they share.

    The options are :class:`~twiliosig._options.GuardOptions` (each one's meaning,
    default and what is refused is written there, and shown in docs/options.md);
    bad configuration, including no secret at all, raises ``ValueError`` or
    ``TypeError`` here.
    """

    __slots__ = (
        "_diagnosis",
        "_refusals",
        "_trusting",
        "authenticator",
        "enabled",
        "max_body_size",
        "methods",
        "on_reject",
        "on_store_error",
        "protects",
        "public_url",
        "replay_guard",
        "report_only",
        "require_https",
        "trust",
        "validator",
    )

    def __init__(self, **options: Unpack[GuardOptions]) -> None:
        parsed = parse_options(options)  # every check of an option is in _options.py: here, only wiring
        self.enabled = parsed.enabled
        self.report_only = parsed.report_only
        self.require_https = parsed.require_https
        self.validator = parsed.validator
        self._diagnosis = Diagnosis(parsed.diagnosis_validator)
        self.protects: PathMatcher = parsed.protects
        self.public_url = parsed.public_url
        self.trust: ForwardedTrust = parsed.trust
        self._trusting = bool(self.trust)  # read per request: asked once here
        self.max_body_size = parsed.max_body_size
        self.methods = parsed.methods
        self.on_reject = parsed.on_reject
        self.replay_guard = parsed.replay_guard
        self.on_store_error = parsed.on_store_error
        self.authenticator: Authenticator | None = parsed.authenticator
        self._refusals: dict[tuple[int, str], Refusal] = {}

    def check(self, head: Head) -> Check:
        """The check of a request whatever its path: for a decorated view, or ``check_request``."""
        check = self.start(head, always=True)
        assert check is not None  # start(always=True) always gives a check
        return check

    def require_mode(self, *, asynchronous: bool) -> None:
        """Fail at start-up if the replay store cannot serve this adapter (a sync client under ASGI).

        Raises:
            TypeError: the store holds only the other kind of client.
        """
        if self.replay_guard is not None:
            require_mode(self.replay_guard, asynchronous=asynchronous)

    @classmethod
    def from_options(cls, options: Mapping[str, object], spell: Callable[[str], str] = str) -> Guard:
        """A guard from options by name; an unknown name is a ``TypeError`` that suggests the right one."""
        check_option_names(options, spell)
        return cls(**options)  # type: ignore[arg-type]

    # --- the request's head -----------------------------------------------------------

    def start(self, head: Head, *, always: bool = False) -> Check | None:
        """None when the request is not protected (pass it through untouched); else its check.

        Everything that can be decided from the head is decided here, before the
        body is read: the method, the host and forwarding headers, HTTPS, the
        authentication layers' credentials, a missing signature, a declared
        Content-Length over the limit.

        Args:
            head: The request's head.
            always: Check it whatever its path (a decorated view is protected
                wherever it is routed). A disabled guard checks nothing: its check
                holds a decision that lets the request through with the
                :data:`NOT_CHECKED` verdict, left where views read a verdict.
        """
        if not (always or self.protects(head.path)):
            return None
        check = Check(self, head)
        if not self.enabled:
            check.decision = Decision(NOT_CHECKED, None, None, check.request)
            return check
        verdict = self._screen(head, check)
        if verdict is not None:
            check.decision = self.decide(verdict, check.request)
        return check

    def authenticated(self, check: Check, answer: Denied | None) -> None:
        """Carry on screening ``check``'s head once a waiting layer has answered (see :meth:`Check.authenticate`)."""
        # Resumed: the head is screened again, past its authentication (rare: a token the verifier had to fetch for).
        verdict = self._denied(check, answer) if answer is not None else self._screen(check._head, check, resumed=True)
        if verdict is not None:
            check.decision = self.decide(verdict, check.request, answer)

    def _denied(self, check: Check, answer: Denied) -> Verdict:
        """The verdict of a layer's refusal; the refusal's challenges are built with it."""
        return Verdict(False, answer.reason, answer.detail)

    def _screen(self, head: Head, check: Check, resumed: bool = False) -> Verdict | None:
        """What the head alone decides, in the order a refusal is chosen; None to read the body.

        One function for every check on the head: the middlewares run it once per
        request, and a long chain of small calls costs more than its instructions
        once the application has taken the processor's caches. ``resumed``: the
        authentication layer has answered (it had to wait for the network), so the
        head is screened again past it; what came before it passes again, unchanged.
        """
        if head.method not in self.methods:
            allowed = ", ".join(sorted(self.methods))
            return Verdict(
                False, Reason.METHOD_NOT_ALLOWED, f"Twilio sends only {allowed} (the methods option allows more)"
            )
        if not head.raw_path.startswith("/"):
            return Verdict(
                False, Reason.MALFORMED_URL, "the request target is not a path (absolute-form); Twilio sends a path"
            )
        # The URL Twilio called, from the request's own parts and the configured trust.
        if head.host is None:
            return Verdict(False, Reason.MALFORMED_URL, "the request has no Host header")
        origin: TrustedOrigin | None = None
        if self._trusting:  # never with public_url: refused together when the guard is built
            try:
                origin = forwarded_origin(head.header, self.trust)
            except ValueError as error:
                return Verdict(False, Reason.MALFORMED_URL, str(error))
        url = rebuild_url(head.scheme, head.host, head.raw_path, head.query, self.public_url, origin, head.websocket)
        if url is None:
            return Verdict(False, Reason.MALFORMED_URL, "the Host header cannot be part of a URL")
        check._url = url
        check._info = RequestInfo(head.method, head.path, url)
        # Before any challenge: a 401 over http would have Twilio send the password (Basic) in clear, then be refused.
        if self.require_https and not url.startswith(("https://", "wss://")):
            return Verdict(False, Reason.NOT_HTTPS, "require_https is set and the URL Twilio called is not https")
        authenticator = self.authenticator
        if authenticator is not None and not resumed:
            answer = authenticator.authenticate(AuthRequest(head.method, _target(url), url, head.header))
            if answer is not None:
                if type(answer) is Waiting:
                    check.waiting = answer  # the adapter resolves it, then the rest of the head is screened
                    return None
                assert type(answer) is Denied
                check.decision = self.decide(self._denied(check, answer), check.request, answer)
                return None
        # Authenticated (or no layer): the signature, the body's type and size.
        signature = check._signature = head.header(SIGNATURE_HEADER)
        if signature is None or not signature.strip():
            return Verdict(False, Reason.MISSING_SIGNATURE, "the request carries no X-Twilio-Signature")
        content_type = check._content_type = head.header("content-type")
        if head.websocket:
            return None
        if content_type is not None and content_type != FORM_CONTENT_TYPE:  # Twilio's own has no charset
            refusal = _foreign_charset(content_type)
            if refusal is not None:
                return refusal
        # A Content-Length over the limit is refused before a byte of the body is read.
        declared = head.header("content-length")
        if declared is None or not declared.strip():
            return None
        declared = declared.strip()
        if not (declared.isascii() and declared.isdigit()):
            return Verdict(False, Reason.MALFORMED_BODY, "the Content-Length header is not a number")
        if len(declared) > 18:  # int() refuses over 4,300 digits (ValueError): compare the digits' count first
            declared = declared.lstrip("0") or "0"
            if len(declared) > len(str(self.max_body_size)):
                return self.too_large()
        if int(declared) > self.max_body_size:
            return self.too_large(int(declared))
        return None

    def too_large(self, size: int | None = None) -> Verdict:
        """The verdict for a body over ``max_body_size`` (``size`` when known)."""
        what = "the body" if size is None else f"the body of {size} bytes"
        return Verdict(False, Reason.BODY_TOO_LARGE, f"{what} is over the {self.max_body_size}-byte limit")

    def sets_the_origin(self) -> bool:
        """Whether the options say where the URL Twilio called comes from (``public_url`` or ``trust_forwarded``).

        An adapter whose framework reads proxies its own way (Django's
        ``SECURE_PROXY_SSL_HEADER``) or that hides part of the path (a Lambda's
        stage) then hands the server's own scheme, host and path instead.
        """
        return self.public_url is not None or self._trusting

    def refuse_forwarding_trust(self, why: str) -> None:
        """Fail at start-up when ``trust_forwarded`` is set where nothing writes the headers it would believe.

        Raises:
            ValueError: ``trust_forwarded`` trusts any header; ``why`` says why it cannot apply.
        """
        if self._trusting:
            raise ValueError(why)

    # --- decisions ----------------------------------------------------------------------

    def decide(self, verdict: Verdict, request: RequestInfo, denied: Denied | None = None) -> Decision:
        """The decision for a refused verdict: logged and reported once, refused unless report-only.

        ``denied`` is the authentication layer's refusal behind a 401 (or its 403 or
        503): the log names its layer, and the response carries its challenges.
        """
        self.report(verdict, request, None if denied is None else denied.layer)
        if self.report_only:
            return Decision(verdict, None, None, request)
        refusal = self.refusal(verdict)
        if denied is not None and (verdict.reason.status == 401 or denied.challenges):
            # A 401 always challenges; a 403 only with the layer's own (a bearer token's insufficient_scope).
            assert self.authenticator is not None  # only a layer denies
            challenges = tuple(("WWW-Authenticate", value) for value in self.authenticator.challenges_for(denied))
            refusal = refusal._replace(headers=refusal.headers + challenges)
        return Decision(verdict, refusal, None, request)

    def refusal(self, verdict: Verdict) -> Refusal:
        """The response that refuses ``verdict``: a short text body that reveals nothing.

        A 401's challenges are added by :meth:`decide`: a Digest nonce is new each time.
        """
        status = verdict.reason.status
        phrase = _PHRASES[status]
        cached = self._refusals.get((status, phrase))
        if cached is not None:
            return cached
        body = f"{phrase}\n".encode("ascii")
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
        if status == 405:
            headers.append(("Allow", ", ".join(sorted(self.methods))))
        refusal = self._refusals[(status, phrase)] = Refusal(status, phrase, tuple(headers), body)
        return refusal

    def report(self, verdict: Verdict, request: RequestInfo, layer: str | None = None) -> None:
        """Log a refusal once (a sentence, and its fields as ``extra``) and call ``on_reject``; never raises.

        ``layer`` names the authentication layer that refused, for the ``twiliosig_layer`` field.
        """
        url = request.url
        origin = "could not be rebuilt"
        if url is not None:
            scheme, _, rest = url.partition("://")
            origin = f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}"
        # A store outage or an unusable Host or forwarding header is the operator's to fix: the line
        # says what the store answered, or which header and option (never the header's value).
        # An authentication layer's detail is its own sentence (never a credential): it says which check failed.
        cause = verdict.detail if verdict.reason in _CAUSE_LOGGED or layer is not None else None
        fields = log_fields(
            "refusal",
            verdict.reason,
            request.method,
            request.path,
            url,
            report_only=self.report_only,
            status=verdict.reason.status,
            urls_tried=verdict.urls_tried,
            cause=cause,
            finding=verdict.finding,
            layer=layer,
        )
        # A finding is a misconfiguration, not a forgery: an ERROR once per fix per interval, then warnings.
        finding = verdict.finding
        level = logging.WARNING
        said = "" if cause is None else f"; {fields['twiliosig_cause']}"
        if finding is not None:
            if self._diagnosis.first_in_interval(finding):
                level = logging.ERROR
            said = (
                f"; but Twilio signed it, for {fields['twiliosig_signed_url']}: {loggable(finding.cause)}. "
                f"Fix: {fields['twiliosig_fix']}"
            )
        logger.log(
            level,
            "twiliosig %s %s %s: %s (scheme and host rebuilt as %s, %d URL forms tried)%s",
            "let through (report only)" if self.report_only else "refused",
            fields["twiliosig_method"],
            fields["twiliosig_path"],
            verdict.reason.value,
            loggable(origin),
            verdict.urls_tried,
            said,
            extra=fields,
        )
        if self.on_reject is not None:
            try:
                self.on_reject(verdict, request._replace(url=None if url is None else redact(url)))
            except Exception:
                logger.exception(
                    "twiliosig: the on_reject callback raised", extra={**fields, "twiliosig_event": "on_reject_raised"}
                )

    def _store_fields(self, event: str, decision: Decision, error: StoreUnavailable) -> dict[str, object]:
        """The ``extra`` of a line about the replay store: the request it concerned, and what the store said."""
        method, path, url = decision.request
        return log_fields(
            event,
            Reason.REPLAY_STORE_UNAVAILABLE,
            method,
            path,
            url,
            report_only=self.report_only,
            urls_tried=decision.verdict.urls_tried,
            cause=str(error),
        )

    # --- the replay claim and its settlement ----------------------------------------------

    def claim(self, decision: Decision, *, claimed: object = None) -> Decision:
        """Claim a genuine request's replay key: the decision holding the claim's token, or a refusal (409, 503).

        Args:
            decision: What :meth:`Check.finish` decided.
            claimed: The key an outer twiliosig layer already claimed for this very
                request (the adapter finds it at :data:`CLAIMED_KEY` in the request's
                server-side state). The same key is not claimed twice, and this layer
                leaves its release to the outer one.
        """
        key = decision.replay_key
        if key is None or self.replay_guard is None:
            return decision
        if key == claimed:
            return decision._replace(replay_key=None)
        try:
            token = self.replay_guard.claim(key)
        except StoreUnavailable as error:
            return self._store_failed(decision, error)
        return self._claimed(decision, token)

    async def aclaim(self, decision: Decision, *, claimed: object = None) -> Decision:
        """:meth:`claim` for ASGI apps: the store's asyncio client, never blocking the loop."""
        key = decision.replay_key
        if key is None or self.replay_guard is None:
            return decision
        if key == claimed:
            return decision._replace(replay_key=None)
        try:
            token = await self.replay_guard.aclaim(key)
        except StoreUnavailable as error:
            return self._store_failed(decision, error)
        return self._claimed(decision, token)

    def _claimed(self, decision: Decision, token: object) -> Decision:
        """The decision once the store answered: a replay (None), or let through holding the claim's token."""
        if token is None:
            return self._replayed(decision)
        if type(token) is not str or not token:
            # A store written for the protocol's first form answers True/False: False is no token.
            error = StoreUnavailable(
                f"{type(self.replay_guard).__name__}.claim answered {type(token).__name__}, not the claim's token "
                "(a non-empty str) or None"
            )
            logger.error(
                "twiliosig: the replay store is broken: %s",
                error,
                extra=self._store_fields("store_broken", decision, error),
            )
            return self._store_failed(decision, error)
        verdict, refusal, key, request, _ = decision  # built directly: _replace costs a microsecond
        return Decision(verdict, refusal, key, request, token)

    def _replayed(self, decision: Decision) -> Decision:
        verdict = decision.verdict._replace(
            valid=False, reason=Reason.REPLAYED, detail="this signed request was already handled (a replay)"
        )
        return self.decide(verdict, decision.request)

    def _store_failed(self, decision: Decision, error: StoreUnavailable) -> Decision:
        # A full store is never let through: a sender who filled it would have every replay pass.
        if self.on_store_error == "allow" and not isinstance(error, StoreFull):
            logger.warning(
                "twiliosig: the replay store failed (%s); letting %s %s through",
                loggable(error),
                loggable(decision.request.method, 20),
                loggable(decision.request.path),
                extra=self._store_fields("store_error_allowed", decision, error),
            )
            return decision._replace(replay_key=None)
        verdict = decision.verdict._replace(
            valid=False,
            reason=Reason.REPLAY_STORE_UNAVAILABLE,
            detail=f"the replay store could not be reached ({error})",  # in the log line, never the response
        )
        return self.decide(verdict, decision.request)

    def settle(self, decision: Decision, *, failed: bool) -> None:
        """After the app ran: release this request's claim if it failed (5xx or raised); never raises."""
        key, token, store = decision.replay_key, decision.replay_token, self.replay_guard
        if failed and key is not None and token is not None and store is not None and decision.refusal is None:
            try:
                store.release(key, token)
            except StoreUnavailable as error:
                logger.warning(
                    "twiliosig: could not release a replay key after a failure: %s",
                    loggable(error),
                    extra=self._store_fields("release_failed", decision, error),
                )

    async def asettle(self, decision: Decision, *, failed: bool) -> None:
        """:meth:`settle` for ASGI apps."""
        key, token, store = decision.replay_key, decision.replay_token, self.replay_guard
        if failed and key is not None and token is not None and store is not None and decision.refusal is None:
            try:
                await store.arelease(key, token)
            except StoreUnavailable as error:
                logger.warning(
                    "twiliosig: could not release a replay key after a failure: %s",
                    loggable(error),
                    extra=self._store_fields("release_failed", decision, error),
                )
