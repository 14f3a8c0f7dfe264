"""Making request data loggable costs what the line shows, not what the client sent.

``loggable`` escaped the whole text before cutting it to its limit: a forged request
naming a megabyte ``AccountSid`` (a body under the 1 MiB limit) cost the token lookup
13 ms to build a refusal that shows 64 characters of it, every request. Only the first
``limit + 1`` characters decide the result. The bound is a ratio measured in one test
(CPU time, best of rounds), never a wall-clock figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from twiliosig import RequestValidator
from twiliosig._logtext import loggable

SMALL = 1024
LARGE = 1024 * 1024
#: How many times the small input's cost the large one may cost: the whole-text escape was ~250.
FACTOR = 10.0


def _best(run: Callable[[], object], rounds: int = 5, repeat: int = 20) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        for _ in range(repeat):
            run()
        best = min(best, time.process_time_ns() - start)
    return best


@pytest.mark.parametrize("fill", ["a", "\x00", "é\n"])
def test_loggable_costs_what_it_shows(fill: str) -> None:
    small, large = fill * (SMALL // len(fill)), fill * (LARGE // len(fill))
    assert _best(lambda: loggable(large)) <= FACTOR * _best(lambda: loggable(small))


def test_a_megabyte_account_sid_costs_the_lookup_no_more_than_a_short_one() -> None:
    validator = RequestValidator(lambda account: None)

    def refuse(account: str) -> Callable[[], object]:
        return lambda: validator.check("https://a.example/p", [("AccountSid", account)], "A" * 27 + "=")

    assert _best(refuse("\x00" * LARGE)) <= FACTOR * _best(refuse("\x00" * SMALL))
