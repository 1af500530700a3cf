"""Scale-out on Dask distributed: a LocalCluster of two worker processes (127.0.0.1 only, no dashboard) trains the
same models as a serial run, bit for bit; a worker killed mid-training loses no finished work (the task is rerun
and the training resumes from its checkpoint); claims run as tasks give the serial run's results."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
import torch

from numerics import checkpoint as ck
from numerics.training import TrainConfig, cached_train
from numerics.training.cache import cached_run_dir
from verify import distributed

TINY = dict(d=2, L=8, sigma2=0.1, batch=32, log_every=50, eval_prompts=256, checkpoint_every=100)


@pytest.mark.parametrize("spec, want", [("local", ("local", None)), ("local:2", ("local", 2)),
                                        ("tcp://10.0.0.5:8786", ("tcp://10.0.0.5:8786", None)),
                                        (" tls://sched:8786 ", ("tls://sched:8786", None))])
def test_scheduler_specs(spec, want):
    assert distributed.parse_scheduler(spec) == want


@pytest.mark.parametrize("spec", ["", "local:0", "local:x", "remote", "http://h:1", "local:99999"])
def test_bad_scheduler_specs_are_one_line_errors(spec):
    with pytest.raises(ValueError, match="--scheduler") as exc:
        distributed.parse_scheduler(spec)
    assert "\n" not in str(exc.value)


@pytest.fixture(scope="module")
def client():
    with distributed.cluster("local:2") as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def _same_models(a, b):
    for n in ("q", "k", "v", "o"):
        assert torch.equal(getattr(a.model, n), getattr(b.model, n))
    assert a.final_loss.tolist() == b.final_loss.tolist()


def test_tasks_train_the_serial_models_bit_for_bit_and_share_one_task_per_run(client, tmp_path):
    cfgs = [TrainConfig(**TINY, steps=300, n_head=h, ensemble=2, key=("dask", f"H{h}")) for h in (1, 2)]
    reports = distributed.train_all(cfgs + cfgs[:1], tmp_path / "dask")   # a repeated run is the same task
    assert [r["cached"] for r in reports] == [False, False, False]
    assert reports[0] == reports[2]
    for c, r in zip(cfgs, reports):
        assert r["run_dir"] == str(cached_run_dir(c, tmp_path / "dask"))
        _same_models(cached_train(c, tmp_path / "dask"), cached_train(c.replace(threads=1), tmp_path / "serial"))
    again = distributed.train_all(cfgs, tmp_path / "dask")                # finished: only the lookups
    assert all(r["cached"] for r in again)


def _worker_running(client, key, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for addr, keys in client.processing().items():
            if key in keys:
                return addr
        time.sleep(0.05)
    raise AssertionError(f"task {key} never started")


def test_a_killed_worker_loses_no_finished_work(client, tmp_path):
    """SIGKILL the worker mid-training: Dask reruns the task and the training resumes from its last checkpoint,
    ending bit-identical to an uninterrupted serial run."""
    cfg = TrainConfig(**{**TINY, "checkpoint_every": 500}, steps=8_000, n_head=2, ensemble=2, key=("dask", "kill"))
    root = tmp_path / "dask"
    key = distributed.train_key(cfg, root)
    fut = client.submit(distributed.train_task, cfg, str(root), key=key, pure=False)
    addr = _worker_running(client, key)
    folder = cached_run_dir(cfg, root)
    t0 = time.monotonic()
    while not (folder / ck.CHECKPOINT).exists():
        assert time.monotonic() - t0 < 120, "no checkpoint written"
        time.sleep(0.05)
    pid = client.run(os.getpid, workers=[addr])[addr]
    os.kill(pid, signal.SIGKILL)
    report = fut.result(timeout=300)
    assert report["resumed_from"] is not None and 0 < report["resumed_from"] < cfg.steps
    _same_models(cached_train(cfg, root), cached_train(cfg.replace(threads=1), tmp_path / "serial"))
    client.wait_for_workers(2, timeout=60)   # the nanny restarted the killed worker


def test_claims_as_tasks_give_the_serial_results(client, tmp_path):
    from verify.runner import run_claims

    address = client.scheduler.address
    serial = run_claims("H5,H2", profile="smoke", out=tmp_path / "serial", progress=False, echo=lambda *_: None)
    dask = run_claims("H5,H2", profile="smoke", out=tmp_path / "dask", progress=False, scheduler=address,
                      echo=lambda *_: None)
    assert [r.id for r in dask] == ["H5", "H2"]
    for a, b in zip(serial, dask):
        assert a.verdict == b.verdict and a.error is None and b.error is None
        assert json.dumps(a.to_json()["comparisons"]) == json.dumps(b.to_json()["comparisons"])
    for name in ("report.md", "results.json", "claims/H2.json", "claims/H2.data.npz"):
        assert (tmp_path / "dask" / name).exists()


def test_run_with_a_bad_scheduler_exits_2_before_any_work(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "verify", "run", "--claims", "H5", "--scheduler", "locale:2",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--scheduler must be" in proc.stderr
    assert not (tmp_path / "o").exists()
