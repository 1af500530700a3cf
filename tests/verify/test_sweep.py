"""``icl-verify sweep``: the sweep file's grid (validated before anything trains), the tidy table (CSV + Parquet, one
row per member, theory columns), the figures, and a re-run that only looks the trainings up."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from theory.mean_field import eta_star
from theory.risks import dgd_risk
from verify.cli import main
from verify.sweep import parse
from verify.sweep.table import COLUMNS

TINY = """
[sweep]
seed = 3
seeds = 2

[fixed]
d = 2
sigma2 = 0.1
steps = 200
batch = 32
log_every = 100
eval_prompts = 256

[grid]
L = [8, 12]
n_head = [1, 2]
"""


def test_the_grid_is_every_combination_with_the_fixed_values():
    spec = parse({"sweep": {"seed": 3, "seeds": 2}, "fixed": {"d": 2, "steps": 50},
                  "grid": {"L": [8, 12], "n_head": [1, 2, 4]}})
    assert [(s.label["L"], s.label["n_head"]) for s in spec.settings] == [(8, 1), (8, 2), (8, 4), (12, 1), (12, 2),
                                                                           (12, 4)]
    cfg = spec.settings[0].config
    assert (cfg.d, cfg.steps, cfg.ensemble, cfg.seed, cfg.key) == (2, 50, 2, 3, ("sweep",))


def test_cov_and_supports_shorthands():
    spec = parse({"fixed": {"d": 3}, "grid": {"cov": ["ar1:0.5"]}})
    assert spec.settings[0].config.cov[0] == (1.0, 0.5, 0.25)
    spec = parse({"fixed": {"d": 4}, "grid": {"supports": ["1-2,3-4"]}})
    assert spec.settings[0].config.supports == ((0, 1), (2, 3))


@pytest.mark.parametrize("doc, match", [
    ({"grid": {"colour": [1]}}, "'colour' is not a setting"),
    ({"fixed": {"device": "cuda"}}, "'device' is not a setting"),
    ({"grid": {"d": []}}, "must be a non-empty list"),
    ({"grid": {"d": 3}}, "must be a non-empty list"),
    ({"fixed": {"d": 2}, "grid": {"d": [3]}}, "both fixed and swept"),
    ({"grid": {"L": [1, 8]}}, r"setting L=1: L must be"),
    ({"grid": {"n_head": [2, 2]}}, "the same training"),
    ({"extra": {}}, r"unknown table \[extra\]"),
    ({"sweep": {"seeds": 0}}, "seeds must be"),
    ({"fixed": {"cov": "ar2:0.1"}}, "cov must be a matrix or 'ar1:RHO'"),
])
def test_bad_sweep_files_are_one_line_errors(doc, match):
    with pytest.raises(ValueError, match=match) as exc:
        parse(doc)
    assert "\n" not in str(exc.value)


def test_sweep_writes_the_table_and_figures_and_a_rerun_only_looks_up(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--no-progress"]) == 0
    assert "trained 4 setting(s), 0 from the cache" in capsys.readouterr().out
    import pandas as pd

    df = pd.read_parquet(out / "sweep.parquet")
    csv = pd.read_csv(out / "sweep.csv")
    assert len(df) == len(csv) == 8 and list(df.columns[:len(COLUMNS)]) == list(COLUMNS)
    assert {"swept_L", "swept_n_head"} <= set(df.columns)
    np.testing.assert_allclose(csv["final_loss"], df["final_loss"], rtol=1e-12)
    for (L, H), g in df.groupby(["L", "n_head"]):
        assert len(g) == 2 and g["seed"].nunique() == 2
        assert g["eta_star"].iloc[0] == pytest.approx(eta_star(d=2, L=L, sigma2=0.1))
        assert g["dgd_risk_opt"].iloc[0] == pytest.approx(dgd_risk(d=2, L=L, sigma2=0.1))
        assert np.all(np.isfinite(g["eta_eff"])) and np.all(g["final_loss"] > 0)
        if H == 1:
            assert set(g["phase"]) == {"one head"} and not g["split"].any()
    for name in ("sweep_eta_eff.png", "sweep_split.png", "sweep_loss.png"):
        assert (out / "figures" / name).stat().st_size > 1000
    assert main(["sweep", str(spec), "--out", str(out), "--no-progress"]) == 0
    assert "trained 0 setting(s), 4 from the cache" in capsys.readouterr().out
    assert pd.read_parquet(out / "sweep.parquet").equals(df)


@pytest.mark.parametrize("args, flag", [(["missing.toml"], "missing.toml"), (["BAD"], "not valid TOML"),
                                        (["OK", "--scheduler", "nowhere"], "--scheduler"),
                                        (["OK", "--checkpoint-every", "0"], "--checkpoint-every")])
def test_sweep_cli_bad_input_exits_2_in_one_line(tmp_path, args, flag):
    (tmp_path / "BAD").write_text("[grid\nd = 1")
    (tmp_path / "OK").write_text(TINY)
    argv = [str(tmp_path / a) if a in ("BAD", "OK", "missing.toml") else a for a in args]
    proc = subprocess.run([sys.executable, "-m", "verify", "sweep", *argv, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and flag in proc.stderr and "Traceback" not in proc.stderr


def test_the_shipped_example_parses():
    from verify.sweep import load

    spec = load(Path(__file__).resolve().parents[2] / "examples" / "sweep-quick.toml")
    assert len(spec.settings) >= 8
