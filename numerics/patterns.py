r"""Circuits and pattern metrics of trained attention models (SPEC 2.1), for whole ensembles at once.

From any :class:`~numerics.attention.EnsembleAttention`, a state dict ``{q, k, v, o}`` or a checkpoint
file, :func:`circuits` returns

* :math:`\mathrm{KQ}^{(h)} = K^{(h)\top}Q^{(h)}/\sqrt{D}` — ``kq (E, H, D, D)`` (the score of token
  :math:`\ell` is :math:`z_\ell^\top\mathrm{KQ}^{(h)}z_q`),
* :math:`\mathrm{OV}^{(h)} = (O^{(h)}V^{(h)})^\top` — ``ov (E, H, D, N)``,

and :func:`patterns` reads off, per member ``e`` and head ``h`` (SPEC 2.1):

* :math:`\omega_h` = mean of the first ``d`` diagonal entries of KQ; :math:`\mu_h` = last entry of OV
  (for ``N`` outputs, :math:`\mu_{h,k} = \mathrm{OV}^{(h)}_{d+k,k}`);
* diag ratio :math:`\|\operatorname{diag}\|_2/\|\cdot\|_F` and homogeneity
  :math:`\operatorname{Var}(\operatorname{diag})/\operatorname{mean}(\operatorname{diag})^2` of the x-block
  :math:`\mathrm{KQ}_{1:d,1:d}`; OV last-entry ratio :math:`|\mathrm{OV}_{d+1}|/\|\mathrm{OV}\|_2`;
* per member: effective step :math:`\eta_{\rm eff}=\sum_h\mu_h\omega_h`, zero-sum
  :math:`|\sum_h\mu_h|/\sum_h|\mu_h|`, dummy heads and the :math:`\pm` groups.

**Dummy heads** (SPEC 2.1 says :math:`|\mu_h\omega_h| \ll \max_{h'}|\mu_{h'}\omega_{h'}|`): here a head is
dummy when :math:`|\mu_h\omega_h| < \tau\max_{h'}|\mu_{h'}\omega_{h'}|` with ``dummy_tol`` :math:`\tau = 0.05`
by default. The :math:`\pm` groups are the signs of :math:`\omega_h` over active heads; a member *splits*
when its active heads carry both signs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from theory.validate import check_float, check_int

#: SPEC 4 averages pattern metrics over heads with a diag ratio above this.
SPEC_TABLE_MIN_DIAG = 0.7
DUMMY_TOL = 0.05


def circuits(source, *, d: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """``(kq (E, H, D, D), ov (E, H, D, N), d)`` in float64 from a model, a ``{q,k,v,o}`` state or a checkpoint.

    A state without an ensemble axis (``q (H, D, D)``) is treated as one member. ``d`` is read from the
    model or the checkpoint's ``config.json`` and is required for a bare state.
    """
    if isinstance(source, (str, Path)):
        from .checkpoint import CONFIG, load_json, read_checkpoint

        ckpt = read_checkpoint(source)  # checksum-verified, weights-only: CheckpointError (a ValueError) if damaged
        config = Path(source).parent / CONFIG
        if d is None and config.exists():
            d = load_json(config)["config"]["d"]
        return circuits(ckpt["model"], d=d)
    if hasattr(source, "q") and hasattr(source, "kq"):  # an EnsembleAttention
        d = source.d
        state = {n: getattr(source, n) for n in ("q", "k", "v", "o")}
    elif isinstance(source, dict):
        state = source
        if d is None:
            raise ValueError("d is required to read circuits from a bare state dict")
    else:
        raise ValueError(f"cannot read circuits from a {type(source).__name__}")
    q, k, v, o = (torch.as_tensor(state[n]).detach().to("cpu", torch.float64) for n in ("q", "k", "v", "o"))
    if q.dim() == 3:
        q, k, v, o = (t.unsqueeze(0) for t in (q, k, v, o))
    D = q.shape[-1]
    d = check_int("d", d, lo=1, hi=D - 1)
    kq = (k.transpose(-1, -2) @ q / np.sqrt(D)).numpy()  # (E, H, D, D)
    ov = (o @ v).transpose(-1, -2).numpy()  # (E, H, D, N)
    return kq, ov, d


@dataclass(frozen=True)
class Patterns:
    """Per-member, per-head reduced coordinates and pattern metrics (see the module docstring)."""

    omega: np.ndarray          # (E, H)
    mu: np.ndarray             # (E, H), or (E, H, N) for N > 1 outputs
    diag_ratio: np.ndarray     # (E, H)
    homogeneity: np.ndarray    # (E, H)
    ov_last_ratio: np.ndarray  # (E, H), or (E, H, N)
    eta_eff: np.ndarray        # (E,) or (E, N): sum_h mu_h omega_h
    zero_sum: np.ndarray       # (E,) or (E, N)
    dummy: np.ndarray          # (E, H) bool
    sign: np.ndarray           # (E, H) in {-1, 0, +1}: sign of omega for active heads, 0 for dummies
    split: np.ndarray          # (E,) bool: active heads of both signs

    @property
    def n_member(self) -> int:
        return self.omega.shape[0]

    @property
    def n_head(self) -> int:
        return self.omega.shape[1]

    def member(self, e: int) -> dict:
        """One member as JSON-ready numbers (the ``members[]`` entries of ``summary.json``, minus seed/loss)."""
        e = check_int("e", e, lo=0, hi=self.n_member - 1)
        heads = [{"omega": _num(self.omega[e, h]), "mu": _num(self.mu[e, h]),
                  "diag_ratio": _num(self.diag_ratio[e, h]), "homogeneity": _num(self.homogeneity[e, h]),
                  "ov_last_ratio": _num(self.ov_last_ratio[e, h]), "dummy": bool(self.dummy[e, h])}
                 for h in range(self.n_head)]
        return {"eta_eff": _num(self.eta_eff[e]), "zero_sum": _num(self.zero_sum[e]), "heads": heads}


def _num(x):
    a = np.asarray(x, dtype=np.float64)
    return float(a) if a.ndim == 0 else a.tolist()


def patterns(kq: np.ndarray, ov: np.ndarray, d: int, *, dummy_tol: float = DUMMY_TOL) -> Patterns:
    """Pattern metrics of circuits ``kq (E, H, D, D)``, ``ov (E, H, D, N)`` (SPEC 2.1)."""
    kq, ov = np.asarray(kq, dtype=np.float64), np.asarray(ov, dtype=np.float64)
    if kq.ndim != 4 or ov.ndim != 4 or kq.shape[:2] != ov.shape[:2] or kq.shape[-1] != ov.shape[2]:
        raise ValueError(f"kq must be (E, H, D, D) and ov (E, H, D, N) with matching E, H, D; "
                         f"got {kq.shape} and {ov.shape}")
    D, N = kq.shape[-1], ov.shape[-1]
    d = check_int("d", d, lo=1, hi=D - 1)
    dummy_tol = check_float("dummy_tol", dummy_tol, lo=0.0, hi=1.0)
    block = kq[..., :d, :d]  # (E, H, d, d) acts on x only
    diag = np.diagonal(block, axis1=-2, axis2=-1)  # (E, H, d)
    omega = diag.mean(-1)  # (E, H)
    with np.errstate(divide="ignore", invalid="ignore"):
        diag_ratio = np.linalg.norm(diag, axis=-1) / np.linalg.norm(block, axis=(-2, -1))
        homogeneity = diag.var(-1) / omega**2
        idx = np.arange(N)
        mu = ov[..., d + idx, idx]  # (E, H, N)
        ov_last = np.abs(mu) / np.linalg.norm(ov, axis=-2)  # (E, H, N)
        contrib = np.abs(mu * omega[..., None]).sum(-1)  # (E, H)
        eta_eff = (mu * omega[..., None]).sum(1)  # (E, N)
        zero_sum = np.abs(mu.sum(1)) / np.abs(mu).sum(1)  # (E, N)
    dummy = contrib < dummy_tol * contrib.max(-1, keepdims=True)
    sign = np.where(dummy, 0, np.sign(omega)).astype(int)
    split = (sign > 0).any(-1) & (sign < 0).any(-1)
    if N == 1:
        mu, ov_last, eta_eff, zero_sum = mu[..., 0], ov_last[..., 0], eta_eff[..., 0], zero_sum[..., 0]
    return Patterns(omega, mu, diag_ratio, homogeneity, ov_last, eta_eff, zero_sum, dummy, sign, split)


def model_patterns(source, *, d: int | None = None, dummy_tol: float = DUMMY_TOL) -> Patterns:
    """:func:`patterns` of :func:`circuits` (a model, a state dict or a checkpoint path)."""
    kq, ov, d = circuits(source, d=d)
    return patterns(kq, ov, d, dummy_tol=dummy_tol)


def spec_table_metrics(p: Patterns, *, min_diag: float = SPEC_TABLE_MIN_DIAG) -> dict[str, np.ndarray]:
    """Per-member averages as in SPEC 4's table: diag ratio, OV last-entry ratio and homogeneity averaged
    over the heads with diag ratio above ``min_diag`` (NaN for a member with no such head). Single-task only.
    """
    if p.mu.ndim != 2:
        raise ValueError("spec_table_metrics is defined for single-output models")
    keep = p.diag_ratio > min_diag  # (E, H)
    n = keep.sum(-1)

    def avg(a):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, np.where(keep, a, 0.0).sum(-1) / n, np.nan)

    return {"diag_ratio": avg(p.diag_ratio), "ov_last_ratio": avg(p.ov_last_ratio),
            "homogeneity": avg(p.homogeneity), "n_heads": n}


def active_mean(p: Patterns, metric: np.ndarray) -> np.ndarray:
    """Per-member mean of a per-head ``metric (E, H)`` over the active (non-dummy) heads."""
    keep = ~p.dummy
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(keep, metric, 0.0).sum(-1) / keep.sum(-1)


def active_min(p: Patterns, metric: np.ndarray) -> np.ndarray:
    """Per-member minimum of a per-head ``metric (E, H)`` over the active heads."""
    return np.where(~p.dummy, metric, np.inf).min(-1)


def omega_spread(p: Patterns) -> np.ndarray:
    """Per member, the spread of :math:`|\\omega_h|` over active heads: ``(max - min) / mean`` (0 for one head)."""
    a = np.abs(p.omega)
    act = ~p.dummy
    hi = np.where(act, a, -np.inf).max(-1)
    lo = np.where(act, a, np.inf).min(-1)
    return (hi - lo) / active_mean(p, a)
