"""The decorators keep the decorated view's type, as mypy sees it (tests/typecheck_decorators.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_decorated_views_keep_their_parameters_and_return_type() -> None:
    """mypy --strict passes on the typing checks: every assert_type holds and every expected error is reported."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "tests/typecheck_decorators.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
