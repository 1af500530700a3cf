"""H9 compute: Monte Carlo of plain and centred preconditioned GD (risks at several Γ, and the Monte Carlo
minimiser Γ̂ from the empirical normal equations), ridge, the symbolic identities, and the trained ensembles.

Nothing here borrows an answer from the closed form under test: the risks are plain averages of squared errors on
prompts from :class:`numerics.data.AnisotropicSampler`, and Γ̂ solves the *empirical* normal equations
:math:`\\hat M\\,\\mathrm{vec}\\,\\Gamma = \\hat b` with :math:`\\hat M = \\overline{zz^\\top}`,
:math:`\\hat b=\\overline{y_q z}`, :math:`z=\\mathrm{vec}(g\\,x_q^\\top)` (the prediction is :math:`\\langle\\Gamma, g x_q^\\top\\rangle`),
on all prompts, with a delete-one-chunk jackknife standard error (chunks are independent). The Γ at which
risks are simulated are *inputs* (the two Γ*, Σ⁻¹, a scaled identity); they are stored, and the judge compares
the closed form at exactly those matrices.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from numerics.estimators import ridge_predict
from numerics.montecarlo import mc_losses
from numerics.patterns import circuits
from numerics.training import TrainConfig
from theory import preconditioned
from theory.problem import Problem

from ...trained import CLAIM_THREADS, train_many

#: Versions of the predictor: plain x_l, centred x_l - xbar (debiased GD, SPEC 2.4).
VERSIONS = ("plain", "centred")
#: Preconditioners at which the risk is simulated (for each version).
GAMMAS = ("opt_plain", "opt_centred", "sigma_inv", "scaled_identity")
#: Logged readouts the judge needs (numerics.training.readouts).
TRAJECTORY_KEYS = ("step", "gamma", "dummy", "loss")


def diagonal_cov(d: int, cond: float) -> np.ndarray:
    """A diagonal Σ with geometrically spaced eigenvalues from cond^-1/2 to cond^1/2 (determinant 1, condition
    number ``cond``; its trace exceeds d, so a "tr Σ -> d" slip in Γ* changes the answer)."""
    return np.diag(np.geomspace(cond ** -0.5, cond ** 0.5, d))


def covariances(p) -> dict[str, np.ndarray]:
    """The two covariances of the claim: the problem's Σ (SPEC 1.2 Toeplitz by default) and a diagonal one."""
    return {"toeplitz": p.problem.cov_matrix, "diagonal": diagonal_cov(p.problem.d, p.diag_cond)}


def gammas(S: np.ndarray, p, version: str) -> dict[str, np.ndarray]:
    """The preconditioners simulated for one version (computed here, stored, re-used by the judge as inputs)."""
    L, s2 = p.problem.L, p.problem.sigma2
    centred = version == "centred"
    eye = np.eye(S.shape[0])
    return {"opt_plain": preconditioned.preconditioned_gd_optimum(S, L=L, sigma2=s2, centred=False),
            "opt_centred": preconditioned.preconditioned_gd_optimum(S, L=L, sigma2=s2, centred=True),
            "sigma_inv": np.linalg.inv(S),
            "scaled_identity": preconditioned.preconditioned_gd_best_scale(eye, S, L=L, sigma2=s2,
                                                                           centred=centred) * eye}


def _monte_carlo(S: np.ndarray, p, ctx, name: str) -> dict:
    d, L, s2 = p.problem.d, p.problem.L, p.problem.sigma2
    problem = Problem(d=d, L=L, sigma2=s2, cov=tuple(map(tuple, S)))
    mats = {v: gammas(S, p, v) for v in VERSIONS}
    G = {v: torch.as_tensor(np.stack([mats[v][k] for k in GAMMAS]), dtype=torch.float64) for v in VERSIONS}
    groups: dict[str, list] = {v: [] for v in VERSIONS}  # per chunk: (sum z z^T, sum y_q z)
    seen = [0]

    def losses(pr):
        k = len(pr.yq)
        g = {"plain": torch.einsum("kl,kld->kd", pr.y, pr.x) / L}  # (k, d)
        g["centred"] = torch.einsum("kl,kld->kd", pr.y, pr.x - pr.x.mean(1, keepdim=True)) / L
        out = {}
        for v in VERSIONS:
            pred = torch.einsum("kd,gde,ke->gk", g[v], G[v].to(pr.x), pr.xq)  # (n_gamma, k)
            out[f"{v}/risk"] = (pr.yq - pred) ** 2
            z = (g[v][:, :, None] * pr.xq[:, None, :]).reshape(k, d * d)  # (k, d^2): vec(g x_q^T), row-major
            groups[v].append(((z.T @ z).numpy(), (z.T @ pr.yq).numpy()))
        if seen[0] < p.ridge_prompts:  # the ridge / Bayes bar needs far fewer prompts
            out["ridge"] = (pr.yq - ridge_predict(pr.x, pr.y, pr.xq, lam=d * s2)) ** 2
        seen[0] += k
        return out

    mc = mc_losses(losses, problem, n_prompts=p.n_prompts, seed=ctx.seed_int("mc", name), device=ctx.device,
                   chunk=p.chunk)
    out: dict = {"sigma": S, "n_prompts": int(p.n_prompts), "ridge": np.array(mc["ridge"])}
    for v in VERSIONS:
        Ms, bs = (np.stack(a) for a in zip(*groups[v]))  # (K, d^2, d^2), (K, d^2)
        hat = np.linalg.solve(Ms.sum(0), bs.sum(0)).reshape(d, d)
        # delete-one-chunk jackknife: Gamma-hat without chunk k, for the standard error
        jack = np.stack([np.linalg.solve(Ms.sum(0) - Ms[j], bs.sum(0) - bs[j]).reshape(d, d)
                         for j in range(len(Ms))])
        K = len(Ms)
        se = np.sqrt((K - 1) / K * ((jack - jack.mean(0)) ** 2).sum(0))
        out[v] = {"gammas": np.stack([mats[v][k] for k in GAMMAS]), "risk": np.asarray(mc[f"{v}/risk"][0]),
                  "risk_se": np.asarray(mc[f"{v}/risk"][1]), "gamma_hat": hat, "gamma_hat_se": se,
                  "n_groups": K}
    return out


def train_config(p, S: np.ndarray, name: str, ctx) -> TrainConfig:
    t = p.training
    return TrainConfig(d=p.problem.d, L=p.problem.L, sigma2=p.problem.sigma2, cov=tuple(map(tuple, S)),
                       n_head=p.n_head, steps=t.steps, batch=t.batch, lr=t.lr, seed=ctx.seed,
                       key=("H9", name, f"H{p.n_head}"), ensemble=t.n_seeds(p.n_head), log_every=t.log_every,
                       eval_prompts=t.eval_prompts, device=ctx.device, checkpoint_every=t.checkpoint_every,
                       threads=CLAIM_THREADS)


def _trained(res) -> dict:
    kq, ov, d = circuits(res.model)
    traj = {k: np.asarray(res.trajectory[k]) for k in TRAJECTORY_KEYS if k in res.trajectory}
    return {"kq": kq[..., :d, :d], "mu": ov[..., d, 0], "ov": ov[..., 0], "d": int(d),
            "seeds": [int(s) for s in res.config.seeds],
            "steps": int(res.config.steps), "final_loss": np.asarray(res.final_loss, dtype=np.float64),
            "final_loss_se": np.asarray(res.final_loss_se, dtype=np.float64), "trajectory": traj}


def trainings(p, ctx) -> list:
    """The runs :func:`compute` trains (``Claim.trainings``)."""
    return [([train_config(p, S, name, ctx) for name, S in covariances(p).items()], None)]


def compute(p, ctx) -> dict:
    ids = preconditioned.identities(p.symbolic_d)
    symbolic = {k: bool(sp.Matrix(e).is_zero_matrix if isinstance(e, sp.MatrixBase) else sp.expand(e) == 0)
                for k, e in ids.items()}
    out = {"symbolic": symbolic, "covs": {}}
    covs = covariances(p)
    runs = train_many(trainings(p, ctx)[0][0], ctx)
    for (name, S), res in zip(covs.items(), runs):
        out["covs"][name] = {"mc": _monte_carlo(S, p, ctx, name), "trained": _trained(res)}
    return out
