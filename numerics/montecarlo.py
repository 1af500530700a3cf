r"""Monte Carlo risks with standard errors, chunked so memory stays bounded for any number of prompts.

The risk of an estimator :math:`f` is :math:`\mathbb E(y_q - f(\text{prompt}))^2` over the data model,
irreducible query noise included. Means and variances are accumulated in float64 over chunks
(Chan's parallel update), so 10^7 prompts run in a fixed few hundred MB.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from theory.problem import Problem
from theory.validate import check_float, check_heads, check_int, check_problem
from .data import Prompts, Sampler, make_generator, sample_linear, sampler_for
from .estimators import reduced_attention_predict

Predictor = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

#: Bytes a chunk may take for its prompt tensors and softmax weights: below glibc's largest mmap threshold (32 MB), so
#: a chunk's buffers are reused from the heap instead of being mapped, page-faulted and unmapped every chunk (measured:
#: 16 MB chunks ran the H3 Monte Carlo 25% faster than 64 MB ones, and no slower than 4-8 MB ones).
CHUNK_BYTES = 16 * 2**20


class RunningMean:
    """Streaming mean and variance over the last axis (Chan et al.), float64 on the host.

    ``update(values)`` takes a tensor ``(..., k)`` of ``k`` new draws; the leading shape (e.g. one entry per
    ensemble member) is kept, so ``mean`` and ``stderr`` are floats for scalar streams and arrays otherwise.
    """

    def __init__(self):
        self.n, self._mean, self._m2 = 0, np.zeros(()), np.zeros(())

    def update(self, values: torch.Tensor) -> None:
        v = values.detach().to(torch.float64).cpu().numpy()
        k = v.shape[-1] if v.ndim else 1
        if k == 0:
            return
        mean_b = v.mean(-1)
        m2_b = ((v - mean_b[..., None]) ** 2).sum(-1) if v.ndim else np.zeros(())
        delta = mean_b - self._mean
        tot = self.n + k
        self._mean = self._mean + delta * k / tot
        self._m2 = self._m2 + m2_b + delta**2 * self.n * k / tot
        self.n = tot

    @property
    def mean(self):
        return float(self._mean) if self._mean.ndim == 0 else self._mean.copy()

    @property
    def stderr(self):
        se = np.sqrt(self._m2 / (self.n - 1) / self.n) if self.n > 1 else np.full(self._mean.shape, np.inf)
        return float(se) if np.ndim(se) == 0 else se


def chunk_size(*, d: int, L: int, n_head: int = 1, itemsize: int = 8, budget: int = CHUNK_BYTES) -> int:
    """Prompts per chunk so that the tensors of one chunk take about ``budget`` bytes."""
    per_prompt = itemsize * (L * (d + 3 + 2 * n_head) + 3 * d + 4)
    return max(1, budget // per_prompt)


def as_sampler(problem: Problem | Sampler | None = None, *, d: int | None = None, L: int | None = None,
               sigma2: float | None = None) -> Sampler:
    """The sampler of ``problem`` (a :class:`~theory.problem.Problem` or a ready :class:`~numerics.data.Sampler`), or
    of the isotropic model SPEC 1.1 with ``d, L, sigma2`` when no problem is given."""
    if isinstance(problem, Sampler):
        return problem
    if problem is None:
        if d is None or L is None or sigma2 is None:
            raise ValueError("give a problem (or a sampler), or all of d, L and sigma2")
        d, L, sigma2 = check_problem(d, L, sigma2)
        problem = Problem(d=d, L=L, sigma2=sigma2)
    elif d is not None or L is not None or sigma2 is not None:
        raise ValueError("give either a problem or d, L, sigma2, not both")
    return sampler_for(problem)


def mc_losses(losses: Callable[[Prompts], dict], problem: Problem | Sampler | None = None, *,
              d: int | None = None, L: int | None = None, sigma2: float | None = None, n_prompts: int, seed: int,
              device: str = "cpu", dtype: torch.dtype = torch.float64, chunk: int | None = None,
              progress: bool = False) -> dict:
    """Monte Carlo means of several per-prompt quantities on one shared stream of prompts (common random numbers).

    The prompts come from ``problem``'s sampler (any data model of SPEC 1 / 7.1; or SPEC 1.1 with ``d, L, sigma2``),
    drawn in chunks from one generator seeded with ``seed``. ``losses(prompts)`` returns ``{name: tensor (..., k)}``
    for a chunk of ``k`` prompts (a leading shape, e.g. one row per ensemble member, is kept). Returns
    ``{name: (mean, stderr)}``; paired differences of two estimators on the same prompts are just one more entry,
    with a far smaller standard error than either alone.
    """
    sampler = as_sampler(problem, d=d, L=L, sigma2=sigma2)
    n_prompts = check_int("n_prompts", n_prompts, lo=2)
    width = sampler.d + sampler.n_out - 1
    chunk = chunk_size(d=width, L=sampler.L) if chunk is None else check_int("chunk", chunk, lo=1)
    gen = make_generator(seed, device)
    acc: dict[str, RunningMean] = {}
    bar = _bar(n_prompts, progress)
    done = 0
    with torch.no_grad():
        while done < n_prompts:
            k = min(chunk, n_prompts - done)
            for name, v in losses(sampler(k, generator=gen, dtype=dtype)).items():
                acc.setdefault(name, RunningMean()).update(v)
            done += k
            if bar is not None:
                bar.update(k)
    if bar is not None:
        bar.close()
    return {name: (a.mean, a.stderr) for name, a in acc.items()}


def mc_risk(predict: Predictor, problem: Problem | Sampler | None = None, *, d: int | None = None,
            L: int | None = None, sigma2: float | None = None, n_prompts: int, seed: int, device: str = "cpu",
            dtype: torch.dtype = torch.float64, chunk: int | None = None, progress: bool = False) -> tuple[float, float]:
    """Monte Carlo risk ``(mean, stderr)`` of ``predict(x, y, xq)`` against the query label (single output)."""
    return mc_losses(lambda p: {"risk": (p.yq - predict(p.x, p.y, p.xq)) ** 2}, problem, d=d, L=L, sigma2=sigma2,
                     n_prompts=n_prompts, seed=seed, device=device, dtype=dtype, chunk=chunk,
                     progress=progress)["risk"]


def reduced_attention_risk(omega, mu, *, d: int, L: int, sigma2: float, n_prompts: int, seed: int,
                           device: str = "cpu", progress: bool = False) -> tuple[float, float]:
    r"""Monte Carlo risk of the reduced attention model (SPEC 2.2) on data 1.1, float64.

    Returns ``(mean, stderr)``; the true loss lies within a few ``stderr`` of ``mean``.
    """
    omega, mu = check_heads(omega, mu)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return mc_risk(lambda x, y, xq: reduced_attention_predict(x, y, xq, omega=omega, mu=mu),
                   d=d, L=L, sigma2=sigma2, n_prompts=n_prompts, seed=seed, device=device,
                   chunk=chunk_size(d=d, L=L, n_head=omega.size), progress=progress)


def control_variate_moments(omega, mu, *, d: int, L: int, sigma2: float, n_prompts: int, seed: int,
                            device: str = "cpu", chunk: int | None = None) -> dict[str, float]:
    r"""Raw Monte Carlo ingredients of the variance-reduced risk of the reduced attention (no theory input).

    1. Rao-Blackwell: given the covariates the prediction is :math:`\sum_\ell c_\ell y_\ell` with weights
       :math:`c_\ell = \sum_h\mu_h w^h_\ell` that do not depend on :math:`\beta,\epsilon`; averaging the squared
       error over :math:`\beta\sim\mathcal N(0,I/d)` and the noise gives, per prompt,
       :math:`v = \|x_q-\sum_\ell c_\ell x_\ell\|^2/d + \sigma^2(1+\sum_\ell c_\ell^2)`, an unbiased draw of the risk.
    2. The same quantity :math:`u` for the first-order predictor
       :math:`c_\ell = \mathbf 1^\top\mu/L + \mu^\top\omega\,(s_\ell-\bar s)/L` (SPEC 3.3) on the same prompts: a
       control variate whose exact mean (the risk of mean plus debiased GD, SPEC 3.4) is supplied by the *caller*
       to :func:`assemble_control_variate`, so the simulation borrows nothing from any theory.

    Returns ``n``, ``v_mean``, ``v_var``, ``u_mean``, ``u_var``, ``uv_cov`` (sample moments, ``ddof=1``) and
    ``resid_var``, the sample variance of :math:`v-bu` at the fitted :math:`b=\widehat{\rm cov}(v,u)/\widehat{\rm var}(u)`
    computed from the samples themselves: where the control explains nearly all the variance (correlation within
    :math:`10^{-15}` of 1, e.g. :math:`\omega\to0`) the moment formula :math:`\widehat{\rm var}\,v-b^2\widehat{\rm var}\,u`
    cancels catastrophically and can even round to zero.
    """
    omega, mu = check_heads(omega, mu)
    d, L, sigma2 = check_problem(d, L, sigma2)
    n_prompts = check_int("n_prompts", n_prompts, lo=2)
    chunk = chunk_size(d=d, L=L, n_head=len(omega)) if chunk is None else check_int("chunk", chunk, lo=1)
    gen = make_generator(seed, device)
    om = torch.as_tensor(omega, dtype=torch.float64, device=device)  # (H,)
    mv = torch.as_tensor(mu, dtype=torch.float64, device=device)  # (H,)
    alpha, eta = float(mv.sum()), float(mv @ om)
    vs, us, done = [], [], 0
    with torch.no_grad():
        while done < n_prompts:
            k = min(chunk, n_prompts - done)
            done += k
            p = sample_linear(k, d=d, L=L, sigma2=sigma2, generator=gen)
            s = torch.einsum("nld,nd->nl", p.x, p.xq)  # (n, L)
            w = torch.softmax(om[None, :, None] * s[:, None, :], dim=-1)  # (n, H, L)
            for c, out in ((torch.einsum("nhl,h->nl", w, mv), vs),
                           (alpha / L + eta / L * (s - s.mean(1, keepdim=True)), us)):
                resid = p.xq - torch.einsum("nl,nld->nd", c, p.x)  # (n, d)
                out.append(((resid**2).sum(-1) / d + sigma2 * (1 + (c**2).sum(-1))).cpu().numpy())
    v, u = np.concatenate(vs), np.concatenate(us)
    cov = np.cov(v, u)
    coef = cov[0, 1] / cov[1, 1] if cov[1, 1] > 0 else 0.0
    return {"n": int(v.size), "v_mean": float(v.mean()), "v_var": float(cov[0, 0]), "u_mean": float(u.mean()),
            "u_var": float(cov[1, 1]), "uv_cov": float(cov[0, 1]), "resid_var": float(np.var(v - coef * u, ddof=1))}


def assemble_control_variate(raw: dict, control_mean: float) -> dict[str, float]:
    r"""The control-variate estimate from :func:`control_variate_moments` and the control's exact mean
    :math:`m_u`: :math:`\hat R = \bar v - b(\bar u - m_u)` with the fitted :math:`b = \widehat{\rm cov}(v,u)/\widehat{\rm var}(u)`
    (bias :math:`O(1/n)`), standard error :math:`\sqrt{\widehat{\rm var}(v-bu)/n}` from ``raw['resid_var']`` (not
    the moment formula :math:`\widehat{\rm var}\,v - b^2\widehat{\rm var}\,u`, which loses all digits when the
    correlation is within rounding of 1).

    Returns ``mean, se`` (the estimate), ``rb_mean, rb_se`` (Rao-Blackwell alone), ``cv_mean, cv_se`` (the
    control's own Monte Carlo mean, to compare with ``cv_exact`` = ``control_mean``), ``cv_coef``. A wrong
    ``control_mean`` biases the estimate by ``cv_coef`` times its error, and shows as ``cv_mean`` away from
    ``cv_exact`` by many ``cv_se``."""
    exact = check_float("control_mean", control_mean)
    n_raw = raw["n"]
    n = check_int("raw['n']", int(n_raw) if isinstance(n_raw, float) and n_raw.is_integer() else n_raw, lo=2)
    var_u, var_v, cov = float(raw["u_var"]), float(raw["v_var"]), float(raw["uv_cov"])
    coef = cov / var_u if var_u > 0 else 0.0
    if "resid_var" not in raw:
        raise ValueError("raw must hold 'resid_var' (the moments of control_variate_moments)")
    var_z = check_float("raw['resid_var']", raw["resid_var"], lo=0.0)
    return {"mean": float(raw["v_mean"] - coef * (raw["u_mean"] - exact)), "se": math.sqrt(var_z / n),
            "rb_mean": float(raw["v_mean"]), "rb_se": math.sqrt(var_v / n),
            "cv_mean": float(raw["u_mean"]), "cv_se": math.sqrt(var_u / n), "cv_exact": exact, "cv_coef": coef}


def variance_reduced_risk(omega, mu, *, d: int, L: int, sigma2: float, n_prompts: int, seed: int,
                          control_mean: float, device: str = "cpu", chunk: int | None = None) -> dict[str, float]:
    r"""Monte Carlo risk of the reduced attention with two exact variance reductions:
    :func:`control_variate_moments` assembled by :func:`assemble_control_variate` with the control's exact mean
    ``control_mean`` (the risk of mean plus debiased GD; take it from an independent result, e.g.
    :func:`theory.risks.dgd_risk` plus :math:`(\mathbf 1^\top\mu)^2(1+\sigma^2)/L`, not from the theory under test).

    Returns ``mean, se`` (the estimate), ``rb_mean, rb_se`` (Rao-Blackwell only), ``cv_mean, cv_se`` (the control
    variate's own Monte Carlo mean, to be compared with ``cv_exact``) and ``cv_coef``.
    """
    exact = check_float("control_mean", control_mean)
    raw = control_variate_moments(omega, mu, d=d, L=L, sigma2=sigma2, n_prompts=n_prompts, seed=seed, device=device,
                                  chunk=chunk)
    return assemble_control_variate(raw, exact)


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="prompt", unit_scale=True, leave=False, desc="Monte Carlo")
