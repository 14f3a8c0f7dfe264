"""``make stress``: real servers on loopback under a bounded load, and what it costs.

For gunicorn (Flask, WSGI middleware) and uvicorn (FastAPI, ASGI middleware):
1. requests per second and latency for genuine webhooks to an unprotected path
   (the middleware only checks the path) and to a protected one;
2. a mixed load of genuine, forged and oversized webhooks: false accepts, false
   refusals and 5xx (each must be 0), and the server's peak RSS before and after.
Every run is bounded in time and sends only to 127.0.0.1.

Run: ``make stress`` (``--seconds`` and ``--clients`` to change the load).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine  # noqa: E402

from tests.e2e import servers  # noqa: E402
from tests.e2e.load import run_load  # noqa: E402

SERVERS = {
    "gunicorn + Flask (WSGI)": (servers.gunicorn, "tests.e2e.wsgi_apps:flask", "flask"),
    "uvicorn + FastAPI (ASGI)": (servers.uvicorn, "tests.e2e.asgi_apps:fastapi", "fastapi"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    args = parser.parse_args()
    print(f"# stress: {args.clients} clients, {args.seconds:.0f} s per phase, {machine()}")
    failed = False
    for name, (start, app, framework) in SERVERS.items():
        port = servers.free_port()
        with start(app, port, {"E2E_FRAMEWORK": framework, "E2E_LOG": "/dev/null"}) as process:
            pid = process.pid  # type: ignore[attr-defined]
            run_load(port, pid, seconds=1.0, clients=args.clients, mix={"genuine": 1.0})  # warm up
            bare = run_load(port, pid, seconds=args.seconds, clients=args.clients, mix={"open": 1.0})
            protected = run_load(port, pid, seconds=args.seconds, clients=args.clients, mix={"genuine": 1.0})
            mixed = run_load(
                port,
                pid,
                seconds=args.seconds,
                clients=args.clients,
                mix={"genuine": 0.6, "forged": 0.3, "oversized": 0.1},
            )
        print(f"\n## {name}")
        print(f"unprotected path, genuine only: {bare.summary()}")
        print(f"protected path, genuine only:   {protected.summary()}")
        print(f"protected path, mixed:          {mixed.summary()}  sent {mixed.sent}")
        ratio = protected.rps / bare.rps if bare.rps else 0.0
        print(f"requests per second, protected / unprotected: {ratio:.3f}")
        for result in (bare, protected, mixed):
            failed |= bool(result.false_accepts or result.false_refusals or result.server_errors)
        failed |= mixed.rss_after - mixed.rss_before > 16 * 2**20
    print("\nverdict:", "FAILED" if failed else "no false accept, no false refusal, no 5xx, memory flat")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
