"""Through a real server: a webhook Twilio signed for the public URL, behind a proxy whose headers
the app does not trust, is refused, and the server's log file names the header and the option.

gunicorn serves the WSGI middleware and uvicorn the ASGI one, each with the default options; the
test plays the proxy (it sends X-Forwarded-Proto and X-Forwarded-Host) and Twilio (it signs for
https://public.example.com/...). A forged signature with the same headers gets no finding.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.e2e import servers
from tests.e2e.diagnosis_apps import TOKEN
from twiliosig import compute_signature

PAIRS = [("From", "+15005550006"), ("Body", "hi")]
PUBLIC = "https://public.example.com/twilio/sms"
PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"}
# gunicorn (forwarded_allow_ips) and uvicorn (--proxy-headers) already believe X-Forwarded-Proto
# from 127.0.0.1, so the app sees https: what it lacks is the host, and the fix names only that.
FIX = 'trust_forwarded={"x_host": 1}'


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp(request.param)
    log = folder / "app.log"
    port = servers.free_port()
    src = os.environ.get("ATTACK_SRC") or str(servers.ROOT / "src")
    env = {"DIAGNOSIS_LOG": str(log), "PYTHONPATH": os.pathsep.join([src, str(servers.ROOT)])}
    if request.param == "gunicorn":
        start = servers.gunicorn("tests.e2e.diagnosis_apps:wsgi", port, env, log_path=folder / "server.out")
    else:
        start = servers.uvicorn("tests.e2e.diagnosis_apps:asgi", port, env, log_path=folder / "server.out")
    with start:
        yield port, log


def post(port: int, signature: str) -> int:
    body = urlencode(PAIRS).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body)),
            "X-Twilio-Signature": signature,
            **PROXY,
        }
        connection.request("POST", "/twilio/sms", body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def lines(log: Path, count: int) -> list[str]:
    """The log's lines, once it holds at least ``count`` of them (the server writes them as it answers)."""
    deadline = time.monotonic() + 5
    while True:
        found = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_the_log_file_names_the_untrusted_headers_and_the_option(served: tuple[int, Path]) -> None:
    port, log = served
    before = len(lines(log, 0))
    assert post(port, "A" * 27 + "=") == 403  # a forgery first: refused, nothing found
    assert post(port, compute_signature(TOKEN, PUBLIC, PAIRS)) == 403  # Twilio's: refused all the same
    forged, genuine = [line for line in lines(log, before + 2)[before:] if "twiliosig" in line]
    assert forged.startswith("WARNING twiliosig twiliosig refused POST /twilio/sms: signature_mismatch")
    assert "Twilio signed it" not in forged
    assert "Fix" not in forged
    assert genuine.startswith("ERROR twiliosig twiliosig refused POST /twilio/sms: signature_mismatch")
    assert f"Twilio signed it, for {PUBLIC}" in genuine
    assert "the app does not trust the proxy's X-Forwarded-Host" in genuine
    assert genuine.endswith(f"Fix: {FIX}")
