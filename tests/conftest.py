"""Hypothesis profiles (``HYPOTHESIS_PROFILE=dev|ci|deep``, default ``dev``) and shared fixtures."""
from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("dev", max_examples=12, **_common)
settings.register_profile("ci", max_examples=25, derandomize=False, print_blob=True, **_common)
settings.register_profile("deep", max_examples=400, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Tests are many small tensor ops: more threads only add overhead on a 2-core runner.
torch.set_num_threads(1)

from verify.result import Z  # noqa: E402,F401  (the one z for |Monte Carlo mean - exact| <= Z * SE)


@pytest.fixture
def paper_point():
    return {"d": 5, "L": 40, "sigma2": 0.1}
