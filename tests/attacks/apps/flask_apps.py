"""Flask apps behind the WSGI middleware, the ``@twilio_required`` decorator and the extension.

Each has what a real app has: a catch-all under ``/twilio/`` (every method, as a
REST-ish app under a protected prefix would), and unprotected ``/status`` and
``/admin/<path>`` routes. ``ATTACK_ADAPTER`` picks one of:

- ``wsgi``: ``app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, paths=...)``;
- ``flask-decorator``: ``@twilio_required`` on the catch-all, options as
  ``TWILIOSIG_*`` config keys;
- ``flask-extension-paths``: ``TwilioSignature(app, paths=...)``;
- ``flask-extension-blueprint``: ``TwilioSignature(app, blueprints=["twilio"],
  endpoints=["voice"])``, the catch-all in a blueprint mounted at ``/twilio`` and
  registered again at ``/v2/twilio`` as ``twilio_v2``; a blueprint nested in it is
  registered again on its own at ``/alone`` as ``nested_alone``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, g, request

from tests.attacks.apps.common import (
    ADAPTER,
    ALL_METHODS,
    configure_logging,
    event_status,
    guard_options,
    record,
    should_raise,
)


def _seen(route: str) -> bytes:
    body = request.get_data(cache=True)
    try:
        form = list(request.form.items(multi=True))
    except Exception as error:  # the view ran all the same: say so
        form = [("<unreadable form>", repr(error))]
    verdict = getattr(g, "twiliosig_verdict", None) or request.environ.get("twiliosig.verdict")
    return record(route, request.method, request.path, body, form, request.args.items(multi=True), verdict)


def _twilio(event: str) -> Any:
    seen = _seen("twilio")
    if should_raise(event):
        raise RuntimeError("the view failed")
    return Response(seen, status=event_status(event), mimetype="application/json")


def _status() -> Any:
    return Response(_seen("status"), mimetype="application/json")


def _admin(rest: str = "") -> Any:
    return Response(_seen("admin"), mimetype="application/json")


def _voice() -> Any:
    return Response(_seen("voice"), mimetype="application/json")


def build(adapter: str) -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/status", "status", _status, methods=["GET", "POST"])
    app.add_url_rule("/admin/<path:rest>", "admin", _admin, methods=ALL_METHODS)
    app.add_url_rule("/voice", "voice", _voice, methods=["GET", "POST"])
    if adapter == "wsgi":
        from twiliosig.wsgi import TwilioSignatureMiddleware

        app.add_url_rule("/twilio/<path:event>", "twilio", _twilio, methods=ALL_METHODS)
        app.wsgi_app = TwilioSignatureMiddleware(app.wsgi_app, **guard_options(paths=True))  # type: ignore[method-assign]
    elif adapter == "flask-decorator":
        from twiliosig.contrib.flask import twilio_required

        for name, value in guard_options(paths=False).items():
            app.config[f"TWILIOSIG_{name.upper()}"] = value
        app.add_url_rule("/twilio/<path:event>", "twilio", twilio_required(_twilio), methods=ALL_METHODS)
    elif adapter == "flask-extension-paths":
        from twiliosig.contrib.flask import TwilioSignature

        app.add_url_rule("/twilio/<path:event>", "twilio", _twilio, methods=ALL_METHODS)
        TwilioSignature(app, **guard_options(paths=True))
    elif adapter == "flask-extension-blueprint":
        from twiliosig.contrib.flask import TwilioSignature

        blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")
        blueprint.add_url_rule("/<path:event>", "hook", _twilio, methods=ALL_METHODS)
        # A blueprint nested in it (/twilio/nested/...), registered again on its own at /alone: protected there too.
        nested = Blueprint("nested", __name__)
        nested.add_url_rule("/<path:event>", "hook", _twilio, methods=ALL_METHODS)
        blueprint.register_blueprint(nested, url_prefix="/nested")
        app.register_blueprint(nested, url_prefix="/alone", name="nested_alone")
        app.register_blueprint(blueprint)
        # The same blueprint again, under another name and prefix: protected as well.
        app.register_blueprint(blueprint, url_prefix="/v2/twilio", name="twilio_v2")
        TwilioSignature(app, blueprints=["twilio"], endpoints=["voice"], **guard_options(paths=False))
    else:
        raise ValueError(f"not a Flask adapter: {adapter!r}")
    return app


configure_logging()
app = build(ADAPTER) if ADAPTER else None
