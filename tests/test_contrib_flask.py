"""Flask integration: the @twilio_required decorator and the TwilioSignature extension."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import pytest
from flask import Blueprint, Flask, g, request

from twiliosig.contrib.flask import TwilioSignature, twilio_required
from twiliosig.testing import TwilioSigner

TOKEN = "flask-contrib-token-0123456789ab"
PARAMS = [("From", "+15005550006"), ("Body", "héllo"), ("MediaUrl0", ""), ("Tag", "b"), ("Tag", "a")]
signer = TwilioSigner(TOKEN)


def seen() -> dict[str, object]:
    return {
        "sha256": hashlib.sha256(request.get_data()).hexdigest(),
        "form": sorted(request.form.items(multi=True)),
        "reason": g.twiliosig_verdict.reason.value if "twiliosig_verdict" in g else None,
    }


def test_decorator_accepts_genuine_and_keeps_the_form() -> None:
    """request.form and request.get_data() see what Twilio sent; the verdict is on g."""
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    calls: list[str] = []

    @app.post("/sms")
    @twilio_required
    def sms() -> dict[str, object]:
        calls.append("sms")
        return seen()

    client = app.test_client()
    response = signer.post_form(client, "/sms", PARAMS)
    assert response.status_code == 200
    assert response.json == {
        "sha256": hashlib.sha256(urlencode(PARAMS).encode()).hexdigest(),
        "form": [list(pair) for pair in sorted(PARAMS)],
        "reason": "valid",
    }
    assert signer.post_form(client, "/sms", PARAMS, forged=True).status_code == 403
    assert client.post("/sms", data={"Body": "hi"}).status_code == 403
    assert calls == ["sms"]


def test_decorator_options_and_config_keys() -> None:
    """TWILIOSIG_* config keys configure the decorator; keyword options override them."""
    app = Flask(__name__)
    app.config.update(TWILIOSIG_AUTH_TOKEN=TOKEN, TWILIOSIG_PUBLIC_URL="https://hooks.example.com")

    @app.post("/sms")
    @twilio_required
    def sms() -> str:
        return "ok"

    @app.post("/voice")
    @twilio_required(public_url="https://voice.example.com")
    def voice() -> str:
        return "ok"

    client = app.test_client()
    target, body, headers = signer.form_request("https://hooks.example.com", "/sms", PARAMS)
    assert client.post(target, data=body, headers=headers).status_code == 200
    target, body, headers = signer.form_request("https://voice.example.com", "/voice", PARAMS)
    assert client.post(target, data=body, headers=headers).status_code == 200


def test_async_view() -> None:
    """An async Flask view behind the decorator runs through Flask's ensure_sync."""
    pytest.importorskip("asgiref")
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN

    @app.post("/sms")
    @twilio_required
    async def sms() -> str:
        return "ok"

    assert signer.post_form(app.test_client(), "/sms", PARAMS).status_code == 200


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    hooks = Blueprint("twilio", __name__, url_prefix="/twilio")
    nested = Blueprint("media", __name__, url_prefix="/media")

    @hooks.post("/sms")
    def sms() -> dict[str, object]:
        return seen()

    @nested.post("/status")
    def status() -> str:
        return "ok"

    hooks.register_blueprint(nested)
    app.register_blueprint(hooks)

    @app.post("/voice")
    def voice() -> str:
        return "ok"

    @app.post("/open")
    def open_route() -> str:
        return "ok"

    return app


def test_extension_protects_blueprints_and_endpoints() -> None:
    """Views of listed blueprints (nested too) and endpoints must be signed; others are untouched."""
    app = create_app()
    TwilioSignature(app, blueprints=["twilio"], endpoints=["voice"])
    client = app.test_client()
    for path in ("/twilio/sms", "/twilio/media/status", "/voice"):
        assert signer.post_form(client, path, PARAMS).status_code == 200, path
        assert signer.post_form(client, path, PARAMS, forged=True).status_code == 403, path
    assert client.post("/open", data={"a": "1"}).status_code == 200
    assert signer.post_form(client, "/twilio/sms", PARAMS).json["reason"] == "valid"


def test_extension_with_an_app_factory_and_paths() -> None:
    """init_app reads the config then; without blueprints or endpoints the paths option decides."""
    twilio = TwilioSignature(paths=["/twilio/"])
    app = create_app()
    twilio.init_app(app)
    client = app.test_client()
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 200
    assert client.post("/twilio/sms", data={"a": "1"}).status_code == 403
    assert client.post("/voice", data={"a": "1"}).status_code == 200


def test_missing_token_fails_at_init_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token anywhere: init_app raises, at start-up."""
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        TwilioSignature(Flask(__name__))


def test_replay_guard_in_the_decorator_and_the_extension() -> None:
    """A replayed webhook is refused with 409 by the decorator and the extension; a 5xx releases the key."""
    from twiliosig.replay import MemoryReplayStore

    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN

    @app.post("/sms")
    @twilio_required(replay_guard=MemoryReplayStore())
    def sms() -> str:
        return "ok"

    client = app.test_client()
    assert signer.post_form(client, "/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/sms", PARAMS).status_code == 409

    factory = create_app()

    @factory.post("/twilio/boom")
    def boom() -> tuple[str, int]:
        return "down", 503

    TwilioSignature(factory, paths=["/twilio/"], replay_guard=MemoryReplayStore())
    client = factory.test_client()
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 200
    assert signer.post_form(client, "/twilio/sms", PARAMS).status_code == 409
    assert signer.post_form(client, "/twilio/boom", PARAMS).status_code == 503
    assert signer.post_form(client, "/twilio/boom", PARAMS).status_code == 503  # released: the retry ran


def test_an_unknown_config_key_is_an_error_that_names_the_right_one() -> None:
    """TWILIOSIG_REPORT_MODE (meant: TWILIOSIG_REPORT_ONLY) fails when the extension is set up, never ignored."""
    app = Flask(__name__)
    app.config.update(TWILIOSIG_AUTH_TOKEN=TOKEN, TWILIOSIG_REPORT_MODE=True)
    with pytest.raises(TypeError, match="did you mean 'TWILIOSIG_REPORT_ONLY'"):
        TwilioSignature(app)


def test_a_form_read_before_the_check_is_still_the_form_that_is_checked() -> None:
    """A decorator above @twilio_required that reads request.form spends the stream: its pairs are checked.

    Otherwise a signature over the URL alone (a captured GET callback) would carry any
    form body the attacker likes past the check.
    """
    import functools

    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN

    def audit(view):  # type: ignore[no-untyped-def]
        @functools.wraps(view)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            request.form.get("x")
            return view(*args, **kwargs)

        return wrapper

    @app.route("/twilio/status", methods=["GET", "POST"])
    @audit
    @twilio_required
    def status() -> str:
        return str(request.form.to_dict())

    client = app.test_client()
    target = "/twilio/status?MessageSid=SM1&MessageStatus=delivered"
    url_only = signer.headers("http://localhost" + target)["X-Twilio-Signature"]
    forged = client.post(target, data={"From": "+15551234567"}, headers={"X-Twilio-Signature": url_only})
    assert forged.status_code == 403
    genuine = signer.post_form(client, "/twilio/status", PARAMS)
    assert genuine.status_code == 200


def test_a_body_spent_before_the_check_is_refused_not_taken_for_no_body() -> None:
    """A hook that read request.stream leaves nothing to check: 400, never "a request without parameters"."""
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN

    @app.before_request
    def spend() -> None:
        request.stream.read()

    @app.post("/twilio/status")
    @twilio_required
    def status() -> str:
        return "ok"

    target = "/twilio/status?MessageSid=SM1"
    url_only = signer.headers("http://localhost" + target)["X-Twilio-Signature"]
    response = app.test_client().post(target, data={"From": "+15551234567"}, headers={"X-Twilio-Signature": url_only})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({"blueprints": ["twillio"]}, "no blueprint named 'twillio'.*did you mean 'twilio'"),
        ({"endpoints": ["sms"]}, "no endpoint named 'sms'.*did you mean 'twilio.sms'"),
    ],
)
def test_an_unknown_blueprint_or_endpoint_is_an_error_not_an_open_door(
    names: dict[str, list[str]], message: str
) -> None:
    """A misspelt name would protect nothing: the first request fails loudly instead of being served unchecked."""
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    blueprint = Blueprint("twilio", __name__)
    blueprint.add_url_rule("/twilio/sms", "sms", lambda: "ok", methods=["POST"])
    app.register_blueprint(blueprint)
    TwilioSignature(app, **names)
    app.testing = True
    with pytest.raises(ValueError, match=message):
        app.test_client().post("/twilio/sms", data={"Body": "unsigned"})


# --- a blueprint registered more than once ------------------------------------------------


def twice_registered_app(*, extension_first: bool, **names: list[str]) -> tuple[Flask, TwilioSignature]:
    """One blueprint (with one nested in it) registered twice, the second time under another name and prefix."""
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    twilio = TwilioSignature(**names)
    if extension_first:
        twilio.init_app(app)
    hooks = Blueprint("twilio", __name__)
    nested = Blueprint("media", __name__, url_prefix="/media")
    hooks.add_url_rule("/sms", "sms", lambda: "ok", methods=["POST"])
    nested.add_url_rule("/status", "status", lambda: "ok", methods=["POST"])
    hooks.register_blueprint(nested)
    app.register_blueprint(hooks, url_prefix="/twilio")
    app.register_blueprint(hooks, url_prefix="/v2/twilio", name="twilio_v2")
    other = Blueprint("other", __name__, url_prefix="/other")
    other.add_url_rule("/sms", "sms", lambda: "ok", methods=["POST"])
    app.register_blueprint(other)
    if not extension_first:
        twilio.init_app(app)
    return app, twilio


EVERY_REGISTRATION = ["/twilio/sms", "/twilio/media/status", "/v2/twilio/sms", "/v2/twilio/media/status"]


@pytest.mark.parametrize("extension_first", [True, False], ids=["extension-first", "blueprints-first"])
@pytest.mark.parametrize(
    "names",
    [
        {"blueprints": ["twilio"]},
        {"blueprints": ["twilio_v2"]},
        {"endpoints": ["twilio.sms", "twilio.media.status"]},
    ],
    ids=["first-name", "second-name", "endpoints"],
)
def test_every_registration_of_a_listed_blueprint_is_protected(
    extension_first: bool, names: dict[str, list[str]]
) -> None:
    """A blueprint registered a second time (url_prefix, name="twilio_v2") is as protected as the first, nested too."""
    app, _ = twice_registered_app(extension_first=extension_first, **names)
    client = app.test_client()
    for path in EVERY_REGISTRATION:
        assert client.post(path, data={"Body": "unsigned"}).status_code == 403, path
        assert signer.post_form(client, path, PARAMS, forged=True).status_code == 403, path
        assert signer.post_form(client, path, PARAMS).status_code == 200, path
    assert client.post("/other/sms", data={"Body": "unsigned"}).status_code == 200


def test_a_nested_blueprint_listed_by_name_is_protected_in_every_registration_of_its_parent() -> None:
    """blueprints=["twilio.media"] protects that nested blueprint under twilio_v2 too, not its parent's own views."""
    app, _ = twice_registered_app(extension_first=False, blueprints=["twilio.media"])
    client = app.test_client()
    for path in ("/twilio/media/status", "/v2/twilio/media/status"):
        assert client.post(path, data={"Body": "unsigned"}).status_code == 403, path
        assert signer.post_form(client, path, PARAMS).status_code == 200, path
    for path in ("/twilio/sms", "/v2/twilio/sms"):
        assert client.post(path, data={"Body": "unsigned"}).status_code == 200, path


def test_one_extension_on_two_apps_resolves_each_apps_own_blueprints() -> None:
    """init_app on two apps: each app's names are checked and resolved against that app, not the first one served."""
    first, twilio = twice_registered_app(extension_first=False, blueprints=["twilio_v2"])
    second = Flask(__name__)
    second.config["TWILIO_AUTH_TOKEN"] = TOKEN
    twilio.init_app(second)
    assert first.test_client().post("/v2/twilio/sms", data={"Body": "unsigned"}).status_code == 403
    second.testing = True
    with pytest.raises(ValueError, match="no blueprint named 'twilio_v2'"):
        second.test_client().post("/anything", data={"Body": "unsigned"})


def test_a_name_registered_only_after_the_extension_is_checked_at_the_first_request() -> None:
    """A name given before its blueprint is registered is fine; one never registered still stops the first request."""
    app = Flask(__name__)
    app.config["TWILIO_AUTH_TOKEN"] = TOKEN
    TwilioSignature(app, blueprints=["twilio", "twilio_v3"])
    hooks = Blueprint("twilio", __name__)
    hooks.add_url_rule("/sms", "sms", lambda: "ok", methods=["POST"])
    app.register_blueprint(hooks, url_prefix="/twilio")
    app.testing = True
    for _ in range(2):  # every request, not only the first: never served unchecked
        with pytest.raises(ValueError, match="no blueprint named 'twilio_v3'"):
            app.test_client().post("/twilio/sms", data={"Body": "unsigned"})


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"report_mode": True}, TypeError),  # a typo of report_only
        ({"report_only": "false"}, TypeError),
        ({"digest_auth": {"twilio": ""}}, ValueError),
        ({"max_body_size": 0}, ValueError),
    ],
    ids=["typo", "str-for-bool", "empty-digest-password", "zero-limit"],
)
def test_twilio_required_refuses_a_wrong_option_when_it_decorates(options: dict[str, object], error: type) -> None:
    """No app yet, but the options given to the decorator are checked at import, both ways of writing it."""
    from twiliosig.contrib.flask import twilio_required

    def view() -> str:
        return "ok"

    with pytest.raises(error):
        twilio_required(**options)(view)  # type: ignore[call-overload]
    with pytest.raises(error):
        twilio_required(view, **options)  # type: ignore[call-overload]
