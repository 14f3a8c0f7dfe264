"""Flask extension: registrations of a listed blueprint that Flask names unusually.

``blueprints=["twilio"]`` protects every registration of that blueprint and of the
blueprints nested in it (docs/flask.md). Two registrations escaped:

- a blueprint nested in the listed one, registered again on its own
  (``app.register_blueprint(media, name="media_alone")``): its chain names only
  ``media_alone``, which is not the listed object;
- the listed blueprint registered under an empty name (``name=""``, which Flask
  accepts): its views get endpoints with no blueprint name at all (``"sms"``), so a
  request to them names no blueprint. The extension cannot tell those views from
  the app's own, and says so at the first request, as for an unknown name.
"""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask

from twiliosig import compute_signature
from twiliosig.contrib.flask import TwilioSignature

TOKEN = "blueprint-spellings-token-0123456"
FORM = {"From": "+15005550006", "Body": "hi"}


def view() -> str:
    return "ran"


def nested_app() -> Flask:
    """``twilio`` holds ``media`` (at /twilio/media); ``media`` is registered again alone at /alone."""
    app = Flask(__name__)
    parent = Blueprint("twilio", __name__)
    parent.add_url_rule("/sms", "sms", view, methods=["POST"])
    media = Blueprint("media", __name__)
    media.add_url_rule("/status", "status", view, methods=["POST"])
    parent.register_blueprint(media, url_prefix="/media")
    app.register_blueprint(parent, url_prefix="/twilio")
    app.register_blueprint(media, url_prefix="/alone", name="media_alone")
    app.add_url_rule("/public", "public", view, methods=["POST"])
    return app


def post(app: Flask, path: str, signed: bool = False) -> int:
    headers = {"X-Twilio-Signature": compute_signature(TOKEN, f"http://localhost{path}", FORM)} if signed else {}
    return app.test_client().post(path, data=FORM, headers=headers).status_code


def test_a_nested_blueprint_registered_again_alone_is_protected() -> None:
    """The attacker posts unsigned to the nested blueprint's own registration at /alone."""
    app = nested_app()
    TwilioSignature(app, blueprints=["twilio"], auth_token=TOKEN)
    assert post(app, "/twilio/media/status") == 403
    assert post(app, "/alone/status") == 403
    assert post(app, "/alone/status", signed=True) == 200
    assert post(app, "/public") == 200  # the app's own view stays open


def test_a_nested_blueprint_listed_by_name_is_protected_in_its_own_registration() -> None:
    app = nested_app()
    TwilioSignature(app, blueprints=["twilio.media"], auth_token=TOKEN)
    assert post(app, "/alone/status") == 403
    assert post(app, "/twilio/sms") == 200  # the parent is not listed


def empty_name_app(register: str) -> Flask:
    """``twilio`` (holding ``media``) at /twilio, and ``twilio`` or ``media`` again at /alt under the name ''."""
    app = Flask(__name__)
    hooks = Blueprint("twilio", __name__)
    hooks.add_url_rule("/sms", "sms", view, methods=["POST"])
    media = Blueprint("media", __name__)
    media.add_url_rule("/status", "status", view, methods=["POST"])
    hooks.register_blueprint(media, url_prefix="/media")
    app.register_blueprint(hooks, url_prefix="/twilio")
    if register == "listed":
        app.register_blueprint(hooks, url_prefix="/alt", name="")
    else:
        app.register_blueprint(media, url_prefix="/alt", name="")
    return app


SELECTIONS = [{"blueprints": ["twilio"]}, {"endpoints": ["twilio.sms", "twilio.media.status"]}]


@pytest.mark.parametrize("register", ["listed", "nested"])
@pytest.mark.parametrize("selection", SELECTIONS)
def test_a_listed_blueprint_registered_under_an_empty_name_is_refused_not_served(
    register: str, selection: dict[str, list[str]]
) -> None:
    """Its views would get endpoints with no blueprint name: an error at the first request, never served unsigned."""
    app = empty_name_app(register)
    TwilioSignature(app, auth_token=TOKEN, **selection)  # type: ignore[arg-type]
    app.testing = True  # the error is raised to the test, not answered 500
    with pytest.raises(ValueError, match="empty name"):
        post(app, "/alt/status" if register == "nested" else "/alt/sms")


def test_an_empty_name_registration_of_another_blueprint_is_fine() -> None:
    app = Flask(__name__)
    hooks = Blueprint("twilio", __name__)
    hooks.add_url_rule("/sms", "sms", view, methods=["POST"])
    other = Blueprint("other", __name__)
    other.add_url_rule("/page", "page", view, methods=["POST"])
    app.register_blueprint(hooks, url_prefix="/twilio")
    app.register_blueprint(other, url_prefix="/other", name="")
    TwilioSignature(app, blueprints=["twilio"], auth_token=TOKEN)
    assert post(app, "/other/page") == 200
    assert post(app, "/twilio/sms") == 403
