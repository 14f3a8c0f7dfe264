"""HTTP Digest with real clients through real servers on loopback.

curl ``--digest``, requests' ``HTTPDigestAuth`` and httpx's ``DigestAuth`` (MD5 and
SHA-256) each send a request with a valid ``X-Twilio-Signature`` through gunicorn
(the WSGI middleware) and uvicorn (the ASGI one): each first gets the 401 and its
challenges, then is accepted; a wrong password is refused. Then Twilio's own flow,
scripted, on two gunicorn worker processes: the first request of a call without
credentials (401), the same with them (200), then later requests of the call reusing
the nonce with a growing ``nc``, served by both workers.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from requests.auth import HTTPDigestAuth

from tests.e2e import servers
from tests.e2e.digest_apps import PASSWORD, TOKEN, USER
from tests.oracle import twilio_signature

PAIRS = [("CallSid", "CA0123456789abcdef0123456789abcdef"), ("CallStatus", "ringing")]
BODY = "CallSid=CA0123456789abcdef0123456789abcdef&CallStatus=ringing"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _env() -> dict[str, str]:
    src = os.environ.get("ATTACK_SRC") or str(servers.ROOT / "src")
    return {"PYTHONPATH": os.pathsep.join([src, str(servers.ROOT)])}


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def origin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = servers.free_port()
    log = tmp_path_factory.mktemp("digest") / "server.log"
    if request.param == "gunicorn":
        server = servers.gunicorn("tests.e2e.digest_apps:application", port, _env(), log_path=log)
    else:
        server = servers.uvicorn("tests.e2e.digest_apps:app", port, _env(), log_path=log)
    with server:
        yield f"http://127.0.0.1:{port}"


def signed(url: str) -> dict[str, str]:
    return {**FORM, "X-Twilio-Signature": twilio_signature(TOKEN, url, PAIRS)}


@pytest.mark.parametrize(
    "path", ["/twilio/voice?Step=1", "/sha256/voice?Step=1", "/md5/voice?Step=1", "/twilio/a%20b?From=%2B1555&x=a+b"]
)
def test_curl_digest(origin: str, path: str) -> None:
    """curl --digest: the 401, then the credentials for the challenge it chose; a wrong password stays 401.

    The ``uri`` curl hashes is the target as sent, escapes and all: the guard compares it as received.
    """
    url = f"{origin}{path}"

    def curl(password: str) -> tuple[str, str]:
        headers = [arg for name, value in signed(url).items() for arg in ("-H", f"{name}: {value}")]
        done = subprocess.run(
            ["curl", "-sS", "--digest", "-u", f"{USER}:{password}", *headers, "-d", BODY, "-w", "\n%{http_code}", url],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        body, _, status = done.stdout.rpartition("\n")
        return status, body

    status, body = curl(PASSWORD)
    assert status == "200", body
    # curl answers the first challenge it supports: SHA-256 when both are offered.
    expected = {"/md5/": "MD5"}.get(path[: path.find("/", 1) + 1], "SHA-256")
    assert json.loads(body)["algorithm"] == expected
    assert curl("wrong")[0] == "401"


@pytest.mark.parametrize(("path", "algorithm"), [("/twilio/voice", "MD5"), ("/sha256/voice", "SHA-256")])
def test_requests_digest(origin: str, path: str, algorithm: str) -> None:
    """requests reads the last of several challenges (MD5 here); with only SHA-256 offered, SHA-256."""
    url = f"{origin}{path}"
    accepted = requests.post(url, data=BODY, headers=signed(url), auth=HTTPDigestAuth(USER, PASSWORD), timeout=10)
    assert accepted.status_code == 200, accepted.text
    assert accepted.history[0].status_code == 401  # it answered the challenge, as Twilio does
    assert accepted.json()["algorithm"] == algorithm
    refused = requests.post(url, data=BODY, headers=signed(url), auth=HTTPDigestAuth(USER, "nope"), timeout=10)
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("path", "algorithm"), [("/twilio/voice", "SHA-256"), ("/sha256/voice", "SHA-256"), ("/md5/voice", "MD5")]
)
def test_httpx_digest(origin: str, path: str, algorithm: str) -> None:
    """httpx answers the first challenge (SHA-256); with only MD5 offered, MD5."""
    url = f"{origin}{path}"
    with httpx.Client(timeout=10) as client:
        accepted = client.post(url, content=BODY, headers=signed(url), auth=httpx.DigestAuth(USER, PASSWORD))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["algorithm"] == algorithm
        assert client.post(url, content=BODY, headers=signed(url), auth=httpx.DigestAuth(USER, "x")).status_code == 401
        unsigned = client.post(url, content=BODY, headers=FORM, auth=httpx.DigestAuth(USER, PASSWORD))
        assert unsigned.status_code == 403  # authenticated, but the signature is still required


# --- Twilio's flow, on two worker processes ---------------------------------------------------------------------


def send(port: int, method: str, target: str, headers: dict[str, str], body: str) -> tuple[int, Any, list[str]]:
    """One request on its own connection (Twilio's requests of a call need not share one)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target, body=body.encode(), headers=headers)
        response = connection.getresponse()
        data = response.read()
        challenges = response.headers.get_all("WWW-Authenticate") or []
        return response.status, json.loads(data) if response.status == 200 else data, challenges
    finally:
        connection.close()


def test_twilio_flow_on_two_workers(tmp_path: Path) -> None:
    """401 without credentials; the same request with them; the call's later requests reuse the nonce on any worker."""
    port = servers.free_port()
    argv = [str(servers.BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"]
    with servers.running([*argv, "tests.e2e.digest_apps:application"], port, _env(), log_path=tmp_path / "log"):
        origin = f"http://127.0.0.1:{port}"
        first_target = "/twilio/voice"
        status, _, challenges = send(port, "POST", first_target, signed(origin + first_target), BODY)
        assert status == 401
        assert [c.split(",")[2].strip() for c in challenges] == ["algorithm=SHA-256", "algorithm=MD5"]
        # Twilio's client: one nonce for the call, nc counting up (requests' implementation counts it).
        client = HTTPDigestAuth(USER, PASSWORD)
        client.init_per_thread_state()
        client._thread_local.chal = requests.utils.parse_dict_header(challenges[0].partition(" ")[2])

        def authorization(target: str) -> dict[str, str]:
            header = client.build_digest_header("POST", origin + target)
            assert header is not None
            return {**signed(origin + target), "Authorization": header}

        status, seen, _ = send(port, "POST", first_target, authorization(first_target), BODY)
        assert status == 200, seen
        assert seen["algorithm"] == "SHA-256"
        pids = {seen["pid"]}
        counts = []
        for round_number in range(10):
            # Two of the call's callbacks at once: each holds a worker, so each worker serves one.
            targets = [f"/twilio/status/{round_number}/slow", f"/twilio/gather/{round_number}/slow"]
            prepared = [(target, authorization(target)) for target in targets]
            counts.extend(headers["Authorization"].split("nc=")[1][:8] for _, headers in prepared)
            answers: list[tuple[int, Any, list[str]]] = []

            def deliver(target: str, headers: dict[str, str], into: list[Any] = answers) -> None:
                into.append(send(port, "POST", target, headers, BODY))

            threads = [threading.Thread(target=deliver, args=pair) for pair in prepared]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert [answer[0] for answer in answers] == [200, 200], answers
            pids |= {answer[1]["pid"] for answer in answers}
            if len(pids) == 2 and round_number >= 2:
                break
        assert len(pids) == 2, "every request landed on one worker"
        assert counts == [f"{number:08x}" for number in range(2, 2 + len(counts))]
        # A wrong password on the same nonce is refused on either worker.
        wrong = HTTPDigestAuth(USER, "wrong")
        wrong.init_per_thread_state()
        wrong._thread_local.chal = client._thread_local.chal
        header = wrong.build_digest_header("POST", origin + first_target)
        assert header is not None
        refused = send(port, "POST", first_target, {**signed(origin + first_target), "Authorization": header}, BODY)
        assert refused[0] == 401
