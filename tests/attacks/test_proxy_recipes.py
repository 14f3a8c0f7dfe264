"""Each ``trust_forwarded`` recipe of docs/proxies.md, played as deployed: proxies in front of a real server.

A :class:`Proxy` rewrites a request as one proxy does: for each header it writes,
it *appends* its value to what it received (nginx's ``$proxy_add_x_forwarded_for``
style), *adds a line* of its own (HAProxy's ``add-header``; the server joins the
lines with commas), or *overwrites* it (``proxy_set_header``); every header it does
not write passes through as the client sent it. A request goes through the chain,
outermost proxy first, and reaches the app exactly as the last proxy leaves it.

Each recipe is sent Twilio's genuine webhook (accepted) and the attack the option
exists to stop: a client that writes its own forwarding headers, carrying a
webhook Twilio really signed for *another* app on the same auth token (another
host, another prefix) or for the ``http://`` form of this one. The forged value
must never be believed. The first proxy of a chain often writes only some of the
headers, which is where a single count for every header went wrong: a CDN that
passes ``X-Forwarded-Host`` through leaves the client's value second from the
right, where ``trust_forwarded=2`` read it.

API Gateway (the Lambda adapters) is a proxy of its own that no recipe describes,
so the chains run on the adapters a proxy of yours fronts (``HOSTED``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.harness import HOSTED, SMS, Pool, Server, sign
from tests.attacks.profiles import PROXY_RECIPES, TOKEN
from tests.attacks.test_fail_open_config import (
    BUILDERS,
    EAGER,
    LAZY,
    _expected,
    _forget_decorator_options,  # noqa: F401  (autouse: forget bad options)
)

PUBLIC = "hooks.example.com"  # what Twilio calls for this app
OTHER = "other-app.example"  # another app on the same auth token: Twilio signs webhooks for it too
APP = "app.internal:8000"  # the Host the last proxy sends to the app
DOCS = Path(__file__).resolve().parents[2] / "docs" / "proxies.md"

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Proxy:
    """One proxy: the headers it writes, how (``append``, ``add-line``, ``overwrite``), and the value.

    A value of ``$host`` is the Host the proxy received; ``strip`` is a path prefix it
    removes before forwarding (and ``host`` the Host it sends on, when it changes it).
    """

    name: str
    writes: dict[str, tuple[str, str]]
    host: str | None = None
    strip: str = ""

    def forward(self, path: str, headers: Headers) -> tuple[str, Headers]:
        received_host = next((value for name, value in headers if name.lower() == "host"), "")
        out = list(headers)
        for header, (how, template) in self.writes.items():
            value = template.replace("$host", received_host)
            existing = [old for name, old in out if name.lower() == header.lower()]
            others = [(name, old) for name, old in out if name.lower() != header.lower()]
            if how == "overwrite":
                out = [*others, (header, value)]
            elif how == "append":
                out = [*others, (header, ", ".join([*existing, value]))]
            elif how == "add-line":
                out = [*out, (header, value)]
            else:
                raise ValueError(how)
        if self.host is not None:
            out = [(name, value) for name, value in out if name.lower() != "host"] + [("Host", self.host)]
        if self.strip:
            assert path.startswith(self.strip + "/"), (path, self.strip)
            path = path[len(self.strip) :]
        return path, out


@dataclass(frozen=True)
class Deployment:
    """A chain of proxies, outermost first, and the path Twilio calls through it."""

    proxies: tuple[Proxy, ...]
    public_path: str = "/twilio/sms"

    def through(self, client_headers: Headers) -> tuple[str, Headers]:
        path, headers = self.public_path, [("Host", PUBLIC), *client_headers]
        for proxy in self.proxies:
            path, headers = proxy.forward(path, headers)
        return path, headers


def send(
    server: Server, deployment: Deployment, signed_url: str, client_headers: Sequence[tuple[str, str]] = ()
) -> int:
    """A webhook signed over ``signed_url``, sent by a client with these headers through the chain; its status."""
    path, headers = deployment.through(list(client_headers))
    before = server.count()
    status = server.post_form(path, SMS, signature=sign(signed_url, SMS), headers=headers).status
    assert server.count() == before + (status == 200), "a refused request reached the app"
    return status


#: The recipe profile whose servers run now: one recipe's (8 processes) at a time on a small machine.
_RUNNING: list[str] = []


def serve(pool: Pool, adapter: str, profile: str) -> Server:
    """The adapter's server for ``profile``: its servers booted together, the previous recipe's stopped first."""
    if profile not in _RUNNING:
        for running in _RUNNING:
            pool.stop(running)
        _RUNNING[:] = [profile]
        pool.prestart(HOSTED, profile)
    return pool.server(adapter, profile)


@pytest.fixture(scope="module", autouse=True)
def _stop_recipes(pool: Pool) -> Iterator[None]:
    yield
    for running in _RUNNING:
        pool.stop(running)
    _RUNNING.clear()


#: What an attacker adds to every request: a host, a scheme, a prefix and a Forwarded of its choosing.
FORGED: Headers = [
    ("X-Forwarded-Host", OTHER),
    ("X-Forwarded-Proto", "http"),
    ("X-Forwarded-Prefix", "/other"),
    ("Forwarded", f"for=192.0.2.66;host={OTHER};proto=http"),
]
#: The URLs of webhooks Twilio really signed that the attacker holds, none of them this app's.
STOLEN = {
    "other-host": f"https://{OTHER}/twilio/sms",
    "http-scheme": f"http://{PUBLIC}/twilio/sms",
    "other-host-http": f"http://{OTHER}/twilio/sms",
}
HOW = ["append", "add-line", "overwrite"]


def proto(how: str) -> str:
    """How a proxy writing headers ``how`` writes X-Forwarded-Proto: never as a second line.

    gunicorn refuses (400) a request from a loopback peer whose X-Forwarded-Proto
    lines disagree ("Contradictory scheme headers"), before the app runs: a
    refusal of its own that would hide ours, so the line-adding proxy here adds
    lines for the other headers only.
    """
    return "append" if how == "add-line" else how


def joined(headers: Headers, name: str) -> str:
    """A header as the app reads it: its lines joined with commas."""
    return ", ".join(value for key, value in headers if key.lower() == name.lower())


def check_recipe(server: Server, deployment: Deployment, genuine: str, stolen: dict[str, str]) -> None:
    """Twilio's webhook is accepted, also with the forgeries riding along; every stolen signature is refused."""
    assert send(server, deployment, genuine) == 200, "Twilio's own webhook was refused"
    assert send(server, deployment, genuine, FORGED) == 200, "the forged headers were refused, not ignored"
    for name, url in stolen.items():
        assert send(server, deployment, url, FORGED) == 403, f"{name}: the client's forwarding header was believed"


# --- one proxy that writes X-Forwarded-Proto and X-Forwarded-Host: trust_forwarded=True --------------------------


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("adapter", HOSTED)
def test_recipe_one_proxy_writing_proto_and_host(pool: Pool, adapter: str, how: str) -> None:
    """nginx (or Caddy, Traefik) writes both headers; the client's own are left of its values or replaced."""
    nginx = Proxy("nginx", {"X-Forwarded-Proto": (proto(how), "https"), "X-Forwarded-Host": (how, "$host")}, host=APP)
    check_recipe(serve(pool, adapter, "proxy-true"), Deployment((nginx,)), f"https://{PUBLIC}/twilio/sms", STOLEN)


# --- a platform router that writes X-Forwarded-Proto only: {"x_proto": 1} -----------------------------------------


@pytest.mark.parametrize("adapter", HOSTED)
def test_recipe_platform_router_writing_proto_only(pool: Pool, adapter: str) -> None:
    """The router writes X-Forwarded-Proto and -Port, passes X-Forwarded-Host and Host through (routing on Host)."""
    router = Proxy("router", {"X-Forwarded-Proto": ("overwrite", "https"), "X-Forwarded-Port": ("overwrite", "443")})
    check_recipe(
        serve(pool, adapter, "proxy-proto-only"), Deployment((router,)), f"https://{PUBLIC}/twilio/sms", STOLEN
    )


# --- a CDN, then a load balancer; only the load balancer writes X-Forwarded-Host: {"x_proto": 2, "x_host": 1} ------


def cdn_then_lb(how: str) -> Deployment:
    """The CDN appends X-Forwarded-Proto and passes X-Forwarded-Host through; the LB (reached over http) writes both."""
    cdn = Proxy("cdn", {"X-Forwarded-Proto": ("append", "https")})
    lb = Proxy("lb", {"X-Forwarded-Proto": (proto(how), "http"), "X-Forwarded-Host": (how, "$host")}, host=APP)
    return Deployment((cdn, lb))


@pytest.mark.parametrize("how", ["append", "add-line"])
@pytest.mark.parametrize("adapter", HOSTED)
def test_recipe_cdn_then_load_balancer(pool: Pool, adapter: str, how: str) -> None:
    """The issue's attack: the client's X-Forwarded-Host, passed through by the CDN, sits second from the right."""
    deployment = cdn_then_lb(how)
    _, headers = deployment.through(FORGED)
    assert joined(headers, "X-Forwarded-Host") == f"{OTHER}, {PUBLIC}"  # where trust_forwarded=2 read the client's
    assert joined(headers, "X-Forwarded-Proto") == "http, https, http"
    check_recipe(serve(pool, adapter, "proxy-cdn-lb"), deployment, f"https://{PUBLIC}/twilio/sms", STOLEN)


@pytest.mark.parametrize("adapter", HOSTED)
def test_a_chain_short_of_its_recipe_is_refused_and_named(pool: Pool, adapter: str) -> None:
    """The CDN was counted for X-Forwarded-Proto but writes none: Twilio's webhook is a 400, not a guess.

    Falling back to the request's own scheme would only turn it into a puzzling
    403; reading the one value there is would believe whatever a client put
    there. The verdict's detail names the header (tests/test_guard.py).
    """
    server = serve(pool, adapter, "proxy-cdn-lb")
    cdn = Proxy("cdn", {})
    lb = Proxy("lb", {"X-Forwarded-Proto": ("append", "https"), "X-Forwarded-Host": ("append", "$host")}, host=APP)
    logged = len(server.log_bytes())
    with server.unreached():
        path, headers = Deployment((cdn, lb)).through([])
        response = server.post_form(path, SMS, signed_url=f"https://{PUBLIC}/twilio/sms", headers=headers)
    assert response.status == 400, response
    assert b"refused POST /twilio/sms: malformed_url" in server.log_bytes()[logged:]


# --- two proxies that both append both headers: {"x_proto": 2, "x_host": 2} ---------------------------------------


@pytest.mark.parametrize("how", ["append", "add-line"])
@pytest.mark.parametrize("adapter", HOSTED)
def test_recipe_two_proxies_appending_both(pool: Pool, adapter: str, how: str) -> None:
    """The edge and the inner proxy each append; the inner's host is the edge's upstream, so only the edge's counts."""
    edge = Proxy(
        "edge", {"X-Forwarded-Proto": (proto(how), "https"), "X-Forwarded-Host": (how, "$host")}, host="inner.lan"
    )
    inner = Proxy("inner", {"X-Forwarded-Proto": (proto(how), "http"), "X-Forwarded-Host": (how, "$host")}, host=APP)
    stolen = {**STOLEN, "inner-host": "https://inner.lan/twilio/sms"}
    check_recipe(
        serve(pool, adapter, "proxy-two-append"), Deployment((edge, inner)), f"https://{PUBLIC}/twilio/sms", stolen
    )


# --- one proxy that writes Forwarded: {"forwarded": 1} -------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("adapter", HOSTED)
def test_recipe_forwarded(pool: Pool, adapter: str, how: str) -> None:
    """The proxy writes an RFC 7239 element; the client's own element (and its X-Forwarded-*) is left of it or gone."""
    proxy = Proxy("proxy", {"Forwarded": (how, 'for=198.51.100.7;host="$host";proto=https')}, host=APP)
    check_recipe(serve(pool, adapter, "proxy-rfc7239"), Deployment((proxy,)), f"https://{PUBLIC}/twilio/sms", STOLEN)


# --- one proxy that strips /api: {"x_proto": 1, "x_host": 1, "x_prefix": 1} ----------------------------------------


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("adapter", HOSTED)
def test_recipe_prefix_stripped_by_the_proxy(pool: Pool, adapter: str, how: str) -> None:
    """The proxy strips /api and writes X-Forwarded-Prefix; another app's /other webhook is refused."""
    writes = {
        "X-Forwarded-Proto": (proto(how), "https"),
        "X-Forwarded-Host": (how, "$host"),
        "X-Forwarded-Prefix": (how, "/api"),
    }
    proxy = Proxy("proxy", writes, host=APP, strip="/api")
    deployment = Deployment((proxy,), public_path="/api/twilio/sms")
    stolen = {
        **STOLEN,
        "other-prefix": f"https://{PUBLIC}/other/twilio/sms",
        "no-prefix": f"https://{PUBLIC}/twilio/sms",
    }
    check_recipe(serve(pool, adapter, "proxy-prefix"), deployment, f"https://{PUBLIC}/api/twilio/sms", stolen)


# --- the docs give exactly these options, and the old advice no longer boots --------------------------------------


def rendered(option: Any) -> str:
    """The option as docs/proxies.md writes it: ``True`` or a dict literal with double quotes."""
    if option is True:
        return "trust_forwarded=True"
    return "trust_forwarded={" + ", ".join(f'"{name}": {count}' for name, count in option.items()) + "}"


@pytest.mark.parametrize("profile", PROXY_RECIPES)
def test_docs_give_each_recipe_as_tested(profile: str) -> None:
    """The option each recipe above was played with is written, as is, in docs/proxies.md."""
    assert rendered(PROXY_RECIPES[profile]) in DOCS.read_text(encoding="utf-8")


#: ``trust_forwarded`` given a bare number: as a keyword, a settings key, or a Flask config name.
BARE_COUNT = re.compile(
    r"""(?:trust_forwarded\s*=|["']trust_forwarded["']\s*:|TRUST_FORWARDED\s*=)\s*([0-9]+)\s*[,)}\n]"""
)


def test_docs_recommend_no_bare_count_above_one() -> None:
    """No page, docstring or example sets trust_forwarded=2 (or more) any longer."""
    root = DOCS.parents[1]
    pages = [
        root / "README.md",
        *sorted((root / "docs").rglob("*.md")),
        *sorted((root / "src").rglob("*.py")),
        *sorted((root / "examples").rglob("*.py")),
    ]
    for page in pages:
        for match in BARE_COUNT.finditer(page.read_text(encoding="utf-8")):
            assert int(match.group(1)) <= 1, f"{page}: {match.group(0)!r}"


@pytest.fixture(scope="module")
def two_boots(pool: Pool) -> Iterator[dict[str, Any]]:
    outcomes = pool.boot_outcomes(EAGER, "proxy-two")
    yield outcomes
    pool.stop("proxy-two")


@pytest.mark.parametrize("adapter", EAGER)
def test_server_with_a_bare_count_of_two_does_not_boot(two_boots: dict[str, Any], adapter: str) -> None:
    """The old advice for a CDN and a load balancer, trust_forwarded=2: gunicorn/uvicorn refuse to start, saying why."""
    code, output = two_boots[adapter]
    assert code is not None, f"the server booted with trust_forwarded=2:\n{output[-2000:]}"
    assert code != 0, f"the server booted with trust_forwarded=2:\n{output[-2000:]}"
    assert "'x_proto': 2, 'x_host': 1" in output, output[-2000:]


@pytest.mark.parametrize("adapter", LAZY)
def test_lazy_decorator_with_a_bare_count_of_two_never_serves(pool: Pool, adapter: str) -> None:
    """A decorator builds its guard on first use: with trust_forwarded=2 even Twilio's webhook is not served."""
    server = pool.server(adapter, "proxy-two")
    path, headers = cdn_then_lb("append").through(FORGED)
    with server.unreached():
        response = server.post_form(path, SMS, signed_url=STOLEN["other-host"], headers=headers)
    assert not 200 <= response.status < 300, response
    pool.stop("proxy-two")


@pytest.mark.parametrize("builder", BUILDERS)
def test_every_adapter_refuses_a_bare_count_of_two_with_the_same_message(builder: str) -> None:
    """Middlewares, decorators, Django settings and Flask config all fail at construction, showing the mapping."""
    with pytest.raises(_expected(builder)) as raised:
        BUILDERS[builder]({"auth_token": TOKEN, "trust_forwarded": 2})
    assert "proxies differ in the headers they write" in str(raised.value)
    assert "trust_forwarded={'x_proto': 2, 'x_host': 1}" in str(raised.value)
