"""H3 compute: Monte Carlo of the reduced model at the paper point (plain and variance-reduced) and over a
random grid of settings (variance-reduced).

Simulation only: the variance-reduced estimates are stored as raw sample moments
(:func:`numerics.montecarlo.control_variate_moments`); the judge supplies the control variate's exact mean (an
independent result, :mod:`theory.risks`) and assembles the estimate, so a wrong control mean is visible there.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from numerics import reduced_attention_risk
from numerics.montecarlo import control_variate_moments
from theory.mean_field import optimal_mu
from theory.refined import refined_loss_expr, refined_loss_raw_expr

#: Columns of ``grid_raw`` (the sample moments of :func:`numerics.montecarlo.control_variate_moments`).
RAW_KEYS = ("n", "v_mean", "v_var", "u_mean", "u_var", "uv_cov", "resid_var")

GRID_TEXT = ("d ~ U{2..20}, L log-uniform on [10, 200], sigma2 ~ U[0, 1], H ~ U{1..4}, omega ~ U[-omega_max, "
             "omega_max]^H; even points mu = argmin_mu L~ (omega redrawn until max|mu| <= mu_cap), odd points "
             "mu ~ N(0, 4 I)")


def draw_grid(rng: np.random.Generator, n_points: int, *, omega_max: float, mu_cap: float) -> list[dict]:
    """Random test points (see :data:`GRID_TEXT`); near-degenerate omega make mu* explode, hence the cap (and an
    omega whose mu* cannot be resolved is redrawn)."""
    pts = []
    for i in range(n_points):
        d = int(rng.integers(2, 21))
        L = int(np.round(np.exp(rng.uniform(np.log(10), np.log(200)))))
        sigma2 = float(rng.uniform(0, 1))
        H = int(rng.integers(1, 5))
        while True:
            omega = rng.uniform(-omega_max, omega_max, H)
            if i % 2:
                mu = rng.normal(0, 2, H)
                break
            try:
                mu = optimal_mu(omega, d=d, L=L, sigma2=sigma2)
            except ValueError:   # mu* unresolvable (near-equal heads): redraw omega, as for a too large mu*
                continue
            if np.max(np.abs(mu)) <= mu_cap:
                break
        pts.append({"d": d, "L": L, "sigma2": sigma2, "omega": omega.tolist(), "mu": np.asarray(mu).tolist(),
                    "near_optimal": not i % 2})
    return pts


def compute(p, ctx) -> dict:
    same = all(sp.expand(refined_loss_raw_expr(h) - refined_loss_expr(h)) == 0 for h in (1, 2))
    args = {"d": p.problem.d, "L": p.problem.L, "sigma2": p.problem.sigma2}
    mc, se = reduced_attention_risk(p.omega, p.mu, n_prompts=p.paper_prompts, seed=ctx.seed_int("paper", "plain"),
                                    device=ctx.device, **args)
    raw = control_variate_moments(p.omega, p.mu, n_prompts=p.paper_prompts, seed=ctx.seed_int("paper", "reduced"),
                                  device=ctx.device, **args)
    pts = draw_grid(ctx.rng("grid"), p.n_points, omega_max=p.omega_max, mu_cap=p.mu_cap)
    rows = []
    for i, pt in enumerate(pts):
        a = {"d": pt["d"], "L": pt["L"], "sigma2": pt["sigma2"]}
        r = control_variate_moments(pt["omega"], pt["mu"], n_prompts=p.n_prompts, seed=ctx.seed_int("grid-mc", i),
                                    device=ctx.device, **a)
        rows.append([r[k] for k in RAW_KEYS])
    return {"refined_assembly_exact": bool(same), "paper_mc": mc, "paper_se": se,
            "paper_raw": {k: float(v) for k, v in raw.items()}, "grid": pts, "grid_raw": np.array(rows),
            "bootstrap_seed": ctx.seed_int("bootstrap") % 2**32}
