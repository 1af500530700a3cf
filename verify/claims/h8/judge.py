r"""H8 judge: trained risks against debiased GD at the member's own step (SPEC 3.4), the closed form itself against
a Rao–Blackwellised Monte Carlo of the DGD algorithm at H8's steps and lengths, SPEC 4's length-generalisation
table, and the two linear-attention variants beyond the training length.

Pure: reads the arrays of :func:`.compute.compute` and evaluates the closed form
:math:`R_{\rm DGD}(L;\eta)=1+\sigma^2-2\eta(1-\frac1L)+\eta^2(1-\frac1L)\frac{L+d+d\sigma^2}{L}` through the module
(``risks.dgd_risk``, looked up at call time, so the power table's mutants reach it).

Tolerances: SPEC 4's "within about 0.02" is a quoted statement, so its published precision 0.02 is the allowance
of the trained-vs-DGD rows, plus 4 SE of the paired (model - DGD) Monte Carlo estimate; the closed-form rows have
4 SE of the Rao–Blackwellised Monte Carlo only; the published table rows have 4 combined SE plus the table's
rounding, and are checked only when the training is as long as the published one (paper profile); shorter
profiles report them with the reason.
"""
from __future__ import annotations

import math

import numpy as np

from theory import risks

from ...result import Z, Comparison, decided, reported, within

#: SPEC 4, test MSE of models trained at L=40 (published notebooks, 500k steps).
SPEC4_LENGTH = {
    "L": (10, 20, 40, 60, 80, 100),
    1: (0.847, 0.574, 0.406, 0.338, 0.305, 0.281),
    2: (0.579, 0.366, 0.241, 0.202, 0.182, 0.169),
    4: (0.573, 0.364, 0.245, 0.201, 0.181, 0.170),
    8: (0.584, 0.374, 0.236, 0.202, 0.180, 0.168),
}
SPEC4_ROUNDING = 0.0005  # the table has three decimals
PUBLISHED_STEPS = 500_000  # SPEC 4's protocol (500,001 Adam steps)


def good_members(c: dict, H: int) -> np.ndarray:
    """Members a softmax row reads: for H >= 2 those that split (if any did), otherwise all."""
    split = np.asarray(c["split"], dtype=bool)
    return split if H >= 2 and split.any() else np.ones_like(split)


def dgd_curves(etas, Ls, problem) -> np.ndarray:
    """``(k, nL)``: R_DGD(L; eta) for each eta and each L (SPEC 3.4, ``risks.dgd_risk`` looked up now)."""
    d, s2 = problem.d, problem.sigma2
    return np.array([[risks.dgd_risk(d=d, L=int(L), sigma2=s2, eta=float(eta)) for L in Ls] for eta in etas])


def trained_risk(c: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(risk, se)`` each ``(E, nL)``: the paired (model - DGD) difference plus the Rao–Blackwellised DGD risk
    on independent prompts (unbiased; SEs in quadrature)."""
    paired, dgd = np.asarray(c["paired"]), np.asarray(c["dgd"])
    return paired + dgd, np.hypot(np.asarray(c["paired_se"]), np.asarray(c["dgd_se"]))


def worst(dev: np.ndarray, tol: np.ndarray) -> int:
    """Index of the length where ``|dev| - tol`` is largest (the row passes iff it passes there)."""
    return int(np.argmax(np.abs(dev) - tol))


def judge(data: dict, p, result) -> None:
    Ls = tuple(int(L) for L in data["L_eval"])
    curves = data["models"]
    L_train = p.problem.L
    d, s2 = p.problem.d, p.problem.sigma2
    n_eval = int(data["n_eval"])
    notes = []

    # ---- the closed form R_DGD(L; eta) against the DGD algorithm at H8's lengths and its median trained step
    th = data["theory"]
    eta_bar = float(th["eta"])
    exact = np.array([risks.dgd_risk(d=d, L=L, sigma2=s2, eta=eta_bar) for L in Ls])
    diff = np.array([risks.gd_risk(d=d, L=L, sigma2=s2, eta=eta_bar) for L in Ls]) - exact
    for key, want, label in (("dgd", exact, "DGD risk"), ("gd-dgd", diff, "GD - DGD (paired)")):
        got, se = np.asarray(th[key]), np.asarray(th[key + "_se"])
        j = worst(got - want, Z * se)
        result.add(within(f"closed form vs Monte Carlo of the algorithm: {label} at eta = median trained step, worst L",
                          float(got[j]), float(want[j]), Z * float(se[j]),
                          f"at L={Ls[j]} (the length where |MC - exact| - {Z:.0f} SE is largest; z by length: "
                          + ", ".join(f"{L}: {(g - w) / s:+.1f}" for L, g, w, s in zip(Ls, got, want, se))
                          + f"); eta = {eta_bar:.4f}; {Z:.0f} SE of the Rao-Blackwellised Monte Carlo "
                          f"({int(np.max(th['n']))} prompts at L={Ls[0]}, fewer ~1/L at longer L)",
                          kind="monte-carlo"))

    for H in p.heads:
        c = curves[f"softmax H={H}"]
        mean, se = np.asarray(c["mean"]), np.asarray(c["se"])  # (E, nL) plain Monte Carlo
        risk, risk_se = trained_risk(c)                         # (E, nL) paired + Rao-Blackwellised DGD
        if H >= 2:
            ok = np.asarray(c["split"], dtype=bool)
            name = f"softmax H={H}: trained risk - DGD(L; own eta_eff), median over the split seeds, worst L"
            if ok.any():
                dev = np.median(risk[ok] - dgd_curves(np.asarray(c["eta"])[ok], Ls, p.problem), axis=0)  # (nL,)
                dse = risk_se[ok].max(axis=0)
                tol = p.dgd_gap + Z * dse
                j = worst(dev, tol)
                result.add(within(name, float(dev[j]), 0.0, float(tol[j]),
                                  f"at L={Ls[j]} (where |deviation| - tolerance is largest; by length: "
                                  + ", ".join(f"{L}: {v:+.4f}" for L, v in zip(Ls, dev))
                                  + f"); tolerance = SPEC 4's quoted precision 'within about {p.dgd_gap}' + {Z:.0f} "
                                  f"SE of the paired (model - DGD) estimate (largest over the seeds); "
                                  f"{int(ok.sum())} split seeds", kind="trained"))
            else:
                result.add(Comparison(name, math.nan, 0.0, p.dgd_gap, "no seed split into a ± pair", False,
                                      "trained"))
        ref = SPEC4_LENGTH.get(H)
        idx = [Ls.index(L) for L in SPEC4_LENGTH["L"] if L in Ls]
        if ref is not None and idx:
            good = good_members(c, H)
            med = np.median(risk[good], axis=0)
            ours = risk_se[good].max(axis=0)
            theirs = se[good].max(axis=0)             # a plain Monte Carlo mean, as published (size unknown: ours)
            pub = np.array([ref[SPEC4_LENGTH["L"].index(Ls[i])] for i in idx])
            dev = med[idx] - pub
            tol = Z * np.hypot(ours[idx], theirs[idx]) + SPEC4_ROUNDING
            j = worst(dev, tol)
            name = f"softmax H={H}: trained risk vs SPEC 4 table (median over seeds), worst L"
            how = (f"at L={Ls[idx[j]]}; by length: " + ", ".join(
                f"{Ls[i]}: {m:.3f} vs {r:.3f}" for i, m, r in zip(idx, med[idx], pub))
                + f"; published numbers: {Z:.0f} x combined SE (ours; published ~ our plain-MC SE) "
                f"+ {SPEC4_ROUNDING} rounding")
            if p.training.steps >= PUBLISHED_STEPS:
                result.add(within(name, float(med[idx][j]), float(pub[j]), float(tol[j]), how, kind="trained"))
            else:
                result.add(reported(name, float(med[idx][j]), how + f"; NOT CHECKED in this profile: the table is "
                                    f"for {PUBLISHED_STEPS} training steps, this profile trains {p.training.steps} "
                                    f"(checked in the paper profile); |deviation| - tolerance = "
                                    f"{abs(dev[j]) - tol[j]:+.4f}", kind="trained"))
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
        how = ("degrades beyond the training length" if sign > 0 else "keeps improving with the context")
        result.add(decided(name, diff, diff - Z * sd, diff + Z * sd, 0.0,
                           f"{how}: ± {Z:.0f} SE (largest over the seeds, plain Monte Carlo); pass when the interval "
                           f"is {'above' if sign > 0 else 'below'} 0, fail when on the other side",
                           above=sign > 0, kind="trained"))
        notes.append(f"{kind}: risk at L={Ls[0]}/{L_train}/{max(Ls)} = {np.median(mean[:, 0]):.3f}/"
                     f"{np.median(mean[:, i_tr]):.3f}/{np.median(mean[:, i_max]):.3f}")
    result.notes.append("; ".join(notes) + ".")
    result.notes.append(
        f"Trained risks (Monte Carlo, {n_eval} prompts per model and length) are estimated as the paired difference "
        "to DGD at the member's own step plus a Rao-Blackwellised DGD risk on independent prompts; the closed form "
        "R_DGD(L; eta) (theory.risks) is checked against that DGD Monte Carlo at every length, so the comparison "
        "trained-vs-theory rests on a verified closed form.")
