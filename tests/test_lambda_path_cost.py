"""The Lambda adapter re-encodes an HTTP API's decoded path at about the cost of one ``quote``.

``_encoded_path`` runs on every event, before the signature is checked, over a path
the client chose. Linear is not enough there (tests/test_linear_time.py holds the
ratio): it once stepped through the path one character at a time in Python, about
5 us for each character that needed encoding, 5 s for a 1 MB path of ``?`` and 0.1 s
for the 16 KiB an ALB lets through. The bound is a ratio to ``urllib.parse.quote`` of
the same path, measured in one test (CPU time, best of interleaved rounds), never a
wall-clock figure.
"""

from __future__ import annotations

import gc
import time
from urllib.parse import quote

import pytest

from twiliosig.contrib.aws_lambda import _encoded_path

SIZE = 32 * 1024
#: How many times one quote() of the path the re-encoding may cost; the per-character loop cost 15 to 40.
FACTOR = 4.0


def _best(run: object, rounds: int = 5) -> float:
    assert callable(run)
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time_ns()
        for _ in range(10):
            run()
        best = min(best, time.process_time_ns() - start)
    return best


# Lone surrogates (a JSON event can carry them) written with chr(): ruff reads the two escapes as one.
@pytest.mark.parametrize("shape", ["?", "%", "é", "a?", "%zz", " #", chr(0xD800), chr(0xDC80)])
def test_a_decoded_path_costs_about_one_quote(shape: str) -> None:
    path = "/" + shape * (SIZE // len(shape))
    data = path.encode("utf-8", "surrogatepass")
    gc.disable()
    try:
        ours = _best(lambda: _encoded_path(path))
        reference = _best(lambda: quote(data, safe=""))
    finally:
        gc.enable()
    assert ours <= FACTOR * reference, f"{ours / reference:.1f} times one quote() for a path of {shape!r}"


def test_the_path_is_encoded_as_before() -> None:
    """Each character encoded as the per-character loop encoded it: kept, quoted, or a lone '%' as %25."""
    assert _encoded_path("/a b/%41/%zz/%4/é/?#/~!$&'()*+,;=:@") == "/a%20b/%41/%25zz/%254/%C3%A9/%3F%23/~!$&'()*+,;=:@"
    assert _encoded_path("/\udc80\ud800x") == "/%80%ED%A0%80x"
    assert _encoded_path("/%") == "/%25"
