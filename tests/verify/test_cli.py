"""The command line: exit codes, one-line errors without tracebacks, resumable runs, report rebuild."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verify import registry
from verify.cli import main

from . import toy


@pytest.fixture
def toys(monkeypatch):
    registry._load()
    monkeypatch.setitem(registry._REGISTRY, "C99", toy.toy_claim("C99"))


def test_list_and_derive(capsys):
    assert main(["list", "-v"]) == 0
    out = capsys.readouterr().out
    assert "H5" in out and "quick: problem.d=5" in out
    assert main(["derive", "loss", "--heads", "2"]) == 0
    assert "ω" in capsys.readouterr().out
    assert main(["derive", "pair", "--latex"]) == 0
    assert "\\sinh" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["run", "--claims", "H99"], ["run", "--profile", "fast"], ["run", "--seed", "-1"], ["run", "--seed", str(2**64)],
    ["run", "--device", "tpu"], ["run", "--claims", "H5", "--set", "nonsense=1"], ["run", "--claims", ","],
    ["run", "--claims", ""], ["run", "--claims", "H5", "--set", "n_prompts=-5"],
    ["run", "--claims", "H5", "--set", "H5.d=5.7"], ["run", "--claims", "H5", "--set", "H6.n_prompts=10"],
    ["run", "--claims", "H5", "--out", "/dev/null"], ["run", "--claims", "H5", "--out", ""],
    ["run", "--claims", "H5", "--out", "/tmp/" + "a" * 300 + "/b"],
    ["report", "--out", "/nonexistent/folder"], ["derive", "nope"], ["derive", "loss", "--heads", "0"],
    ["frobnicate"],
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


ASCII_ENV = {"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": "ascii", "PATH": "/usr/bin:/bin"}


def test_ascii_terminal_gets_ascii_derivations():
    proc = subprocess.run([sys.executable, "-m", "verify", "derive", "pair"], capture_output=True, env=ASCII_ENV)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    assert b"sinh" in proc.stdout and b"?" not in proc.stdout     # ASCII art, not replacement characters


def test_ascii_terminal_runs_claims(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "verify", "run", "--claims", "H5", "--profile", "smoke", "--out",
                           str(tmp_path), "--no-progress"], capture_output=True, env=ASCII_ENV)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr and (tmp_path / "report.md").exists()


@pytest.mark.parametrize("shift,code", [(0.0, 0), (10.0, 1)])
def test_exit_status_follows_the_verdict(toys, tmp_path, capsys, shift, code):
    out = tmp_path / "rep"
    argv = ["run", "--claims", "C99", "--out", str(out), "--no-progress", "--set", f"shift={shift}"]
    assert main(argv) == code
    data = json.loads((out / "results.json").read_text())
    claim = data["claims"][0]
    assert claim["verdict"] == ("pass" if code == 0 else "fail")
    assert all((out / "figures").joinpath(f.split("/")[-1]).exists() for f in claim["figures"])
    assert "## C99" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(argv + ["--resume"]) == code
    assert "saved result reused" in capsys.readouterr().out
    assert main(["report", "--out", str(out)]) == code


@pytest.mark.parametrize("value", [
    "n_prompts=-5", "n_prompts=0", "n_prompts=abc", "n_prompts=1", "n_prompts=True", "d=0", "d=5.7", "d='5'", "L=1",
    "sigma2=-1", "eta=nan", "w_min=0", "n_w=1", "w_min=0.5", "H5.problem.cov=[[1]]", "n_prompts=10**30",
])
def test_every_bad_set_value_exits_2_before_work(tmp_path, capsys, value):
    out = tmp_path / "rep"
    assert main(["run", "--claims", "H5", "--out", str(out), "--set", value]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and not out.exists()


def test_a_claim_named_twice_runs_once(toys, tmp_path, capsys):
    assert main(["run", "--claims", "C99,c99", "--out", str(tmp_path), "--no-progress"]) == 0
    assert capsys.readouterr().out.count("C99: running") == 1


def test_an_override_a_claim_would_ignore_is_refused(capsys):
    assert main(["run", "--claims", "H6", "--set", "L=80"]) == 2
    assert "Ls" in capsys.readouterr().err
