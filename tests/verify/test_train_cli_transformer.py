"""``icl-verify train --model transformer``: the same conventions as the attention model (--out, resume, summary)."""
from __future__ import annotations

import json

import pytest

from verify.cli import main

TINY = ["train", "--model", "transformer", "--d", "4", "--L", "6", "--s", "2", "--layers", "2", "--heads", "2",
        "--width", "8", "--steps", "20", "--batch", "8", "--eval-prompts", "64", "--log-every", "10",
        "--checkpoint-every", "10", "--no-progress"]


def test_trains_writes_summary_and_reuses_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out)]) == 0
    summ = json.loads((out / "summary.json").read_text())
    assert summ["config"]["model"] == "transformer" and summ["config"]["n_layer"] == 2 and summ["config"]["s"] == 2
    assert "2 layers" in capsys.readouterr().out
    assert main([*TINY, "--out", str(out)]) == 0
    assert "already finished" in capsys.readouterr().out


@pytest.mark.parametrize("extra, msg", [
    (["--s", "9"], "--s must be"), (["--layers", "0"], "--layers must be"), (["--width", "0"], "--width must be"),
    (["--heads", "16"], "at most width"), (["--mlp", "-1"], "--mlp must be"),
])
def test_bad_settings_exit_2_in_one_line(tmp_path, capsys, extra, msg):
    assert main([*TINY, *extra, "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1


def test_transformer_flags_are_refused_for_the_attention_model(tmp_path, capsys):
    assert main(["train", "--model", "softmax", "--layers", "4", "--out", str(tmp_path / "x")]) == 2
    assert "apply to --model transformer" in capsys.readouterr().err
