"""Hypothesis strategies shared by the tests, each bounded to the regime where its formula holds."""
from __future__ import annotations
