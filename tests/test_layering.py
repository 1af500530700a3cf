"""The layering rule: theory never imports torch, numerics never imports sympy."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package,forbidden", [("theory", "torch"), ("numerics", "sympy")])
def test_layering(package, forbidden):
    code = (f"import importlib, pkgutil, sys, {package}\n"
            f"for m in pkgutil.iter_modules({package}.__path__):\n"
            f"    importlib.import_module('{package}.' + m.name)\n"
            f"print('{forbidden}' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False", f"{package} imports {forbidden}"
