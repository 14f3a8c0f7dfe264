"""Django: a middleware for ``MIDDLEWARE`` and a ``@twilio_required`` view decorator.

Configure in ``settings.py`` with the middlewares' option names (docs/options.md
lists them)::

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "twiliosig.contrib.django.TwilioSignatureMiddleware",   # before CsrfViewMiddleware
        ...
    ]
    TWILIOSIG = {"paths": ["/twilio/"]}          # auth_token defaults as below

or protect single views::

    from twiliosig.contrib.django import twilio_required

    @twilio_required
    def incoming_sms(request): ...

The token is ``TWILIOSIG["auth_token"]``, else ``settings.TWILIO_AUTH_TOKEN``, else
the ``TWILIO_AUTH_TOKEN`` environment variable, read when Django builds the
middleware (the decorator: on its first request, and again whenever
``override_settings`` changes those settings). Add
``"twiliosig.contrib.django.TwilioSigConfig"`` to ``INSTALLED_APPS`` and
``manage.py check`` reports a missing token as ``twiliosig.E001`` before that.
There is no ``DEBUG`` bypass; ``TWILIOSIG = {"enabled": False}`` turns
validation off for local development and logs a warning when it does.

The URL is rebuilt with Django's own ``request.scheme`` and ``request.get_host()``,
so ``SECURE_PROXY_SSL_HEADER`` and ``USE_X_FORWARDED_HOST`` apply as they do for
the rest of your site; ``public_url`` or ``trust_forwarded`` in ``TWILIOSIG``
take over when set. ``request.POST`` and ``request.body`` keep working: the body
is read through Django's own cache. A genuine request is exempt from CSRF (its
signature is a stronger proof of origin) and carries its verdict as
``request.twiliosig_verdict``.
"""

from __future__ import annotations

import functools
import io
import threading
import weakref
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    ImproperlyConfigured,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, RawPostDataException, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

from .._environ import environ_target, read_body
from .._guard import (
    CLAIMED_KEY,
    NO_ANSWER,
    OVERFLOWED,
    UNREADABLE,
    VERDICT_KEY,
    BodyLost,
    Check,
    Decision,
    Guard,
    Head,
    Outcome,
)
from .._origin import quote_path
from .._replay_django import DjangoCacheReplayStore
from .._scope import scope_raw_path
from ..verdict import Verdict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._guard import GuardOptions

_mark_coroutine: Callable[[Any], Any] | None
try:  # asgiref 3.6+ (Django 4.2+)
    from asgiref.sync import markcoroutinefunction as _mark_coroutine
except ImportError:  # pragma: no cover - older asgiref
    _mark_coroutine = None

__all__ = [
    "DjangoCacheReplayStore",
    "TwilioSigConfig",
    "TwilioSignatureMiddleware",
    "check_request",
    "twilio_required",
]

View = Callable[..., Any]
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guard_from_settings(**overrides: Any) -> Guard:
    """A guard from ``settings.TWILIOSIG`` (and ``overrides``), token as the module says.

    Raises:
        ImproperlyConfigured: an unknown option, a wrong value, or no secret at all.
    """
    options = dict(getattr(settings, "TWILIOSIG", None) or {})
    options.update(overrides)
    if "auth_token" not in options and getattr(settings, "TWILIO_AUTH_TOKEN", None):
        options["auth_token"] = settings.TWILIO_AUTH_TOKEN
    try:
        return Guard.from_options(options, spell=lambda name: f'TWILIOSIG["{name}"]')
    except (TypeError, ValueError) as error:
        raise ImproperlyConfigured(f"twiliosig: {error}") from error


def _require_mode(guard: Guard, *, asynchronous: bool) -> None:
    try:
        guard.require_mode(asynchronous=asynchronous)
    except TypeError as error:
        raise ImproperlyConfigured(f"twiliosig: {error}") from error


def check_request(request: HttpRequest, **overrides: Unpack[GuardOptions]) -> Verdict:
    """Judge a Django request (WSGI or ASGI), its path protected or not, without the middleware or decorator.

    The options are ``settings.TWILIOSIG``'s, ``overrides`` winning, read on every
    call; a refusal is logged and reported to ``on_reject`` as the middleware's
    are, and no replay key is claimed. For a view that decides for itself what a
    refusal looks like.

    Raises:
        ImproperlyConfigured: an unknown option, a wrong value, or no secret at all.
    """
    guard = _guard_from_settings(**overrides)
    check = guard.check(_request_head(guard, request))
    check.authenticate()
    return check.decide(_body(check, request)).verdict


def _request_head(guard: Guard, request: HttpRequest) -> Head:
    """The :class:`~twiliosig._guard.Head` of a Django request: the raw path from the server or the ASGI scope."""
    scheme, host = _scheme_and_host(guard, request)
    scope = getattr(request, "scope", None)
    if scope is not None:  # ASGIRequest: the raw path from the ASGI scope
        raw_path, query = scope_raw_path(scope), request.META.get("QUERY_STRING", "")
    else:  # the raw target as the middleware reads it, and always the query the view reads
        raw_path, query = environ_target(request.META, request.path_info)
        if not (request.META.get("RAW_URI") or request.META.get("REQUEST_URI")):
            raw_path = quote_path(request.path)  # Django's script name (FORCE_SCRIPT_NAME too)
    return Head(
        method=request.method or "",
        path=request.path_info,
        scheme=scheme,
        host=host,
        raw_path=raw_path,
        query=query,
        header=request.headers.get,
    )


def _body(check: Check, request: HttpRequest) -> bytes | BodyLost:
    """Read the body through Django's own cache (``request.POST`` keeps working), for :meth:`Check.decide`."""
    if check.decision is not None:
        return b""  # decided from the head: nothing to read
    if _streamed_without_length(request):
        return _read_streamed(check, request)
    try:
        body: bytes = request.body
    except RequestDataTooBig:
        return OVERFLOWED
    except (OSError, UnreadablePostError, RawPostDataException, ValueError):
        # RawPostDataException: something read request.POST of a multipart body first,
        # and Django keeps no copy of it (Twilio never sends multipart). ValueError: Django's
        # int() of a Content-Length past 4,300 digits (zero-padded: the screen let it by).
        return UNREADABLE
    return body


def _streamed_without_length(request: HttpRequest) -> bool:
    """A WSGI body sent chunked: the server ends the input (``wsgi.input_terminated``) but gives no Content-Length.

    Django reads nothing of such a body (``request.body`` is empty), so judging what
    Django shows would refuse a genuine request as forged and an oversized one as
    forged too, where every other adapter reads the stream.
    """
    meta = request.META
    return (
        getattr(request, "scope", None) is None
        and not meta.get("CONTENT_LENGTH")
        and bool(meta.get("wsgi.input_terminated"))
        and meta.get("wsgi.input") is not None
    )


def _read_streamed(check: Check, request: HttpRequest) -> bytes | BodyLost:
    """Read a chunked body from the server's stream, within the limit, and give Django those bytes to parse."""
    body = read_body(request.META, check.body_limit)
    if body is None:
        return UNREADABLE
    if len(body) > check.body_limit:
        _read_from(request, request.META["wsgi.input"])  # report-only: the view reads the whole body
        return OVERFLOWED
    # From here Django sees the body as if it had come with a Content-Length: the bytes checked are the bytes parsed.
    request.META["CONTENT_LENGTH"] = str(len(body))
    _read_from(request, io.BytesIO(body))
    return body


def _read_from(request: HttpRequest, stream: Any) -> None:
    """Make Django read the body from ``stream``, forgetting what it read or parsed before (an earlier middleware)."""
    request._stream = stream
    request._read_started = False
    for cached in ("_body", "_post", "_files"):
        request.__dict__.pop(cached, None)


def _scheme_and_host(guard: Guard, request: HttpRequest) -> tuple[str, str | None]:
    """Django's own view of scheme and host, unless twiliosig is told what Twilio calls."""
    if guard.sets_the_origin():
        meta = request.META
        host = meta.get("HTTP_HOST") or f"{meta.get('SERVER_NAME', '')}:{meta.get('SERVER_PORT', '')}".rstrip(":")
        return meta.get("wsgi.url_scheme") or request.scheme or "http", host
    try:
        return request.scheme or "http", request.get_host()  # SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST
    except DisallowedHost:
        return request.scheme or "http", None


def _respond(request: HttpRequest, decision: Decision) -> HttpResponse | None:
    """None to let the request through, or the response that refuses it."""
    verdict = decision.verdict
    request.twiliosig_verdict = verdict
    request.META[VERDICT_KEY] = verdict
    if verdict.valid:
        # Signed by Twilio: a stronger proof of origin than a CSRF token, which Twilio cannot send.
        request._dont_enforce_csrf_checks = True
    refusal = decision.refusal
    if refusal is None:
        if decision.replay_key is not None:
            request.META[CLAIMED_KEY] = decision.replay_key
        return None
    response = HttpResponse(refusal.body, status=refusal.status)
    for name, value in refusal.folded_headers():  # Django keeps one value per name: the challenges folded
        response[name] = value
    return response


def _claimed(request: HttpRequest) -> object:
    """The replay key an outer twiliosig layer claimed: in the WSGI environ, or the ASGI scope."""
    scope = getattr(request, "scope", None) or {}
    return request.META.get(CLAIMED_KEY) or scope.get(CLAIMED_KEY)


#: What Django answers with a 4xx when a view raises it (``django.core.handlers.exception``): an answer, not a failure.
_ANSWERS: tuple[tuple[type[Exception], int], ...] = (
    (Http404, 404),
    (PermissionDenied, 403),
    (MultiPartParserError, 400),
    (BadRequest, 400),
    (SuspiciousOperation, 400),
)


def _raised(error: BaseException) -> Outcome:
    """What a view's exception is: the 4xx Django answers for ``Http404`` and its kin, else the error itself."""
    for kind, status in _ANSWERS:
        if isinstance(error, kind):
            return status
    return error


def _outcome(response: Any) -> Outcome:
    """A view's answer: its status, or none at all (a view that returned None: Django answers 500)."""
    return NO_ANSWER if response is None else int(getattr(response, "status_code", 200))


def _guarded(guard: Guard, request: HttpRequest, always: bool, call: Callable[[], Any]) -> Any:
    """Check, then run ``call`` (the view or the rest of the middleware chain); settle its outcome."""
    check = guard.start(_request_head(guard, request), always=always)
    if check is None:
        return call()
    check.authenticate()  # a sync view runs in a worker thread: a layer's network call may block it
    check.decide(_body(check, request))
    refusal = _respond(request, check.claim(_claimed(request)))
    if refusal is not None:
        return refusal
    try:
        response = call()
    except BaseException as error:
        check.settle(_raised(error))
        raise
    if getattr(response, "streaming", False) and not getattr(response, "is_async", False):
        response.streaming_content = check.watch(response.streaming_content, response.status_code)
    else:
        check.settle(_outcome(response))
    return response


async def _aguarded(guard: Guard, request: HttpRequest, always: bool, call: Callable[[], Any]) -> Any:
    """:func:`_guarded` for async views and ASGI: the replay store's asyncio client."""
    check = guard.start(_request_head(guard, request), always=always)
    if check is None:
        return await call()
    await check.aauthenticate()
    # ASGIRequest has already buffered the body, so reading it here does not block.
    check.decide(_body(check, request))
    refusal = _respond(request, await check.aclaim(_claimed(request)))
    if refusal is not None:
        return refusal
    try:
        response = await call()
    except BaseException as error:
        await check.asettle(_raised(error))
        raise
    if getattr(response, "streaming", False) and getattr(response, "is_async", False):
        response.streaming_content = await check.awatch(response.streaming_content, response.status_code)
    else:
        await check.asettle(_outcome(response))
    return response


class TwilioSignatureMiddleware:
    """Django middleware: refuse unsigned or forged webhooks on the ``TWILIOSIG`` paths.

    Place it before ``CsrfViewMiddleware``. Works under WSGI and ASGI.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._guard: Guard = _guard_from_settings()
        self._async = iscoroutinefunction(get_response)
        _require_mode(self._guard, asynchronous=self._async)
        if self._async and _mark_coroutine is not None:
            _mark_coroutine(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return _aguarded(self._guard, request, False, lambda: self.get_response(request))
        return _guarded(self._guard, request, False, lambda: self.get_response(request))


class _LazyGuard:
    """Builds the decorator's guard on first use from the settings in force then.

    Settings can change under a running process in tests (``override_settings``);
    every lazy guard is forgotten when ``TWILIOSIG`` or ``TWILIO_AUTH_TOKEN``
    changes, so the decorator follows the settings in force, as the middleware does.
    """

    def __init__(self, options: dict[str, Any], *, asynchronous: bool) -> None:
        self._options = options
        self._asynchronous = asynchronous
        self._guard: Guard | None = None
        self._lock = threading.Lock()
        _lazy_guards.add(self)

    def get(self) -> Guard:
        guard = self._guard
        if guard is None:
            with self._lock:
                guard = self._guard
                if guard is None:
                    guard = _guard_from_settings(**self._options)
                    _require_mode(guard, asynchronous=self._asynchronous)
                    self._guard = guard
        return guard

    def forget(self) -> None:
        with self._lock:
            self._guard = None


_lazy_guards: weakref.WeakSet[_LazyGuard] = weakref.WeakSet()


@receiver(setting_changed)  # type: ignore[untyped-decorator]
def _forget_guards(*, setting: str, **kwargs: Any) -> None:
    """``override_settings`` changed the configuration: every decorator rebuilds its guard."""
    if setting in ("TWILIOSIG", "TWILIO_AUTH_TOKEN"):
        for lazy in list(_lazy_guards):
            lazy.forget()


class TwilioSigConfig(AppConfig):  # type: ignore[misc]
    """The app config: ``INSTALLED_APPS = [..., "twiliosig.contrib.django.TwilioSigConfig"]``.

    Installing it makes ``manage.py check`` (and every management command, and
    ``runserver``) run the ``twiliosig`` system checks: a missing token or a bad
    ``TWILIOSIG`` is reported as ``twiliosig.E001`` before the first request.
    """

    name = "twiliosig.contrib.django"
    label = "twiliosig"
    verbose_name = "twiliosig"
    default_auto_field = "django.db.models.AutoField"  # no models; silences Django's W042


_decorator_options: list[dict[str, Any]] = []


@overload
def twilio_required(view: Callable[_P, _R], **options: Unpack[GuardOptions]) -> Callable[_P, _R]: ...


@overload
def twilio_required(
    view: None = None, **options: Unpack[GuardOptions]
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def twilio_required(view: View | None = None, **options: Any) -> Any:
    """Protect one view (sync or async): a refused request gets 403 and the view never runs.

    Use as ``@twilio_required`` or with options, ``@twilio_required(public_url=...)``;
    options override ``settings.TWILIOSIG``. The view is exempt from CSRF. Type
    checkers see the decorated view as it was, parameters and return type (the
    refusal is an ``HttpResponse``, as Django views return), as with ``csrf_exempt``.
    """
    if view is None:
        return functools.partial(twilio_required, **options)
    lazy = _LazyGuard(options, asynchronous=iscoroutinefunction(view))
    _decorator_options.append(options)
    wrapper: Any
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return await _aguarded(lazy.get(), request, True, lambda: view(request, *args, **kwargs))

        wrapper = async_wrapper
    else:

        @functools.wraps(view)
        def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return _guarded(lazy.get(), request, True, lambda: view(request, *args, **kwargs))

        wrapper = sync_wrapper
    wrapper.csrf_exempt = True  # what django's csrf_exempt sets, for sync and async views alike
    return wrapper


@register(Tags.security)  # type: ignore[untyped-decorator]
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``manage.py check``: a missing token or a bad ``TWILIOSIG`` is reported at start-up."""
    in_use = "twiliosig.contrib.django.TwilioSignatureMiddleware" in getattr(settings, "MIDDLEWARE", [])
    errors = []
    configured: list[dict[str, Any]] = [{}] if in_use else []
    for options in configured + _decorator_options:
        try:
            _guard_from_settings(**options)
        except ImproperlyConfigured as error:
            errors.append(Error(str(error), hint="Set TWILIO_AUTH_TOKEN or TWILIOSIG.", id="twiliosig.E001"))
    return errors
