r"""Interpretability tools for the package's ensembles: head masking, pruning and layer-wise linear probes.

Works for any model of the package with heads:

* :class:`numerics.transformer.EnsembleTransformer` — ``n_layer`` layers of ``n_head`` heads, masked through its
  ``head_mask`` buffer (a multiplicative factor on each head's output before the output projection);
* :class:`numerics.attention.EnsembleAttention` — one layer; a head is masked by scaling its ``O^{(h)}``.

Every risk here is the **excess** risk :math:`\mathbb E(\hat y - \beta^\top x_q)^2` (SPEC 7.1) by default
(``excess=False``: against the noisy query label), a Monte Carlo mean over fresh prompts of the data model with
its standard error; comparisons between a masked and the full model are **paired** (the same prompts), so the SE
of the difference is that of the per-prompt difference.

* :func:`head_importance` — for every (layer, head): the rise in risk when that head alone is zeroed;
* :func:`masked_risks` — risks of arbitrary masks (pruning = keep a set of heads, mask the rest), paired with
  the full model;
* :func:`probe_risks` — per layer, a linear probe (least squares with intercept, tiny ridge for conditioning)
  from the query token's residual stream to the target :math:`\beta^\top x_q`, fitted on ``n_fit`` prompts and
  evaluated on separate prompts (models with ``forward(..., residuals=True)``).
"""
from __future__ import annotations

import contextlib
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from theory.problem import Problem
from theory.validate import check_float, check_int
from .data import Prompts, Sampler, make_generator
from .montecarlo import as_sampler, mc_losses


# ------------------------------------------------------------------------------------------------ masks
def head_layout(model) -> tuple[int, int]:
    """``(n_layer, n_head)`` of a model with heads (``ValueError`` otherwise)."""
    if hasattr(model, "set_head_mask"):
        return int(model.n_layer), int(model.n_head)
    if hasattr(model, "o") and hasattr(model, "kq"):  # EnsembleAttention
        return 1, int(model.n_head)
    raise ValueError(f"{type(model).__name__} has no heads to mask")


def keep_mask(model, keep: Iterable[tuple[int, int]]) -> np.ndarray:
    """The ``(n_layer, n_head)`` 0/1 mask keeping the ``(layer, head)`` pairs in ``keep`` (0-based)."""
    nL, H = head_layout(model)
    m = np.zeros((nL, H))
    for layer, head in keep:
        check_int("layer", layer, lo=0, hi=nL - 1)
        check_int("head", head, lo=0, hi=H - 1)
        m[layer, head] = 1.0
    return m


def _check_mask(model, mask) -> torch.Tensor:
    nL, H = head_layout(model)
    m = torch.as_tensor(np.asarray(mask, dtype=np.float64))
    if m.shape != (nL, H) and m.shape != (model.n_member, nL, H):
        raise ValueError(f"mask must have shape ({nL}, {H}) or ({model.n_member}, {nL}, {H}), got {tuple(m.shape)}")
    if not bool(torch.isfinite(m).all()):
        raise ValueError("mask must be finite")
    return m


@contextlib.contextmanager
def masked(model, mask) -> Iterator[None]:
    """Apply the multiplicative head ``mask`` (``(n_layer, n_head)`` or per member) inside the block, then restore."""
    m = _check_mask(model, mask)
    if hasattr(model, "set_head_mask"):
        old = model.head_mask.clone()
        model.set_head_mask(m)
        try:
            yield
        finally:
            model.head_mask.copy_(old)
        return
    E, H = model.n_member, model.n_head
    m = (m if m.dim() == 3 else m.unsqueeze(0).expand(E, 1, H))[:, 0]  # (E, H)
    old = model.o.detach().clone()
    with torch.no_grad():
        model.o.mul_(m.to(model.o).reshape(E, H, 1, 1))
    try:
        yield
    finally:
        with torch.no_grad():
            model.o.copy_(old)


# ------------------------------------------------------------------------------------------ predictions
def _predict(model, p: Prompts, *, residuals: bool = False):
    """Predictions ``(E, k)`` of a single-output model on prompts ``p`` (and the query's residual stream)."""
    dtype = next(iter(model.parameters())).dtype
    E, (k, n, d) = model.n_member, p.x.shape
    Z = torch.cat([p.x, p.y.unsqueeze(-1)], -1).to(dtype).unsqueeze(0).expand(E, k, n, d + 1)
    xq = p.xq.to(dtype).unsqueeze(0).expand(E, k, d)
    if residuals:
        y, res = model(Z, xq, residuals=True)
        return y[..., 0].double(), res.double()
    return model(Z, xq)[..., 0].double()


def _target(p: Prompts, excess: bool) -> torch.Tensor:
    return (p.xq * p.beta).sum(-1) if excess else p.yq  # (k,)


def _check_model(model, sampler: Sampler) -> None:
    if getattr(model, "n_out", 1) != 1 or sampler.n_out != 1:
        raise ValueError("the interpretability tools need a single-output model and data model")
    if model.d != sampler.d:
        raise ValueError(f"model has d = {model.d}, the data model d = {sampler.d}")


@torch.no_grad()
def masked_risks(model, problem: Problem | Sampler, masks: dict[str, object], *, n_prompts: int, seed: int,
                 chunk: int = 2048, excess: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """Risks of the full model and of every named mask, on one shared stream of prompts (paired).

    Returns ``{"full": {"mean", "se"}, name: {"mean", "se", "diff", "diff_se"}}`` with arrays ``(E,)``; ``diff`` is
    the paired mean of ``loss(masked) - loss(full)``.
    """
    sampler = as_sampler(problem)
    _check_model(model, sampler)
    checked = {name: _check_mask(model, m) for name, m in masks.items()}
    if "full" in checked:
        raise ValueError("mask name 'full' is reserved for the unmasked model")

    def losses(p: Prompts) -> dict:
        t = _target(p, excess)
        full = (_predict(model, p) - t) ** 2  # (E, k)
        out = {"full": full}
        for name, m in checked.items():
            with masked(model, m):
                loss = (_predict(model, p) - t) ** 2
            out[name] = loss
            out[name + "\0diff"] = loss - full
        return out

    dev = str(next(iter(model.parameters())).device)
    res = mc_losses(losses, sampler, n_prompts=check_int("n_prompts", n_prompts, lo=2), seed=seed, device=dev,
                    chunk=chunk)
    out = {"full": {"mean": np.asarray(res["full"][0]), "se": np.asarray(res["full"][1])}}
    for name in checked:
        out[name] = {"mean": np.asarray(res[name][0]), "se": np.asarray(res[name][1]),
                     "diff": np.asarray(res[name + "\0diff"][0]), "diff_se": np.asarray(res[name + "\0diff"][1])}
    return out


def head_importance(model, problem: Problem | Sampler, *, n_prompts: int, seed: int, chunk: int = 2048,
                    excess: bool = True) -> dict[str, np.ndarray]:
    """Rise in risk when head ``h`` of layer ``l`` alone is zeroed: ``rise, rise_se (E, n_layer, n_head)``
    (paired differences), with the full model's ``risk, risk_se (E,)``."""
    nL, H = head_layout(model)
    masks = {}
    for layer in range(nL):
        for head in range(H):
            m = np.ones((nL, H))
            m[layer, head] = 0.0
            masks[f"{layer},{head}"] = m
    res = masked_risks(model, problem, masks, n_prompts=n_prompts, seed=seed, chunk=chunk, excess=excess)
    E = model.n_member
    rise, rise_se = np.zeros((E, nL, H)), np.zeros((E, nL, H))
    for layer in range(nL):
        for head in range(H):
            r = res[f"{layer},{head}"]
            rise[:, layer, head], rise_se[:, layer, head] = r["diff"], r["diff_se"]
    return {"rise": rise, "rise_se": rise_se, "risk": res["full"]["mean"], "risk_se": res["full"]["se"]}


# ---------------------------------------------------------------------------------------------- probes
def fit_probes(features: torch.Tensor, target: torch.Tensor, *, ridge: float = 1e-8) -> torch.Tensor:
    r"""Least-squares linear probes with intercept, one per leading index.

    ``features (..., M, W)``, ``target (M,)`` or ``(..., M)`` -> weights ``(..., W + 1)`` (last entry the intercept)
    minimising :math:`\frac1M\|F w + c - t\|^2 + \rho\|w\|^2` with :math:`\rho` = ``ridge`` times the mean feature
    variance (scale-free; only there to keep a rank-deficient stream solvable), in float64.
    """
    ridge = check_float("ridge", ridge, lo=0.0, hi=1e6)
    F = features.double()
    M, W = F.shape[-2], F.shape[-1]
    if M < 2:
        raise ValueError(f"probes need at least 2 fitting prompts, got {M}")
    t = target.double().expand(F.shape[:-1])
    Fa = torch.cat([F, torch.ones_like(F[..., :1])], -1)  # (..., M, W+1)
    A = Fa.transpose(-1, -2) @ Fa / M
    rho = ridge * F.var(-2).mean(-1).clamp_min(1e-300)  # (...,)
    reg = torch.eye(W + 1, dtype=F.dtype, device=F.device)
    reg[W, W] = 0.0  # the intercept is not penalised
    A = A + rho[..., None, None] * reg
    b = (Fa.transpose(-1, -2) @ t.unsqueeze(-1)).squeeze(-1) / M
    return torch.linalg.lstsq(A, b.unsqueeze(-1)).solution.squeeze(-1)


def apply_probes(features: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Probe predictions ``(..., M)`` from ``features (..., M, W)`` and weights ``(..., W + 1)``."""
    F = features.double()
    return (F * w[..., None, :-1]).sum(-1) + w[..., -1:]


@torch.no_grad()
def probe_risks(model, problem: Problem | Sampler, *, n_fit: int, n_prompts: int, seed: int, chunk: int = 2048,
                ridge: float = 1e-8, excess: bool = True) -> dict[str, np.ndarray]:
    r"""Layer-wise linear probes of the query token's residual stream.

    For every member and every depth ``l = 0..n_layer`` (0: after the embedding; ``l``: after layer ``l``), a probe
    :func:`fit_probes` of the target (:math:`\beta^\top x_q` with ``excess``, else :math:`y_q`) is fitted on
    ``n_fit`` prompts drawn from the stream ``seed`` and evaluated on ``n_prompts`` other prompts (the stream
    ``seed + 1``). Returns ``risk, se (E, n_layer + 1)``, the paired drops from one depth to the next
    ``drop, drop_se (E, n_layer)`` (risk at ``l-1`` minus risk at ``l``, same prompts) and the model's own
    ``model_risk, model_se (E,)`` on the evaluation prompts.
    """
    sampler = as_sampler(problem)
    _check_model(model, sampler)
    n_fit = check_int("n_fit", n_fit, lo=2)
    gen = make_generator(seed, str(next(iter(model.parameters())).device))
    feats, targets, done = [], [], 0
    while done < n_fit:
        k = min(chunk, n_fit - done)
        p = sampler(k, generator=gen)
        feats.append(_predict(model, p, residuals=True)[1])  # (E, k, nL+1, W)
        targets.append(_target(p, excess))
        done += k
    Fm = torch.cat(feats, 1).permute(0, 2, 1, 3)  # (E, nL+1, M, W)
    w = fit_probes(Fm, torch.cat(targets))  # (E, nL+1, W+1)

    def losses(p: Prompts) -> dict:
        t = _target(p, excess)
        y, res = _predict(model, p, residuals=True)
        pred = apply_probes(res.permute(0, 2, 1, 3), w)  # (E, nL+1, k)
        loss = (pred - t) ** 2
        return {"probe": loss, "drop": loss[:, :-1] - loss[:, 1:], "model": (y - t) ** 2}

    out = mc_losses(losses, sampler, n_prompts=check_int("n_prompts", n_prompts, lo=2), seed=seed + 1,
                    device=str(gen.device), chunk=chunk)
    return {"risk": np.asarray(out["probe"][0]), "se": np.asarray(out["probe"][1]),
            "drop": np.asarray(out["drop"][0]), "drop_se": np.asarray(out["drop"][1]),
            "model_risk": np.asarray(out["model"][0]), "model_se": np.asarray(out["model"][1])}


def probe_stream(features: Sequence[torch.Tensor] | torch.Tensor, target: torch.Tensor, fit: int, *,
                 ridge: float = 1e-8) -> np.ndarray:
    """Held-out probe risk per layer of a given residual stream ``(L, M, W)``: fit on the first ``fit`` prompts,
    evaluate the mean squared error on the rest (for tests and for streams computed elsewhere)."""
    F = torch.as_tensor(features) if not isinstance(features, torch.Tensor) else features
    fit = check_int("fit", fit, lo=2, hi=F.shape[-2] - 1)
    w = fit_probes(F[..., :fit, :], target[:fit], ridge=ridge)
    pred = apply_probes(F[..., fit:, :], w)
    return ((pred - target[fit:].double()) ** 2).mean(-1).numpy()
