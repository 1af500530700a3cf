"""Helpers shared by the tests (nothing imports from conftest or from another test file)."""
from __future__ import annotations

from verify.result import Z  # noqa: F401  (the one z for |Monte Carlo mean - exact| <= Z * SE)

#: The paper's setting, SPEC 1.1.
PAPER_POINT = {"d": 5, "L": 40, "sigma2": 0.1}
