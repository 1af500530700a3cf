"""Hypothesis profiles (``HYPOTHESIS_PROFILE=dev|ci|deep``, default ``dev``) and test-session settings.

Nothing is imported from here by tests: shared helpers live in ``tests/helpers.py``, strategies in
``tests/strategies.py``.
"""
from __future__ import annotations

import os

import torch
from hypothesis import HealthCheck, settings

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("dev", max_examples=12, **_common)
settings.register_profile("ci", max_examples=100, derandomize=False, print_blob=True, **_common)
settings.register_profile("deep", max_examples=400, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Tests are many small tensor ops: more threads only add overhead on a 2-core runner.
torch.set_num_threads(1)
