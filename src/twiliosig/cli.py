"""Command line entry point. The demo and the explain tools arrive with the middleware."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["demo"]:
        print("twiliosig demo: not yet; the protected example app arrives with the middleware.")
        return 0
    print("usage: python -m twiliosig demo", file=sys.stderr)
    return 2
