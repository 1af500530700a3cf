r"""H8 judge: trained risks against debiased GD at the member's own step (SPEC 3.4), against SPEC 4's
length-generalisation table, and the two linear-attention variants beyond the training length.

Pure: reads the risks (E, nL) with their standard errors, eta_eff and split flags of :func:`.compute.compute`,
and evaluates the closed form :func:`theory.risks.dgd_risk`
:math:`R_{\rm DGD}(L;\eta)=1+\sigma^2-2\eta(1-\frac1L)+\eta^2(1-\frac1L)\frac{L+d+d\sigma^2}{L}` (exact on data 1.1).
"""
from __future__ import annotations

import math

import numpy as np

from theory.risks import dgd_risk

from ...result import Z, at_least, at_most

#: SPEC 4, test MSE of models trained at L=40 (published notebooks, 500k steps).
SPEC4_LENGTH = {
    "L": (10, 20, 40, 60, 80, 100),
    1: (0.847, 0.574, 0.406, 0.338, 0.305, 0.281),
    2: (0.579, 0.366, 0.241, 0.202, 0.182, 0.169),
    4: (0.573, 0.364, 0.245, 0.201, 0.181, 0.170),
    8: (0.584, 0.374, 0.236, 0.202, 0.180, 0.168),
}


def good_members(c: dict, H: int) -> np.ndarray:
    """Members a softmax row reads: for H >= 2 those that split (if any did), otherwise all."""
    split = np.asarray(c["split"], dtype=bool)
    return split if H >= 2 and split.any() else np.ones_like(split)


def dgd_curves(etas, Ls, problem) -> np.ndarray:
    """``(k, nL)``: R_DGD(L; eta) for each eta and each L (SPEC 3.4)."""
    d, s2 = problem.d, problem.sigma2
    return np.array([[dgd_risk(d=d, L=int(L), sigma2=s2, eta=float(eta)) for L in Ls] for eta in etas])


def judge(data: dict, p, result) -> None:
    Ls = tuple(int(L) for L in data["L_eval"])
    curves = data["models"]
    L_train = p.problem.L
    notes = []
    for H in p.heads:
        c = curves[f"softmax H={H}"]
        mean, se = np.asarray(c["mean"]), np.asarray(c["se"])  # (E, nL)
        if H >= 2:
            ok = np.asarray(c["split"], dtype=bool)
            if ok.any():
                dgd = dgd_curves(np.asarray(c["eta"])[ok], Ls, p.problem)
                excess = (np.abs(mean[ok] - dgd) - Z * se[ok]).max(axis=1)  # (k,) worst length per seed
                worst = float(np.median(excess))
                raw = float(np.median(np.abs(mean[ok] - dgd).max(axis=1)))
            else:
                worst = raw = math.nan
            result.add(at_most(f"softmax H={H}: max over L of |risk - DGD(L; eta_eff)| - 4 SE (median over the "
                               f"split seeds)", worst, p.dgd_gap,
                               f"SPEC 4: within about {p.dgd_gap}, after removing 4 standard errors of "
                               f"the Monte Carlo risk at each L ({p.n_eval} prompts); {int(ok.sum())} split seeds; "
                               f"without the 4 SE: {raw:.4f}", kind="trained"))
        ref = SPEC4_LENGTH.get(H)
        idx = [Ls.index(L) for L in SPEC4_LENGTH["L"] if L in Ls]
        if ref is not None and idx:
            good = good_members(c, H)
            med = np.median(mean[good], axis=0)
            sem = se[good].max(axis=0)
            dev = max(abs(med[i] - ref[SPEC4_LENGTH["L"].index(Ls[i])]) - Z * sem[i] for i in idx)
            raw = max(abs(med[i] - ref[SPEC4_LENGTH["L"].index(Ls[i])]) for i in idx)
            result.add(at_most(f"softmax H={H}: max over L of |risk - SPEC 4 table| - 4 SE (median over seeds)",
                               dev, p.ref_tol, f"published reference (500k steps), tolerance {p.ref_tol}; "
                               f"without the 4 SE: {raw:.4f}", kind="trained"))
        notes.append(f"H={H}: risk at L=10/40/100 = {np.median(mean[:, Ls.index(10)]):.3f}/"
                     f"{np.median(mean[:, Ls.index(40)]):.3f}/{np.median(mean[:, Ls.index(100)]):.3f}, "
                     f"eta_eff {np.round(np.asarray(c['eta']), 3).tolist()}" if {10, 40, 100} <= set(Ls) else f"H={H}")
    i_tr, i_max = Ls.index(L_train), Ls.index(max(Ls))
    for kind, sign in (("linear", +1), ("linear-normalised", -1)):
        c = curves[kind]
        mean, se = np.asarray(c["mean"]), np.asarray(c["se"])
        diff = float(np.median(mean[:, i_max] - mean[:, i_tr]))
        sd = float(np.hypot(se[:, i_max], se[:, i_tr]).max())
        name = f"{kind}: risk(L={max(Ls)}) - risk(L={L_train}) (median over seeds)"
        if sign > 0:
            result.add(at_least(name, diff, Z * sd, "degrades beyond the training length: positive by more than "
                                "4 SE", kind="trained"))
        else:
            result.add(at_most(name, diff, -Z * sd, "keeps improving with the context: negative by more than 4 SE",
                               kind="trained"))
        notes.append(f"{kind}: risk at L={Ls[0]}/{L_train}/{max(Ls)} = {np.median(mean[:, 0]):.3f}/"
                     f"{np.median(mean[:, i_tr]):.3f}/{np.median(mean[:, i_max]):.3f}")
    result.notes.append("; ".join(notes) + ".")
