"""``icl-verify baselines`` as a user runs it: table and JSON output, bad settings as one-line errors with exit 2.

Bad-setting cases go through :func:`verify.cli.main` in process (fast); one real subprocess checks the console
entry point end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verify.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--d", "6", "--s", "2", "--n", "5", "--prompts", "40", "--steps", "3"]


def test_json_output(capsys):
    assert main(["baselines", *SMALL, "--sigma2", "0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in out["methods"]] == ["ols", "ridge", "gd", "pto", "lasso"]
    for m in out["methods"]:
        assert set(m) >= {"name", "excess_risk", "se", "param"}
        assert m["excess_risk"] >= 0 and m["se"] >= 0
        assert (m["param"] is None) == (m["name"] == "ols")
        if m["param"] is not None:
            assert m["param"] in out["grids"][m["name"]]["values"]
    assert out["setting"]["s"] == 2


def test_table_isotropic_and_groupwise(capsys):
    assert main(["baselines", "--data", "isotropic", "--d", "4", "--n", "1", "--prompts", "30", "--steps", "2"]) == 0
    text = capsys.readouterr().out
    assert "isotropic (SPEC 1.1) d=4 n=1" in text
    assert all(f"\n{m} " in text for m in ("ols", "ridge", "gd", "pto", "lasso"))
    assert main(["baselines", *SMALL, "--heads", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["setting"]["heads"] == 2


@pytest.mark.parametrize("flags,msg", [
    (["--s", "7"], "s must be an integer in [1, 6]"), (["--s", "0"], "s must be"), (["--n", "0"], "n must be"),
    (["--sigma2", "-0.5"], "sigma2 must be"), (["--sigma2", "nan"], "sigma2 must be"), (["--d", "0"], "d must"),
    (["--steps", "-1"], "steps must"), (["--prompts", "1"], "prompts must"), (["--heads", "9"], "--heads must"),
    (["--data", "gauss"], "invalid choice"),
])
def test_bad_settings_exit_2(flags, msg, capsys):
    args = ["baselines", *SMALL, *flags]
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse's own errors (a bad --data choice)
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_entry_point():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    ok = subprocess.run([sys.executable, "-m", "verify", "baselines", *SMALL, "--json"], env=env, cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["methods"]) == 5
    bad = subprocess.run([sys.executable, "-m", "verify", "baselines", "--d", "3", "--s", "4"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == "icl-verify baselines: error: s must be an integer in " \
                                                         "[1, 3], got 4"
