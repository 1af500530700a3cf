"""H10 compute: symbolic identities, the Omega = 0 Monte Carlo, the flow's end states from random starts, and the
trained ensembles' per-head omega, mu and risks."""
from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import numpy as np
import sympy as sp
import torch

from numerics import checkpoint as ck
from numerics.data import make_generator, sampler_for
from numerics.multitask_flow import integrate_starts, random_starts
from numerics.patterns import circuits
from numerics.phases import format_supports, from_circuits, parse_supports
from numerics.training import TrainConfig
from theory import multitask
from theory.problem import Problem

from ...trained import CLAIM_THREADS, train_many

#: Small settings whose derived loss is proved equal to the matrix form at claim time (the tests prove more).
IDENTITY_CASES = ((1, ((0, 1),), 2), (2, ((0, 1), (1, 2)), 3), (2, ((0,), (1,)), 2))
FLOW_CASE = (2, ((0, 1), (1, 2)), 3)


def _symbolic() -> dict:
    ids = multitask.identities(IDENTITY_CASES)
    out = {k: bool(sp.simplify(v) == 0) for k, v in ids.items()}
    H, sup, d = FLOW_CASE
    rng = np.random.default_rng(12345)   # test points of an exact identity, not a statistic
    fs = multitask.flow_rhs_symbolic(H, supports=sup, d=d, L=48, sigma2=0.1)
    fn = multitask.flow_rhs(H, supports=sup, d=d, L=48, sigma2=0.1)
    err = 0.0
    for _ in range(5):
        y = rng.normal(scale=0.5, size=H * (d + len(sup)))
        a, b = fs(y), fn(0.0, y)
        err = max(err, float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(a))))))
    return {"identities": out, "flow_rel_err": err}


def _mc_common_mode(p, sup, ctx) -> dict:
    """E (ybar^(k))^2 per task by Monte Carlo on fresh prompts (the Omega = 0 value of the mean-field weight c_k)."""
    prob = Problem(d=p.d, L=p.L, sigma2=p.sigma2, supports=sup)
    sampler = sampler_for(prob)
    gen = make_generator(ctx.seed_int("h10", "mc"))
    sums, sq, n = np.zeros(len(sup)), np.zeros(len(sup)), 0
    left = p.mc_prompts
    while left > 0:
        b = min(left, 50_000)
        pr = sampler(b, generator=gen, dtype=torch.float64)
        ybar2 = (pr.y.mean(1) ** 2).numpy()                                 # (b, N)
        sums += ybar2.sum(0)
        sq += (ybar2 ** 2).sum(0)
        n += b
        left -= b
    mean = sums / n
    se = np.sqrt(np.maximum(sq / n - mean**2, 0.0) / (n - 1))
    return {"supports": [list(s) for s in sup], "mean": mean, "se": se, "n": n}


def _flow(p, ctx) -> dict:
    out = {}
    for i, text in enumerate(p.theory_supports):
        sup = parse_supports(text, d=p.d)
        m = multitask.masks(sup, p.d)
        ck = m.sum(1) * (1 + p.sigma2) / p.L
        field = partial(multitask.flow_field, masks_=m, ck=ck)
        om0, mu0, hs = random_starts(p.theory_heads, p.n_start, d=p.d, n_task=len(sup), scale=p.init_scale,
                                     rng=ctx.rng("h10", "flow", text))
        t0 = time.perf_counter()
        ends = integrate_starts(field, om0, mu0, hs, t_out=(p.t_end / 2, p.t_end))
        loss = np.array([[multitask.multitask_loss(*ends.model(it, g), supports=sup, d=p.d, L=p.L, sigma2=p.sigma2)
                          for g in range(len(hs))] for it in range(2)])
        out[format_supports(sup)] = {"omega": ends.omega.astype(np.float32), "mu": ends.mu.astype(np.float32),
                                     "heads": hs, "t": ends.t, "loss": loss,
                                     "seconds": time.perf_counter() - t0}
    return out


def _plan(p, ctx) -> list:
    """``[(supports name, H, TrainConfig), ...]`` of ``p.train_plan``."""
    from . import plan_entry

    plan = []
    for entry in p.train_plan:
        sup, heads = plan_entry(entry, p.d)
        name = format_supports(sup)
        for H in heads:
            plan.append((name, H, TrainConfig(
                d=p.d, L=p.L, sigma2=p.sigma2, n_head=H, supports=sup, steps=p.training.steps,
                batch=p.training.batch, lr=p.training.lr, seed=ctx.seed, key=("h10", name, f"H{H}"),
                ensemble=p.training.n_seeds("all"), log_every=p.training.log_every,
                eval_prompts=p.training.eval_prompts, device=ctx.device,
                checkpoint_every=p.training.checkpoint_every, threads=CLAIM_THREADS)))
    return plan


def trainings(p, ctx) -> list:
    """The runs :func:`compute` trains (``Claim.trainings``)."""
    return [([cfg for _, _, cfg in _plan(p, ctx)], None)]


def _trained(p, ctx) -> dict:
    out, plan = {}, _plan(p, ctx)
    results = train_many([cfg for _, _, cfg in plan], ctx)
    for (name, H, cfg), res in zip(plan, results):
        kq, ov, d = circuits(res.model)
        om, mu = from_circuits(kq, ov, d)
        entry = {}
        mid = None if res.run_dir is None else Path(res.run_dir) / ck.PREV_CHECKPOINT
        if mid is not None and mid.exists():        # the previous checkpoint: the phase's stability
            state = ck.read_checkpoint(mid)
            if int(state["step"]) < cfg.steps:
                om_mid, mu_mid = from_circuits(*circuits(state["model"], d=p.d)[:2], p.d)
                entry = {"omega_mid": om_mid, "mu_mid": mu_mid, "mid_step": int(state["step"])}
        out[f"{name}|{H}"] = {**entry, "omega": om, "mu": mu, "final_loss": np.asarray(res.final_loss, dtype=float),
                              "final_loss_se": np.asarray(res.final_loss_se, dtype=float),
                              "seeds": [int(s) for s in cfg.seeds], "steps": int(cfg.steps)}
    return out


def compute(p, ctx) -> dict:
    t0 = time.perf_counter()
    sym = _symbolic()
    t1 = time.perf_counter()
    flow = _flow(p, ctx)
    t2 = time.perf_counter()
    mc = _mc_common_mode(p, parse_supports(p.mc_supports, d=p.d), ctx)
    t3 = time.perf_counter()
    trained = _trained(p, ctx)
    t4 = time.perf_counter()
    return {"symbolic": sym, "flow": flow, "mc": mc, "trained": trained,
            "seconds": {"symbolic": t1 - t0, "flow": t2 - t1, "mc": t3 - t2, "trained": t4 - t3}}
