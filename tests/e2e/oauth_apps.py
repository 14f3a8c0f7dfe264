"""The apps tests/e2e/test_oauth_server.py serves: a webhook behind Twilio's signature and a bearer token.

``wsgi`` (gunicorn) and ``asgi`` (uvicorn) are the two middlewares around a bare app,
each with a verifier of :mod:`twiliosig.oauth` built from the environment:
``OAUTH_ISSUER`` (the oidc-provider the test started), ``OAUTH_MODE`` (``jwt`` or
``introspection``) and ``OAUTH_SECRET`` (the app's own client secret, for introspection).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tests.oauth_support import AUDIENCE, CLIENT_ID
from twiliosig import asgi, wsgi
from twiliosig.oauth import IntrospectionVerifier, JWTVerifier


def verifier() -> JWTVerifier | IntrospectionVerifier:
    issuer = os.environ["OAUTH_ISSUER"]
    if os.environ.get("OAUTH_MODE") == "introspection":
        return IntrospectionVerifier(
            issuer=issuer,
            audience=AUDIENCE,
            client_id=CLIENT_ID,
            introspection_client_id="resource-server",
            introspection_client_secret=os.environ["OAUTH_SECRET"],
        )
    # leeway 0: a token the server made to live 2 seconds is seen expiring; refresh_interval 1: the
    # rotation and the outage are seen within a test, where production waits a minute.
    return JWTVerifier(
        issuer=issuer, audience=AUDIENCE, client_id=CLIENT_ID, scope="webhooks", leeway=0, refresh_interval=1
    )


def _plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


async def _aplain(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


wsgi_app = wsgi.TwilioSignatureMiddleware(_plain, oauth=verifier())
asgi_app = asgi.TwilioSignatureMiddleware(_aplain, oauth=verifier())
