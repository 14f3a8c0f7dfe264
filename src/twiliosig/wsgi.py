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
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._environ import environ_head, read_body
from ._guard import CLAIMED_KEY, VERDICT_KEY, Decision, Guard

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
        self.guard = Guard.from_options(options)
        self.guard.require_mode(asynchronous=False)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        head = environ_head(environ)
        check = self.guard.start(head)
        if check is None:
            return self.app(environ, start_response)
        decision = check.decision
        if decision is None:
            body = read_body(environ, check.body_limit)
            if body is None:
                decision = check.unreadable()
            elif len(body) > check.body_limit:
                decision = check.overflowed()
            else:
                decision = check.finish(body)
                if decision.replay_key is not None:
                    decision = self.guard.claim(decision, claimed=environ.get(CLAIMED_KEY))
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
        return _settling(self.app, environ, start_response, self.guard, decision)


def _settling(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse, guard: Guard, decision: Decision
) -> Iterable[bytes]:
    """Run the app; if it answers 5xx or raises, release the replay key so Twilio's retry gets through."""
    failed = False

    def watching(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        nonlocal failed
        failed = status.startswith("5")
        return start_response(status, headers, exc_info)

    try:
        result = app(environ, watching)
    except BaseException:
        guard.settle(decision, failed=True)
        raise
    return _SettlingIterable(result, lambda: failed, guard, decision)


class _SettlingIterable:
    """The app's response, passed through; on an error or a 5xx the key is released at close()."""

    def __init__(self, result: Iterable[bytes], failed: Callable[[], bool], guard: Guard, decision: Decision) -> None:
        self._result = result
        self._failed = failed
        self._guard = guard
        self._decision = decision
        self._errored = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._result
        except BaseException:
            self._errored = True
            raise

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._guard.settle(self._decision, failed=self._errored or self._failed())
