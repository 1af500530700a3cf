"""verify.pretrain: runs trained ahead in the background thread are the runs a claim trains itself, bit for bit; the
claim's own call then reuses them (or trains what the thread has not reached); the thread leaves torch's thread
count alone, and closing it mid-run leaves a run that resumes to the same model."""
from __future__ import annotations

import threading

import torch

from numerics import checkpoint as ck
from numerics.training import TrainConfig, cached_train, loop
from numerics.training.cache import cache_finished, cached_run_dir
from verify import pretrain, registry, trained
from verify.registry import RunContext

TINY = dict(d=2, L=8, sigma2=0.1, batch=32, steps=300, log_every=50, eval_prompts=256, checkpoint_every=100)


def _cfgs():
    return [TrainConfig(**TINY, n_head=h, ensemble=e, key=("p", f"H{h}")) for h, e in ((1, 2), (2, 3), (3, 2))]


def _same(a, b):
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    assert a.final_loss.tolist() == b.final_loss.tolist()


def test_runs_trained_ahead_are_the_runs_trained_in_turn(tmp_path):
    root = tmp_path / "ahead"
    before = torch.get_num_threads()
    with pretrain.Pretrainer([(root, c) for c in _cfgs()]) as bg:
        assert pretrain.ACTIVE.is_set() and torch.get_num_threads() == 1   # the caller keeps to one core
        got = [cached_train(c, root) for c in _cfgs()]                     # waits for, or trains, each run
    assert not pretrain.ACTIVE.is_set() and torch.get_num_threads() == before
    assert bg.failed == []
    alone = [cached_train(c.replace(threads=1), tmp_path / "alone") for c in _cfgs()]
    for a, b in zip(got, alone):
        _same(a, b)


def test_the_background_thread_never_changes_the_thread_count(tmp_path, monkeypatch):
    """The thread trains every run to the end (the caller waits for it) without calling set_num_threads, although
    each run's trainer asks for its threads (cpu_plan) exactly as in the caller."""
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads",
                        lambda n: (calls.append(threading.current_thread().name), real(n))[1])
    cfgs = [c.replace(threads=2) for c in _cfgs()]                         # the caller would set 2, then restore
    with pretrain.Pretrainer([(tmp_path, c) for c in cfgs]) as bg:
        bg._thread.join()                                                  # nothing stops it before it is done
    assert all(cache_finished(c, tmp_path) for c in cfgs) and bg.failed == []
    assert calls and "pretrain" not in calls                               # only the caller set it
    calls.clear()
    cached_train(cfgs[0], tmp_path / "caller")
    assert calls                                                           # the same run in the caller does


def test_close_mid_run_leaves_a_run_that_resumes_to_the_same_model(tmp_path):
    cfg = TrainConfig(**{**TINY, "steps": 3000}, n_head=2, ensemble=2, key=("p", "long"))
    bg = pretrain.Pretrainer([(tmp_path / "a", cfg)])
    with bg:
        folder = cached_run_dir(cfg, tmp_path / "a")
        while not (folder / ck.CHECKPOINT).exists():
            threading.Event().wait(0.01)
    assert not (folder / ck.SUMMARY).exists()                              # stopped before the end
    resumed = cached_train(cfg, tmp_path / "a")
    assert resumed.resumed_from and resumed.resumed_from > 0
    _same(resumed, cached_train(cfg, tmp_path / "b"))


def test_a_claim_trains_what_the_thread_has_not_reached(tmp_path, monkeypatch):
    """With the thread busy on one run, train_many trains the others itself first and waits for that one last."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    cfgs = _cfgs()
    ctx = RunContext("smoke", tmp_path, progress=False, claim_id="H1")
    root = trained.cache_root(ctx)
    order = []
    real = trained.cached_train
    release = threading.Event()

    def spy(c, r, **kw):
        order.append(c.n_head)
        out = real(c, r, **kw)
        if c.n_head == 1:             # the free runs are done: the other thread lets go of H=3's run
            release.set()
        return out

    monkeypatch.setattr(trained, "cached_train", spy)

    def hold():                                                            # another thread holds H=3's run
        with ck.run_lock(cached_run_dir(cfgs[2], root)):
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    pretrain.ACTIVE.set()
    try:
        got = trained.train_many(cfgs, ctx)
    finally:
        pretrain.ACTIVE.clear()
        release.set()
        t.join()
    assert order == [2, 1, 3]            # longest free run first (H=3 ranks second but is held), the held one last
    assert [r.config.n_head for r in got] == [1, 2, 3]


def test_the_plan_lists_each_unfinished_run_once_in_claim_order(tmp_path):
    todo = []
    for cid in ("H1", "H2", "H8", "C1"):
        claim = registry.get(cid)
        todo.append((claim, RunContext("smoke", tmp_path, progress=False, claim_id=cid), None))
    params = {c.id: c.params_for("smoke") for c, _, _ in todo}
    runs = pretrain.runs_ahead(todo, params)
    keys = [c.key for _, c in runs]
    assert len({c.hash() for _, c in runs}) == len(runs)                  # H2 reads H1's ensembles: listed once
    assert keys.count(("trained", "softmax", "H2")) == 1
    assert keys[0][:2] == ("trained", "softmax") and keys[-1] == ("trained", "sparse")
    assert {k[1] for k in keys if k[0] == "trained"} >= {"softmax", "linear", "linear-normalised"}
    root, first = runs[0]
    cached_train(first, root)                                              # a finished run is not listed
    assert len(pretrain.runs_ahead(todo, params)) == len(runs) - 1
