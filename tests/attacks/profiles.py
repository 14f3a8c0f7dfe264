"""The configurations the attack servers run with, shared by the server processes and the tests.

A *profile* names one set of guard options. Every app module under
``tests.attacks.apps`` builds its adapter from ``options(profile, paths=...)``,
so the tests and the servers cannot disagree on a token, a limit or a path.
"""

from __future__ import annotations

from typing import Any

from twiliosig.replay import MemoryReplayStore, StoreUnavailable

TOKEN = "attack-token-0123456789abcdef0123"
#: Large enough for tens of thousands of tiny forged parameters, small enough to overflow quickly.
MAX_BODY = 512 * 1024
PROTECTED = ["/twilio/"]

# Tenants: one token per account, looked up by AccountSid.
ACCOUNT_A = "AC" + "a" * 32
ACCOUNT_B = "AC" + "b" * 32
ACCOUNT_UNKNOWN = "AC" + "0" * 32
#: Any AccountSid starting with this makes the token lookup raise (its store is down).
ACCOUNT_RAISING = "ACraise"
TOKEN_A = "tenant-a-token-0123456789abcdef01"
TOKEN_B = "tenant-b-token-0123456789abcdef01"
TENANT_TOKENS = {ACCOUNT_A: TOKEN_A, ACCOUNT_B: TOKEN_B}
# The ``digest`` profile: HTTP Digest and Basic, as Twilio is given them in the webhook URL.
DIGEST_USER = "twilio"
DIGEST_PASSWORD = "attack digest password"
#: The ``tenants-full-allow`` profile's MemoryReplayStore holds this many claims.
FULL_AT = 4

#: API Gateway's own name for the API: what Twilio calls, and what the event carries.
LAMBDA_DOMAIN = "abc123defg.execute-api.us-east-1.amazonaws.com"
#: The REST API (payload 1.0) stage, the first segment of its public paths.
LAMBDA_STAGE = "prod"

#: Every profile a server can be started with.
PROFILES = (
    "default",
    "callable-paths",
    "replay",
    "tenants",
    "store-down",
    "proxy-true",
    "proxy-proto-only",
    "proxy-cdn-lb",
    "proxy-two-append",
    "proxy-prefix",
    "proxy-two",
    "proxy-map",
    "proxy-rfc7239",
    "methods-put",
    "bad-report-only",
    "tenants-full-allow",
    "digest",
)


#: The deployments docs/proxies.md gives a recipe for, by profile, with the exact ``trust_forwarded`` it gives.
PROXY_RECIPES: dict[str, Any] = {
    "proxy-true": True,  # one proxy that writes X-Forwarded-Proto and X-Forwarded-Host
    "proxy-proto-only": {"x_proto": 1},  # a platform router that writes X-Forwarded-Proto, not -Host
    "proxy-cdn-lb": {"x_proto": 2, "x_host": 1},  # a CDN appends X-Forwarded-Proto only, then a load balancer
    "proxy-two-append": {"x_proto": 2, "x_host": 2},  # two proxies that both append both headers
    "proxy-rfc7239": {"forwarded": 1},  # one proxy that writes Forwarded
    "proxy-prefix": {"x_proto": 1, "x_host": 1, "x_prefix": 1},  # one proxy that strips /api and says so
}


def token_for(account: str | None) -> str | None:
    """The per-account token lookup of the ``tenants`` profile; raises for the failing account store."""
    if account and account.startswith(ACCOUNT_RAISING):
        raise LookupError(f"the account store failed while looking up {account}")
    return TENANT_TOKENS.get(account or "")


def protect_twilio(path: str) -> bool:
    """A ``paths`` callable as a user would write it."""
    return path.startswith("/twilio/")


class DownStore:
    """A replay store whose backend is unreachable (every call raises StoreUnavailable)."""

    ttl = 300.0
    modes = frozenset({"sync", "async"})

    def claim(self, key: str) -> str | None:
        raise StoreUnavailable("the replay store at 10.0.0.9:6379 did not answer")

    def release(self, key: str, token: str) -> None:
        raise StoreUnavailable("the replay store at 10.0.0.9:6379 did not answer")

    async def aclaim(self, key: str) -> str | None:
        return self.claim(key)

    async def arelease(self, key: str, token: str) -> None:
        self.release(key, token)


def options(profile: str, *, paths: bool) -> dict[str, Any]:
    """The guard options of ``profile``; ``paths`` says whether the adapter takes the ``paths`` option."""
    chosen: dict[str, Any] = {"auth_token": TOKEN, "max_body_size": MAX_BODY}
    if paths:
        chosen["paths"] = protect_twilio if profile == "callable-paths" else list(PROTECTED)
    if profile in ("default", "callable-paths"):
        pass
    elif profile == "replay":
        chosen["replay_guard"] = MemoryReplayStore()
    elif profile == "tenants":
        chosen["auth_token"] = token_for
    elif profile == "tenants-full-allow":
        chosen["auth_token"] = token_for
        chosen["replay_guard"] = MemoryReplayStore(max_entries=FULL_AT)
        chosen["on_store_error"] = "allow"
    elif profile == "store-down":
        chosen["replay_guard"] = DownStore()
        chosen["on_store_error"] = "allow"
    elif profile in PROXY_RECIPES:
        chosen["trust_forwarded"] = PROXY_RECIPES[profile]
    elif profile == "proxy-two":
        chosen["trust_forwarded"] = 2  # the old "CDN, then a load balancer" advice: must not boot
    elif profile == "proxy-map":
        chosen["trust_forwarded"] = {"x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 1}
    elif profile == "methods-put":
        chosen["methods"] = ["GET", "POST", "PUT"]
    elif profile == "digest":
        chosen["digest_auth"] = {DIGEST_USER: DIGEST_PASSWORD}
        chosen["basic_auth"] = {DIGEST_USER: DIGEST_PASSWORD}
    elif profile == "bad-report-only":
        chosen["report_only"] = "false"  # read from an environment variable: must not boot
    else:
        raise ValueError(f"unknown profile {profile!r}")
    return chosen
