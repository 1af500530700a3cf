r"""Batched in-context estimators (SPEC 2.4). Each maps a batch of prompts to predictions ``(n,)``.

All take ``x (n, L, d)``, ``y (n, L)``, ``xq (n, d)`` and work on any device and float dtype.
"""
from __future__ import annotations

import torch

from theory.validate import check_float, check_heads, check_int, check_tensor


def _check(x, y, xq):
    check_tensor("x", x, (None, None, None))
    n, L, d = x.shape
    check_tensor("y", y, (n, L))
    check_tensor("xq", xq, (n, d))
    return n, L, d


def gd_predict(x, y, xq, *, eta: float) -> torch.Tensor:
    r"""One GD step from 0: :math:`\hat y = \frac{\eta}{L}\sum_\ell y_\ell x_\ell^\top x_q`."""
    _, L, _ = _check(x, y, xq)
    eta = check_float("eta", eta)
    return eta / L * torch.einsum("nl,nld,nd->n", y, x, xq)


def dgd_predict(x, y, xq, *, eta: float, gamma: torch.Tensor | None = None) -> torch.Tensor:
    r"""Debiased GD, :math:`\frac{\eta}{L}\sum_\ell y_\ell (x_\ell-\bar x)^\top \Gamma x_q`.

    ``gamma=None`` is :math:`\Gamma = I` (SPEC 2.4); a ``(d, d)`` matrix gives the preconditioned version.
    """
    _, L, d = _check(x, y, xq)
    eta = check_float("eta", eta)
    q = xq if gamma is None else xq @ check_tensor("gamma", gamma, (d, d)).to(xq).T
    xc = x - x.mean(dim=1, keepdim=True)  # (n, L, d)
    return eta / L * torch.einsum("nl,nld,nd->n", y, xc, q)


def ridge_predict(x, y, xq, *, lam: float) -> torch.Tensor:
    r"""Ridge / posterior mean, :math:`\hat\beta = (X^\top X + \lambda I)^{-1} X^\top y`.

    Bayes-optimal for SPEC 1.1 at :math:`\lambda = d\sigma^2` (prior :math:`\mathcal N(0, I/d)`).
    ``lam = 0`` falls back to the minimum-norm least-squares solution.
    """
    _, _, d = _check(x, y, xq)
    lam = check_float("lam", lam, lo=0.0)
    if lam == 0.0:
        return ols_predict(x, y, xq)
    gram = x.transpose(1, 2) @ x + lam * torch.eye(d, dtype=x.dtype, device=x.device)  # (n, d, d)
    beta = torch.linalg.solve(gram, torch.einsum("nld,nl->nd", x, y))  # (n, d)
    return (beta * xq).sum(-1)


def ols_predict(x, y, xq) -> torch.Tensor:
    """Minimum-norm least squares (pseudo-inverse), valid for ``L < d`` too."""
    _check(x, y, xq)
    beta = torch.linalg.lstsq(x, y.unsqueeze(-1), driver="gelsd" if x.device.type == "cpu" else None)
    return (beta.solution.squeeze(-1) * xq).sum(-1)


def reduced_attention_predict(x, y, xq, *, omega, mu) -> torch.Tensor:
    r"""The pattern-constrained attention of SPEC 2.2,

    .. math:: \hat y = \sum_h \mu_h \sum_\ell y_\ell\,\operatorname{softmax}_\ell(\omega_h x_\ell^\top x_q),

    with a log-sum-exp softmax, so it is finite for any finite ``omega``.
    """
    _check(x, y, xq)
    omega, mu = check_heads(omega, mu)
    return softmax_heads(x, y, xq, torch.as_tensor(omega, dtype=x.dtype, device=x.device),
                         torch.as_tensor(mu, dtype=x.dtype, device=x.device))


def softmax_heads(x, y, xq, omega: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """The forward of :func:`reduced_attention_predict` on tensors ``omega, mu (H,)``, unchecked and
    differentiable (the trainable :class:`numerics.reduced_model.ReducedAttention` calls it)."""
    s = torch.einsum("nld,nd->nl", x, xq)  # (n, L)
    w = torch.softmax(omega[None, :, None] * s[:, None, :], dim=-1)  # (n, H, L)
    return torch.einsum("nhl,nl,h->n", w, y, mu)


def gd_steps_predict(x, y, xq, *, eta: float, steps: int) -> torch.Tensor:
    r"""``steps`` steps of GD from 0 on :math:`\frac1{2L}\sum_\ell (y_\ell - w^\top x_\ell)^2`."""
    n, L, d = _check(x, y, xq)
    eta = check_float("eta", eta, lo=0.0)
    steps = check_int("steps", steps, lo=0)
    w = torch.zeros(n, d, dtype=x.dtype, device=x.device)
    for _ in range(steps):
        resid = y - torch.einsum("nld,nd->nl", x, w)  # (n, L)
        w = w + eta / L * torch.einsum("nl,nld->nd", resid, x)
    return (w * xq).sum(-1)
