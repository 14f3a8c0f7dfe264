"""Flask: a protected blueprint registered a second time, under another name and prefix.

``app.register_blueprint(bp, url_prefix="/v2/twilio", name="twilio_v2")`` serves
the very views of the ``twilio`` blueprint again; the extension, told
``blueprints=["twilio"]``, must protect that registration too.
"""

from __future__ import annotations

import pytest

from tests.attacks.harness import SMS, Server


@pytest.mark.parametrize("adapter", ["flask-extension-blueprint"])
def test_second_registration_of_a_protected_blueprint_is_protected(server: Server) -> None:
    """The attacker posts an unsigned (or forged) webhook to the blueprint's second registration at /v2/twilio."""
    with server.unreached():
        assert server.post_form("/v2/twilio/sms", SMS, signature=None).status == 403
        assert server.post_form("/v2/twilio/sms", SMS, signature="forged").status == 403
    genuine = server.post_form("/v2/twilio/sms", SMS)
    assert genuine.status == 200, genuine
    assert server.last_call()["path"] == "/v2/twilio/sms"


@pytest.mark.parametrize("adapter", ["flask-extension-blueprint"])
def test_nested_blueprint_registered_alone_is_protected(server: Server) -> None:
    """The attacker posts to a blueprint nested in the protected one, where the app registered it again alone."""
    with server.unreached():
        assert server.post_form("/alone/sms", SMS, signature=None).status == 403
        assert server.post_form("/alone/sms", SMS, signature="forged").status == 403
        assert server.post_form("/twilio/nested/sms", SMS, signature=None).status == 403
    genuine = server.post_form("/alone/sms", SMS)
    assert genuine.status == 200, genuine
    assert server.last_call()["path"] == "/alone/sms"
