"""``icl-verify train --cov`` (SPEC 1.2): parsing, one-line errors with exit 2, and Γ in ``summary.json``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from numerics.patterns import circuits
from verify.train_cmd import parse_cov

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
TINY = ["--d", "3", "--L", "4", "--heads", "2", "--batch", "4", "--steps", "3", "--log-every", "1000",
        "--eval-prompts", "64", "--no-progress"]


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", "train", *map(str, args)], env=ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_parse_forms(tmp_path):
    np.testing.assert_allclose(parse_cov("toeplitz:0.5", d=3), [[1, .5, .25], [.5, 1, .5], [.25, .5, 1]])
    np.testing.assert_allclose(parse_cov("diag:1,2,8", d=3), np.diag([1.0, 2.0, 8.0]))
    S = np.array([[2.0, 0.3], [0.3, 1.0]])
    np.save(tmp_path / "s.npy", S)
    np.testing.assert_allclose(parse_cov(str(tmp_path / "s.npy"), d=2), S)


@pytest.mark.parametrize("text, match", [
    ("toeplitz:1", "positive definite"), ("toeplitz:x", "--cov"), ("toeplitz:", "must be"), ("diag:1,2", "d = 3"),
    ("diag:1,-2,3", "positive definite"), ("diag:1,nan,3", "finite"), ("eye", "must be"),
    ("/no/such/file.npy", "cannot read"),
])
def test_parse_errors_name_the_flag(text, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_cov(text, d=3)
    assert str(info.value).startswith("--cov") and "\n" not in str(info.value)


def test_bad_npy_matrices(tmp_path):
    asym = np.array([[1, .5, 0], [0, 1, 0], [0, 0, 1.]])
    for name, arr, match in (("shape", np.ones((3, 2)), "shape"), ("asym", asym, "symmetric"),
                             ("nan", np.full((3, 3), np.nan), "finite")):
        np.save(tmp_path / f"{name}.npy", arr)
        with pytest.raises(ValueError, match=match):
            parse_cov(str(tmp_path / f"{name}.npy"), d=3)


def test_cli_bad_cov_is_exit_2_one_line(tmp_path):
    p = cli(*TINY, "--cov", "diag:1,-1,2", "--out", tmp_path / "run")
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, (p.returncode, err)
    assert "--cov" in err and "positive definite" in err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_cli_cov_run_writes_gamma(tmp_path):
    out = tmp_path / "run"
    p = cli(*TINY, "--ensemble", "2", "--cov", "toeplitz:0.5", "--out", out)
    assert p.returncode == 0, p.stderr
    summ = json.loads((out / "summary.json").read_text())
    assert summ["config"]["cov"][0] == [1.0, 0.5, 0.25]
    kq, ov, d = circuits(out / "checkpoint.pt")  # Γ = Σ_h μ_h Ω_h from the saved weights
    for e, m in enumerate(summ["members"]):
        G = np.asarray(m["gamma"])
        assert G.shape == (3, 3)
        np.testing.assert_allclose(G, np.einsum("h,hij->ij", ov[e, :, d, 0], kq[e, :, :d, :d]), rtol=1e-5, atol=1e-7)
