"""Atomic files, kill-and-resume (SIGKILL at an arbitrary moment, then bit-identical on the CPU) and the run cache."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from numerics import checkpoint as ck
from numerics.patterns import model_patterns
from numerics.training import TrainConfig, Trainer, cached_train, load_run, train
from tests.helpers import assert_same_run

ROOT = Path(__file__).resolve().parents[2]
KILL_CFG = dict(d=2, L=8, n_head=2, batch=16, steps=12000, log_every=500, checkpoint_every=300, ensemble=2,
                eval_prompts=256, seed=11)



def test_atomic_write_replaces_and_leaves_no_temporaries(tmp_path):
    p = tmp_path / "sub" / "f.bin"
    ck.atomic_write_bytes(p, b"one")
    ck.atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert [x.name for x in p.parent.iterdir()] == ["f.bin"]
    ck.save_json({"a": [1, 2]}, tmp_path / "x.json")
    assert ck.load_json(tmp_path / "x.json") == {"a": [1, 2]}
    ck.save_npz({"z": np.arange(3)}, tmp_path / "z.npz")
    np.testing.assert_array_equal(ck.load_npz(tmp_path / "z.npz")["z"], np.arange(3))


def test_config_hash_is_order_free_and_sensitive():
    assert ck.config_hash({"a": 1, "b": 2}) == ck.config_hash({"b": 2, "a": 1})
    assert ck.config_hash({"a": 1}) != ck.config_hash({"a": 2})
    assert len(ck.config_hash({})) == 16


def test_sigkill_at_any_moment_then_resume_is_bit_identical(tmp_path):
    """A subprocess is SIGKILLed mid-run (after its first checkpoints, at a moment that varies with the
    machine's speed); resuming from the folder must reproduce the uninterrupted run exactly."""
    script = textwrap.dedent(f"""
        import sys
        from numerics.training import TrainConfig, train
        train(TrainConfig(**{KILL_CFG!r}), sys.argv[1])
    """)
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", script, str(run_dir)], env=env, cwd=ROOT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until at least two checkpoints exist, then kill immediately
            ckpt = run_dir / ck.CHECKPOINT
            if ckpt.exists() and ck.load_torch(ckpt)["step"] >= 600:
                break
            if proc.poll() is not None:
                pytest.fail("training subprocess exited before it could be killed")
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / ck.SUMMARY).exists(), "the run finished before the kill; the test proved nothing"
    killed_at = ck.load_torch(run_dir / ck.CHECKPOINT)["step"]
    assert 0 < killed_at < KILL_CFG["steps"]

    resumed = train(TrainConfig(**KILL_CFG), run_dir)
    assert resumed.resumed_from == killed_at
    assert_same_run(resumed, train(TrainConfig(**KILL_CFG)))
    assert (run_dir / ck.SUMMARY).exists() and (run_dir / ck.TRAJECTORY).exists()


def test_cache_reuses_finished_runs_and_resumes_interrupted_ones(tmp_path):
    cfg = TrainConfig(d=2, L=8, n_head=2, batch=16, steps=400, log_every=100, checkpoint_every=100,
                      eval_prompts=256, ensemble=2)
    # an interrupted run sits in the cache folder: half the steps, one checkpoint, no summary
    folder = ck.run_dir(tmp_path, cfg.name(), cfg.identity())
    Trainer(cfg, folder).run_until(200)
    first = cached_train(cfg, tmp_path)
    assert first.resumed_from == 200 and not first.cached
    assert_same_run(first, train(cfg))
    second = cached_train(cfg, tmp_path)
    assert second.cached
    assert_same_run(first, second)
    # runtime-only fields share the entry; a result field does not
    assert cached_train(cfg.replace(checkpoint_every=50), tmp_path).cached
    other = cached_train(cfg.replace(steps=300), tmp_path)
    assert not other.cached and len(list(tmp_path.iterdir())) == 2


def test_load_run_and_checkpoint_circuits(tmp_path):
    cfg = TrainConfig(d=2, L=8, n_head=2, batch=16, steps=50, log_every=25, eval_prompts=256)
    with pytest.raises(ValueError, match="no finished run"):
        load_run(tmp_path)
    res = train(cfg, tmp_path)
    back = load_run(tmp_path)
    assert back.config == cfg and back.cached
    p_file, p_model = model_patterns(tmp_path / ck.CHECKPOINT), res.patterns
    np.testing.assert_allclose(p_file.omega, p_model.omega)
    np.testing.assert_allclose(p_file.mu, p_model.mu)


def test_checkpoint_is_weights_only_and_config_lives_in_json(tmp_path):
    """No pickled objects: the checkpoint loads with weights_only=True and holds tensors and primitives only."""
    cfg = TrainConfig(d=2, L=8, n_head=2, batch=16, steps=40, log_every=20, eval_prompts=256)
    train(cfg, tmp_path)
    state = torch.load(tmp_path / ck.CHECKPOINT, map_location="cpu", weights_only=True)

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, (str, int)) and plain(v) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return all(plain(v) for v in x)
        return x is None or isinstance(x, (torch.Tensor, str, int, float, bool))

    assert plain(state) and "config" not in state
    assert ck.load_json(tmp_path / ck.CONFIG) == {"config": cfg.identity(), "hash": cfg.hash()}


def test_resume_refuses_a_foreign_checkpoint(tmp_path):
    a = TrainConfig(d=2, L=8, n_head=2, batch=16, steps=50, log_every=25, eval_prompts=256)
    train(a, tmp_path)
    with pytest.raises(ValueError, match="different configuration"):
        train(a.replace(seed=1), tmp_path)


def test_a_failed_atomic_write_leaves_no_debris_and_the_old_file(tmp_path, monkeypatch):
    import errno
    import os

    from numerics.checkpoint import atomic_write_bytes

    target = tmp_path / "f.json"
    atomic_write_bytes(target, b"old")

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.json"]
