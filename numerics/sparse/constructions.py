r"""SPEC 7.2's constructions as explicit weights of :class:`numerics.transformer.EnsembleTransformer`.

The networks below are ordinary ensembles of the package's transformer with ``attention="linear"`` (weights
:math:`q_m^\top k_i/n` over the ``n`` context tokens), ``norm=False``, no MLP — so they run through exactly the
forward pass of the trained models (SPEC 7.3), and the tests check them against the batched estimators of
:mod:`numerics.sparse.estimators` (``pto``, ``gd``) to float64 precision.

**Residual stream** (width ``W = 2d + 2``): slots ``0..d-1`` hold :math:`x`, slot ``d`` holds :math:`y` (0 at the
query), slots ``d+1..2d`` the features :math:`\tilde x`, slot ``2d+1`` the running prediction :math:`p`.

* **Embedding** — :math:`(x, y)\mapsto(x, y, 0, 0)` (PtO), or :math:`(x, y, x, 0)` (plain GD: :math:`\tilde x = x`).
* **Layer 1, d heads (PtO's preprocessing).** Head ``j``: query = key = coordinate :math:`x_j`, value = :math:`y`,
  output into slot ``d+1+j``. At every position ``m`` it adds
  :math:`\frac1n\sum_i y_i x_{ij} x_{mj} = \hat r_j x_{mj}`, so the layer computes **exactly**
  :math:`\bar x_m = \operatorname{diag}(\hat r)\,x_m` for every context token and the query — the *unnormalised*
  reweighting. SPEC 7.2's :math:`D = \operatorname{diag}(\hat r)/\|\hat r\|_\infty` also divides by the per-prompt
  scalar :math:`\|\hat r\|_\infty`, which no fixed linear-attention weights produce (it is not a polynomial in the
  prompt). It is not needed: T GD steps with step :math:`\eta` on :math:`\tilde x = c\,\bar x` give the same
  predictions as T steps with step :math:`\eta c^2` on :math:`\bar x` (substitute :math:`u = c\,\tilde w`). So the
  network with GD step :math:`\eta' = \eta/\|\hat r\|_\infty^2` equals SPEC 7.2's PtO with step :math:`\eta` exactly
  (per prompt: :func:`equivalent_step`), and the network with one fixed :math:`\eta'` equals PtO with the
  unnormalised :math:`D_0=\operatorname{diag}(\hat r)` (a fixed step may diverge on prompts with a large
  :math:`\hat r`, which is why SPEC 7.2 normalises).
* **Layers 2..T+1, one head each (one GD step per layer).** Query = key = :math:`\tilde x` (slots ``d+1..2d``),
  value = :math:`y - p` (slot ``d`` minus slot ``2d+1``), output :math:`\eta'\times` value into slot ``2d+1``:
  :math:`p_m \leftarrow p_m + \frac{\eta'}n\sum_i (y_i - p_i)\,\tilde x_i^\top\tilde x_m`. By induction
  :math:`p_m = \tilde w_t^\top\tilde x_m` at every position with :math:`\tilde w_{t+1} = \tilde w_t +
  \frac{\eta'}n\sum_i(y_i - \tilde w_t^\top\tilde x_i)\tilde x_i` — one GD step on
  :math:`\frac1{2n}\sum_i(y_i-\tilde w^\top\tilde x_i)^2` (non-causal attention over the context makes every
  token's :math:`p` advance together).
* **Readout** — slot ``2d+1`` of the query: :math:`\hat y = \tilde w_T^\top\tilde x_q`.

The ensemble axis carries one step size per member (``etas``), so per-prompt steps are a batch of members.
All heads have size ``k = d``; in layers 2.. only head 0 is non-zero (its other heads are exact zeros).
"""
from __future__ import annotations

from typing import Sequence

import torch

from theory.validate import check_float, check_int
from ..transformer import EnsembleTransformer


def _layout(d: int) -> dict[str, object]:
    return {"x": slice(0, d), "y": d, "xt": slice(d + 1, 2 * d + 1), "p": 2 * d + 1, "width": 2 * d + 2}


def construction(d: int, *, steps: int, etas: Sequence[float] | float, preprocess: bool = True,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> EnsembleTransformer:
    r"""The linear-attention network of the module docstring: ``preprocess=True`` — layer 1 with ``d`` heads
    computing :math:`\operatorname{diag}(\hat r)x`, then ``steps`` single-head GD layers (PtO); ``preprocess=False``
    — the embedding copies :math:`x` into the feature slots and ``steps`` GD layers follow (plain GD).

    ``etas``: the GD step :math:`\eta'` of each ensemble member (one network per value). With
    ``preprocess=False`` member ``e`` equals :func:`numerics.sparse.estimators.gd` with ``eta=etas[e]``; with
    ``preprocess=True`` it equals ``pto(eta=eta)`` on a prompt whose :math:`\|\hat r\|_\infty = c` when
    ``etas[e] = eta / c**2`` (:func:`equivalent_step`). ``steps = 0`` predicts 0 (one identity-free layer kept).
    """
    d = check_int("d", d, lo=1, hi=4096)
    steps = check_int("steps", steps, lo=0, hi=10_000)
    etas = [etas] if isinstance(etas, (int, float)) else list(etas)
    if not etas:
        raise ValueError("etas must hold at least one step size")
    etas = [check_float("etas", e, lo=0.0, hi=1e12) for e in etas]
    lay = _layout(d)
    W, y, p, xs, xt = lay["width"], lay["y"], lay["p"], lay["x"], lay["xt"]
    n_pre = 1 if preprocess else 0
    n_layer = max(1, n_pre + steps)
    H = d if preprocess else 1
    E = len(etas)
    model = EnsembleTransformer(d=d, n_layer=n_layer, n_head=H, width=W, head_dim=d, mlp=0, attention="linear",
                                norm=False, seeds=[0] * E, dtype=dtype, device=device)
    with torch.no_grad():
        for prm in model.parameters():
            prm.zero_()
        eye = torch.eye(d, dtype=dtype, device=device)
        model.w_in[:, xs, :d] = eye
        model.w_in[:, y, d] = 1.0
        if not preprocess:
            model.w_in[:, xt, :d] = eye
        if preprocess:
            for j in range(d):  # head j: q = k = x_j (row 0 of the head), v = y, output into feature slot j
                model.wq[:, 0, j, 0, j] = 1.0
                model.wk[:, 0, j, 0, j] = 1.0
                model.wv[:, 0, j, 0, y] = 1.0
                model.wo[:, 0, j, d + 1 + j, 0] = 1.0
        for t in range(steps):
            layer = n_pre + t
            model.wq[:, layer, 0, :, xt] = eye
            model.wk[:, layer, 0, :, xt] = eye
            model.wv[:, layer, 0, 0, y] = 1.0  # value = y - p
            model.wv[:, layer, 0, 0, p] = -1.0
            for e, eta in enumerate(etas):
                model.wo[e, layer, 0, p, 0] = eta
        model.w_out[:, 0, p] = 1.0
    return model


def equivalent_step(eta: float, r_hat: torch.Tensor) -> torch.Tensor:
    r"""The per-prompt step :math:`\eta' = \eta/\|\hat r\|_\infty^2` that makes the unnormalised network equal to
    PtO with step ``eta`` (module docstring); ``r_hat (M, d)`` -> ``(M,)`` (a zero :math:`\hat r` gives
    :math:`\eta` — PtO then predicts 0 either way)."""
    eta = check_float("eta", eta, lo=0.0, hi=1e12)
    scale = r_hat.abs().amax(-1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return eta / scale**2


def run_prompts(model: EnsembleTransformer, x: torch.Tensor, y: torch.Tensor, xq: torch.Tensor, *,
                per_member: bool = False) -> torch.Tensor:
    """Predictions of ``model`` on prompts ``x (M, n, d)``, ``y (M, n)``, ``xq (M, d)``.

    ``per_member=False``: every member sees all prompts, ``(E, M)``; ``per_member=True``: member ``e`` sees
    prompt ``e`` only (``E == M``), ``(M,)``.
    """
    E = model.n_member
    Z = torch.cat([x, y.unsqueeze(-1)], -1).to(model.w_in.dtype)  # (M, n, d+1)
    if per_member:
        if x.shape[0] != E:
            raise ValueError(f"per_member needs one prompt per member ({E}), got {x.shape[0]}")
        return model(Z.unsqueeze(1), xq.to(Z.dtype).unsqueeze(1))[:, 0, 0]
    M = x.shape[0]
    out = model(Z.unsqueeze(0).expand(E, *Z.shape), xq.to(Z.dtype).unsqueeze(0).expand(E, M, xq.shape[-1]))
    return out[..., 0]
