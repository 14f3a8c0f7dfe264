"""Flask: a ``@twilio_required`` view decorator and a ``TwilioSignature`` extension.

Protect single views::

    from twiliosig.contrib.flask import twilio_required

    @app.post("/twilio/sms")
    @twilio_required
    def incoming_sms(): ...

or whole blueprints and chosen endpoints, configured once::

    twilio = TwilioSignature(app, blueprints=["twilio"], endpoints=["voice"])
    # or, with an app factory:  twilio = TwilioSignature(blueprints=["twilio"]); twilio.init_app(app)

Options are the middlewares' names (docs/options.md lists them), as keyword arguments
or as ``TWILIOSIG_<NAME>`` config keys (``TWILIOSIG_PUBLIC_URL``, ``TWILIOSIG_TRUST_FORWARDED``, ...). The token
is ``TWILIOSIG_AUTH_TOKEN``, else ``TWILIO_AUTH_TOKEN`` in the config, else the
``TWILIO_AUTH_TOKEN`` environment variable: read by ``init_app`` (so a missing
token fails at start-up), and by the decorator on its first request.

The body is read through Flask's own cache (bounded by ``max_body_size``), so
``request.form`` and ``request.get_data()`` work in the view. The verdict is
``g.twiliosig_verdict``. ``enabled=False`` (``TWILIOSIG_ENABLED = False``) turns
validation off for local development, with a warning; ``DEBUG`` never does.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from .._environ import environ_head
from .._guard import (
    CLAIMED_KEY,
    OVERFLOWED,
    UNREADABLE,
    VERDICT_KEY,
    BodyLost,
    Check,
    Guard,
    Outcome,
    Parsed,
    check_option_names,
)
from .._options import check_given
from ..verdict import Verdict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._guard import GuardOptions

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = ["TwilioSignature", "check_request", "twilio_required"]

_EXTENSION = "twiliosig"


def _guard_from_config(config: Mapping[str, Any], **overrides: Any) -> Guard:
    """A guard from ``TWILIOSIG_*`` config keys and ``overrides`` (which win).

    Raises:
        TypeError: an unknown ``TWILIOSIG_*`` key or option (the message suggests
            the closest right one), or an option of the wrong type.
        ValueError: a wrong value, or no secret at all.
    """
    prefix = "TWILIOSIG_"
    configured = {key[len(prefix) :].lower(): key for key in config if key.startswith(prefix)}
    check_option_names(configured, spell=lambda name: f"{prefix}{name.upper()}")
    options = {name: config[key] for name, key in configured.items()}
    options.update(overrides)
    if "auth_token" not in options and config.get("TWILIO_AUTH_TOKEN"):
        options["auth_token"] = config["TWILIO_AUTH_TOKEN"]
    return Guard.from_options(options)


def check_request(**overrides: Unpack[GuardOptions]) -> Verdict:
    """Judge Flask's current request, its path protected or not, without the decorator or extension.

    The options are the app's ``TWILIOSIG_*`` config keys, ``overrides`` winning,
    read on every call; a refusal is logged and reported to ``on_reject`` as the
    decorator's are, and no replay key is claimed. For a view that decides for
    itself what a refusal looks like.

    Raises:
        TypeError, ValueError: an unknown option or a wrong value, or no secret at all.
    """
    guard = _guard_from_config(current_app.config, **overrides)
    check = guard.check(environ_head(request.environ, request.path))
    check.authenticate()
    return check.decide(_body(check)).verdict


def _body(check: Check) -> bytes | Parsed | BodyLost:
    """Read the body through Flask's own cache (``request.form`` keeps working), for :meth:`Check.decide`."""
    if check.decision is not None:
        return b""  # decided from the head: nothing to read
    flask_limit = request.max_content_length
    cap = check.body_limit if flask_limit is None else min(flask_limit, check.body_limit)
    # Flask 3.1+ lets a request lower its own limit. werkzeug then stops a chunked body at
    # the limit without a word, so ask for one byte more to tell "exactly" from "too much".
    # Older Flask refuses the assignment, and the declared length was checked before.
    with contextlib.suppress(AttributeError):
        request.max_content_length = cap + 1
    try:
        body = request.get_data(cache=True)  # request.form is parsed from this cache later
    except RequestEntityTooLarge:
        return OVERFLOWED
    except ClientDisconnected:
        return UNREADABLE
    finally:
        with contextlib.suppress(AttributeError):
            request.max_content_length = flask_limit
    if len(body) > cap:
        return OVERFLOWED
    if not body and "form" in request.__dict__:
        # Something (a hook, a decorator above this one) parsed request.form first and the
        # stream is spent: check the pairs it parsed, which are the pairs the view reads.
        return Parsed(list(request.form.items(multi=True)), files=bool(request.files))
    return body


def _guarded(guard: Guard, *, always: bool) -> Response | None:
    """None to let the request through (its check kept on ``g`` to settle later), or the refusal."""
    check = guard.start(environ_head(request.environ, request.path), always=always)
    if check is None:
        return None
    check.authenticate()  # before the body: a layer that needs the network waits in this worker's thread
    check.decide(_body(check))
    decision = check.claim(request.environ.get(CLAIMED_KEY))
    g.twiliosig_verdict = decision.verdict
    g.twiliosig_check = check
    request.environ[VERDICT_KEY] = decision.verdict
    refusal = decision.refusal
    if refusal is None:
        if decision.replay_key is not None:
            request.environ[CLAIMED_KEY] = decision.replay_key
        return None
    return Response(refusal.body, status=refusal.status, headers=list(refusal.headers))


def _settle(response: Any, error: BaseException | None) -> None:
    """After the view: its outcome settles the replay claim; a streamed body's, once the stream ends."""
    check: Check | None = g.pop("twiliosig_check", None)
    if check is None:
        return
    if error is not None:
        check.settle(_answered(error))
    elif getattr(response, "is_streamed", False):
        response.response = check.watch(response.response, response.status_code)
    else:
        check.settle(response.status_code)


def _answered(error: BaseException) -> Outcome:
    """The status Flask answers for an exception out of a view: ``abort(404)`` is a 404; else the error.

    A 4xx raised is an answer as much as a 4xx returned: the claim is kept, so a
    captured copy of a request the view answered 404 never reaches it again.
    """
    if not isinstance(error, HTTPException) or current_app.trap_http_exception(error):
        return error  # Flask answers 500 (a trapped HTTP exception is re-raised)
    if error.response is not None:  # abort(a_response)
        return int(error.response.status_code)
    return error.code if error.code is not None else error


@overload
def twilio_required(view: Callable[_P, _R], **options: Unpack[GuardOptions]) -> Callable[_P, _R]: ...


@overload
def twilio_required(
    view: None = None, **options: Unpack[GuardOptions]
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def twilio_required(view: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Protect one view: a refused request gets 403 (or 400/413) and the view never runs.

    Use as ``@twilio_required`` or ``@twilio_required(public_url=...)``; keyword
    options override the app's ``TWILIOSIG_*`` config. Type checkers see the
    decorated view as it was, parameters and return type: the refusal (a
    ``Response``) stands where Flask takes any view's return value.
    """
    check_given(options)  # at import: a typo or a wrong value must not wait for the view's first request
    if view is None:
        return functools.partial(twilio_required, **options)
    # Each app's own guard, held as long as the app lives: never by id(app), which a new app
    # built at a collected one's address would share (and run with its token, or enabled=False).
    guards: weakref.WeakKeyDictionary[Flask, Guard] = weakref.WeakKeyDictionary()

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        guard = guards.get(app)
        if guard is None:
            guard = _guard_from_config(app.config, **options)
            guard.require_mode(asynchronous=False)
            guards[app] = guard
        refusal = _guarded(guard, always=True)
        if refusal is not None:
            return refusal
        try:
            response = current_app.make_response(current_app.ensure_sync(view)(*args, **kwargs))
        except BaseException as error:
            _settle(None, error)
            raise
        _settle(response, None)
        return response

    return wrapper


class TwilioSignature:
    """Flask extension: validate chosen blueprints, endpoints or paths before their views run.

    A blueprint is protected wherever it is registered: under its own name, again
    under another (``app.register_blueprint(bp, url_prefix="/v2", name="twilio_v2")``),
    and nested in another blueprint; so are the blueprints nested in it. The names
    are resolved to the blueprint objects at the app's first request, when every
    registration is done (Flask refuses one after it), so the order of
    ``TwilioSignature(app)`` or ``init_app`` and ``register_blueprint`` does not matter.

    Args:
        app: The app, or None to call :meth:`init_app` later (app factories).
        blueprints: Names of blueprints whose views must be signed (nested ones
            included), each as the app has it in ``app.blueprints``
            (``"twilio"``, ``"twilio.media"`` for one nested in it).
        endpoints: Endpoint names that must be signed (``"voice"``,
            ``"twilio.sms"``: that view in every registration of its blueprint).
        **options: The middlewares' options; with neither ``blueprints`` nor
            ``endpoints``, the ``paths`` option (every path by default) decides.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        blueprints: Iterable[str] = (),
        endpoints: Iterable[str] = (),
        **options: Any,
    ) -> None:
        if isinstance(blueprints, str) or isinstance(endpoints, str):
            raise TypeError("blueprints and endpoints are lists of names, e.g. blueprints=['twilio']")
        self.blueprints = frozenset(blueprints)
        self.endpoints = frozenset(endpoints)
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the configuration now (a missing token fails here) and register the check."""
        guard = _guard_from_config(app.config, **self.options)
        guard.require_mode(asynchronous=False)
        app.extensions[_EXTENSION] = guard
        if self.blueprints or self.endpoints:
            selection = _Selection(self.blueprints, self.endpoints)
            app.before_request(functools.partial(self._check_selected, guard, selection))
        else:
            app.before_request(functools.partial(_guarded, guard, always=False))  # the paths option decides
        app.after_request(self._after)
        app.teardown_request(self._teardown)

    @staticmethod
    def _after(response: Response) -> Response:
        _settle(response, None)
        return response

    @staticmethod
    def _teardown(error: BaseException | None) -> None:
        if error is not None:
            _settle(None, error)

    @staticmethod
    def _check_selected(guard: Guard, selection: _Selection) -> Response | None:
        if selection.covers(current_app, request.blueprints, request.endpoint):
            return _guarded(guard, always=True)
        return None


class _Selection:
    """The views one app's extension protects: the listed blueprints and endpoints, as objects.

    Flask knows a registration only by its name (``app.blueprints`` maps each
    registered name, dotted for a nested one, to its blueprint; a request's
    ``blueprints`` lists the names of its chain), and the same blueprint object
    registered twice has two names. Matching the objects the listed names stand
    for protects every registration of a listed blueprint, and of one nested in
    it, whatever name it was registered under.
    """

    __slots__ = ("_blueprints", "_endpoints", "_names", "_views")

    def __init__(self, blueprints: frozenset[str], endpoints: frozenset[str]) -> None:
        self._names = (blueprints, endpoints)
        self._blueprints: frozenset[object] | None = None  # resolved at the app's first request
        self._endpoints = endpoints
        self._views: frozenset[tuple[object, str]] = frozenset()

    def covers(self, app: Flask, chain: Iterable[str], endpoint: str | None) -> bool:
        """Whether the request (its blueprint chain and endpoint) is one that must be signed.

        Raises:
            ValueError: a listed name the app does not have, or a blueprint to protect
                registered under an empty name (on every request until it is fixed).
        """
        registered = app.blueprints
        blueprints = self._blueprints
        if blueprints is None:
            blueprints = self._resolve(app)
        if any(registered.get(name) in blueprints for name in chain):
            return True
        if endpoint is None:
            return False
        if endpoint in self._endpoints:
            return True
        owner, _, view = endpoint.rpartition(".")
        return bool(owner) and (registered.get(owner), view) in self._views

    def _resolve(self, app: Flask) -> frozenset[object]:
        """The blueprint objects the names stand for, once the app serves and every registration is done.

        Raises:
            ValueError: an unknown name, with the closest one the app has: it would protect nothing, silently;
                or a blueprint to protect registered with ``name=""``, whose views no request can name.
        """
        blueprints, endpoints = self._names
        registered = app.blueprints
        for kind, names, known in (
            ("blueprint", blueprints, set(registered)),
            ("endpoint", endpoints, set(app.view_functions)),
        ):
            for name in sorted(names - known):
                # A view in a blueprint is named "blueprint.view": suggest that first.
                qualified = sorted(other for other in known if other.rsplit(".", 1)[-1] == name)
                close = qualified or difflib.get_close_matches(name, known, n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]!r}?" if close else f"; the app has {sorted(known)}"
                raise ValueError(f"TwilioSignature: no {kind} named {name!r}, so nothing would be protected{hint}")
        # "twilio.sms" is the view "sms" of the blueprint registered as "twilio": that view in its every registration.
        views = [endpoint.rpartition(".") for endpoint in endpoints]
        self._views = frozenset((registered[owner], view) for owner, _, view in views if owner in registered)
        # A blueprint nested in a listed one ("twilio.media") is protected wherever it is registered, alone too.
        prefixes = tuple(f"{name}." for name in blueprints)
        resolved = frozenset(registered[name] for name in blueprints) | frozenset(
            blueprint for name, blueprint in registered.items() if name.startswith(prefixes)
        )
        unnamed = registered.get("")
        if unnamed is not None and (unnamed in resolved or any(owner is unnamed for owner, _ in self._views)):
            # register_blueprint(bp, name=""): Flask names its views "sms", not "<name>.sms", and no request
            # to them names a blueprint: they cannot be told from the app's own views, so nothing would protect them.
            raise ValueError(
                "TwilioSignature: a blueprint to protect is registered under an empty name (name=''), "
                "whose views Flask cannot tell from the app's own; register it under a name"
            )
        self._blueprints = resolved
        return resolved
