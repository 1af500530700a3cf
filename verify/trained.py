"""Trained ensembles shared by the claims H1, H2, H4 (full-model overlay), H8 and H11.

One ensemble per (model, H, profile, seed) is trained once and reused through the run cache
(:func:`numerics.training.cached_train`, keyed by the hash of the training configuration) under
``<out>/cache/trained/``. Every claim asks for its models through :func:`trained_ensembles` with the
*same* defaults (:data:`PROTOCOLS`), so that ``icl-verify run`` trains each ensemble only once; overriding
a training parameter of one claim gives that claim its own runs. The ensembles one claim reads train side by side,
one core each (:func:`train_many`).

Seeds: the ensemble for ``(model, H)`` uses the stream key ``("trained", model, f"H{H}")`` — deliberately
shared by H1, H2, H4, H8 and H11 (they study the same trained models) and distinct from every other stream;
its members are the spawned children of ``(--seed, *key)``, so two ``--seed`` values share no member.

Protocols (measured on a 2-core CPU, one thread, float32):

* **paper** — SPEC 4: Adam lr 1e-3, betas (0.9, 0.999), batch 256, 500,001 steps, fresh prompts every
  step, d=5, L=40, sigma2=0.1; 16 seeds per H, for a GPU.
* **smoke** — 300 steps, 2 seeds per model: only for the test that runs every claim to a verdict.
* **quick** — the same but 16,000 steps and fewer seeds (2 for H=1, 6 for H=2, 4 for H=4 and 8, 2 per linear
  variant; the seed frequency is H11's, with its own many-seed ensembles). Chosen from measured trajectories: for H <= 4 the
  patterns are there by 5–10k steps (H=4: loss 0.244 vs the published 500k-step 0.243, active heads' KQ
  diag ratio >= 0.94, OV last-entry ratio >= 0.99, zero-sum < 0.01, sum mu*omega within 0.02 of eta*);
  H=8 is slower — at 10k steps its active heads' OV last-entry ratio is 0.89 and diag ratio 0.91 (median
  of 4 seeds), about 16k steps bring both above 0.9 (logged medians at 16k: diag 0.951, OV 0.952, homogeneity
  0.023; diag 0.97 at 50k) — so 16k steps for every H, which keeps the whole quick suite within 10 minutes.
  Its |omega_h| are still not common at 50k steps (spread ~0.3), which H2 reports as measured.
  Training everything once takes about 3 minutes on one core of a 2-core CPU.
"""
from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass

import numpy as np
import torch

from numerics import checkpoint as ck
from numerics.patterns import circuits
from numerics.training import TrainConfig, TrainResult, build_model, cached_train
from numerics.training.cache import cache_finished, cached_run_dir
from numerics.training.loop import STOP
from theory.problem import PAPER_POINT, Problem
from theory.validate import check_int

from .distributed import cores
from .params import Params, TrainingProtocol
from .pretrain import ACTIVE
from .registry import RunContext

#: The training protocol per profile, defined once; every sharing claim has a ``training: TrainingProtocol``
#: field defaulting to these, so ``--set steps=...`` (or ``--set H1.training.steps=...``) reaches it.
#: ``seeds`` maps the model key (``"1"``, ``"2"``, ``"4"``, ``"8"`` heads, or ``"linear"``) to the ensemble size.
PROTOCOLS: dict[str, TrainingProtocol] = {
    "smoke": TrainingProtocol(steps=300, batch=128, lr=1e-3, log_every=50, eval_prompts=2_048,
                              seeds={"1": 2, "2": 2, "4": 2, "8": 2, "linear": 2}, checkpoint_every=150),
    "quick": TrainingProtocol(steps=16_000, batch=256, lr=1e-3, log_every=250, eval_prompts=16_384,
                              seeds={"1": 2, "2": 6, "4": 4, "8": 4, "linear": 2}, checkpoint_every=5_000),
    "paper": TrainingProtocol(steps=500_001, batch=256, lr=1e-3, log_every=1_000, eval_prompts=100_000,
                              seeds={"1": 16, "2": 16, "4": 16, "8": 16, "linear": 16}, checkpoint_every=25_000),
}
HEADS = (1, 2, 4, 8)
#: intra-op threads of a claim's training: 0 = leave torch's setting, i.e. every core when one ensemble trains alone
#: (measured on a 2-core CPU, 2 threads train H=2 x 8 seeds 1.5x and H=8 x 4 seeds 1.2x faster than 1), one core each
#: when :func:`train_many` trains several side by side. A runtime setting: it is not part of a run's hash, so a cached
#: model is reused whatever the thread count (the shared quick ensembles came out bit-identical on 2 threads alone
#: and on 1 side by side; in general float32 rounding may depend on the thread count).
CLAIM_THREADS = 0


@dataclass(frozen=True)
class TrainedParams(Params):
    """Base of the trained-model claims' parameters: the setting, the shared protocol and the ensembles read.

    With equal ``problem`` and ``training`` two claims read the same cached ensembles (trained once).
    """

    problem: Problem = PAPER_POINT
    training: TrainingProtocol = PROTOCOLS["quick"]
    heads: tuple[int, ...] = HEADS

    def check_trained(self, claim_id: str, *, min_heads: int = 1, linear: bool = False) -> None:
        """The isotropic model, head counts in [min_heads, 64], an ensemble size for each (and for "linear")."""
        self.require_kind(claim_id)
        for H in self.heads:
            if not min_heads <= H <= 64:
                raise ValueError(f"heads must be in [{min_heads}, 64], got {H}")
            self.training.n_seeds(H)
        if linear:
            self.training.n_seeds("linear")


def train_config(protocol: TrainingProtocol, problem: Problem, ctx: RunContext, *, n_head: int,
                 model: str = "softmax") -> TrainConfig:
    """The :class:`TrainConfig` of the shared ensemble for ``(model, n_head)`` under ``protocol``.

    Members are spawned from the stream ``(run seed, "trained", model, "H<n_head>")``: deliberately shared by
    every claim that reads this ensemble (and independent of any claim's own streams).
    """
    size = "linear" if model != "softmax" else n_head
    return TrainConfig(d=problem.d, L=problem.L, sigma2=problem.sigma2, n_head=n_head, model=model,
                       steps=protocol.steps, batch=protocol.batch, lr=protocol.lr, seed=ctx.seed,
                       key=("trained", model, f"H{n_head}"), ensemble=protocol.n_seeds(size),
                       log_every=protocol.log_every, eval_prompts=protocol.eval_prompts, device=ctx.device,
                       checkpoint_every=protocol.checkpoint_every, threads=CLAIM_THREADS)


#: the modules whose code determines a trained model (its data, model, optimiser loop and seeding)
TRAINING_CODE = ("numerics.attention", "numerics.native", "numerics.transformer", "numerics.data", "numerics.rng",
                 "numerics.seeds", "numerics.training")


def training_code_version() -> str:
    """Hash of the package version and of the training code's sources (:data:`TRAINING_CODE`): the trained-model
    cache is keyed by it, so a fix to the trainer is never hidden by a cached model."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    from .registry import source_files

    try:
        ver = version("icl-verify")
    except PackageNotFoundError:  # pragma: no cover - a plain checkout
        ver = "0"
    h = hashlib.sha256(ver.encode())
    from numerics.native import SOURCES

    for src in (*source_files(*TRAINING_CODE), *SOURCES):   # the C step's and the generator's sources too
        h.update(Path(src).read_bytes())
    return h.hexdigest()[:12]


def cache_root(ctx: RunContext):
    """``<out>/cache/trained/<training code version>``: the run cache of every trained claim."""
    return ctx.cache_dir() / "trained" / training_code_version()


def trained_configs(protocol: TrainingProtocol, problem: Problem, ctx: RunContext, specs) -> list[TrainConfig]:
    """The configurations of the shared ensembles for ``specs`` (``[(n_head, model), ...]``)."""
    return [train_config(protocol, problem, ctx, n_head=int(h), model=str(m)) for h, m in specs]


def trained_ensembles(protocol: TrainingProtocol, problem: Problem, ctx: RunContext, specs, *,
                      shard: int | None = None) -> dict[tuple[int, str], TrainResult]:
    """The ensembles for ``specs`` (``[(n_head, model), ...]``), trained (or loaded from the run cache,
    :func:`cache_root`) side by side by :func:`train_many` (``shard``: as there); returned by ``(n_head, model)``."""
    specs = [(int(h), str(m)) for h, m in specs]
    return dict(zip(specs, train_many(trained_configs(protocol, problem, ctx, specs), ctx, shard=shard)))


def planned_runs(cfgs: list[TrainConfig], root, shard: int | None = None) -> list[list[TrainConfig]]:
    """The runs :func:`train_many` trains for ``cfgs`` under ``root``, per config: its :func:`shards` on the CPU
    unless the whole run is finished in the cache, else the config itself."""
    on_cpu = all(c.device == "cpu" for c in cfgs)
    return [shards(c, shard) if on_cpu and not cache_finished(c, root) else [c] for c in cfgs]


def _cost(cfg: TrainConfig) -> float:
    """Rough relative cost of a run, for the schedule only: members x steps x (1 + 0.1 H) (measured: H=8 costs
    about 1.7x H=1 per member-step at d=5, L=40)."""
    return cfg.ensemble * cfg.steps * (1 + 0.1 * cfg.n_head)


def shards(cfg: TrainConfig, size: int | None) -> list[TrainConfig]:
    """``cfg`` as runs of at most ``size`` members (near-equal, consecutive members: ``first_member``); ``[cfg]``
    when ``size`` is None or the ensemble fits. The union of the shards' members is ``cfg``'s members."""
    if size is None or cfg.ensemble <= size:
        return [cfg]
    k = -(-cfg.ensemble // check_int("shard", size, lo=1))
    sizes = [cfg.ensemble // k + (i < cfg.ensemble % k) for i in range(k)]
    starts = np.cumsum([0] + sizes[:-1]) + cfg.first_member
    return [cfg.replace(ensemble=n, first_member=int(f)) for n, f in zip(sizes, starts)]


def merge_shards(cfg: TrainConfig, parts: list[TrainResult]) -> TrainResult:
    """One :class:`TrainResult` for ``cfg`` from the results of :func:`shards` (members concatenated in order:
    parameters, trajectories ``(T, E, ...)``, final risks; the evaluation prompts are the same for every shard,
    ``cfg.eval_seed``). It has no run folder of its own (``run_dir`` None; each shard has its own)."""
    if len(parts) == 1:
        return parts[0]
    states = [p.model.state_dict() for p in parts]
    model = build_model(cfg, cfg.device)
    model.load_state_dict({k: torch.cat([st[k] for st in states], dim=0) for k in states[0]})
    steps = [np.asarray(p.trajectory["step"]) for p in parts]
    if any(not np.array_equal(steps[0], s) for s in steps[1:]):
        raise ValueError("shards logged different steps; they cannot be merged")
    traj = {k: (np.asarray(parts[0].trajectory[k]) if np.ndim(parts[0].trajectory[k]) < 2 else
                np.concatenate([np.asarray(p.trajectory[k]) for p in parts], axis=1)) for k in parts[0].trajectory}
    return TrainResult(cfg, model, traj, np.concatenate([p.final_loss for p in parts]),
                       np.concatenate([p.final_loss_se for p in parts]), None,
                       seconds=float(sum(p.seconds for p in parts)), cached=all(p.cached for p in parts))


def train_many(cfgs: list[TrainConfig], ctx: RunContext, *, shard: int | None = None) -> list[TrainResult]:
    """:func:`numerics.training.cached_train` for each config (in the run cache, :func:`cache_root`), in order.

    On a CPU with several cores and several runs, the runs train concurrently in Python threads of this process,
    each with one intra-op thread, longest first (:func:`_cost`): torch releases the GIL inside its ops, and the
    trainer's steps are too small for intra-op threads to use the cores well. Measured on a 2-core CPU: H=2 x 6 and
    H=8 x 4 members for 1,500 steps take 9.0 s one after the other on 2 threads and 7.2 s side by side (bit-identical
    models); H=2 x 32 for 600 steps takes 14.3 s on 2 threads and on 1 — intra-op threads do not help it — while two
    shards of 16 side by side take 8.1 s. Hence ``shard``: on the CPU, an ensemble larger than ``shard`` members
    trains as :func:`shards` (machine-independent: the split depends on ``shard`` only) and comes back merged
    (:func:`merge_shards`); a finished whole run in the cache is used as it is. A lone run keeps
    :data:`CLAIM_THREADS` (float32 rounding may depend on the thread count and the shard size; the science does not).
    Each run keeps its own seeds, checkpoints and lock, so results, caching and resumption do not depend on the
    schedule; an interruption (or a failed run) stops the other runs at their next log step
    (:data:`numerics.training.loop.STOP`), each resumable from its last checkpoint. With ``ctx.scheduler`` every
    run (and shard) is a Dask task instead (:func:`verify.distributed.train_all`): the same runs, the same numbers.
    """
    root = cache_root(ctx)
    on_cpu = all(c.device == "cpu" for c in cfgs)
    pieces = planned_runs(cfgs, root, shard)
    flat = [p for ps in pieces for p in ps]
    if ctx.scheduler is not None:
        from .distributed import train_all

        todo = [c for c in flat if not cache_finished(c, root)]
        reports = dict(zip([c.hash() for c in todo], train_all(todo, root)))
        done = [cached_train(c, root) for c in flat]
        for r in done:   # what the tasks did, not how this process read their output
            rep = reports.get(r.config.hash())
            if rep is not None:
                r.cached, r.resumed_from, r.seconds = rep["cached"], rep["resumed_from"], rep["seconds"]
        return _merged(cfgs, pieces, done)
    workers = min(cores() - ACTIVE.is_set(), len(flat))   # a background trainer has a core (verify.pretrain)
    if workers < 2 or not on_cpu:
        done = _in_turn(flat, root, progress=ctx.progress)
    else:
        order = sorted(range(len(flat)), key=lambda i: -_cost(flat[i]))
        prev = torch.get_num_threads()
        torch.set_num_threads(1)   # once, here: set_num_threads is process-wide, so never from the workers
        pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="train")
        try:
            futs = {i: pool.submit(cached_train, flat[i].replace(threads=0), root, progress=ctx.progress)
                    for i in order}
            first, _ = cf.wait(futs.values(), return_when=cf.FIRST_EXCEPTION)
            for f in first:                   # a failure surfaces at once, not when its turn in the list comes
                if f.exception() is not None:
                    raise f.exception()
            done = [futs[i].result() for i in range(len(flat))]
        except BaseException:   # Ctrl-C or a failed run: stop the others at their next log step (they resume later)
            STOP.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            STOP.clear()
            torch.set_num_threads(prev)
    return _merged(cfgs, pieces, done)


def _in_turn(flat: list[TrainConfig], root, *, progress: bool) -> list[TrainResult]:
    """:func:`cached_train` of each run, one at a time, longest first (:func:`_cost`); a run whose lock another thread
    or process holds (the :mod:`verify.pretrain` thread, a Dask worker) is left for last and then waited for, so
    this thread trains what nobody else is training instead of queueing behind it."""
    done, busy = {}, []
    for i in sorted(range(len(flat)), key=lambda i: -_cost(flat[i])):
        try:
            with ck.run_lock(cached_run_dir(flat[i], root), blocking=False):
                done[i] = cached_train(flat[i], root, progress=progress)
        except ck.RunBusy:
            busy.append(i)
    for i in busy:
        done[i] = cached_train(flat[i], root, progress=progress)
    return [done[i] for i in range(len(flat))]


def _merged(cfgs, pieces, done) -> list[TrainResult]:
    out, i = [], 0
    for c, ps in zip(cfgs, pieces):
        out.append(merge_shards(c, done[i:i + len(ps)]))
        i += len(ps)
    return out


def ensemble_arrays(res, keys: tuple[str, ...]) -> dict:
    """What the judges read of one trained ensemble: circuits ``kq (E, H, D, D)``, ``ov (E, H, D, 1)``, final
    Monte Carlo risks with SEs ``(E,)``, member seeds, and the logged trajectories ``keys`` (``(T, E, H)``)."""
    kq, ov, d = circuits(res.model)
    return {"kq": kq, "ov": ov, "d": int(d), "seeds": [int(s) for s in res.config.seeds],
            "steps": int(res.config.steps), "final_loss": np.asarray(res.final_loss, dtype=np.float64),
            "final_loss_se": np.asarray(res.final_loss_se, dtype=np.float64),
            "trajectory": {k: np.asarray(res.trajectory[k]) for k in keys}}
