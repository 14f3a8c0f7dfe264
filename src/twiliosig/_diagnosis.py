"""Tell a misconfiguration from a forgery: which reading of a refused request Twilio did sign.

A request whose signature matches no URL form the guard accepts is either forged or
genuine but rebuilt wrong: the app sees ``http`` behind a TLS proxy, an internal host,
a port or a path prefix the proxy dropped. The forwarding headers the app does not
trust usually say what Twilio called. This module rebuilds the URL from those readings
the guard must never accept (an untrusted ``X-Forwarded-*`` or ``Forwarded`` header,
``https`` for a request that arrived over ``http``) and checks the signature against
each, exactly as written (no other URL form). When one matches, the request is still
refused, but the :class:`~twiliosig.verdict.Finding` names the URL Twilio signed and the
option that fixes it.

Cost is bounded twice: at most :data:`MAX_READINGS` HMACs per diagnosis (one per
secret per reading), and at most :data:`DIAGNOSES_PER_MINUTE` diagnoses per process
(a token bucket), so a flood of forgeries costs no more than :data:`MAX_READINGS`
HMACs a few times a minute. A forged signature matches no reading and yields nothing.

The finding helps no attacker: it exists only when the signature is Twilio's for the
URL named, which whoever holds that signature already knows. With a per-account token
lookup (``auth_token`` a callable) there is no diagnosis at all: every tenant holds a
token the lookup answers with, so a tenant could sign for a URL of its choosing and have
the guard log, at ERROR, that Twilio signed it and that the fix is to trust the
forwarding header it sent (which, trusted with no proxy writing it, is the client's).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Final, NamedTuple

from ._origin import ForwardedTrust, PublicUrl, forwarded_origin, rebuild_url
from ._params import Params
from ._urls import UrlVariant, redact, split_url
from .signature import RequestValidator
from .verdict import Finding

__all__ = ["DIAGNOSES_PER_MINUTE", "MAX_READINGS", "PROCESS_LIMIT", "Diagnosis", "RateLimit", "Reading", "readings"]

#: The most readings (URLs) checked per diagnosis: the cost of one is this many HMACs per secret.
MAX_READINGS: Final = 4
#: The most diagnoses a process runs per minute, whatever the traffic.
DIAGNOSES_PER_MINUTE: Final = 6
#: The most bytes of forwarding headers (all five together) a diagnosis reads. Real ones are
#: tens of bytes; each reading parses them again (up to fifteen sets of headers): a request
#: over this bound is not diagnosed (4 x 32 KiB of them cost a diagnosis 7 ms).
MAX_HEADER_BYTES: Final = 2048
#: How long a finding's ERROR line stays quiet after it was logged (seconds).
LOG_INTERVAL: Final = 300.0

#: The forwarding headers ``trust_forwarded`` names besides ``forwarded``, in its order.
_X_HEADERS: Final = (
    ("x_proto", "x-forwarded-proto", "X-Forwarded-Proto"),
    ("x_host", "x-forwarded-host", "X-Forwarded-Host"),
    ("x_port", "x-forwarded-port", "X-Forwarded-Port"),
    ("x_prefix", "x-forwarded-prefix", "X-Forwarded-Prefix"),
)
_SECURE = {"http": "https", "ws": "wss"}


class Reading(NamedTuple):
    """One URL the guard must not accept, why it would be the one Twilio called, and the fix."""

    url: str
    cause: str
    fix: str


def _trust_text(trust: ForwardedTrust) -> str:
    """``trust_forwarded={"x_proto": 1, "x_host": 1}``: the option as the user writes it."""
    counts = ", ".join(f'"{name}": {count}' for name, count in zip(trust._fields, trust, strict=True) if count)
    return f"trust_forwarded={{{counts}}}"


def _public_text(url: str) -> str:
    """``public_url="https://host[:port]"`` for a URL: its scheme (http for ws) and authority."""
    parts = split_url(url)
    assert parts is not None  # rebuilt by rebuild_url: always absolute
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return f'public_url="{scheme}://{parts.host}{parts.port}"'


def readings(
    scheme: str,
    host: str,
    raw_path: str,
    query: str,
    header: Callable[[str], str | None],
    *,
    trust: ForwardedTrust,
    public_url: PublicUrl | None,
    websocket: bool,
    tried: str,
) -> list[Reading]:
    """The readings of a request that the configuration refuses, most likely first, at most :data:`MAX_READINGS`.

    Args:
        scheme, host, raw_path, query, header, websocket: The request, as the guard's ``Head``.
        trust: The forwarding headers the configuration believes.
        public_url: The configured ``public_url``, if any.
        tried: The URL the configuration rebuilt (already checked): never read again.

    No HMAC is computed here, and nothing raises: a header that cannot be read is skipped,
    and a request whose forwarding headers hold more than :data:`MAX_HEADER_BYTES` has none.
    """
    if sum(len(header(name) or "") for name in _ALL_HEADERS) > MAX_HEADER_BYTES:
        return []
    # Each untrusted forwarding header the request carries, then every set of them (smallest first),
    # so that the fix names the fewest headers that give the URL Twilio signed.
    untrusted = [
        (name, label)
        for name, lower, label in _X_HEADERS
        if not getattr(trust, name) and (header(lower) or "").strip() and not (trust.forwarded and name in _X_PAIR)
    ]
    sets: list[tuple[tuple[str, str], ...]] = [
        chosen for size in range(1, len(untrusted) + 1) for chosen in itertools.combinations(untrusted, size)
    ]
    if not trust.forwarded and not (trust.x_proto or trust.x_host) and (header("forwarded") or "").strip():
        sets.append((("forwarded", "Forwarded"),))
    found: dict[str, Reading] = {}
    full: str | None = None
    base = public_url is None
    for chosen in sets:
        counts = {name: 1 for name, _ in chosen}
        widened = (trust if base else ForwardedTrust())._replace(**counts)
        try:
            origin = forwarded_origin(header, widened)
        except ValueError:
            continue
        url = rebuild_url(scheme, host, raw_path, query, None, origin, websocket)
        if url is None or url == tried:
            continue
        if len(chosen) == len(untrusted):
            full = url
        if url in found:
            continue
        labels = " and ".join(label for _, label in chosen)
        fix = _trust_text(widened) if base else f"{_trust_text(widened)} in place of public_url"
        found[url] = Reading(url, f"the app does not trust the proxy's {labels}", fix)
    # https where the request arrived over http: a TLS-terminating proxy that says nothing.
    parts = split_url(tried)
    secure = None
    if parts is not None and parts.scheme in _SECURE:
        url = parts._replace(scheme=_SECURE[parts.scheme]).join()
        if url not in found:
            if trust.x_proto or trust.forwarded:
                header_name = "Forwarded proto=https" if trust.forwarded else "X-Forwarded-Proto: https"
                fix = f"have the trusted proxy send {header_name} (the app rebuilt {parts.scheme})"
            else:
                fix = _public_text(url)
                if public_url is not None and public_url.prefix:
                    fix = fix[:-1] + public_url.prefix + '"'
            secure = Reading(url, f"the request arrived over {parts.scheme}, but Twilio called https", fix)
    ordered: list[Reading] = []
    if full is not None:
        ordered.append(found.pop(full))
    if secure is not None:
        ordered.append(secure)
    ordered.extend(found.values())
    return ordered[:MAX_READINGS]


_X_PAIR = frozenset({"x_proto", "x_host"})
_ALL_HEADERS: Final = (*(lower for _, lower, _ in _X_HEADERS), "forwarded")


class RateLimit:
    """A token bucket: at most ``per_minute`` diagnoses a minute, a burst of as many; thread-safe."""

    __slots__ = ("_capacity", "_lock", "_refill", "_stamp", "_tokens", "clock")

    def __init__(self, per_minute: int = DIAGNOSES_PER_MINUTE, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._refill = per_minute / 60.0
        self._tokens = float(per_minute)
        self.clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def ready(self) -> bool:
        """Whether a token is there now, without spending it: the check a flood pays (no lock, no readings)."""
        return self._tokens + max(0.0, self.clock() - self._stamp) * self._refill >= 1.0

    def take(self) -> bool:
        """Spend one token if there is one."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self._capacity, self._tokens + max(0.0, now - self._stamp) * self._refill)
            self._stamp = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


#: The process's budget, shared by every guard in it (an app may mount several middlewares).
PROCESS_LIMIT: Final = RateLimit()
#: No diagnosis ever: the budget of a guard whose tokens are looked up per account.
NEVER: Final = RateLimit(per_minute=0)


class Diagnosis:
    """The guard's diagnoser: its own validator (same secrets, the exact URL only), its budget, its log dedup."""

    __slots__ = ("_lock", "_logged", "limit", "validator")

    def __init__(self, validator: RequestValidator, limit: RateLimit | None = None) -> None:
        """``limit``: the budget to spend; by default the process's, shared by every guard."""
        if validator.url_variants != UrlVariant.NONE:
            raise ValueError("the diagnosis validator checks each reading as written: url_variants=UrlVariant.NONE")
        self.validator = validator
        self.limit = limit if limit is not None else PROCESS_LIMIT
        if validator._lookup is not None:  # per-account tokens: a tenant could sign any reading (module docstring)
            self.limit = NEVER
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()

    def diagnose(
        self, candidates: list[Reading], params: Params | str | bytes, signature: str, settings: str | None
    ) -> Finding | None:
        """The finding for the first reading the signature matches; None without a budget token or a match.

        The token is spent even when there is no reading: building them was the cost
        (fifteen sets of forwarding headers parsed), and a request that made every one
        fail would otherwise have it paid for every forged request, never for six a minute.
        """
        if not self.limit.take() or not candidates:
            return None
        for reading in candidates:
            if self.validator.check(reading.url, params, signature, signature_settings=settings).valid:
                return Finding(redact(reading.url), reading.cause, reading.fix)
        return None

    def first_in_interval(self, finding: Finding) -> bool:
        """Whether this finding's fix was not logged at ERROR in the last :data:`LOG_INTERVAL` seconds."""
        now = self.limit.clock()
        with self._lock:
            last = self._logged.get(finding.fix)
            if last is not None and now - last < LOG_INTERVAL:
                return False
            if len(self._logged) >= 64:  # fixes are few; never let the dict grow with hosts
                self._logged.clear()
            self._logged[finding.fix] = now
            return True
