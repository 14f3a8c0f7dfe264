"""``@twilio_required`` keeps one guard per app: never another app's, even one gone at the same address.

The decorator builds each app's guard from that app's config on its first request.
It kept them by ``id(app)``; once an app is garbage-collected, CPython hands its
address to the next object of its size, often the next app an app factory builds:
that app then ran with the dead app's guard (its token, its ``public_url``, its
``enabled=False``). A test suite that builds a disabled app, then an enabled one,
saw the enabled one serve unsigned requests.
"""

from __future__ import annotations

import gc

import pytest
from flask import Flask

from twiliosig.contrib.flask import twilio_required

TOKEN = "decorator-apps-token-0123456789ab"


@twilio_required
def view() -> str:
    return "ran"


def build(*, enabled: bool) -> Flask:
    app = Flask(__name__)
    app.config.update(TWILIO_AUTH_TOKEN=TOKEN, TWILIOSIG_ENABLED=enabled)
    app.add_url_rule("/twilio/sms", "sms", view, methods=["POST"])
    return app


@pytest.mark.filterwarnings("ignore")
def test_an_app_at_a_dead_apps_address_gets_its_own_guard(caplog: pytest.LogCaptureFixture) -> None:
    """Disabled and enabled apps built in turn: every enabled app refuses an unsigned request."""
    disabled_at: set[int] = set()
    reused = served = 0
    for _ in range(60):
        if reused >= 3:
            break
        app = build(enabled=False)
        app.test_client().post("/twilio/sms", data={"Body": "hi"})
        disabled_at.add(id(app))
        del app
        gc.collect()
        app = build(enabled=True)
        status = app.test_client().post("/twilio/sms", data={"Body": "hi"}).status_code
        if id(app) in disabled_at:
            reused += 1
            served += status == 200
        assert status == 403, "an enabled app let an unsigned request through"
        del app
        gc.collect()
    if not reused:
        pytest.skip("no app was built at a dead app's address in this run")
    assert not served
