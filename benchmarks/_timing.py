"""Timing helpers shared by the benchmark scripts: best-of-N per-call cost in one process."""

from __future__ import annotations

import gc
import math
import os
import platform
import time
import timeit
from collections.abc import Callable, Mapping


def per_call_ns(func: Callable[[], object], *, repeat: int = 7, min_seconds: float = 0.2) -> float:
    """The best per-call time in nanoseconds over ``repeat`` runs of auto-sized loops."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    number = max(number, int(number * min_seconds / 0.2))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e9


def interleaved_ns(
    funcs: Mapping[str, Callable[[], object]], *, rounds: int = 7, min_seconds: float = 0.05
) -> dict[str, float]:
    """The best per-call time in nanoseconds of each function, the functions taking turns.

    For calls of milliseconds, where ``timeit``'s auto-ranging would time a
    single batch: each round runs every function in turn (at least
    ``min_seconds`` each), so a slow drift of the machine weighs on all alike.
    The garbage collector stays on, as in a server: building tens of thousands
    of objects triggers collections, and a parser pays for them.
    """
    clock = time.perf_counter_ns
    best = dict.fromkeys(funcs, math.inf)
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        for _ in range(rounds):
            for name, func in funcs.items():
                calls, start = 0, clock()
                while True:
                    func()
                    calls += 1
                    elapsed = clock() - start
                    if elapsed >= min_seconds * 1e9:
                        break
                best[name] = min(best[name], elapsed / calls)
    finally:
        if not was_enabled:
            gc.disable()
    return best


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
