"""H7 compute: the identities of theory.bayes, the (xi, sigma2) grid (r and the MP Stieltjes transform on it are
evaluated by the judge, so the power table's mutants reach them), a 30-digit evaluation of r at the spot point,
and Monte Carlo of the Bayes risk at finite (d, L = d / xi)."""
from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from numerics import ridge_predict
from numerics.montecarlo import chunk_size, mc_losses
from theory.bayes import excess_ratio_proportional_expr, identities
from theory.problem import Problem
from theory.symbols import sigma2, xi


def bayes_losses(d: int, s2: float):
    r"""Per-prompt losses of ridge at :math:`\lambda = d\sigma^2` (the posterior mean) and the Rao-Blackwellised
    Bayes risk :math:`\sigma^2 + \sigma^2\operatorname{tr}(X^\top X + d\sigma^2 I)^{-1}` (the posterior variance: same
    mean, far smaller variance), and their paired difference."""
    def losses(p):
        ridge = (p.yq - ridge_predict(p.x, p.y, p.xq, lam=d * s2)) ** 2           # (k,)
        gram = p.x.transpose(1, 2) @ p.x + d * s2 * torch.eye(d, dtype=p.x.dtype, device=p.x.device)
        inv = torch.cholesky_inverse(torch.linalg.cholesky(gram))                 # (k, d, d), SPD
        rb = s2 + s2 * inv.diagonal(dim1=1, dim2=2).sum(-1)                        # (k,)
        return {"ridge": ridge, "rb": rb, "diff": ridge - rb}

    return losses


def compute(p, ctx) -> dict:
    proved = {key: bool(sp.simplify(expr) == 0) for key, expr in identities().items()}

    xs = np.geomspace(*p.xi_range, p.n_grid)   # the theory grid (judge and display evaluate r on it)
    ss = np.geomspace(*p.sigma2_range, p.n_grid)

    s0 = p.problem.sigma2
    exact = {xi: sp.Rational(p.problem.d, p.problem.L), sigma2: sp.nsimplify(s0)}
    r_exact = float(excess_ratio_proportional_expr().subs(exact).evalf(30))

    spots = []                                   # d, L, ridge mean, ridge se, rb mean, rb se, diff mean, diff se
    for d, n in zip(p.spot_d, p.spot_prompts):
        L = int(round(d / p.spot_xi))
        mc = mc_losses(bayes_losses(d, s0), Problem(d=d, L=L, sigma2=s0), n_prompts=n,
                       seed=ctx.seed_int("spot", d), device=ctx.device,
                       chunk=min(p.chunk, chunk_size(d=d, L=L)))                       # bounded memory for large d, L
        spots.append((d, L, *mc["ridge"], *mc["rb"], *mc["diff"]))
    return {"identities": proved, "xi": xs, "sigma2": ss,
            "r_exact": r_exact, "spots": np.array(spots), "spot_prompts": list(p.spot_prompts)}
