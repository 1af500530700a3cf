"""The sweep's tidy table: one row per trained member — its setting, seed, final risk, and what theory predicts.

Columns: the swept values (``label``) and every setting field (``d, L, sigma2, n_head, model, optimizer, lr,
batch, steps`` and the data model: ``data`` = isotropic / anisotropic / multitask / sparse, ``cov``, ``supports``,
``s``), ``setting`` (the run's name and hash), ``member``, ``seed``; measured: ``final_loss`` and
``final_loss_se`` (Monte Carlo risk on ``eval_prompts`` fresh prompts, with label noise), and for the attention
models (SPEC 2.1, :mod:`numerics.patterns`) ``eta_eff`` :math:`=\\sum_h\\mu_h\\omega_h`, ``zero_sum``, ``n_active``,
``split`` (active heads of both signs), ``phase``, and the active-head means of ``diag_ratio``, ``ov_last_ratio``,
``homogeneity``; theory (isotropic single-task data only, else NaN): ``eta_star`` = :math:`1/(1+(1+\\sigma^2)d/L)`
(:func:`theory.mean_field.eta_star`) and ``dgd_risk_opt``, the optimal debiased-GD risk
:math:`\\sigma^2+\\frac{d+1+d\\sigma^2}{L+d+d\\sigma^2}` (:func:`theory.risks.dgd_risk`).

``phase`` is, for one output, ``"one head"`` (one active head), ``"split +/-"`` or ``"same sign"``; for several
outputs (SPEC 1.3) the head allocation of :func:`numerics.phases.classify`; ``"n/a"`` for the transformer.
"""
from __future__ import annotations

import math

import numpy as np

from numerics.patterns import active_mean, circuits, patterns
from numerics.training import TrainResult

from .spec import Setting

COLUMNS = ("setting", "member", "seed", "d", "L", "sigma2", "n_head", "model", "optimizer", "lr", "batch", "steps",
           "data", "cov", "supports", "s", "final_loss", "final_loss_se", "eta_eff", "eta_star", "zero_sum",
           "n_active", "split", "phase", "diag_ratio", "ov_last_ratio", "homogeneity", "dgd_risk_opt")


def _theory(cfg) -> tuple[float, float]:
    if cfg.problem.kind != "isotropic":
        return math.nan, math.nan
    from theory.mean_field import eta_star
    from theory.risks import dgd_risk

    return (eta_star(d=cfg.d, L=cfg.L, sigma2=cfg.sigma2), dgd_risk(d=cfg.d, L=cfg.L, sigma2=cfg.sigma2))


def _text(v) -> str:
    return "" if v is None else str([list(r) for r in v])


def rows(setting: Setting, res: TrainResult) -> list[dict]:
    """The table's rows for one trained setting (one per member)."""
    cfg = res.config
    eta_star, dgd = _theory(cfg)
    base = {"setting": f"{cfg.name()}-{cfg.hash()[:10]}", "d": cfg.d, "L": cfg.L, "sigma2": cfg.sigma2,
            "n_head": cfg.n_head, "model": cfg.model, "optimizer": cfg.optimizer, "lr": cfg.lr, "batch": cfg.batch,
            "steps": cfg.steps, "data": cfg.problem.kind, "cov": _text(cfg.cov), "supports": _text(cfg.supports),
            "s": -1 if cfg.s is None else int(cfg.s), "eta_star": eta_star, "dgd_risk_opt": dgd}
    nan = np.full(cfg.ensemble, np.nan)
    metrics = {"eta_eff": nan, "zero_sum": nan, "n_active": np.zeros(cfg.ensemble, int),
               "split": np.zeros(cfg.ensemble, bool), "phase": ["n/a"] * cfg.ensemble, "diag_ratio": nan,
               "ov_last_ratio": nan, "homogeneity": nan}
    if not cfg.is_transformer:
        kq, ov, d = circuits(res.model)
        p = patterns(kq, ov, d)
        n_active = (~p.dummy).sum(-1)
        if cfg.n_out == 1:
            phase = ["one head" if n == 1 else ("split +/-" if s else "same sign") for n, s in zip(n_active, p.split)]
            eta, zs, ovl = p.eta_eff, p.zero_sum, active_mean(p, p.ov_last_ratio)
        else:
            from numerics.phases import classify_many, from_circuits

            omega, mu = from_circuits(kq, ov, d)
            phase = classify_many(omega, mu, cfg.supports)
            eta, zs = p.eta_eff.mean(-1), p.zero_sum.max(-1)
            ovl = active_mean(p, p.ov_last_ratio.mean(-1))
        metrics = {"eta_eff": eta, "zero_sum": zs, "n_active": n_active, "split": p.split, "phase": phase,
                   "diag_ratio": active_mean(p, p.diag_ratio), "ov_last_ratio": ovl,
                   "homogeneity": active_mean(p, p.homogeneity)}
    out = []
    for e, seed in enumerate(cfg.seeds):
        row = {**base, "member": e, "seed": int(seed), "final_loss": float(res.final_loss[e]),
               "final_loss_se": float(res.final_loss_se[e])}
        for k, v in metrics.items():
            x = v[e]
            row[k] = x if isinstance(x, str) else (bool(x) if k == "split" else
                                                    int(x) if k == "n_active" else float(x))
        row.update({f"swept_{k}": _label(v) for k, v in setting.label.items()})
        out.append({k: row[k] for k in COLUMNS} | {k: v for k, v in row.items() if k.startswith("swept_")})
    return out


def _label(v):
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def frame(all_rows: list[dict]):
    """A :class:`pandas.DataFrame` of the rows, columns in :data:`COLUMNS` order then the swept labels."""
    import pandas as pd

    df = pd.DataFrame(all_rows)
    return df[[c for c in COLUMNS if c in df] + sorted(c for c in df if c.startswith("swept_"))]


def write(df, out) -> tuple:
    """``<out>/sweep.csv`` and ``<out>/sweep.parquet``, each written atomically; returns their paths."""
    import io

    from numerics.checkpoint import atomic_write_bytes

    csv, parquet = out / "sweep.csv", out / "sweep.parquet"
    atomic_write_bytes(csv, df.to_csv(index=False).encode())
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(parquet, buf.getvalue())
    return csv, parquet
