r"""H11 — how consistently the patterns emerge: for each H, the fraction of seeds that end in the
:math:`\pm` split with a low loss (SPEC 4's caveat, SPEC 6).

Every seed of the shared ensembles (:mod:`verify.trained`; paper profile: 16 seeds per H) is classified:

* **split, low loss** — its active heads carry both signs of :math:`\omega` and its final risk (Monte Carlo,
  fresh prompts) is below the midpoint between the multi-head and the single-head optimum of
  :math:`\tilde{\mathcal L}` (SPEC 3.1: :math:`\sigma^2+\frac{\xi(1+\sigma^2)}{1+\xi(1+\sigma^2)}` and
  :math:`\sigma^2+\frac{e\xi(1+\sigma^2)}{1+e\xi(1+\sigma^2)}`);
* otherwise — reported with its loss (SPEC 4 expects single-head-like seeds near 0.38–0.40).

"Consistently" is tested as a point estimate of at least 90% of seeds for every H >= 2 (a 95% Wilson
interval is reported beside it). H = 1 cannot split; its row checks that no seed is classified as split.
The counts are reported as they come out; SPEC 4 already warns that H = 2 does not always split.
"""
from __future__ import annotations

import math

import numpy as np

from numerics.patterns import circuits, patterns
from theory.mean_field import single_head_optimum, small_omega_infimum

from .. import style
from ..registry import RunContext, claim
from ..result import ClaimResult, at_least, holds, reported
from ..trained import HEADS, trained_ensemble, training_params

MIN_FRACTION = 0.9


def loss_levels(d: int, L: int, sigma2: float) -> tuple[float, float]:
    """Multi-head infimum and single-head optimum of the approximate loss (SPEC 3.1, :mod:`theory.mean_field`)."""
    return small_omega_infimum(d=d, L=L, sigma2=sigma2), single_head_optimum(d=d, L=L, sigma2=sigma2)[2]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion ``k/n``."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z**2 / n
    mid = (p + z**2 / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


@claim("H11", source="HPCY25 §5 and SPEC 4 (caveat on H=2), SPEC 6",
       statement="The +/- split with a low loss emerges consistently over random seeds for every H >= 2 "
                 "(measured as the fraction of seeds, per H).",
       quick={"heads": HEADS, **training_params("quick"), "min_fraction": MIN_FRACTION},
       paper={"heads": HEADS, **training_params("paper"), "min_fraction": MIN_FRACTION})
def check_h11(params, ctx: RunContext, result: ClaimResult) -> None:
    d, L, s2 = int(params["d"]), int(params["L"]), float(params["sigma2"])
    multi, single = loss_levels(d, L, s2)
    cut = 0.5 * (multi + single)
    data, notes = {}, []
    for H in params["heads"]:
        res = trained_ensemble(params, ctx, n_head=H)
        p = patterns(*circuits(res.model))
        good = p.split & (res.final_loss < cut)
        k, n = int(good.sum()), p.n_member
        lo, hi = wilson(k, n)
        data[H] = (res.final_loss, res.final_loss_se, good, p.split)
        if H == 1:
            result.add(holds("H=1: no seed classified as split (a single head cannot split)", k == 0,
                             "sanity check of the classifier", kind="trained", measured=k / n))
        else:
            result.add(at_least(f"H={H}: fraction of seeds split with low loss ({k}/{n})", k / n,
                                params["min_fraction"],
                                f"'consistently' = at least {params['min_fraction']:.0%} of seeds; 95% Wilson "
                                f"interval [{lo:.2f}, {hi:.2f}]; low loss = below {cut:.3f}", kind="trained"))
        rest = res.final_loss[~good]
        if H >= 2 and rest.size:
            result.add(reported(f"H={H}: median final risk of the {rest.size} other seeds", float(np.median(rest)),
                                "SPEC 4: single-head-like seeds end near 0.38-0.40", kind="trained"))
        notes.append(f"H={H}: {k}/{n} split with low loss (losses {_fmt(res.final_loss[good])})"
                     + (f"; the rest: losses {_fmt(rest)}, split {p.split[~good].astype(int).tolist()}"
                        if rest.size else ""))
    result.notes.append("; ".join(notes) + f". Reference levels (SPEC 3.1, approximate loss): multi-head optimum "
                        f"{multi:.3f}, single-head optimum {single:.3f}; classification cut {cut:.3f}.")
    result.figures.append(_figure(ctx, data, multi, single, cut))


def _fmt(a) -> str:
    return "[" + ", ".join(f"{x:.3f}" for x in np.sort(a)) + "]" if len(a) else "[]"


def _figure(ctx, data, multi, single, cut) -> str:
    fig, axes = style.figure(ncols=2, width=3.8)
    Hs = list(data)
    x = np.arange(len(Hs))
    fr = np.array([data[H][2].mean() for H in Hs])
    ci = np.array([wilson(int(data[H][2].sum()), len(data[H][2])) for H in Hs])
    ax = axes[0][0]
    ax.bar(x, fr, color=style.COLORS[0], alpha=0.7, label="split with low loss (trained)")
    ax.errorbar(x, fr, yerr=[fr - ci[:, 0], ci[:, 1] - fr], fmt="none", color="k", capsize=3, lw=1,
                label="95% Wilson interval")
    ax.set_xticks(x, [f"H={H}\n(n={len(data[H][2])})" for H in Hs])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of seeds")
    ax.legend(fontsize=6, loc="upper left")
    ax = axes[0][1]
    for i, H in enumerate(Hs):
        loss, se, good, _ = data[H]
        jitter = np.linspace(-0.2, 0.2, len(loss))
        ax.errorbar(i + jitter[good], loss[good], yerr=4 * se[good], fmt="o", ms=4, color=style.COLORS[0],
                    label="split, low loss" if i == 1 else None)
        ax.errorbar(i + jitter[~good], loss[~good], yerr=4 * se[~good], fmt="s", ms=4, color=style.COLORS[1],
                    mfc="none", label="other seeds" if i == 0 else None)
    ax.axhline(multi, color="k", lw=1.2, label="multi-head optimum of $\\tilde L$")
    ax.axhline(single, color="k", lw=1.2, ls=":", label="single-head optimum of $\\tilde L$")
    ax.axhline(cut, color="0.5", lw=1, ls="--", label="classification cut")
    ax.set_xticks(range(len(Hs)), [f"H={H}" for H in Hs])
    ax.set_ylabel("final risk at L=40 (trained, ±4 SE)")
    ax.legend(fontsize=6)
    return style.save(fig, ctx.figure("h11_seed_frequency.png"))
