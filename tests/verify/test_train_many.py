"""verify.trained.train_many: several runs side by side give the runs trained alone on one thread, bit for bit;
a failure or an interruption stops the others, which resume from their checkpoints to the same models."""
from __future__ import annotations

import threading

import pytest
import torch

from numerics.training import TrainConfig, cached_train
from numerics.training import loop
from verify import trained
from verify.registry import RunContext

TINY = dict(d=2, L=8, sigma2=0.1, batch=32, steps=400, log_every=50, eval_prompts=256, checkpoint_every=100)


def _cfgs():
    return [TrainConfig(**TINY, n_head=h, ensemble=e, key=("t", f"H{h}")) for h, e in ((1, 2), (2, 3), (4, 2))]


@pytest.fixture
def two_cores(monkeypatch):
    """Pretend there are (at least) two cores, so the concurrent path runs on any CI machine."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)


def _same(a, b):
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    assert a.final_loss.tolist() == b.final_loss.tolist()


def test_side_by_side_equals_one_after_the_other_on_one_thread(tmp_path, two_cores):
    ctx = RunContext("smoke", tmp_path / "a", progress=False, claim_id="H1")
    before = torch.get_num_threads()
    got = trained.train_many(_cfgs(), ctx)
    assert torch.get_num_threads() == before                      # the process-wide setting is restored
    assert [r.config.n_head for r in got] == [1, 2, 4]             # results in the order asked
    alone = [cached_train(c.replace(threads=1), tmp_path / "b") for c in _cfgs()]   # the trainer sets 1 thread
    for a, b in zip(got, alone):
        _same(a, b)
    again = trained.train_many(_cfgs(), ctx)                       # the second call reads the cache
    assert all(r.cached for r in again)


def test_a_failed_run_stops_the_others_and_they_resume_to_the_same_models(tmp_path, two_cores, monkeypatch):
    ctx = RunContext("smoke", tmp_path / "a", progress=False, claim_id="H1")
    real = cached_train
    started = threading.Barrier(3)

    def flaky(cfg, root, *, progress=False):
        if cfg.n_head == 4:
            started.wait(timeout=30)   # the others are training when this one fails
            raise RuntimeError("boom")
        started.wait(timeout=30)
        return real(cfg, root, progress=progress)

    monkeypatch.setattr(trained, "cached_train", flaky)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    with pytest.raises(RuntimeError, match="boom"):
        trained.train_many(_cfgs(), ctx)
    assert not loop.STOP.is_set()                                  # cleared for the next call
    root = trained.cache_root(ctx)
    stopped = [p for p in root.iterdir() if p.is_dir()]
    assert stopped and not any((p / "summary.json").exists() for p in stopped)   # stopped before their end
    monkeypatch.setattr(trained, "cached_train", real)
    resumed = trained.train_many(_cfgs(), ctx)
    ref = trained.train_many(_cfgs(), RunContext("smoke", tmp_path / "b", progress=False, claim_id="H1"))
    for a, b in zip(resumed, ref):
        _same(a, b)


def test_stop_interrupts_a_trainer_at_its_next_log_step(tmp_path):
    cfg = TrainConfig(**TINY, n_head=1, ensemble=1)
    loop.STOP.set()
    try:
        with pytest.raises(KeyboardInterrupt, match="training stopped at step 0"):
            cached_train(cfg, tmp_path)
    finally:
        loop.STOP.clear()
    assert cached_train(cfg, tmp_path).config.steps == 400          # and the run resumes afterwards


def test_shards_partition_the_members_and_keep_their_seeds():
    cfg = TrainConfig(**TINY, n_head=2, ensemble=7, key=("t", "H2"))
    parts = trained.shards(cfg, 3)
    assert [p.ensemble for p in parts] == [3, 2, 2] and [p.first_member for p in parts] == [0, 3, 5]
    assert sum((p.seeds for p in parts), ()) == cfg.seeds
    assert sum((p.data_seeds for p in parts), ()) == cfg.data_seeds
    assert {p.eval_seed for p in parts} == {cfg.eval_seed}          # one evaluation stream for all members
    assert len({p.hash() for p in parts} | {cfg.hash()}) == 4 and len({p.name() for p in parts}) == 3
    assert trained.shards(cfg, 7) == [cfg] and trained.shards(cfg, None) == [cfg]
    assert "first_member" not in cfg.identity()                     # whole ensembles keep their old hashes
    with pytest.raises(ValueError, match="first_member"):
        TrainConfig(first_member=-1)
    with pytest.raises(ValueError, match="shard"):
        trained.shards(cfg, 0)


def test_sharded_training_is_the_whole_ensemble(tmp_path, two_cores):
    """float64: member e trains the same in any ensemble (to batching rounding); the merged result carries every
    member's parameters, trajectory and risk in order, and a finished whole run is used as it is."""
    ctx = RunContext("smoke", tmp_path / "a", progress=False, claim_id="H11")
    cfg = TrainConfig(**TINY, n_head=2, ensemble=5, key=("t", "H2"), dtype="float64")
    merged, = trained.train_many([cfg], ctx, shard=2)
    whole = cached_train(cfg, tmp_path / "b")
    assert merged.config == cfg and merged.run_dir is None and merged.model.n_member == 5
    for n in ("q", "k", "v", "o"):
        torch.testing.assert_close(getattr(merged.model, n), getattr(whole.model, n), rtol=1e-9, atol=1e-11)
    assert set(merged.trajectory) == set(whole.trajectory)
    for k, v in whole.trajectory.items():
        assert merged.trajectory[k].shape == v.shape
    assert merged.final_loss == pytest.approx(whole.final_loss, rel=1e-9)
    again, = trained.train_many([cfg], ctx, shard=2)
    assert again.cached
    root = trained.cache_root(ctx)
    cached_train(cfg, root)                                          # now the whole run is in the cache too
    used, = trained.train_many([cfg], ctx, shard=2)
    assert used.cached and used.run_dir is not None                 # the whole run, not the shards
