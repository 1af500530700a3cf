r"""H6 compute: paired Monte Carlo of seven estimators on common prompts at every L, each both raw and
Rao–Blackwellised, and the factor-e identity.

Every estimator here is linear in the context labels, :math:`\hat y = c^\top y` with weights :math:`c(X, x_q)`
(GD, debiased GD, the softmax heads, ridge). On data 1.1 (:math:`\beta\sim\mathcal N(0,I/d)`, noise
:math:`\sigma^2` on every label) the squared error averaged over :math:`\beta` and the noise given the covariates is

.. math:: \mathbb E\big[(y_q-c^\top y)^2\,\big|\,X,x_q\big] = \|x_q - X^\top c\|^2/d + \sigma^2\,(1+\|c\|^2),

an unbiased per-prompt estimate of the risk with a far smaller variance (Rao–Blackwell). The weights are read
down here and checked on every chunk (its first ``CHECKED`` prompts) to reproduce the package's own predictors (:mod:`numerics.estimators`),
:math:`\hat y = c^\top y`, so the estimators under test are the package's; nothing of the theory under test enters
the simulation.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from numerics import dgd_predict, gd_predict, reduced_attention_predict, ridge_predict
from numerics.montecarlo import mc_losses
from theory.mean_field import identities, single_head_optimum

#: Estimators (each a squared-error stream, raw and Rao-Blackwellised). ``multi_half`` / ``multi_quarter`` are the
#: pair at omega / 2 and omega / 4 with mu scaled up (the same eta = 2 omega mu), for the omega -> 0 extrapolation
#: of multi-head - DGD.
ESTIMATORS = ("multi", "multi_half", "multi_quarter", "gd", "dgd", "single", "single_trained", "ridge")
#: Prompts per chunk on which the weights are checked against the package's predictor (the rest use c^T y).
CHECKED = 1024
#: Paired differences on the same prompts (Rao-Blackwellised streams, a - b).
PAIRS = {"multi-dgd": ("multi", "dgd"), "multi_half-dgd": ("multi_half", "dgd"),
         "multi_quarter-dgd": ("multi_quarter", "dgd"), "gd-dgd": ("gd", "dgd"),
         "single-multi": ("single", "multi")}


def check_linear(name: str, yhat: torch.Tensor, c: torch.Tensor, y: torch.Tensor) -> None:
    r"""Raise ``ValueError`` unless the package's prediction ``yhat (k,)`` equals :math:`c^\top y` for the weights
    ``c (k, L)`` written here (to rounding), so the Rao–Blackwell stream is that of the estimator under test (for
    a predictor linear in ``y``, agreement at the sampled Gaussian labels pins ``c`` down with probability 1)."""
    lin = (c * y).sum(-1)
    if not torch.allclose(yhat, lin, rtol=1e-9, atol=1e-9 * float(yhat.abs().max()) + 1e-12):
        raise ValueError(f"{name}: the package's predictor is not c^T y for the weights c of the Rao-Blackwell "
                         "estimate")


def rao_blackwell(c: torch.Tensor, x: torch.Tensor, xq: torch.Tensor, sigma2: float) -> torch.Tensor:
    r"""Per-prompt risk given the covariates of the linear predictor with weights ``c (k, L)`` on data 1.1:
    :math:`\|x_q - X^\top c\|^2/d + \sigma^2(1+\|c\|^2)` (``(k,)``); needs :math:`\beta\sim\mathcal N(0, I/d)`."""
    d = x.shape[-1]
    resid = xq - torch.einsum("kl,kld->kd", c, x)
    return (resid ** 2).sum(-1) / d + sigma2 * (1 + (c ** 2).sum(-1))


def _softmax_weights(s: torch.Tensor, omega, mu) -> torch.Tensor:
    """``(k, L)``: sum_h mu_h softmax_l(omega_h s_l), the label weights of the reduced attention (SPEC 2.2)."""
    return sum(m * torch.softmax(w * s, dim=-1) for w, m in zip(omega, mu))


def _estimators(p, L: int) -> dict:
    """``{name: (predict(x, y, xq), weights(x, xq, s))}`` at context length ``L``: the multi-head pair (and the same
    pair at omega / 2, mu doubled), GD and DGD at eta = 2 omega mu, the mean-field-optimal single head at this L,
    the trained single head held fixed, and ridge at lambda = d sigma2. ``predict`` is the package's estimator
    (:mod:`numerics.estimators`), ``weights`` its label weights c (checked against it on every chunk)."""
    w, m = p.omega, p.mu
    eta = 2 * w * m
    d, s2 = p.problem.d, p.problem.sigma2
    om1, mu1, _ = single_head_optimum(d=d, L=L, sigma2=s2)
    om_t, mu_t = p.trained_single

    def ridge_w(x, xq, s):
        gram = x.transpose(1, 2) @ x + d * s2 * torch.eye(d, dtype=x.dtype, device=x.device)   # (k, d, d)
        return torch.einsum("kld,kd->kl", x, torch.linalg.solve(gram, xq))

    def heads(omega, mu):
        return (lambda x, y, q: reduced_attention_predict(x, y, q, omega=omega, mu=mu),
                lambda x, q, s: _softmax_weights(s, omega, mu))

    return {
        "multi": heads([w, -w], [m, -m]),
        "multi_half": heads([w / 2, -w / 2], [2 * m, -2 * m]),
        "multi_quarter": heads([w / 4, -w / 4], [4 * m, -4 * m]),
        "gd": (lambda x, y, q: gd_predict(x, y, q, eta=eta), lambda x, q, s: eta / L * s),
        "dgd": (lambda x, y, q: dgd_predict(x, y, q, eta=eta),
                lambda x, q, s: eta / L * (s - s.mean(-1, keepdim=True))),
        "single": heads([om1], [mu1]),
        "single_trained": heads([om_t], [mu_t]),
        "ridge": (lambda x, y, q: ridge_predict(x, y, q, lam=d * s2), ridge_w),
    }


def compute(p, ctx) -> dict:
    # the factor-e entry does not depend on n_heads; () skips building the per-H identities (seconds)
    factor_e = bool(sp.simplify(identities(n_heads=())["single_head_factor_e"]) == 0)
    s2 = p.problem.sigma2
    names = ESTIMATORS + tuple(PAIRS) + ("richardson", "richardson2")
    mean = {k: np.zeros(len(p.Ls)) for k in names}
    se = {k: np.zeros(len(p.Ls)) for k in names}
    raw_mean = {k: np.zeros(len(p.Ls)) for k in ESTIMATORS}
    raw_se = {k: np.zeros(len(p.Ls)) for k in ESTIMATORS}
    for i, L in enumerate(p.Ls):
        ests = _estimators(p, L)

        def losses(pr, ests=ests):
            out = {}
            s = torch.einsum("kld,kd->kl", pr.x, pr.xq)                        # (k, L) scores x_l^T x_q
            for name, (predict, weights) in ests.items():
                c = weights(pr.x, pr.xq, s)                                    # (k, L)
                j = slice(0, CHECKED)                                          # the package's predictor
                check_linear(name, predict(pr.x[j], pr.y[j], pr.xq[j]), c[j], pr.y[j])
                yhat = (c * pr.y).sum(-1)
                out["raw:" + name] = (pr.yq - yhat) ** 2                      # (k,) the plain squared error
                out[name] = rao_blackwell(c, pr.x, pr.xq, s2)                  # (k,) its conditional mean
            out.update({name: out[a] - out[b] for name, (a, b) in PAIRS.items()})
            # omega -> 0 at fixed eta (Richardson on the gap, a series in omega^2): (4 gap(w/2) - gap(w)) / 3 from
            # (omega, omega/2) and from (omega/2, omega/4)
            out["richardson"] = (4 * out["multi_half-dgd"] - out["multi-dgd"]) / 3
            out["richardson2"] = (4 * out["multi_quarter-dgd"] - out["multi_half-dgd"]) / 3
            return out

        mc = mc_losses(losses, p.problem.replace(L=L), n_prompts=p.n_prompts, seed=ctx.seed_int("prompts", L),
                       device=ctx.device, chunk=p.chunk)
        for k in names:
            mean[k][i], se[k][i] = mc[k]
        for k in ESTIMATORS:
            raw_mean[k][i], raw_se[k][i] = mc["raw:" + k]
    return {"Ls": np.array(p.Ls), "mean": mean, "se": se, "raw_mean": raw_mean, "raw_se": raw_se,
            "factor_e_identity": factor_e, "n_prompts": int(p.n_prompts)}
