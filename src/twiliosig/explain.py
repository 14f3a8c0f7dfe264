"""Why a signature does or does not match, in words a developer can act on.

:func:`explain` runs the validator, lists every URL form and secret it tried,
and when nothing matched, tests the usual suspects with the same secrets (the
scheme a TLS proxy changed, parameters a framework dropped, the query moved out
of a body) before ranking the causes it could not test. A wrong host (an internal
name or address behind a proxy) cannot be guessed, but candidates can be tested:
each ``public_url`` given is applied as the middlewares apply it, and the one
Twilio signed is named. Used by ``python -m twiliosig explain``; useful in a
debugger too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from ._origin import parse_public_url, rebuild_url
from ._params import _pairs
from ._urls import Candidate, candidate_urls, redact, split_url
from .signature import RequestValidator
from .verdict import Reason, Verdict

__all__ = ["Candidate", "Explanation", "explain"]

_GENERAL_CAUSES = (
    "The URL differs from the one Twilio called: behind a TLS-terminating proxy, load balancer or tunnel the app "
    "sees http, another host, another port or a stripped path prefix. Compare it with the webhook URL in the "
    "Twilio console, then set public_url (or trust_forwarded behind a proxy you control); "
    "`twiliosig explain --public-url URL` tests a candidate.",
    "The wrong token: a subaccount's webhooks are signed with the subaccount's token, a secondary token signs "
    "nothing until it is promoted, and a rotated token stops signing at once. Give every token that may sign.",
    "The parameters changed on the way: a framework trimmed whitespace or dropped blank values or repeated "
    "names. Pass the form exactly as received, as (name, value) pairs.",
    "The request did not come from Twilio.",
)


@dataclass
class Explanation:
    """The verdict, what was tried, and (for a refusal) the likely causes, most likely first.

    Attributes:
        verdict: What the validator decided.
        tried: Every URL form tried, each a :class:`Candidate` (the URL, and how it
            differs from the URL as received); empty when no signature was compared.
        secrets: Which configured secrets apply, by label, never the secret.
        findings: What matches after all, in words: a ``public_url`` given, the
            other scheme, the parameters as Twilio must have signed them.
        ruled_out: The ``public_url`` candidates given that do not match.
        causes: For a refusal, the likely causes, most likely first.
    """

    verdict: Verdict
    tried: list[Candidate] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    ruled_out: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The explanation as plain text, passwords redacted."""
        verdict = self.verdict
        if verdict.valid:
            matched = redact(verdict.matched_url or "")
            variant = "" if verdict.variant == "as received" else f", {verdict.variant}"
            return (
                f"GENUINE: matches if the URL is {matched}{variant}, signed with the {verdict.secret} "
                f"({verdict.algorithm}).\n"
            )
        lines = [f"REFUSED ({verdict.reason.value}): {verdict.detail}"]
        if self.tried:
            lines.append(f"Tried {len(self.tried)} URL form(s) with {', '.join(self.secrets) or 'no secret'}:")
            lines.extend(f"  - {redact(candidate.url)}  ({candidate.description})" for candidate in self.tried)
        if self.findings:
            lines.append("Found:")
            lines.extend(f"  * {finding}" for finding in self.findings)
        if self.ruled_out:
            lines.append("Ruled out:")
            lines.extend(f"  - {reason}" for reason in self.ruled_out)
        if self.causes:
            lines.append("Likely causes, most likely first:")
            lines.extend(f"  {number}. {cause}" for number, cause in enumerate(self.causes, 1))
        return "\n".join(lines) + "\n"


def explain(
    validator: RequestValidator,
    url: str,
    params: Any,
    signature: str | None,
    *,
    signature_settings: str | None = None,
    public_urls: Sequence[str] = (),
) -> Explanation:
    """Check a request and explain the outcome.

    Args:
        validator: The validator holding the secrets to try.
        url: The URL as the application rebuilt it.
        params: The form parameters, or the raw body for a ``bodySHA256`` URL.
        signature: The ``X-Twilio-Signature`` header.
        signature_settings: The ``X-Twilio-Webhooks-Signature-Settings`` header.
        public_urls: Candidates for the middlewares' ``public_url`` option
            (``https://example.com``, with a path prefix if the proxy strips
            one), tested when the URL as received does not match: each is
            named as matching or ruled out.

    Raises:
        ValueError: a candidate that is not a valid ``public_url``.
        TypeError: a candidate that is not a str.
    """
    candidates = [(candidate, parse_public_url(candidate)) for candidate in public_urls]
    verdict = validator.check(url, params, signature, signature_settings=signature_settings)
    explanation = Explanation(verdict)
    if verdict.valid:
        return explanation
    if verdict.urls_tried and isinstance(url, str) and split_url(url) is not None:
        # Only when signatures were compared: a malformed signature or an unknown key never reached a URL form.
        explanation.tried = list(candidate_urls(url, validator.url_variants))
    explanation.secrets = validator.secret_labels(url, params, signature_settings)
    if verdict.reason is not Reason.SIGNATURE_MISMATCH:
        explanation.causes = [verdict.detail]
        if verdict.reason is Reason.MISSING_SIGNATURE:
            explanation.causes.append("A proxy in front of the app dropped the X-Twilio-Signature header.")
        return explanation

    def probe(finding: str, probe_url: str, probe_params: Any) -> None:
        if validator.check(probe_url, probe_params, signature, signature_settings=signature_settings).valid:
            explanation.findings.append(finding)

    parts = split_url(url)
    if parts is not None:
        path, _, query = parts.rest.partition("#")[0].partition("?")
        for candidate, public in candidates:
            public_form = rebuild_url(
                scheme=parts.scheme,
                host=parts.host + parts.port,
                path=path,
                query=query,
                public_url=public,
                websocket=parts.scheme.lower() in ("ws", "wss"),
            )
            assert public_form is not None  # parse_public_url checked its host
            tried = validator.check(public_form, params, signature, signature_settings=signature_settings)
            if tried.valid:
                variant = "" if tried.variant == "as received" else f", {tried.variant}"
                explanation.findings.append(
                    f"It matches with public_url={candidate!r}: Twilio called {redact(tried.matched_url or '')}"
                    f"{variant}. Set public_url={candidate!r} on the middleware."
                )
            else:
                explanation.ruled_out.append(
                    f"public_url={candidate!r}: no form of {redact(public_form)} matches ({tried.reason.value})"
                )
        swapped = {"http": "https", "https": "http", "ws": "wss", "wss": "ws"}.get(parts.scheme.lower())
        if swapped is not None:
            other = parts._replace(scheme=swapped).join()
            probe(
                f"It matches if the URL is {redact(other)}: the app sees {parts.scheme} but Twilio called "
                f"{swapped}, the mark of a TLS-terminating proxy. Set public_url to the public "
                f"{swapped}:// address, or trust_forwarded=True behind a proxy you control.",
                other,
                params,
            )
    pairs = _safe_pairs(params)
    if pairs:
        probe(
            "It matches with no parameters: Twilio signed the URL alone, so the parameters were not its form "
            "body (a GET whose query was also passed as params?).",
            url,
            None,
        )
        kept = [(name, value) for name, value in pairs if value != ""]
        if len(kept) != len(pairs):
            probe(
                "It matches without the blank-valued parameters: the signature was computed after blank values "
                "were dropped. Twilio keeps them; so must the app.",
                url,
                kept,
            )
    base, question, query = url.partition("?")
    if question and query and not pairs:
        names = {piece.partition("=")[0] for piece in query.split("&") if piece}
        # One pass over the query for every name (a pass per name is quadratic in a long query).
        by_name: dict[str, list[str]] = {}
        for piece in query.partition("#")[0].split("&"):
            key, _, value = piece.partition("=")
            by_name.setdefault(unquote_plus(key), []).append(unquote_plus(value))
        moved = [(name, value) for name in sorted(names) for value in by_name.get(name, ())]
        probe(
            "It matches with the query string as form parameters: Twilio sent a POST whose body reached the app "
            "as a query string.",
            base,
            moved,
        )
    explanation.causes = [] if explanation.findings else list(_GENERAL_CAUSES)
    return explanation


def _safe_pairs(params: Any) -> list[tuple[str, str]]:
    if params is None or isinstance(params, (str, bytes, bytearray)):
        return []
    try:
        return [(str(name), str(value)) for name, value in _pairs(params)]
    except (TypeError, ValueError):
        return []
