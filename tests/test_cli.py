"""The command line: exit codes, one-line errors without tracebacks, resumable runs."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verify.cli import main


def test_list_and_derive(capsys):
    assert main(["list"]) == 0
    assert "H4" in capsys.readouterr().out
    assert main(["derive", "loss", "--heads", "2"]) == 0
    assert "ω" in capsys.readouterr().out
    assert main(["derive", "pair", "--latex"]) == 0
    assert "\\sinh" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["run", "--claims", "H99"], ["run", "--profile", "fast"], ["run", "--seed", "-1"], ["run", "--device", "tpu"],
    ["run", "--claims", "H4", "--set", "nonsense=1"], ["run", "--claims", ","], ["derive", "nope"],
    ["derive", "loss", "--heads", "0"], ["frobnicate"],
])
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        sys.exit(main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err and "Traceback" not in err


def test_module_entry_point_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "verify", "run", "--claims", "H99"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown claim" in proc.stderr


def test_run_writes_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "rep"
    argv = ["run", "--claims", "H4", "--out", str(out), "--no-progress", "--set", "trained_full=False",
            "--set", "train_steps=20"]
    code = main(argv)
    data = json.loads((out / "results.json").read_text())
    assert data["profile"] == "quick" and [c["id"] for c in data["claims"]] == ["H4"]
    claim = data["claims"][0]
    assert claim["verdict"] in ("pass", "fail") and code == (0 if claim["verdict"] == "pass" else 1)
    assert set(claim) >= {"id", "verdict", "metrics", "figures"}
    assert all((out / "figures").joinpath(f.split("/")[-1]).exists() for f in claim["figures"])
    assert "## H4" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(argv + ["--resume"]) == code
    assert "saved result reused" in capsys.readouterr().out
