"""The apps tests/e2e/test_diagnosis_servers.py serves: one WSGI, one ASGI, each behind twiliosig's
middleware with the default options (no forwarding header trusted), logging to the file named by
``DIAGNOSIS_LOG`` as an operator's logging set-up would.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from twiliosig.asgi import TwilioSignatureMiddleware as AsgiMiddleware
from twiliosig.wsgi import TwilioSignatureMiddleware as WsgiMiddleware

TOKEN = "diagnosis-e2e-token-0123456789abcd"

if "DIAGNOSIS_LOG" in os.environ:  # in the server; the test imports only TOKEN
    logging.basicConfig(
        filename=os.environ["DIAGNOSIS_LOG"], level=logging.INFO, format="%(levelname)s %(name)s %(message)s"
    )


def _hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def _ahello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


wsgi = WsgiMiddleware(_hello, auth_token=TOKEN)
asgi = AsgiMiddleware(_ahello, auth_token=TOKEN)
