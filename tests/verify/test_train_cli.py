"""``icl-verify train`` (and ``bench``) as a user runs them: real subprocesses, exit codes, one-line messages.

Exit 2: bad usage, checked before any work (flags out of range, an unusable ``--out``, a run that cannot fit in
memory). Exit 1: the run cannot go on (damaged folder with no usable checkpoint, another process writing there,
a write that fails). Exit 130: Ctrl-C, and rerunning the same command resumes bit-identically.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from numerics import checkpoint as ck
from numerics.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
TINY = ["--d", "2", "--L", "4", "--heads", "1", "--batch", "4", "--log-every", "1000", "--checkpoint-every", "500",
        "--eval-prompts", "64", "--no-progress"]
TINY_CFG = dict(d=2, L=4, n_head=1, batch=4, log_every=1000, checkpoint_every=500, eval_prompts=64)


def cli(*args, cwd=None, timeout=120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verify", *map(str, args)], env=ENV, cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout, **kw)


def _default_sigint() -> None:
    # a test run started in the background of a non-interactive shell inherits SIGINT ignored, and Python then
    # never raises KeyboardInterrupt: give the child the default disposition, as an interactive terminal would
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "verify", *map(str, args)], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
                            **kw)


def one_line_error(p, code: int, *needles: str) -> str:
    """``p`` exited with ``code`` and said exactly one line on stderr, with no traceback, containing ``needles``."""
    err = p.stderr.strip()
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)
    return err


def wait_for(cond, proc, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        if proc.poll() is not None:
            pytest.fail(f"process exited early: {proc.communicate()}")
        time.sleep(0.02)
    pytest.fail("timed out")


# ------------------------------------------------------------------------------------ --out (item 4)
@pytest.mark.parametrize("out, needle", [
    ("", "--out must name a folder"), ("   ", "--out must name a folder"),
    ("/dev/null", "exists and is not a folder"), ("afile", "exists and is not a folder"),
    ("/proc/icl-verify-nope", "is not a writable folder"), ("/sys/icl-verify-nope", "is not a writable folder"),
    ("x" * 256, "File name too long"), ("ok/" + "y" * 300 + "/z", "File name too long"),
])
def test_unusable_out_is_refused_before_any_work(out, needle, tmp_path):
    (tmp_path / "afile").write_text("keep")
    before = sorted(p.name for p in tmp_path.iterdir())
    p = cli("train", *TINY, "--steps", "10", "--out", out, cwd=tmp_path)
    one_line_error(p, 2, "icl-verify train: error: --out", needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written into the current folder
    assert (tmp_path / "afile").read_text() == "keep"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_line_error(cli("train", *TINY, "--steps", "10", "--out", ro / "run"), 2, "is not a writable folder")
    finally:
        ro.chmod(0o755)


# ------------------------------------------------------------------------------ flags (items 5 and 6)
@pytest.mark.parametrize("args, flag", [
    (["--seed", str(2**64)], "--seed"), (["--seed", "-1"], "--seed"),
    (["--threads", "100000"], "--threads"), (["--threads", "-1"], "--threads"),
    (["--steps", "99999999999999999999"], "--steps"), (["--steps", str(10**9 + 1)], "--steps"),
    (["--d", "100001"], "--d"), (["--L", str(10**7 + 1)], "--L"), (["--heads", str(10**6)], "--heads"),
    (["--batch", str(10**8)], "--batch"), (["--ensemble", str(10**6)], "--ensemble"),
    (["--eval-prompts", str(10**10)], "--eval-prompts"), (["--log-every", str(10**10)], "--log-every"),
    (["--checkpoint-every", str(10**10)], "--checkpoint-every"),
])
def test_out_of_range_flags_exit_2_naming_the_flag(args, flag, tmp_path):
    p = cli("train", "--no-progress", *args, "--out", tmp_path / "o")
    one_line_error(p, 2, f"icl-verify train: error: {flag} must be")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [
    ["--batch", "10000000", "--L", "100000"],            # one step's activations
    ["--d", "100000"],                                    # parameters
    ["--ensemble", "10000", "--heads", "10000"],          # parameters, activations
    ["--steps", "1000000000", "--log-every", "1"],        # the trajectory log
    ["--L", "10000000", "--eval-prompts", "1000000"],     # evaluation chunks
])
def test_runs_that_cannot_fit_in_memory_are_refused_at_once(args, tmp_path):
    t0 = time.perf_counter()
    p = cli("train", "--no-progress", *args, "--out", tmp_path / "o", timeout=60)
    one_line_error(p, 2, "not enough memory: this run needs about", "GiB", "available")
    assert time.perf_counter() - t0 < 30
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, flag", [
    (["--steps", "99999999999999999999"], "--steps"), (["--steps", "5"], "--steps"),
    (["--rounds", "0"], "--rounds"), (["--rounds", "100000"], "--rounds"),
    (["--threads", "100000"], "--threads"), (["--threads", "-1"], "--threads"), (["--device", "tpu"], "--device"),
])
def test_bench_arguments_are_bounded(args, flag):
    one_line_error(cli("bench", "--no-numerics", *args), 2, f"icl-verify bench: error: {flag}")


# ------------------------------------------------------------------------------ no code from files (1)
class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("kind", ["raw-pickle", "torch-zip"])
@pytest.mark.parametrize("state", ["partial", "finished"])
def test_planted_pickle_in_the_out_folder_runs_no_code(kind, state, tmp_path):
    out, marker = tmp_path / "run", tmp_path / "pwned"
    args = ["train", *TINY, "--steps", "600", "--out", out]
    train(TrainConfig(**TINY_CFG, steps=600), out)  # what the same command would have left (set up faster)
    if state == "partial":
        (out / ck.SUMMARY).unlink()
    for name in (ck.CHECKPOINT, ck.PREV_CHECKPOINT):
        if kind == "raw-pickle":
            data = pickle.dumps({"model": _Evil(str(marker))})
        else:
            buf = io.BytesIO()
            torch.save({"model": {"q": _Evil(str(marker))}, "step": 600}, buf)
            data = buf.getvalue()
        (out / name).write_bytes(data)
    p = cli(*args)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert lines[-1].startswith("icl-verify train: error: no usable checkpoint") and f"delete {out}" in lines[-1]
    assert all(line.startswith("icl-verify train: ") for line in lines)  # warnings are one line each, too
    assert not marker.exists()
    assert (out / ck.SUMMARY).exists() == (state == "finished")  # a failed recovery deletes nothing


# ------------------------------------------------------------------------------ damaged checkpoints (2)
def test_damaged_newest_checkpoint_is_replaced_by_the_previous_one(tmp_path):
    out = tmp_path / "run"
    cfg = TrainConfig(**TINY_CFG, steps=1500)
    ref = train(cfg)
    train(cfg, out)
    (out / ck.SUMMARY).unlink()  # as if killed after the last checkpoint
    data = (out / ck.CHECKPOINT).read_bytes()
    (out / ck.CHECKPOINT).write_bytes(data[: len(data) // 3])
    p = cli("train", *TINY, "--steps", "1500", "--out", out)
    assert p.returncode == 0, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("icl-verify train: warning:") and "previous checkpoint" in err[0]
    assert "resumed from step 1000" in p.stdout
    assert json.loads((out / ck.SUMMARY).read_text())["final_loss"] == float(ref.final_loss.mean())


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "bitflip"])
def test_no_usable_checkpoint_stops_with_one_line_and_exit_1(how, tmp_path):
    out = tmp_path / "run"
    args = ["train", *TINY, "--steps", "1000", "--out", out]
    train(TrainConfig(**TINY_CFG, steps=1000), out)
    (out / ck.SUMMARY).unlink()
    for name in (ck.CHECKPOINT, ck.PREV_CHECKPOINT):
        data = (out / name).read_bytes()
        data = {"truncated": data[:100], "empty": b"", "garbage": os.urandom(len(data)),
                "bitflip": data[:-200] + bytes([data[-200] ^ 1]) + data[-199:]}[how]
        (out / name).write_bytes(data)
    for _ in range(2 if how == "bitflip" else 1):  # and again: the same clean answer, nothing deleted
        one_line_error(cli(*args), 1, "icl-verify train: error: no usable checkpoint", str(out / ck.CHECKPOINT),
                       str(out / ck.PREV_CHECKPOINT), f"delete {out}")


# ------------------------------------------------------------------------------------ one writer (3)
def test_a_second_train_into_the_same_out_is_refused(tmp_path):
    out = tmp_path / "run"
    # a run that cannot finish during the test (10^9 steps; the log and checkpoints stay small)
    args = ["train", *TINY, "--steps", str(10**9), "--log-every", str(10**8), "--checkpoint-every", "500",
            "--out", out]
    first = start(*args)
    try:
        wait_for(lambda: (out / ck.CONFIG).exists(), first)  # config.json is written under the lock
        second = cli(*args)
        one_line_error(second, 1, "is in use by another `icl-verify train`", "choose another --out")
        assert first.poll() is None  # the first run is untouched and still going
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130


# ------------------------------------------------------------------------------------ Ctrl-C (item 7)
def test_ctrl_c_says_rerun_the_same_command_and_the_rerun_resumes_bit_identically(tmp_path):
    out = tmp_path / "run"
    args = ["train", *TINY, "--steps", "40000", "--out", out]     # long enough that the interrupt lands mid-run
    proc = start(*args)
    wait_for(lambda: (out / ck.CHECKSUMS).exists(), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert proc.returncode == 130, err
    assert err.strip() == ("icl-verify train: interrupted; finished work is saved (rerun the same command to "
                           "resume)")
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    again = cli(*args)
    assert again.returncode == 0 and "resumed from step" in again.stdout, again.stderr
    ref = train(TrainConfig(**TINY_CFG, steps=40000))
    doc = json.loads((out / ck.SUMMARY).read_text())
    assert [m["final_loss"] for m in doc["members"]] == ref.final_loss.tolist()


# --------------------------------------------------------------------------------------- full disk (4)
def test_a_failing_write_is_one_line_and_leaves_no_debris(tmp_path):
    """A file-size limit stands in for a full disk (writes fail with EFBIG like ENOSPC); rerunning without it
    finishes the run."""
    out = tmp_path / "run"
    args = ["train", *TINY, "--steps", "1000", "--out", out]

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    p = cli(*args, preexec_fn=limit)
    one_line_error(p, 1, "icl-verify train: error: File too large")
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]
    assert not (out / ck.CHECKPOINT).exists()
    assert cli(*args).returncode == 0 and (out / ck.SUMMARY).exists()
