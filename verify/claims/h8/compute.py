r"""H8 compute: Monte Carlo risk of every member of every model at every test length, paired with debiased GD
at the member's own effective step on the same prompts, and a separate, larger Rao–Blackwellised Monte Carlo of
debiased GD (and GD) at those steps; each member's effective step and split flag (read from its final weights).

The trained risk of member :math:`e` at length :math:`L` is estimated as
:math:`\widehat R_e = \overline{(y_q-f_e)^2-(y_q-\hat y^{\rm DGD}_{\eta_e})^2} + \overline{R^{\rm RB}_{\rm DGD}(\eta_e)}`,
the paired difference on the model's prompts plus the Rao–Blackwellised DGD risk on independent prompts
(:func:`verify.claims.h6.compute.rao_blackwell`): unbiased, with the two standard errors added in quadrature (the
streams are independent), and far more precise than the plain squared error because a trained softmax model is
close to DGD. Nothing of the theory under test (:func:`theory.risks.dgd_risk`) enters the simulation.
"""
from __future__ import annotations

import numpy as np
import torch

from numerics import dgd_predict
from numerics.montecarlo import mc_losses
from numerics.patterns import model_patterns

from ...trained import trained_configs, trained_ensembles
from ..h6.compute import check_linear, rao_blackwell


def model_names(p) -> list[str]:
    """``"softmax H=<H>"`` for each H in ``p.heads``, then ``"linear"`` and ``"linear-normalised"``."""
    return [f"softmax H={H}" for H in p.heads] + ["linear", "linear-normalised"]


def _first_param(m):
    return next(m.parameters())


def _model_losses(models: list, etas: list[np.ndarray]):
    """Per-prompt losses of every model (``(E, k)`` squared error) and, paired on the same prompts, the squared
    error minus that of DGD at each member's step ``etas[i] (E,)`` (a DGD step of 0 for models without one)."""
    def losses(pr):
        d = pr.x.shape[-1]
        Z64 = torch.cat([pr.x, pr.y.unsqueeze(-1)], -1)                               # (k, L, d+1)
        out = {}
        for i, (m, eta) in enumerate(zip(models, etas)):
            E, k, dtype = m.n_member, pr.x.shape[0], _first_param(m).dtype
            Z = Z64.to(dtype).unsqueeze(0).expand(E, k, pr.x.shape[1], d + 1)
            pred = m(Z, pr.xq.to(dtype).unsqueeze(0).expand(E, k, d)).double()[..., 0]   # (E, k)
            sq = (pred - pr.yq.unsqueeze(0)) ** 2                                       # (E, k)
            unit = dgd_predict(pr.x, pr.y, pr.xq, eta=1.0)                               # (k,) DGD at eta = 1
            dgd = torch.as_tensor(eta, dtype=torch.float64, device=pr.x.device)[:, None] * unit[None, :]
            out[f"model{i}"] = sq
            out[f"paired{i}"] = sq - (dgd - pr.yq.unsqueeze(0)) ** 2
        return out
    return losses


def _dgd_losses(etas: np.ndarray, eta_bar: float, sigma2: float):
    r"""Rao–Blackwellised per-prompt risks of DGD at every step of ``etas (K,)`` (``(K, k)``), and GD - DGD at
    ``eta_bar`` (paired). DGD's weights are :math:`\eta(s_\ell-\bar s)/L`, GD's :math:`\eta s_\ell/L` (checked against
    :func:`numerics.dgd_predict` / :func:`numerics.gd_predict` on each chunk's first prompts)."""
    from numerics import gd_predict

    def losses(pr):
        L = pr.x.shape[1]
        s = torch.einsum("kld,kd->kl", pr.x, pr.xq)                                    # (k, L)
        c_dgd, c_gd = (s - s.mean(-1, keepdim=True)) / L, s / L                       # weights at eta = 1
        j = slice(0, 256)
        check_linear("dgd", dgd_predict(pr.x[j], pr.y[j], pr.xq[j], eta=1.0), c_dgd[j], pr.y[j])
        check_linear("gd", gd_predict(pr.x[j], pr.y[j], pr.xq[j], eta=1.0), c_gd[j], pr.y[j])
        # RB risk is quadratic in eta: sigma2 + |xq - eta a|^2 / d + sigma2 eta^2 |c|^2 with a = X^T c
        d = pr.x.shape[-1]
        out = {}
        rb = []
        for c in (c_dgd, c_gd):
            a = torch.einsum("kl,kld->kd", c, pr.x)
            rb.append(((pr.xq ** 2).sum(-1) / d, -2 * (pr.xq * a).sum(-1) / d,
                       (a ** 2).sum(-1) / d + sigma2 * (c ** 2).sum(-1)))
        e = torch.as_tensor(etas, dtype=torch.float64, device=pr.x.device)[:, None]
        q0, q1, q2 = rb[0]
        out["dgd"] = sigma2 + q0[None] + e * q1[None] + e ** 2 * q2[None]              # (K, k)
        g0, g1, g2 = rb[1]
        out["gd-dgd"] = eta_bar * (g1 - q1) + eta_bar ** 2 * (g2 - q2)                 # (k,)
        out["dgd_bar"] = sigma2 + q0 + eta_bar * q1 + eta_bar ** 2 * q2                 # (k,)
        # the same from the generic Rao-Blackwell formula, as a check of the expansion above
        rb_check = rao_blackwell(eta_bar * c_dgd[j], pr.x[j], pr.xq[j], sigma2)
        if not torch.allclose(rb_check, out["dgd_bar"][j], rtol=1e-9, atol=1e-12):
            raise ArithmeticError("quadratic-in-eta Rao-Blackwell form disagrees with the direct one")
        return out
    return losses


KINDS = ("linear", "linear-normalised")


def _specs(p) -> list:
    return [(H, "softmax") for H in p.heads] + [(p.linear_heads, k) for k in KINDS]


def trainings(p, ctx) -> list:
    """The runs :func:`compute` trains (``Claim.trainings``)."""
    return [(trained_configs(p.training, p.problem, ctx, _specs(p)), None)]


def compute(p, ctx) -> dict:
    got = trained_ensembles(p.training, p.problem, ctx, _specs(p))
    runs = {f"softmax H={H}": got[H, "softmax"] for H in p.heads}
    runs.update({k: got[p.linear_heads, k] for k in KINDS})
    models = [res.model for res in runs.values()]
    out, etas = {}, []
    for name, res in runs.items():
        pat = model_patterns(res.model)
        eta = np.asarray(pat.eta_eff, dtype=float) if name.startswith("softmax") else np.zeros(pat.n_member)
        etas.append(eta)
        nL = len(p.L_eval)
        out[name] = {"mean": np.zeros((pat.n_member, nL)),        # (E, nL) plain risk, noise included
                     "se": np.zeros((pat.n_member, nL)),          # (E, nL) its Monte Carlo standard error
                     "paired": np.zeros((pat.n_member, nL)),      # (E, nL) risk - DGD(eta_e) risk, same prompts
                     "paired_se": np.zeros((pat.n_member, nL)),
                     "dgd": np.zeros((pat.n_member, nL)),         # (E, nL) Rao-Blackwellised DGD(eta_e) risk
                     "dgd_se": np.zeros((pat.n_member, nL)),
                     "eta": np.asarray(pat.eta_eff, dtype=float),  # (E,) sum_h mu_h omega_h
                     "split": np.asarray(pat.split, dtype=bool)}  # (E,) active heads of both signs
    all_eta = np.concatenate(etas)
    soft = np.concatenate([e for n, e in zip(runs, etas) if n.startswith("softmax H=") and n != "softmax H=1"]
                          or [all_eta])
    eta_bar = float(np.median(soft))
    theory = {"eta": eta_bar, "dgd": np.zeros(len(p.L_eval)), "dgd_se": np.zeros(len(p.L_eval)),
              "gd-dgd": np.zeros(len(p.L_eval)), "gd-dgd_se": np.zeros(len(p.L_eval)),
              "n": np.zeros(len(p.L_eval), dtype=int)}
    width = max(m.n_member * (3 * getattr(m, "n_head", 1) + p.problem.d + 1) for m in models)
    for j, L in enumerate(p.L_eval):
        prob = p.problem.replace(L=L)
        # one prompt stream per length, shared by every model (common random numbers across models)
        mc = mc_losses(_model_losses(models, etas), prob, n_prompts=p.n_eval, seed=ctx.seed_int("eval", L),
                       chunk=max(64, min(8192, 2**24 // (L * width))))
        # n_dgd prompts at the shortest length, fewer at longer ones (equal cost per length): the centring and
        # other 1/L terms the closed-form check must resolve shrink like 1/L or faster
        n_L = max(1_000, p.n_dgd * min(p.L_eval) // L)
        theory["n"][j] = n_L
        rb = mc_losses(_dgd_losses(all_eta, eta_bar, p.problem.sigma2), prob, n_prompts=n_L,
                       seed=ctx.seed_int("dgd", L), chunk=min(n_L, 2**22 // (L * (p.problem.d + 2))))
        start = 0
        for i, name in enumerate(runs):
            o, E = out[name], len(etas[i])
            o["mean"][:, j], o["se"][:, j] = mc[f"model{i}"]
            o["paired"][:, j], o["paired_se"][:, j] = mc[f"paired{i}"]
            o["dgd"][:, j] = np.asarray(rb["dgd"][0])[start:start + E]
            o["dgd_se"][:, j] = np.asarray(rb["dgd"][1])[start:start + E]
            start += E
        theory["dgd"][j], theory["dgd_se"][j] = rb["dgd_bar"]
        theory["gd-dgd"][j], theory["gd-dgd_se"][j] = rb["gd-dgd"]
    return {"L_eval": np.array(p.L_eval), "models": out, "theory": theory, "n_eval": int(p.n_eval)}
