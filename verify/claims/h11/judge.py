"""H11 judge: per H, the seed frequency of "split with a low loss" and its 95% Wilson interval, three-way against
``min_fraction`` (:func:`verify.result.decided`)."""
from __future__ import annotations

import numpy as np

from numerics.patterns import patterns
from theory.mean_field import single_head_optimum, small_omega_infimum

from ...result import decided, holds, reported
from ...stats import wilson


def loss_levels(problem) -> tuple[float, float]:
    r"""Multi-head infimum and single-head optimum of the approximate loss (SPEC 3.1, :mod:`theory.mean_field`):
    :math:`\sigma^2+\frac{\xi(1+\sigma^2)}{1+\xi(1+\sigma^2)}` and the same with :math:`e\xi` (:math:`\xi=d/L`)."""
    a = {"d": problem.d, "L": problem.L, "sigma2": problem.sigma2}
    return small_omega_infimum(**a), single_head_optimum(**a)[2]


def classify(ens: dict, cut: float) -> tuple[np.ndarray, np.ndarray]:
    """``(good (E,), split (E,))``: members that split into +/- groups, and those that also end below ``cut``."""
    split = patterns(ens["kq"], ens["ov"], ens["d"]).split
    return split & (np.asarray(ens["final_loss"]) < cut), split


def fmt(a) -> str:
    return "[" + ", ".join(f"{x:.3f}" for x in np.sort(a)) + "]" if len(a) else "[]"


def judge(data: dict, p, result) -> None:
    multi, single = loss_levels(p.problem)
    cut = 0.5 * (multi + single)
    notes, undecided = [], []
    for H in p.heads:
        ens = data["ensembles"][str(H)]
        loss = np.asarray(ens["final_loss"])
        good, split = classify(ens, cut)
        k, n = int(good.sum()), len(good)
        lo, hi = wilson(k, n)
        if H == 1:
            result.add(holds("H=1: no seed classified as split (a single head cannot split)", k == 0,
                             "sanity check of the classifier", kind="trained", measured=k / n))
        else:
            row = decided(f"H={H}: fraction of seeds split with low loss", k / n, lo, hi, p.min_fraction,
                          f"{k}/{n} seeds; 'consistently' = at least {p.min_fraction:.0%} of seeds, decided by "
                          f"the 95% Wilson interval [{lo:.2f}, {hi:.2f}]: pass if its lower bound >= "
                          f"{p.min_fraction}, fail if its upper bound < {p.min_fraction}, inconclusive otherwise; "
                          f"low loss = below {cut:.3f}",
                          above=True, kind="trained")
            result.add(row)
            if row.inconclusive:
                undecided.append(f"H={H}: {k}/{n} = {k / n:.2f}, Wilson [{lo:.3f}, {hi:.3f}] straddles "
                                 f"{p.min_fraction}")
        rest = loss[~good]
        if H >= 2 and rest.size:
            result.add(reported(f"H={H}: median final risk of the {rest.size} other seeds", float(np.median(rest)),
                                "SPEC 4: single-head-like seeds end near 0.38-0.40", kind="trained"))
        notes.append(f"H={H}: {k}/{n} split with low loss (losses {fmt(loss[good])})"
                     + (f"; the rest: losses {fmt(rest)}, split {split[~good].astype(int).tolist()}"
                        if rest.size else ""))
    result.notes.append("; ".join(notes) + f". Reference levels (SPEC 3.1, approximate loss): multi-head optimum "
                        f"{multi:.3f}, single-head optimum {single:.3f}; classification cut {cut:.3f}.")
    if undecided:
        # k = n seeds give a lower bound n / (n + z^2): at least ceil(z^2 t / (1 - t)) seeds are needed to pass
        need = int(np.ceil(1.959963984540054**2 * p.min_fraction / (1 - p.min_fraction))) \
            if p.min_fraction < 1 else None
        result.notes.append("Inconclusive seed frequencies (too few seeds to decide at 95%): " + "; ".join(undecided)
                            + (f". Even with every seed split, the lower Wilson bound reaches {p.min_fraction} only "
                               f"from n = {need} seeds." if need else "."))
