"""``make bench``: measure everything side by side and write docs/performance.md (with its chart).

Every figure on the page comes from this run: the core against the ``twilio``
package and the HMAC floor, each middleware against its bare app and its usual
hand-written alternative, refusal timing by signature prefix, per-request
overhead against the number of parameters (docs/performance.png), the cost of
refusing forged near-limit bodies against the frameworks' own parse of them, and
the cost of refusing a forged request whose query, trusted ``Forwarded`` header
or small body is built against the parsers. Nothing is typed in by hand.

``report.py --only hostile`` measures that last section alone and rewrites it in
the page as it stands (the other figures are left as the last full run wrote them);
``--only auth`` and ``--only oauth`` do the same for what Digest and bearer tokens add
(benchmarks/auth.py, benchmarks/oauth.py).
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import asgi  # noqa: E402
import auth  # noqa: E402
import core  # noqa: E402
import forged  # noqa: E402
import hostile  # noqa: E402
import oauth  # noqa: E402
import replay  # noqa: E402
import timing  # noqa: E402
import wsgi  # noqa: E402
from _timing import machine  # noqa: E402

DOCS = HERE.parent / "docs"
COUNTS = (0, 4, 12, 25, 50, 100)


def _us(nanoseconds: float) -> str:
    return f"{nanoseconds / 1000:.2f} µs"


def _goal(ratio: float, goal: float, strict: bool = False) -> str:
    met = ratio < goal if strict else ratio <= goal
    return f"{ratio:.3f} ({'meets' if met else 'misses'} the goal {'<' if strict else '≤'} {goal})"


def chart(path: Path) -> list[tuple[int, dict[str, float]]]:
    """Per-request overhead versus the number of parameters, as a PNG; returns the figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for count in COUNTS:
        params = core.webhook(count)
        core_times = core.measure(params)
        wsgi_times = wsgi.measure(params)
        asgi_times = asgi.measure(params)
        rows.append(
            (
                count,
                {
                    "twiliosig core validate": core_times["twiliosig"],
                    "twilio 9.13 validate": core_times["twilio"],
                    "WSGI middleware overhead": wsgi_times["twiliosig"] - wsgi_times["bare"],
                    "ASGI middleware overhead": asgi_times["twiliosig"] - asgi_times["bare"],
                },
            )
        )
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label in rows[0][1]:
        axes.plot([count for count, _ in rows], [values[label] / 1000 for _, values in rows], marker="o", label=label)
    axes.set_xlabel("POST parameters in the webhook")
    axes.set_ylabel("time per request (µs)")
    axes.set_title("Per-request cost against the number of parameters")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return rows


def _ms(nanoseconds: float) -> str:
    return f"{nanoseconds / 1e6:.2f} ms"


def _forged_section(results: dict[str, forged.Result]) -> list[str]:
    """Refusing a forged near-limit body, against the frameworks' own parse of it (benchmarks/forged.py)."""
    lines = [
        "## Refusing a forged body near the size limit",
        "",
        "Anyone can send a forged webhook, so what a refusal costs is a lever in an attacker's hands. Each",
        "body below is just under the default `max_body_size` (1 MiB), in random order, built to make the",
        "check expensive: emoji next to U+FF21 at the same position, so the UTF-16 parameter order really",
        "differs and both orders are tried (benchmarks/forged.py). *Refusal* is the whole refusal through the",
        "WSGI `TwilioSignatureMiddleware` with the default options (read, parse, sort, an HMAC per URL form",
        "and order, log, 403); it is compared with the parse the framework does anyway for the same body:",
        "werkzeug's `Request(environ).form`, Django's `QueryDict(body)`, Starlette's `await request.form()`",
        "(Django and Starlette with their 1,000-field limits lifted, which otherwise stop them early).",
        "*Floor* is the HMACs alone: every URL form, in each parameter order that differs, must be tried,",
        "since any of them could carry a genuine signature.",
        "",
        "| body | parameters | HMACs | refusal | werkzeug parse | refusal / werkzeug | refusal / Django "
        "| refusal / Starlette | floor / werkzeug |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (count, times, hmacs) in results.items():
        ratio = times["twiliosig"] / times["werkzeug"]
        lines.append(
            f"| {name} | {count:,} | {hmacs} | {_ms(times['twiliosig'])} | {_ms(times['werkzeug'])} "
            f"| {_goal(ratio, forged.GOAL)} | {times['twiliosig'] / times['django']:.3f} "
            f"| {times['twiliosig'] / times['starlette']:.3f} | {times['floor'] / times['werkzeug']:.3f} |"
        )
    lines += [
        "",
        "Where the body has something to decode, the refusal costs less than the framework's parse: the form",
        "is decoded in a few passes in C, the parameters sorted once as one string per pair and the UTF-16",
        "order derived from the code-point order, and each HMAC keyed once. A body with nothing to decode",
        "costs werkzeug next to nothing, and there the HMACs alone are above the goal: each URL form hashes",
        "the whole parameter string, and a query that every re-encoding changes multiplies the forms. That",
        "floor cannot be cut without refusing genuine requests; a `max_body_size` sized to your webhooks",
        "(typical webhooks are a few kilobytes) cuts it in proportion.",
        "",
    ]
    return lines


HOSTILE_HEADING = "## Refusing a forged request built against the parsers"


def _hostile_section(results: dict[str, dict[str, float]]) -> list[str]:
    """Refusing a hostile query, Forwarded header or small body, against the framework's parse (hostile.py)."""
    lines = [
        HOSTILE_HEADING,
        "",
        "The query, the headers and a body under the size limit are levers too: every parser of them runs in",
        "time linear in its input (tests/test_linear_time.py), and these are the shapes that cost the most",
        "per byte, each at the size a server lets through (benchmarks/hostile.py). *Refusal* is the whole",
        'refusal through the WSGI `TwilioSignatureMiddleware` (default options; `trust_forwarded={"forwarded": 1}`',
        "for the Forwarded shapes); *framework* is the same request to a bare werkzeug app that reads",
        "`request.args`, `request.form` and the header and answers; *server* is h11 (uvicorn's HTTP/1.1",
        "parser) reading the same request off the wire, which every request pays before any middleware runs;",
        "the two together are the stack's own parse of the request. *Floor* is the HMACs alone, one per URL",
        "form a refusal must try (none where the head is refused before any signature is compared).",
        "",
        "| request | refusal | framework | server | refusal / (framework + server) | floor / (framework + server) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, times in results.items():
        stack = times["framework"] + times["server"]
        floor = f"{times['floor'] / stack:.3f}" if "floor" in times else "-"
        lines.append(
            f"| {name} | {_ms(times['twiliosig'])} | {_ms(times['framework'])} | {_ms(times['server'])} "
            f"| {_goal(times['twiliosig'] / stack, hostile.GOAL)} | {floor} |"
        )
    lines += [
        "",
        "A query is signed as part of the URL, so a refusal hashes every URL form of it, and the re-encoded",
        "forms are up to three times as long as the query (an apostrophe is escaped as `%27`). Where the",
        "framework has as much to decode (pairs, escapes), the refusal costs less than its parse; where it has",
        "next to nothing (one long run of apostrophes), the HMACs alone cost about as much as the stack's",
        "parse and the refusal many times it, though the forms are built in passes in C, never a Python step",
        "per character. A hostile `Forwarded` header or path is refused in a pass or two over it, a small",
        "multiple of what the server's own reading of the same bytes costs.",
        "",
    ]
    return lines


def _rewrite_section(page: str, heading: str, lines: list[str]) -> str:
    """The page with the section under ``heading`` replaced by ``lines`` (added at the end if absent)."""
    start = page.find(heading)
    if start == -1:
        return page.rstrip("\n") + "\n\n" + "\n".join(lines)
    end = page.find("\n## ", start + len(heading))
    rest = page[end + 1 :] if end != -1 else ""
    return page[:start] + "\n".join(lines) + ("\n" + rest if rest else "")


OAUTH_HEADING = "## OAuth bearer tokens"


def _oauth_section(times: dict[str, float]) -> list[str]:
    """What the oauth layer adds to an accepted request, beside the signature alone (benchmarks/oauth.py)."""
    base = times["signature"]
    rows = [
        ("the signature alone (no `oauth`)", "signature"),
        ("+ a JWT seen before (a lookup in memory)", "seen"),
        ("+ a JWT seen for the first time, keys held (RS256)", "new RS256"),
        ("+ a JWT seen for the first time, keys held (ES256)", "new ES256"),
    ]
    lines = [
        OAUTH_HEADING,
        "",
        "One genuine 12-parameter form POST through the WSGI middleware with `oauth=JWTVerifier(...)`, the",
        "key set fetched before timing (benchmarks/oauth.py; no timed request touches the network):",
        "",
        "| request | time per request | added to the signature alone |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {label} | {_us(times[key])} | {_us(times[key] - base)} |" for label, key in rows]
    lines += [
        "",
        "A token Twilio sends again costs a hash and a dictionary lookup. A new one costs its signature check",
        "and PyJWT's parse of it, which checks each base64url character in Python. Whether Twilio reuses a",
        "token until it expires is not documented: if it does, that cost is paid once per token, not per webhook.",
        "",
    ]
    return lines


def only_hostile() -> int:
    """Measure the hostile-request section alone and rewrite it in docs/performance.md."""
    return _only(HOSTILE_HEADING, _hostile_section(hostile.measure()))


def _only(heading: str, lines: list[str]) -> int:
    page = DOCS / "performance.md"
    page.write_text(_rewrite_section(page.read_text(encoding="utf-8"), heading, lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


def only_auth() -> int:
    """Measure the authentication-layer section alone and rewrite it in docs/performance.md."""
    lines = auth.section(auth.measure())
    page = DOCS / "performance.md"
    page.write_text(_rewrite_section(page.read_text(encoding="utf-8"), auth.SECTION, lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


def main() -> int:
    core_times = core.measure()
    auth_times = auth.measure()
    wsgi_times = wsgi.measure()
    asgi_times = asgi.measure()
    medians = timing.measure()
    replay_times = replay.measure()
    oauth_times = oauth.measure()
    forged_results = forged.measure()
    hostile_results = hostile.measure()
    spread = max(medians.values()) / min(medians.values()) - 1
    rows = chart(DOCS / "performance.png")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Performance",
        "",
        "<!-- Written by `make bench` (benchmarks/report.py); do not edit by hand. -->",
        "",
        f"Measured {when} on {machine()}. Every figure below is from one",
        "run of `make bench`, each comparison measured side by side in one process, best of seven runs.",
        "Ratios travel between machines better than times do.",
        "",
        "## The core: one genuine 12-parameter webhook",
        "",
        "| | time per call |",
        "| --- | --- |",
        f"| `twiliosig` `RequestValidator.validate` | {_us(core_times['twiliosig'])} |",
        f"| `twilio` 9.13 `RequestValidator.validate` | {_us(core_times['twilio'])} |",
        f"| floor: one HMAC-SHA1 + base64 + `compare_digest` over the prebuilt string | {_us(core_times['floor'])} |",
        "",
        f"- twiliosig / twilio: {_goal(core_times['twiliosig'] / core_times['twilio'], 0.25)}",
        f"- twiliosig / floor: {_goal(core_times['twiliosig'] / core_times['floor'], 2.5)}",
        "",
        "## The middlewares: one genuine 12-parameter form POST, in process",
        "",
        "| | WSGI (werkzeug app) | ASGI (Starlette app) |",
        "| --- | --- | --- |",
        f"| bare app (parses the form, answers) | {_us(wsgi_times['bare'])} | {_us(asgi_times['bare'])} |",
        f"| twiliosig middleware + bare app | {_us(wsgi_times['twiliosig'])} | {_us(asgi_times['twiliosig'])} |",
        "| the usual alternative + bare app | "
        f"{_us(wsgi_times['hand-written'])} (decorator + `twilio` validator) | "
        f"{_us(asgi_times['usual'])} (`BaseHTTPMiddleware` + `twilio` validator) |",
        f"| minimal inline check + bare app (benchmarks/inline.py) | {_us(wsgi_times['inline'])} | "
        f"{_us(asgi_times['inline'])} |",
        "",
        f"- WSGI, twiliosig / bare app: {_goal(wsgi_times['twiliosig'] / wsgi_times['bare'], 1.3)}",
        f"- WSGI, twiliosig / hand-written: {_goal(wsgi_times['twiliosig'] / wsgi_times['hand-written'], 1.0, True)}",
        f"- ASGI, twiliosig / bare app: {_goal(asgi_times['twiliosig'] / asgi_times['bare'], 1.3)}",
        f"- ASGI, twiliosig / BaseHTTPMiddleware: {_goal(asgi_times['twiliosig'] / asgi_times['usual'], 0.5)}",
        f"- WSGI, twiliosig / minimal inline check: {_goal(wsgi_times['twiliosig'] / wsgi_times['inline'], 1.1)}",
        f"- ASGI, twiliosig / minimal inline check: {_goal(asgi_times['twiliosig'] / asgi_times['inline'], 1.1)}",
        "",
        "The minimal inline check is what anyone could write in twenty lines for one deployment: read the",
        "body, `parse_qsl`, one HMAC-SHA1 over the URL as received, `compare_digest`, hand the body on. It",
        "checks no method, size, charset, path or proxy, tries no other URL form and explains nothing;",
        "every check twiliosig adds has to fit in what its faster form parsing and signing save.",
        "",
        "The bare apps do almost nothing, so the middleware's own work (reading and replaying the body,",
        "parsing the form, rebuilding the URL, one HMAC) weighs heavily against them; through a real",
        "server on loopback the same middleware costs a few per cent of throughput (`make stress`).",
        "",
        "## Per-request cost against the number of parameters",
        "",
        "![Per-request cost against the number of parameters](performance.png)",
        "",
        "| parameters | " + " | ".join(rows[0][1]) + " |",
        "| --- |" + " --- |" * len(rows[0][1]),
    ]
    lines += [f"| {count} | " + " | ".join(_us(value) for value in values.values()) + " |" for count, values in rows]
    lines += [
        "",
        "## Refusal time does not depend on the signature",
        "",
        "Median time to refuse a forged signature whose first *k* characters are right, the classes",
        "interleaved in random order (benchmarks/timing.py):",
        "",
        "| right leading characters | median refusal time |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {_us(value)} |" for k, value in medians.items()]
    lines += [
        "",
        f"Spread between the slowest and the fastest class: {spread * 100:.2f} % (bound: {timing.BOUND:.0%}).",
        "A refusal tries every candidate URL form with every secret before it answers, so it costs",
        "more than an acceptance, whatever the signature holds.",
        "",
        "## The replay guard",
        "",
        "What `replay_guard=` adds to each accepted request (benchmarks/replay.py):",
        "",
        "| step | time per request |",
        "| --- | --- |",
        f"| the key (SHA-256 over URL, signed parameters and signature) | {_us(replay_times['key'] or 0)} |",
        f"| a claim in `MemoryReplayStore` | {_us(replay_times['memory claim'] or 0)} |",
        "| a claim in `RedisReplayStore` (one `SET NX PX` to redis-server on loopback) | "
        + (
            "redis-server not installed |"
            if replay_times["redis claim"] is None
            else f"{_us(replay_times['redis claim'])} |"
        ),
        "",
    ]
    lines += auth.section(auth_times)
    lines += _forged_section(forged_results)
    lines += _hostile_section(hostile_results)
    lines += _oauth_section(oauth_times)
    (DOCS / "performance.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    only = {
        ("--only", "hostile"): only_hostile,
        ("--only", "auth"): only_auth,
        ("--only", "oauth"): lambda: _only(OAUTH_HEADING, _oauth_section(oauth.measure())),
    }
    sys.exit(only.get(tuple(sys.argv[1:]), main)())
