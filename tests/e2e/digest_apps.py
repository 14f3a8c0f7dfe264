"""The apps the Digest end-to-end tests serve: one WSGI (gunicorn) and one ASGI (uvicorn).

``/sha256/...`` is guarded with a SHA-256 HA1 only and ``/md5/...`` with an MD5 one
(so only that challenge is sent, and a client must use that algorithm); every other
path with the password itself (SHA-256 and MD5 challenges). Each answer
says which worker process served it and which Digest algorithm the client used.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from twiliosig import DigestAuth, DigestHA1
from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "digest-e2e-token-0123456789abcdef"
USER, PASSWORD = "twilio", "call-me-maybe 42"
#: Long enough for a test, short enough that a test can wait it out if it must.
LIFETIME = float(os.environ.get("DIGEST_LIFETIME", "300"))
BOTH = DigestAuth({USER: PASSWORD}, nonce_lifetime=LIFETIME)
SHA256_ONLY = DigestAuth({USER: DigestHA1(sha256=DigestHA1.of(USER, PASSWORD).sha256)}, nonce_lifetime=LIFETIME)
MD5_ONLY = DigestAuth({USER: DigestHA1(md5=DigestHA1.of(USER, PASSWORD).md5)}, nonce_lifetime=LIFETIME)


def _seen(authorization: str) -> bytes:
    found = re.search(r'algorithm="?([\w-]+)', authorization)
    algorithm = found[1] if found else ("MD5" if authorization else None)
    return json.dumps({"pid": os.getpid(), "algorithm": algorithm}).encode()


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    if environ.get("PATH_INFO", "").endswith("/slow"):
        time.sleep(0.3)  # holds this worker, so that a request sent meanwhile lands on the other one
    body = _seen(environ.get("HTTP_AUTHORIZATION", ""))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


_wsgi_both = WsgiMiddleware(_wsgi_app, auth_token=TOKEN, digest_auth=BOTH)
_wsgi = {
    "sha256": WsgiMiddleware(_wsgi_app, auth_token=TOKEN, digest_auth=SHA256_ONLY),
    "md5": WsgiMiddleware(_wsgi_app, auth_token=TOKEN, digest_auth=MD5_ONLY),
}


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    chosen = _wsgi.get(environ.get("PATH_INFO", "").split("/")[1], _wsgi_both)
    return chosen(environ, start_response)


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    headers = dict(scope["headers"])
    body = _seen(headers.get(b"authorization", b"").decode("latin-1"))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


_asgi_both = AsgiMiddleware(_asgi_app, auth_token=TOKEN, digest_auth=BOTH)
_asgi = {
    "sha256": AsgiMiddleware(_asgi_app, auth_token=TOKEN, digest_auth=SHA256_ONLY),
    "md5": AsgiMiddleware(_asgi_app, auth_token=TOKEN, digest_auth=MD5_ONLY),
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    chosen = _asgi.get(scope.get("path", "").split("/")[1], _asgi_both)
    await chosen(scope, receive, send)
