"""Hardening of the trainer's files (library level; the command line is in ``tests/verify/test_train_cli.py``).

* no code runs from a planted checkpoint (raw pickle, or a torch zip holding a pickled object), wherever it lies;
* damaged checkpoints (truncated, empty, garbage, a flipped bit) are detected by their checksum and the run falls
  back to the previous checkpoint, bit-identically; with none usable, ``train`` stops, the cache retrains;
* one writer per run folder (:func:`numerics.checkpoint.run_lock`);
* a checkpoint save that hits a full disk leaves a usable checkpoint and no debris;
* bounded configuration integers and the memory estimate checked before anything is allocated.
"""
from __future__ import annotations

import errno
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from numerics import checkpoint as ck
from numerics.patterns import circuits
from numerics.training import (MAX_BATCH, MAX_ENSEMBLE, MAX_EVAL_PROMPTS, MAX_HEADS, MAX_STEPS, MAX_THREADS,
                               TrainConfig, Trainer, cached_train, check_memory, load_run, log_steps, train)
from numerics.training.memory import SAFETY, available_memory, estimate, n_log_rows
from tests.helpers import assert_same_run

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
CFG_KW = dict(d=2, L=8, n_head=2, batch=16, steps=300, log_every=50, checkpoint_every=100, eval_prompts=256,
              ensemble=2, seed=5)
CFG = TrainConfig(**CFG_KW)



@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run of :data:`CFG` (no folder)."""
    return train(CFG)


@pytest.fixture(scope="module")
def partial_template(tmp_path_factory):
    """A run folder of :data:`CFG` stopped after step 200: checkpoint.pt at 200, checkpoint.prev.pt at 100."""
    folder = tmp_path_factory.mktemp("partial") / "run"
    Trainer(CFG, folder).run_until(200)
    return folder


@pytest.fixture(scope="module")
def finished_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished") / "run"
    train(CFG, folder)
    return folder


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def _tensor_offset(data: bytes, state: dict) -> int:
    """Offset of the bytes of the model's ``q`` tensor inside a checkpoint file (stored uncompressed)."""
    raw = state["model"]["q"].numpy().tobytes()
    at = data.find(raw)
    assert at >= 0
    return at


# ------------------------------------------------------------------------------------------ format
def test_checkpoint_files_rotate_and_every_one_verifies(partial_template):
    sums = ck.read_checksums(partial_template)
    assert [e["step"] for e in sums] == [200, 100]
    cur = ck.read_checkpoint(partial_template / ck.CHECKPOINT)
    prev = ck.read_checkpoint(partial_template / ck.PREV_CHECKPOINT)
    assert cur["step"] == 200 and prev["step"] == 100
    state, path = ck.load_checkpoint(partial_template)
    assert path.name == ck.CHECKPOINT and state["step"] == 200
    # still a plain torch file: weights-only torch.load reads it
    assert torch.load(partial_template / ck.CHECKPOINT, weights_only=True)["step"] == 200
    assert {p.name for p in partial_template.iterdir()} == {ck.CHECKPOINT, ck.PREV_CHECKPOINT, ck.CHECKSUMS,
                                                            ck.CONFIG}


def test_no_package_reader_unpickles():
    """Every file the package reads goes through weights-only torch.load, JSON or allow_pickle=False."""
    hits = []
    for pkg in ("numerics", "verify", "theory"):
        for f in (ROOT / pkg).rglob("*.py"):
            for i, line in enumerate(f.read_text().splitlines(), 1):
                if ("torch.load(" in line and "weights_only=True" not in line) or "pickle.load" in line \
                        or "allow_pickle=True" in line:
                    hits.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, hits


# ------------------------------------------------------------------------------- 1. no code from files
class _Evil:
    """Unpickling this object creates ``marker`` (the test's proof that code ran)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _payload(kind: str, marker: Path) -> bytes:
    if kind == "raw-pickle":
        return pickle.dumps({"hash": CFG.hash(), "step": 0, "model": _Evil(str(marker))})
    buf = io.BytesIO()
    torch.save({"hash": CFG.hash(), "step": CFG.steps, "model": {"q": _Evil(str(marker))}}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["raw-pickle", "torch-zip"])
def test_planted_payload_is_live(kind, tmp_path):
    """The payloads below do run code when unpickled carelessly (so the tests that they do not are meaningful)."""
    marker = tmp_path / "pwned"
    data = _payload(kind, marker)
    if kind == "raw-pickle":
        pickle.loads(data)
    else:
        torch.load(io.BytesIO(data), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("kind", ["raw-pickle", "torch-zip"])
@pytest.mark.parametrize("checksums", [True, False], ids=["with-checksums", "no-checksums"])
@pytest.mark.parametrize("where", ["partial-train", "finished-load_run", "finished-cached_train",
                                   "cache-cached_train", "circuits"])
def test_planted_pickle_runs_no_code(kind, checksums, where, tmp_path, partial_template, finished_template):
    marker = tmp_path / "pwned"
    if where == "partial-train":
        folder = _copy(partial_template, tmp_path / "run")
    elif where == "cache-cached_train":
        folder = ck.run_dir(tmp_path / "cache" / "trained", CFG.name(), CFG.identity())
        _copy(partial_template, folder)
    else:
        folder = _copy(finished_template, tmp_path / "run")
    for name in (ck.CHECKPOINT, ck.PREV_CHECKPOINT):
        (folder / name).write_bytes(_payload(kind, marker))
    if not checksums:
        (folder / ck.CHECKSUMS).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if where == "partial-train":
            with pytest.raises(ck.CheckpointError, match="no usable checkpoint"):
                train(CFG, folder)
        elif where == "finished-load_run":
            with pytest.raises(ck.CheckpointError):
                load_run(folder)
        elif where == "circuits":
            with pytest.raises(ck.CheckpointError):
                circuits(folder / ck.CHECKPOINT)
        elif where == "finished-cached_train":
            root = tmp_path / "root"
            entry = ck.run_dir(root, CFG.name(), CFG.identity())
            shutil.move(folder, entry)
            res = cached_train(CFG, root)  # a cache: retrained from scratch
            assert not res.cached and res.resumed_from is None
        else:
            res = cached_train(CFG, tmp_path / "cache" / "trained")
            assert not res.cached and res.resumed_from is None
    assert not marker.exists()


# ---------------------------------------------------------------------------------- 2. damage recovers
def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif how == "bitflip-tensor":
        at = _tensor_offset(data, ck.read_checkpoint(path)) + 3
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1:])
    elif how == "missing":
        path.unlink()
    else:
        raise AssertionError(how)


DAMAGE = ["truncated", "empty", "garbage", "bitflip-tensor"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_newest_checkpoint_falls_back_bit_identically(how, tmp_path, partial_template, reference):
    folder = _copy(partial_template, tmp_path / "run")
    _damage(folder / ck.CHECKPOINT, how)
    with pytest.warns(UserWarning, match=r"checkpoint\.pt.*using the previous checkpoint .*step 100"):
        res = train(CFG, folder)
    assert res.resumed_from == 100
    assert_same_run(res, reference)
    assert ck.read_checkpoint(folder / ck.CHECKPOINT)["step"] == CFG.steps


def test_missing_newest_checkpoint_resumes_from_the_previous(tmp_path, partial_template, reference):
    folder = _copy(partial_template, tmp_path / "run")
    _damage(folder / ck.CHECKPOINT, "missing")
    res = train(CFG, folder)
    assert res.resumed_from == 100
    assert_same_run(res, reference)


@pytest.mark.parametrize("how", DAMAGE)
def test_no_usable_checkpoint_stops_train_and_restarts_the_cache(how, tmp_path, partial_template, reference):
    folder = _copy(partial_template, tmp_path / "run")
    for name in (ck.CHECKPOINT, ck.PREV_CHECKPOINT):
        _damage(folder / name, how if how != "bitflip-tensor" else "truncated")
    with pytest.raises(ck.CheckpointError) as exc:
        train(CFG, folder)
    msg = str(exc.value)
    assert "\n" not in msg and str(folder / ck.CHECKPOINT) in msg and str(folder / ck.PREV_CHECKPOINT) in msg
    with pytest.warns(UserWarning, match="from scratch"):
        res = train(CFG, folder, on_damage="restart")
    assert res.resumed_from is None
    assert_same_run(res, reference)


@pytest.mark.parametrize("what", ["checkpoint-bitflip", "checkpoint-truncated", "summary", "trajectory", "config"])
def test_damaged_finished_cache_entry_is_finished_again(what, tmp_path, finished_template, reference):
    """The report cache's recovery: a damaged finished entry is finished again from its newest usable checkpoint
    (it used to delete summary.json and fail again on the same checkpoint)."""
    entry = ck.run_dir(tmp_path, CFG.name(), CFG.identity())
    _copy(finished_template, entry)
    target = {"summary": ck.SUMMARY, "trajectory": ck.TRAJECTORY, "config": ck.CONFIG}.get(what, ck.CHECKPOINT)
    if what.startswith("checkpoint"):
        _damage(entry / target, what.split("-")[1].replace("bitflip", "bitflip-tensor"))
    else:
        (entry / target).write_bytes(b"\x00garbage{")
    with pytest.warns(UserWarning, match="damaged"):
        res = cached_train(CFG, tmp_path)
    assert not res.cached
    assert_same_run(res, reference)
    again = cached_train(CFG, tmp_path)
    assert again.cached
    assert_same_run(again, reference)


def test_damaged_finished_entry_with_no_usable_checkpoint_is_retrained(tmp_path, finished_template, reference):
    entry = ck.run_dir(tmp_path, CFG.name(), CFG.identity())
    _copy(finished_template, entry)
    for name in (ck.CHECKPOINT, ck.PREV_CHECKPOINT):
        _damage(entry / name, "garbage")
    with pytest.warns(UserWarning) as rec:
        res = cached_train(CFG, tmp_path)
    said = " | ".join(str(w.message) for w in rec)
    assert "is damaged" in said and "from scratch" in said, said
    assert res.resumed_from is None and not res.cached
    assert_same_run(res, reference)
    assert cached_train(CFG, tmp_path).cached


@given(data=st.data())
@example(data=None)
def test_any_flipped_bit_is_detected(data, finished_template, tmp_path_factory):
    """A single flipped bit anywhere in checkpoint.pt is a CheckpointError (SHA-256 of the file bytes)."""
    src = (finished_template / ck.CHECKPOINT).read_bytes()
    if data is None:  # the hostile case: a bit inside a stored tensor
        pos, bit = _tensor_offset(src, ck.read_checkpoint(finished_template / ck.CHECKPOINT)), 0
    else:
        pos = data.draw(st.integers(0, len(src) - 1), label="byte")
        bit = data.draw(st.integers(0, 7), label="bit")
    note(f"flipped bit {bit} of byte {pos} of {len(src)}")
    folder = tmp_path_factory.mktemp("flip")
    shutil.copy(finished_template / ck.CHECKSUMS, folder / ck.CHECKSUMS)
    (folder / ck.CHECKPOINT).write_bytes(src[:pos] + bytes([src[pos] ^ (1 << bit)]) + src[pos + 1:])
    with pytest.raises(ck.CheckpointError):
        ck.read_checkpoint(folder / ck.CHECKPOINT)


def test_folder_without_checksums_still_resumes_with_a_warning(tmp_path, partial_template, reference):
    """Folders written before checksums existed: accepted when they load, with a warning."""
    folder = _copy(partial_template, tmp_path / "run")
    (folder / ck.CHECKSUMS).unlink()
    (folder / ck.PREV_CHECKPOINT).unlink()
    with pytest.warns(UserWarning, match="cannot be verified"):
        res = train(CFG, folder)
    assert res.resumed_from == 200
    assert_same_run(res, reference)
    assert ck.read_checksums(folder)[0]["step"] == CFG.steps


def test_a_checkpoint_that_does_not_fit_the_model_is_damage(tmp_path, partial_template, reference):
    folder = _copy(partial_template, tmp_path / "run")
    state = ck.read_checkpoint(folder / ck.CHECKPOINT)
    state["model"]["q"] = state["model"]["q"][:, :1]  # wrong shape, valid checksum (written by save_checkpoint)
    ck.save_checkpoint(state, folder)
    with pytest.warns(UserWarning, match="does not fit"):
        res = train(CFG, folder)
    assert res.resumed_from == 200  # the previous checkpoint is now the good step-200 one
    assert_same_run(res, reference)


# ----------------------------------------------------------------------------------- 3. one writer
_HOLD = textwrap.dedent("""
    import sys, time
    from numerics import checkpoint as ck
    with ck.run_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def _hold_lock(folder: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder), str(seconds)], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_train_refuses_a_locked_folder_and_the_cache_waits(tmp_path, reference):
    folder = ck.run_dir(tmp_path, CFG.name(), CFG.identity())
    proc = _hold_lock(folder, 2.0)
    try:
        with pytest.raises(ck.RunBusy, match="in use by another process"):
            train(CFG, folder)
        assert not (folder / ck.CHECKPOINT).exists()
        t0 = time.perf_counter()
        res = cached_train(CFG, tmp_path)  # blocks until the holder is done, then trains
        assert time.perf_counter() - t0 > 0.5
    finally:
        proc.kill()
        proc.wait()
    assert_same_run(res, reference)


def test_run_lock_is_reentrant_in_one_thread(tmp_path):
    with ck.run_lock(tmp_path):
        with ck.run_lock(tmp_path, blocking=False):
            pass
        with ck.run_lock(tmp_path, blocking=False):
            pass
    with ck.run_lock(tmp_path, blocking=False):  # released
        pass


def test_two_processes_in_one_cache_entry_share_one_run(tmp_path, reference):
    script = textwrap.dedent(f"""
        import json, sys
        from numerics.training import TrainConfig, cached_train
        res = cached_train(TrainConfig(**{CFG_KW!r}), sys.argv[1])
        print(json.dumps({{"cached": res.cached, "loss": res.final_loss.tolist()}}))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=ENV, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    docs = [json.loads(o[0]) for o in outs]
    assert sorted(d["cached"] for d in docs) == [False, True]
    assert docs[0]["loss"] == docs[1]["loss"] == reference.final_loss.tolist()
    assert load_run(ck.run_dir(tmp_path, CFG.name(), CFG.identity())).cached


# --------------------------------------------------------------------------------------- 4. full disk
@pytest.mark.parametrize("fail_at", range(1, 7))
def test_checkpoint_save_hitting_enospc_leaves_a_usable_checkpoint(fail_at, tmp_path, monkeypatch, reference):
    """The k-th fsync of one checkpoint save fails with ENOSPC (three atomic writes: checksums, previous,
    newest; two fsyncs each): the run stops with the OSError, no temporary file is left, every file present
    verifies, and the folder resumes to a bit-identical run."""
    folder = tmp_path / "run"
    Trainer(CFG, folder).run_until(100)
    real_fsync, real_save, calls = os.fsync, ck.save_checkpoint, {"n": 0, "armed": False}

    def fsync(fd):
        if calls["armed"]:
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    def save(state, where):
        calls["armed"] = True
        try:
            return real_save(state, where)
        finally:
            calls["armed"] = False

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(ck, "save_checkpoint", save)
    tr = Trainer(CFG, folder)
    assert tr.resume() and tr.step == 100
    with pytest.raises(OSError, match="No space left"):
        tr.run_until(200)
    monkeypatch.undo()
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no damage warning: every file present verifies
        state, _ = ck.load_checkpoint(folder)
    assert state["step"] == (200 if fail_at == 6 else 100)
    res = train(CFG, folder)
    assert res.resumed_from == state["step"]
    assert_same_run(res, reference)


# ---------------------------------------------------------------------------------- 5. absurd sizes
BOUNDS = {"steps": (1, MAX_STEPS), "batch": (1, MAX_BATCH), "ensemble": (1, MAX_ENSEMBLE), "n_head": (1, MAX_HEADS),
          "eval_prompts": (2, MAX_EVAL_PROMPTS), "threads": (0, MAX_THREADS), "seed": (0, 2**63 - 1),
          "log_every": (1, MAX_STEPS), "checkpoint_every": (1, MAX_STEPS)}


@given(field=st.sampled_from(sorted(BOUNDS)), data=st.data())
@example(field="seed", data=None)  # 2**64
@example(field="threads", data=None)  # 100000
@example(field="steps", data=None)  # 99999999999999999999
def test_integer_fields_are_bounded(field, data):
    """Every integer field accepts exactly its stated range; beyond it a one-line ValueError names the field."""
    lo, hi = BOUNDS[field]
    if data is None:
        value = {"seed": 2**64, "threads": 100_000, "steps": 99999999999999999999}[field]
    else:
        value = data.draw(st.one_of(st.integers(lo, hi), st.integers(hi + 1, 2**70), st.integers(-2**70, lo - 1)))
    note(f"{field}={value}")
    if lo <= value <= hi:
        assert getattr(TrainConfig(**{field: value}), field) == value
    else:
        with pytest.raises(ValueError, match=f"^{field} must be an integer in") as exc:
            TrainConfig(**{field: value})
        assert "\n" not in str(exc.value)


@given(steps=st.integers(1, 5000), log_every=st.integers(1, 6000))
@example(steps=1, log_every=1)
@example(steps=10**9, log_every=1000)
def test_log_row_count_bounds_the_trajectory(steps, log_every):
    """``n_log_rows`` (used by the estimate) bounds ``len(log_steps)`` without building the list."""
    n = n_log_rows(steps, log_every)
    if steps <= 10**6:
        assert len(log_steps(steps, log_every)) <= n <= len(log_steps(steps, log_every)) + 64
    else:
        assert n >= steps // log_every


@settings(max_examples=10)
@given(steps=st.integers(1, 400), log_every=st.integers(1, 150), checkpoint_every=st.integers(1, 500),
       stop=st.integers(0, 400))
def test_events_log_and_checkpoint_where_they_did(steps, log_every, checkpoint_every, stop, tmp_path_factory):
    """The lazy event loop logs at exactly ``log_steps`` and stops/resumes bit-identically at any step."""
    cfg = TrainConfig(d=2, L=4, n_head=1, batch=2, steps=steps, log_every=log_every,
                      checkpoint_every=checkpoint_every, eval_prompts=2)
    folder = tmp_path_factory.mktemp("ev")
    first = Trainer(cfg, folder)
    first.run_until(stop)
    assert first.step == min(stop, steps)
    res = train(cfg, folder)
    assert res.trajectory["step"].tolist() == log_steps(steps, log_every)
    assert_same_run(res, train(cfg))


def test_memory_estimate_refuses_what_cannot_fit():
    big = TrainConfig(d=5, L=10**6, batch=10**6, ensemble=16)
    with pytest.raises(ValueError, match=r"not enough memory: this run needs about .* GiB \(model .*step .*log .*"
                                         r"eval .*checkpoint .*x2 safety\) but only 1 GiB is available \(test\)"):
        check_memory(big, available=(2**30, "test"))
    assert check_memory(CFG, available=(2**30, "test")).total < 2**30
    with pytest.raises(ValueError, match="log"):  # 10^9 log rows
        check_memory(TrainConfig(steps=10**9, log_every=1), available=(2**40, "test"))
    if available_memory() is not None:  # the default reads /proc/meminfo (Linux)
        with pytest.raises(ValueError, match="not enough memory"):
            train(TrainConfig(d=5, L=10**7, batch=10**7, steps=1))


@given(E=st.integers(1, 64), H=st.integers(1, 64), B=st.integers(1, 4096), L=st.integers(2, 4096),
       d=st.integers(1, 512), k=st.sampled_from(["batch", "L", "ensemble", "n_head", "d", "steps"]))
def test_memory_estimate_grows_with_every_size(E, H, B, L, d, k):
    """Doubling any size raises the estimate of training (the evaluation's chunk shrinks as the ensemble grows,
    by design of :func:`numerics.training.evaluate`, so its part is left out)."""
    cfg = TrainConfig(d=d, L=L, n_head=H, batch=B, ensemble=E, steps=1000)
    bigger = cfg.replace(**{k: getattr(cfg, k) * 2})

    def training(c):
        e = estimate(c)
        return e.model + e.step + e.log + e.checkpoint

    assert training(bigger) > training(cfg)


_MEASURE = textwrap.dedent("""
    import json, sys
    import torch
    from numerics.training import TrainConfig, Trainer
    from numerics.training.memory import estimate
    torch.set_num_threads(1)
    cfg = TrainConfig(**json.loads(sys.argv[1]))
    base = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmRSS"))
    Trainer(cfg, sys.argv[2]).run()
    # VmHWM, the peak of this process's own memory map: ru_maxrss would also count the parent's RSS at fork time
    # (Linux keeps it across fork + exec), i.e. the test runner's size
    peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
    print(json.dumps({"peak": peak - base, "estimate": estimate(cfg).total}))
""")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("kw", [
    dict(d=5, L=40, n_head=4, batch=2048, ensemble=16, steps=3, log_every=1, eval_prompts=2048),  # step
    dict(d=5, L=20000, n_head=1, batch=8, ensemble=1, steps=2, log_every=1, eval_prompts=128, dtype="float64"),  # eval
    dict(d=400, L=10, n_head=2, batch=8, ensemble=2, steps=2, log_every=1, eval_prompts=128),  # parameters
    dict(d=2, L=8, n_head=8, batch=4, ensemble=8, steps=5000, log_every=1, eval_prompts=64,
         checkpoint_every=2500),  # trajectory log
], ids=["step", "eval", "params", "log"])
def test_memory_estimate_bounds_the_measured_peak(kw, tmp_path):
    """The peak resident memory of a real run (above the imported process) stays below the estimate, and the
    estimate is not absurdly loose (within 20x)."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(kw), str(tmp_path / "run")], env=ENV,
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["peak"] <= doc["estimate"], doc
    assert doc["estimate"] <= 20 * SAFETY * max(doc["peak"], 2**20), doc
