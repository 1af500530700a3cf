"""H3 — the paper's mean-field loss L~ and its refinement (SPEC 3.5) against Monte Carlo of the reduced model.

Theory: ``theory.mean_field.approx_loss`` (L~, SPEC 3.1) and ``theory.refined.refined_loss`` (softmax
normalisation to O(1/L^2), ||x_q||^2 ~ chi^2_d averaged exactly). Simulation: Monte Carlo of the reduced
attention (SPEC 2.2) on data 1.1, float64 — the package's plain estimator at the paper point, and over the
grid a variance-reduced one (below) whose agreement with the plain one is itself checked.
"""
from __future__ import annotations

import math

import numpy as np

from numerics import reduced_attention_risk, variance_reduced_risk
from theory.mean_field import approx_loss, optimal_mu
from theory.refined import expansion_parameter, linearized_loss, refined_loss, refined_loss_expr, \
    refined_loss_raw_expr

from .. import style
from ..registry import RunContext, claim
from ..result import ClaimResult, Z, at_least, at_most, holds, reported, within

PAPER = {"omega": (0.13, -0.13), "mu": (3.45, -3.45), "d": 5, "L": 40, "sigma2": 0.1}


GRID_TEXT = ("d ~ U{2..20}, L log-uniform on [10, 200], sigma2 ~ U[0, 1], H ~ U{1..4}, omega ~ U[-omega_max, "
             "omega_max]^H; even points mu = argmin_mu L~ (omega redrawn until max|mu| <= mu_cap), odd points "
             "mu ~ N(0, 4 I)")


def draw_grid(rng: np.random.Generator, n_points: int, *, omega_max: float, mu_cap: float) -> list[dict]:
    """Random test points: d ~ U{2..20}, L log-uniform on [10, 200] (rounded), sigma2 ~ U[0, 1], H ~ U{1..4},
    omega ~ U[-omega_max, omega_max]^H. Even points take mu = argmin_mu L~(omega, .) (redrawing omega until
    max|mu| <= mu_cap: near-degenerate omega make mu* explode); odd points take mu ~ N(0, 2^2)^H."""
    pts = []
    for i in range(n_points):
        d = int(rng.integers(2, 21))
        L = int(np.round(np.exp(rng.uniform(np.log(10), np.log(200)))))
        sigma2 = float(rng.uniform(0, 1))
        H = int(rng.integers(1, 5))
        while True:
            omega = rng.uniform(-omega_max, omega_max, H)
            if i % 2:
                mu = rng.normal(0, 2, H)
                break
            mu = optimal_mu(omega, d=d, L=L, sigma2=sigma2)
            if np.max(np.abs(mu)) <= mu_cap:
                break
        pts.append({"d": d, "L": L, "sigma2": sigma2, "omega": omega, "mu": mu, "near_optimal": not i % 2})
    return pts


@claim("H3", source="HPCY25 §3.1, SPEC 3.5",
       statement="The mean-field loss L~ underestimates the reduced model's loss (9% at the paper point); a "
                 "refined closed form keeping the chi^2_d fluctuation of ||x_q||^2 and the O(1/L), O(1/L^2) "
                 "softmax-normalisation terms is within 2% of Monte Carlo at the paper point, and over a random "
                 "grid (d in [2,20], L in [10,200], sigma2 in [0,1], |omega| <= 0.3, H in 1..4) its median "
                 "relative error is at most a third of L~'s.",
       quick={"n_points": 128, "n_prompts": 20_000, "paper_prompts": 200_000, "omega_max": 0.3, "mu_cap": 20.0,
              "target": 0.02, "ratio": 3.0},
       paper={"n_points": 512, "n_prompts": 100_000, "paper_prompts": 2_000_000, "omega_max": 0.3,
              "mu_cap": 20.0, "target": 0.02, "ratio": 3.0})
def check_h3(p, ctx: RunContext, result: ClaimResult) -> None:
    seed0 = 10_000 * ctx.seed
    # ---- 0. the refined form assembled from two kernels = the direct 2H-sample-mean expansion (exact)
    same = all((refined_loss_raw_expr(h) - refined_loss_expr(h)).expand() == 0 for h in (1, 2))
    result.add(holds("refined form: pair-kernel assembly = direct expansion (H=1,2)", same,
                     "sympy expand(raw - assembled) == 0", kind="symbolic"))

    # ---- 1. the paper point (SPEC 3.5)
    pp = PAPER
    args = {"d": pp["d"], "L": pp["L"], "sigma2": pp["sigma2"]}
    mc, se = reduced_attention_risk(pp["omega"], pp["mu"], n_prompts=int(p["paper_prompts"]), seed=seed0 + 1,
                                    device=ctx.device, **args)
    vr = variance_reduced_risk(pp["omega"], pp["mu"], n_prompts=int(p["paper_prompts"]), seed=seed0 + 2,
                               control_mean=linearized_loss(pp["omega"], pp["mu"], **args), device=ctx.device,
                               **args)
    lt = approx_loss(pp["omega"], pp["mu"], **args)
    ref = refined_loss(pp["omega"], pp["mu"], **args)
    ref1 = refined_loss(pp["omega"], pp["mu"], order=1, **args)
    tgt = float(p["target"])
    result.add(
        within("paper point: refined vs Monte Carlo", mc, ref, tgt * mc,
               f"{tgt:.0%} of the MC mean (SPEC 3.5 target); MC SE {se:.2g}; rel. error {(ref - mc) / mc:+.4f}",
               kind="monte-carlo"),
        at_least("paper point: L~ relative gap below Monte Carlo", (mc - lt) / mc, Z * se / mc,
                 f"L~ = {lt:.4f} lies below MC by more than {Z:g} SE (SPEC 3.5 says 9% low)", kind="monte-carlo"),
        within("paper point: variance-reduced MC = plain MC", vr["mean"], mc, Z * math.hypot(se, vr["se"]),
               f"{Z:g} combined SE (checks the estimator used on the grid)", kind="monte-carlo"),
        within("paper point: control variate MC = its exact risk", vr["cv_mean"], vr["cv_exact"], Z * vr["cv_se"],
               f"{Z:g} SE; the control variate's mean must be exact for the estimate to be unbiased",
               kind="monte-carlo"),
        reported("paper point: (MC - refined) in SE units", (vr["mean"] - ref) / vr["se"],
                 f"not a criterion: the refined form is an approximation; precise MC {vr['mean']:.5f} "
                 f"± {vr['se']:.1g}, refined {ref:.5f}"),
    )
    result.notes.append(
        f"Paper point (d=5, L=40, sigma2=0.1, omega=±0.13, mu=±3.45): Monte Carlo (plain, "
        f"{int(p['paper_prompts'])} prompts) {mc:.4f} ± {se:.4f}; variance-reduced MC {vr['mean']:.5f} ± "
        f"{vr['se']:.5f} — simulation. Theory: L~ = {lt:.4f} ({(lt - mc) / mc:+.1%}), refined O(1/L^2) = {ref:.5f} "
        f"({(ref - mc) / mc:+.2%}), refined O(1/L) = {ref1:.4f}, exact debiased-GD risk at eta=2*0.13*3.45 = "
        f"{linearized_loss(pp['omega'], pp['mu'], **args):.5f}.")

    # ---- 2. the random grid
    rng = np.random.default_rng(ctx.seed)
    pts = draw_grid(rng, int(p["n_points"]), omega_max=float(p["omega_max"]), mu_cap=float(p["mu_cap"]))
    rows = []
    for i, pt in enumerate(pts):
        a = {"d": pt["d"], "L": pt["L"], "sigma2": pt["sigma2"]}
        est = variance_reduced_risk(pt["omega"], pt["mu"], n_prompts=int(p["n_prompts"]), seed=seed0 + 100 + i,
                                    control_mean=linearized_loss(pt["omega"], pt["mu"], **a), device=ctx.device,
                                    **a)
        rows.append((est["mean"], est["se"], approx_loss(pt["omega"], pt["mu"], **a),
                     refined_loss(pt["omega"], pt["mu"], **a), refined_loss(pt["omega"], pt["mu"], order=1, **a),
                     expansion_parameter(pt["omega"], d=pt["d"], L=pt["L"]),
                     pt["d"] * float(np.max(pt["omega"] ** 2)), pt["L"]))
    R = np.array(rows)  # (n_points, 8)
    mcg, seg = R[:, 0], R[:, 1]
    err_lt, err_ref, err_ref1 = (np.abs(R[:, j] - mcg) / mcg for j in (2, 3, 4))
    med_lt, med_ref, med_ref1 = float(np.median(err_lt)), float(np.median(err_ref)), float(np.median(err_ref1))
    med_se = float(np.median(seg / mcg))
    ratio = float(p["ratio"])
    boot = np.random.default_rng(ctx.seed + 1).integers(0, len(pts), (2000, len(pts)))
    boot_ratio = np.median(err_lt[boot], axis=1) / np.median(err_ref[boot], axis=1)
    boot_lo, boot_hi = (float(v) for v in np.quantile(boot_ratio, [0.025, 0.975]))
    result.add(
        at_most("grid: median |rel. error| of refined", med_ref, med_lt / ratio,
                f"at most 1/{ratio:g} of L~'s median |rel. error| ({med_lt:.4f}); {len(pts)} points",
                kind="monte-carlo"),
        at_most("grid: median relative SE of Monte Carlo", med_se, med_lt / 10,
                "MC noise far below L~'s error, so the ratio compares the forms, not the noise", kind="monte-carlo"),
        reported("grid: median |rel. error| of L~", med_lt, "reference for the row above"),
        reported("grid: ratio of medians (L~ / refined)", med_lt / med_ref,
                 f"95% bootstrap interval over the grid points [{boot_lo:.1f}, {boot_hi:.1f}]: the refined error is "
                 "tiny inside the expansion's regime and large outside, so the median sits near that edge and the "
                 "ratio varies strongly from grid to grid"),
        reported("grid: median |rel. error| of refined O(1/L)", med_ref1, "first-order truncation, for comparison"),
        reported("grid: share of points where refined beats L~", float(np.mean(err_ref < err_lt)),
                 "fraction of grid points"),
        reported("grid: share where |refined - MC| <= last-term estimate + 4 SE",
                 float(np.mean(np.abs(R[:, 3] - mcg) <= np.abs(R[:, 3] - R[:, 4]) + Z * seg)),
                 "self-diagnosis: |order 2 - order 1| (theory.refined.truncation_error_estimate)"),
        reported("grid: worst |rel. error| of refined", float(np.max(err_ref)),
                 "largest on the grid; occurs at large d*omega^2 and small L (see figure)"),
    )
    small = R[:, 5] <= 0.05
    result.notes.append(
        f"Grid ({len(pts)} points, seed {ctx.seed}; {GRID_TEXT}, omega_max={p['omega_max']}, "
        f"mu_cap={p['mu_cap']}). Monte Carlo "
        f"(variance-reduced, {int(p['n_prompts'])} prompts/point, median rel. SE {med_se:.1e}) is simulation; "
        f"L~ and refined are theory. Median |rel. error|: L~ {med_lt:.4f}, refined O(1/L^2) {med_ref:.4f}, "
        f"refined O(1/L) {med_ref1:.4f}. Where the expansion parameter eps = ((1-2 omega_max^2)^(-d/2)-1)/L "
        f"<= 0.05 ({int(small.sum())} points): L~ {np.median(err_lt[small]) if small.any() else float('nan'):.4f}, "
        f"refined {np.median(err_ref[small]) if small.any() else float('nan'):.4f}. The refined series is "
        f"asymptotic in 1/L: at large d*omega^2 and small L it degrades (worst {np.max(err_ref):.2f}).")

    # ---- 3. figure: error maps over the grid points, and error vs the expansion parameter
    fig, axes = style.figure(ncols=3, width=4.0, height=3.3)
    import matplotlib.colors as mcolors

    norm = mcolors.LogNorm(vmin=max(min(err_lt.min(), err_ref.min()), 1e-5), vmax=max(err_lt.max(), 1.0))
    near = np.array([pt["near_optimal"] for pt in pts])
    for ax, err, title in ((axes[0, 0], err_lt, r"$\tilde L$ (SPEC 3.1)"),
                           (axes[0, 1], err_ref, r"refined, $O(L^{-2})$ (SPEC 3.5)")):
        for mask, marker, lab in ((near, "o", r"$\mu=\mu^*_{\tilde L}$"), (~near, "^", r"random $\mu$")):
            sc = ax.scatter(R[mask, 6], R[mask, 7], c=np.maximum(err[mask], 1e-5), norm=norm, cmap="viridis",
                            marker=marker, s=28)
            ax.plot([], [], marker, color="0.4", ms=5, label=lab)  # grey legend proxy
        ax.set_yscale("log")
        ax.set_xlabel(r"$d\,\max_h\omega_h^2$")
        ax.set_ylabel(r"$L$")
        ax.set_title(f"|rel. error| vs MC: {title}")
        ax.legend(loc="upper right")
    fig.colorbar(sc, ax=axes[0, 1], label="|rel. error|")
    ax = axes[0, 2]
    eps = np.maximum(R[:, 5], 1e-6)
    ax.plot(eps, err_lt, "o", color=style.COLORS[0], ms=4, label=r"$\tilde L$")
    ax.plot(eps, err_ref, "s", color=style.COLORS[1], ms=4, label="refined")
    ax.plot(eps, seg / mcg, "_", color="0.5", ms=6, label="MC rel. SE")
    ax.axhline(tgt, ls="--", color="0.5", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\epsilon = ((1-2\omega_{\max}^2)^{-d/2}-1)/L$")
    ax.set_ylabel("|rel. error| vs Monte Carlo")
    ax.legend()
    result.figures.append(style.save(fig, ctx.figure("h3_error_map.png")))
