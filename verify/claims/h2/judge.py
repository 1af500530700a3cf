"""H2 judge: zero-sum, common |omega| (with the convergence rule), eta_eff vs eta*, dummy counts.

The spread row is the one place a trained metric may end *inconclusive*: stated in advance, a final value on the
wrong side of its bound whose median trajectory over the last ``trend_window`` of training still moves towards
the bound (|slope| > 4 SE, :func:`verify.stats.trend`) means the protocol stopped before the metric converged.
Anything else on the wrong side is a fail.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from numerics.patterns import omega_spread, patterns
from theory.mean_field import eta_star
from theory.risks import dgd_step_tolerance

from ...result import Z, at_most, converging, reported, within


def spread_trajectory(traj: dict, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(step (T,), median over members of the active heads' |omega| spread (T,))`` from the logged readouts
    (the same (max - min)/mean as :func:`numerics.patterns.omega_spread`, with the dummies logged at each step)."""
    om, dummy = np.asarray(traj["omega"], dtype=np.float64), np.asarray(traj["dummy"], dtype=bool)  # (T, E, H)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = omega_spread(SimpleNamespace(omega=om, dummy=dummy))  # (T, E)
    y = np.nanmedian(s[:, members], axis=1) if members.any() else np.full(len(s), np.nan)
    return np.asarray(traj["step"], dtype=np.float64), y


def judge(data: dict, p, result) -> None:
    d, L, s2 = p.problem.d, p.problem.L, p.problem.sigma2
    es = eta_star(d=d, L=L, sigma2=s2)
    tol = dgd_step_tolerance(d=d, L=L, sigma2=s2, excess=p.eta_excess)
    notes, trends = [], []
    for H in p.heads:
        ens = data["ensembles"][str(H)]
        pat = patterns(ens["kq"], ens["ov"], ens["d"])
        split = pat.split
        k = int(split.sum())
        zs = float(np.median(pat.zero_sum[split])) if k else math.nan
        spread = float(np.median(omega_spread(pat)[split])) if k else math.nan
        eta = float(np.median(pat.eta_eff[split])) if k else math.nan
        tag = f"median of the {k}/{pat.n_member} seeds that split"
        t, y = spread_trajectory(ens["trajectory"], split)
        spread_row, tr = converging(
            f"H={H}: spread of active |omega_h| ((max-min)/mean; {tag})", spread, p.max_omega_spread,
            f"common |omega| to within {p.max_omega_spread}", t, y, above=False, last=p.trend_window)
        result.add(
            at_most(f"H={H}: zero-sum |sum mu|/sum|mu| ({tag})", zs, p.max_zero_sum,
                    f"zero-sum to within {p.max_zero_sum:.0%}", kind="trained"),
            spread_row,
            within(f"H={H}: eta_eff = sum mu_h omega_h ({tag})", eta, es, tol,
                   f"eta* = 1/(1+cd) = {es:.4f}; tolerance sqrt(delta/kappa) = {tol:.3f} is the step error costing "
                   f"{p.eta_excess} excess debiased-GD risk", kind="trained"),
        )
        if not spread_row.passed:
            trends.append(f"H={H}: spread {spread:.3f} > {p.max_omega_spread}; median spread over steps "
                          f"{t[t >= t[0] + (1 - p.trend_window) * (t[-1] - t[0])][0]:.0f}-{t[-1]:.0f}: slope "
                          f"{tr['slope']:.3g} ± {tr['se']:.2g} per step ({tr['slope'] / tr['se']:+.1f} SE), change "
                          f"{tr['change']:+.3f} over the window -> "
                          + ("inconclusive (still converging)" if spread_row.inconclusive else "fail"))
        n_dummy = pat.dummy.sum(-1)
        n_pos, n_neg = (pat.sign > 0).sum(-1), (pat.sign < 0).sum(-1)
        groups = ", ".join(f"{a}+/{b}-/{c}d" for a, b, c in zip(n_pos, n_neg, n_dummy))
        act = ~pat.dummy & split[:, None]
        mean_om = float(np.abs(pat.omega[act]).mean()) if act.any() else math.nan
        mean_mu = float(np.abs(pat.mu[act]).mean()) if act.any() else math.nan
        result.add(
            reported(f"H={H}: dummy heads per seed (mean over all {pat.n_member} seeds)", float(n_dummy.mean()),
                     "|mu_h omega_h| < 5% of the largest head's; not fixed by the theory (see notes)", kind="trained"),
            reported(f"H={H}: mean |omega_h| of active heads ({tag})", mean_om,
                     "SPEC 4 after 500k steps: about 0.13", kind="trained"))
        notes.append(f"H={H}: active heads +/-/dummy per seed: {groups}; mean |omega| of the split seeds' active "
                     f"heads {mean_om:.3f}, mean |mu| {mean_mu:.2f} (SPEC 4 after 500k steps: 0.13 and 3.2-3.5 for "
                     f"a pair); final loss median {np.median(ens['final_loss']):.4f}")
    result.notes.append("; ".join(notes) + ". With a common omega, same-sign heads are interchangeable (only the sum "
                        "of their mu enters the output), so the number of dummy heads is not fixed by the theory.")
    if trends:
        result.notes.append("Convergence of the |omega| spread (stated in advance: a value above its bound is "
                            f"inconclusive only if the median over the split seeds still falls by more than {Z:g} "
                            f"SE of its OLS slope over the last {p.trend_window:.0%} of training): " + "; ".join(trends)
                            + f". Training: Adam lr {p.training.lr}, batch {p.training.batch}, {p.training.steps} "
                            "steps (published: 500,001).")
