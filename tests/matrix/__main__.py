"""``python -m tests.matrix``: run every pair and write docs/compatibility.md (``make matrix``).

Exits 1 when a pair fails for a reason the page does not already explain (a case
outside its ``KNOWN`` entry), or when a known failure no longer happens (the note is
stale): either way the page was still written, so the failure can be read there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.servers import ROOT
from tests.matrix.frameworks import KNOWN, pairs
from tests.matrix.report import render
from tests.matrix.runner import PairResult, run_pair


def problems(results: list[PairResult]) -> list[str]:
    """What makes the run fail: unexplained failures and notes whose failure is gone."""
    found = []
    for result in results:
        key = (result.framework.name, result.server.name)
        known = KNOWN.get(key)
        failed = {outcome.case for outcome in result.failures()}
        expected = known.cases if known is not None else frozenset()
        if failed - expected:
            found.append(f"{key[0]} on {key[1]}: " + "; ".join(f"{o.case}: {o.detail}" for o in result.failures()))
        if expected - failed:
            found.append(f"{key[0]} on {key[1]}: now passes {sorted(expected - failed)}; remove its KNOWN note")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.matrix", description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "compatibility.md")
    parser.add_argument("--logs", type=Path, help="keep each server's output in this directory")
    options = parser.parse_args(argv)
    results = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="twiliosig-matrix-") as scratch:
        logs = options.logs or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        for framework, server in pairs():
            result = run_pair(framework, server, logs)
            results.append(result)
            mark = "ok" if result.passed else "FAILED " + ", ".join(o.case for o in result.failures())
            print(f"{framework.name:<15} {server.name:<15} {mark}", flush=True)
    options.output.write_text(render(results), encoding="utf-8")
    print(f"{len(results)} pairs in {time.monotonic() - started:.0f} s; wrote {options.output}")
    found = problems(results)
    for problem in found:
        print("problem:", problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
