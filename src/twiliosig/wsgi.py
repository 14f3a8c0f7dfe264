"""WSGI middleware that refuses unsigned or forged Twilio webhooks before the app runs.

Wrap the application the server calls::

    # Flask
    app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, paths=["/twilio/"])

    # Django, in wsgi.py
    application = TwilioSignatureMiddleware(get_wsgi_application(), paths=["/twilio/"])

For each request to a protected path the middleware reads the body once (never
more than ``max_body_size``), rebuilds the URL Twilio called, and checks
``X-Twilio-Signature``. A genuine request reaches the app with a fresh
``wsgi.input`` holding the identical bytes and a matching ``CONTENT_LENGTH``,
and its :class:`~twiliosig.Verdict` at ``environ["twiliosig.verdict"]``. Anything
else gets a short ``text/plain`` 403 (400 for a request too broken to check,
413 for a body over the limit) and the app never runs.

**Behind a proxy.** If a TLS-terminating proxy, load balancer or tunnel sits in
front of the app, the app sees ``http`` and perhaps another host, while Twilio
signed ``https://public-host/...``. Say what Twilio calls with
``public_url="https://example.com"``, the simplest and safest fix; or set
``trust_forwarded=True`` to take the scheme and host from one proxy's
``X-Forwarded-Proto`` and ``X-Forwarded-Host``. Behind more proxies, or one
that writes only some headers, give a mapping that counts, per header, the
proxies that write it (``{"x_proto": 2, "x_host": 1}`` for a CDN that appends
only the proto in front of a load balancer that writes both): a bare number
above one is refused, since a proxy that passes a header through leaves a
client's value where it would be counted. Trust those headers only when a
proxy you control sets them: otherwise a client can make a request signed for
another of your URLs look as if it were sent here.

The middleware imports nothing beyond the standard library.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._environ import environ_head, read_body
from ._guard import CLAIMED_KEY, NO_ANSWER, UNREADABLE, VERDICT_KEY, Check, Guard, Outcome

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

    from ._guard import GuardOptions

__all__ = ["TwilioSignatureMiddleware"]

_CHUNK = 64 * 1024


class TwilioSignatureMiddleware:
    """Answer 403 before an unsigned or forged Twilio webhook reaches a WSGI app.

    Args:
        app: The WSGI application to protect.
        **options: The options every adapter takes, by name: listed with their
            meanings and defaults in docs/options.md (from
            :class:`~twiliosig._options.GuardOptions`). Bad ones raise here.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[GuardOptions]) -> None:
        self.app = app
        self._guard: Guard = Guard.from_options(options)  # private: a public attribute would name a private type
        self._guard.require_mode(asynchronous=False)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        head = environ_head(environ)
        check = self._guard.start(head)
        if check is None:
            return self.app(environ, start_response)
        if check.waiting is not None:
            check.authenticate()  # a layer needs the network (a new bearer token): this worker's thread waits
        decision = check.decision
        if decision is None:
            body = read_body(environ, check.body_limit)
            decision = check.decide(UNREADABLE if body is None else body)
            if body is not None and len(body) <= check.body_limit:
                if decision.replay_key is not None:
                    decision = check.claim(environ.get(CLAIMED_KEY))
                environ["wsgi.input"] = io.BytesIO(body)
                if body or environ.get("CONTENT_LENGTH"):
                    environ["CONTENT_LENGTH"] = str(len(body))
        refusal = decision.refusal
        if refusal is not None:
            start_response(refusal.status_line, list(refusal.headers))
            return [refusal.body]
        environ[VERDICT_KEY] = decision.verdict
        if decision.replay_key is None:
            return self.app(environ, start_response)
        environ[CLAIMED_KEY] = decision.replay_key
        return _settling(self.app, environ, start_response, check)


def _settling(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse, check: Check
) -> Iterable[bytes]:
    """Run the app, and hand the check its outcome once the response is done (see :class:`_SettlingIterable`)."""
    statuses: list[str] = []

    def watching(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return start_response(status, headers, exc_info)

    try:
        result = app(environ, watching)
    except BaseException as error:
        check.settle(error)
        raise
    return _SettlingIterable(result, statuses, check)


class _SettlingIterable:
    """The app's response, passed through; settled at close(): the status, what it raised, or no answer at all."""

    def __init__(self, result: Iterable[bytes], statuses: list[str], check: Check) -> None:
        self._result = result
        self._statuses = statuses
        self._check = check
        self._error: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._result
        except BaseException as error:
            self._error = error
            raise

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._check.settle(self._outcome())

    def _outcome(self) -> Outcome:
        if self._error is not None:
            return self._error
        if not self._statuses:
            return NO_ANSWER  # the app never started a response: the server answers 500
        code = self._statuses[-1][:3]
        return int(code) if code.isdigit() else NO_ANSWER
