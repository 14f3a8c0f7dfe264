"""Refusal time does not depend on how much of the signature is right.

A forged signature that shares its first k characters with the genuine one is
refused in the same time whatever k is: the comparison is ``hmac.compare_digest``
and the work before it (canonical string, HMACs over every candidate URL) does not
look at the signature. Measured by interleaving the k classes in random order,
many times, and comparing medians; the bound is generous (5 %), because this is a
statistical check in a benchmark, not a unit test.

Run: ``.venv/bin/python benchmarks/timing.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import machine
from core import PARAMS, TOKEN, URL

from twiliosig import RequestValidator, compute_signature

PREFIXES = (0, 7, 14, 21, 26)
BOUND = 0.05


def forged_with_prefix(genuine: str, k: int) -> str:
    """A wrong signature whose first k characters are right (the 28th, '=', is padding)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    wrong = "".join(alphabet[(alphabet.index(c) + 1) % 64] for c in genuine[k:27])
    return genuine[:k] + wrong + genuine[27:]


def measure(rounds: int = 200, batch: int = 50) -> dict[int, float]:
    """Median refusal time in nanoseconds per prefix length."""
    validator = RequestValidator(TOKEN)
    genuine = compute_signature(TOKEN, URL, PARAMS)
    forged = {k: forged_with_prefix(genuine, k) for k in PREFIXES}
    for signature in forged.values():
        assert not validator.validate(URL, PARAMS, signature)
    samples: dict[int, list[float]] = {k: [] for k in PREFIXES}
    order = list(PREFIXES)
    clock = time.perf_counter_ns
    for _ in range(rounds):
        random.shuffle(order)
        for k in order:
            signature = forged[k]
            start = clock()
            for _ in range(batch):
                validator.validate(URL, PARAMS, signature)
            samples[k].append((clock() - start) / batch)
    return {k: statistics.median(values) for k, values in samples.items()}


def main() -> int:
    medians = measure()
    spread = max(medians.values()) / min(medians.values()) - 1
    print("# timing: refusal time by number of leading signature characters that are right")
    print(f"# {machine()}")
    for k, value in medians.items():
        print(f"{k:2d} right characters: median {value / 1000:8.2f} us")
    verdict = "within" if spread <= BOUND else "OUTSIDE"
    print(f"spread between the slowest and fastest class: {spread * 100:.2f} % ({verdict} the {BOUND:.0%} bound)")
    return 0 if spread <= BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
