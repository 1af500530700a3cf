"""``icl-verify train --supports``: multi-task runs write a phase and the per-head omega / mu per member; bad
supports are one-line errors with exit 2 (no traceback)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
TINY = ["--d", "6", "--L", "8", "--heads", "3", "--batch", "8", "--steps", "5", "--log-every", "5",
        "--checkpoint-every", "5", "--eval-prompts", "64", "--ensemble", "2", "--no-progress"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "verify", "train", *map(str, args)], env=ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("supports,match", [("", "at least one task"), ("0-3", "outside 1..6"),
                                            ("1-7", "outside 1..6"), ("4-2", "empty range"),
                                            ("1-4,,3-6", "task 2"), ("1-3+2", "repeats")])
def test_bad_supports_messages(supports, match):
    import argparse

    from verify.train_cmd import add_parser, config_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", *TINY, "--supports", supports])
    with pytest.raises(ValueError, match=match) as exc:
        config_from_args(args)
    assert str(exc.value).startswith("--supports")


def test_bad_supports_exit_2(tmp_path):
    r = cli(*TINY, "--supports", "1-7", "--out", tmp_path / "o")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("icl-verify train: error: --supports") and "outside 1..6" in r.stderr


def test_summary_has_phase():
    from numerics.training import TrainConfig, train

    cfg = TrainConfig(d=6, L=8, n_head=3, batch=8, steps=5, log_every=5, checkpoint_every=5, eval_prompts=64,
                      ensemble=2, supports=((0, 1, 2, 3), (2, 3, 4, 5)))
    summ = train(cfg).summary()
    assert summ["config"]["supports"] == [[0, 1, 2, 3], [2, 3, 4, 5]]
    for m in summ["members"]:
        assert m["phase"] in ("split-up", "superposition", "other")
        assert len(m["phase_omega"]) == 3 and len(m["phase_omega"][0]) == 6
        assert len(m["phase_mu"]) == 3 and len(m["phase_mu"][0]) == 2
    single = train(cfg.replace(supports=None)).summary()
    assert "phase" not in single["members"][0]
