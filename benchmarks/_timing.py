"""Timing helpers shared by the benchmark scripts: best-of-N per-call cost in one process."""

from __future__ import annotations

import os
import platform
import timeit
from collections.abc import Callable


def per_call_ns(func: Callable[[], object], *, repeat: int = 7, min_seconds: float = 0.2) -> float:
    """The best per-call time in nanoseconds over ``repeat`` runs of auto-sized loops."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    number = max(number, int(number * min_seconds / 0.2))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e9


def machine() -> str:
    """One line describing where the figures were measured."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python} on {platform.machine()} ({platform.system()}), {os.cpu_count()} CPUs"


def report(title: str, rows: list[tuple[str, float]], ratios: list[tuple[str, float, float, str]]) -> None:
    """Print absolute times, then each ratio with its goal."""
    print(f"# {title}")
    print(f"# {machine()}")
    for label, nanoseconds in rows:
        print(f"{label:<58} {nanoseconds / 1000:9.2f} us")
    for label, ratio, goal, comparison in ratios:
        verdict = "meets" if ratio <= goal else "MISSES"
        print(f"{label:<58} {ratio:9.3f}   ({verdict} the goal {comparison} {goal})")
