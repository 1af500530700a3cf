"""H5 — multi-head softmax attention ≈ debiased GD: the symbolic small-omega expansion and the O(omega^2)
pointwise gap of a symmetric pair at fixed effective step (SPEC 3.3)."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp
import torch

from numerics import dgd_predict, make_generator, reduced_attention_predict, sample_linear
from theory.expansion import head_output_coefficients, identities, moment_symbols

from .. import style
from ..registry import RunContext, claim
from ..result import ClaimResult, Z, at_most, holds, within



@lru_cache(maxsize=None)
def _coefficient_fn(k: int):
    """c_k of the one-head output as a numpy function of the empirical moments (nu_0..nu_k, mubar_1..mubar_k)."""
    nu, mom = moment_symbols(k)
    return sp.lambdify(list(nu) + list(mom[1:]), head_output_coefficients(k)[k], "numpy")


def _coefficient(k: int, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """c_k per prompt from scores ``s (n, L)`` and labels ``y (n, L)``; scores are centred first (softmax is
    shift-invariant, so c_k, k >= 1, depends on s - sbar only) to avoid cancellation between raw moments."""
    sc = s - s.mean(axis=1, keepdims=True)
    nu = [np.mean(y * sc**j, axis=1) for j in range(k + 1)]
    mom = [np.mean(sc**j, axis=1) for j in range(1, k + 1)]
    return _coefficient_fn(k)(*nu, *mom)


def _slope_fit(w: np.ndarray, gap: np.ndarray, n_even: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """OLS of log gap = a + p log w + b_1 w^2 + ... + b_k w^2k (k = ``n_even``): the gap of the odd pair
    series is w^2 times an even series, so its log has only even powers beyond log w. Returns the coefficients
    and their standard errors from the residuals (which are deterministic truncation, not noise)."""
    X = np.column_stack([np.ones_like(w), np.log(w)] + [w ** (2 * j) for j in range(1, n_even + 1)])
    coef, *_ = np.linalg.lstsq(X, np.log(gap), rcond=None)
    resid = np.log(gap) - X @ coef
    dof = max(len(w) - X.shape[1], 1)
    cov = (resid @ resid / dof) * np.linalg.inv(X.T @ X)
    return coef, np.sqrt(np.diag(cov))


@claim("H5", source="HPCY25 §5 (softmax attention implements debiased GD); SPEC 3.3",
       statement="Expanding the reduced multi-head softmax attention in omega gives (sum_h mu_h) ybar plus "
                 "debiased GD with eta = sum_h mu_h omega_h at first order; a symmetric pair cancels all even "
                 "orders exactly, so at fixed eta = 2 m w the pointwise gap to debiased GD is O(w^2).",
       quick={"d": 5, "L": 40, "sigma2": 0.1, "eta": 2 * 0.13 * 3.45, "n_prompts": 20_000,
              "w_min": 10**-2.5, "w_max": 0.2, "n_w": 10, "n_tokens": 3, "order": 6, "n_head": 3},
       paper={"d": 5, "L": 40, "sigma2": 0.1, "eta": 2 * 0.13 * 3.45, "n_prompts": 200_000,
              "w_min": 10**-3, "w_max": 0.2, "n_w": 16, "n_tokens": 4, "order": 6, "n_head": 4})
def check_h5(p, ctx: RunContext, result: ClaimResult) -> None:
    # ---- 1. symbolic statements (SPEC 3.3), each an expression that must simplify to 0
    ids = identities(int(p["n_tokens"]), int(p["order"]), int(p["n_head"]))
    labels = {
        "c0_is_ybar": "order 0 of one head is ybar (general L, moment form)",
        "c1_is_centred_gd": "order 1 of one head is (1/L) sum y_l (s_l - sbar) (general L, symbolic sums)",
        "score_centring": "s_l - sbar = (x_l - xbar)^T x_q (symbolic d)",
        "c2_closed_form": "order 2 is (1/2L) sum y_l [(s_l - sbar)^2 - var(s)]",
        "multihead_order0": "multi-head order 0 is (sum_h mu_h) ybar",
        "multihead_order1": "multi-head order 1 is debiased GD with eta = sum_h mu_h omega_h",
        "pair_odd": "symmetric pair output f satisfies f(omega) + f(-omega) = 0 exactly",
        "pair_order1_is_dgd": "pair order 1 is debiased GD with eta = 2 mu omega",
    }
    for key, expr in ids.items():
        if key.startswith("moment_form_matches_series_"):
            k = key.rsplit("_", 1)[1]
            label = f"order {k}: general-L moment form = sympy.series of the explicit softmax (L={p['n_tokens']})"
        elif key.startswith("pair_even_order_"):
            k = key.split("_")[3]
            label = (f"pair: order {k} coefficient vanishes "
                     + ("(general L)" if key.endswith("general") else f"(explicit softmax, L={p['n_tokens']})"))
        else:
            label = labels[key]
        result.add(holds(label, sp.simplify(expr) == 0, "sympy: simplify(expression) == 0", kind="symbolic"))

    # ---- 2. numeric convergence order of the pointwise gap (fixed prompts: common random numbers)
    d, L, s2, eta = int(p["d"]), int(p["L"]), float(p["sigma2"]), float(p["eta"])
    prompts = sample_linear(int(p["n_prompts"]), d=d, L=L, sigma2=s2, generator=make_generator(ctx.seed + 505))
    x, y, xq = prompts.x, prompts.y, prompts.xq
    dgd = dgd_predict(x, y, xq, eta=eta)
    ws = np.geomspace(float(p["w_min"]), float(p["w_max"]), int(p["n_w"]))
    gaps, scaled = [], []
    for w in ws:
        m = eta / (2 * w)
        att = reduced_attention_predict(x, y, xq, omega=[w, -w], mu=[m, -m])
        diff = (att - dgd).numpy()
        gaps.append(math.sqrt(float(np.mean(diff**2))))
        scaled.append(diff / w**2)
    gaps = np.array(gaps)
    coef, se = _slope_fit(ws, gaps, 1)
    coef2, _ = _slope_fit(ws, gaps, 2)
    truncation = abs(coef[1] - coef2[1])     # Richardson-style estimate of the bias of the truncated fit
    naive = np.polyfit(np.log(ws), np.log(gaps), 1)[0]
    result.add(within("gap order: fitted slope of log RMS gap vs log w", coef[1], 2.0, Z * se[1] + truncation,
                      f"{Z:.0f} SE of the slope in the fit log gap = a + p log w + b w^2, plus the change of p "
                      f"when a w^4 term is added (truncation bias; the residuals are deterministic) "
                      f"(w in [{ws[0]:.1e}, {ws[-1]:.2f}], {len(ws)} points)", kind="monte-carlo"))

    # leading coefficient: gap / w^2 -> eta * c_3 per prompt (pair output = eta c1 + eta w^2 c3 + eta w^4 c5 ...)
    s = torch.einsum("nld,nd->nl", x, xq).numpy()
    yn = y.numpy()
    c3, c5 = _coefficient(3, s, yn), _coefficient(5, s, yn)
    lead = eta * c3
    i0 = 0  # smallest w: the next order is smallest there
    rel_err = float(np.sqrt(np.mean((scaled[i0] - lead) ** 2) / np.mean(lead**2)))
    next_order = float(ws[i0] ** 2 * np.sqrt(np.mean((eta * c5) ** 2) / np.mean(lead**2)))
    result.add(at_most("gap / w^2 vs eta * c3 (RMS relative error at the smallest w)", rel_err,
                       Z * next_order + 1e-9,
                       f"{Z:.0f}x the predicted size of the next order, w^2 * RMS(eta c5) / RMS(eta c3), "
                       "float64 deterministic", kind="theory"))
    result.notes.append(
        f"Gap of the symmetric pair (w, eta/2w) to debiased GD at eta={eta:.4f}, d={d}, L={L}, sigma2={s2}, "
        f"{len(yn)} fixed prompts: fitted order p={coef[1]:.5f} ± {se[1]:.5f} (with the w^2 correction term; "
        f"{coef2[1]:.5f} with w^2 and w^4); "
        f"a plain straight-line fit gives {naive:.4f} (biased low by the O(w^2) curvature at large w). "
        f"At w=0.13 (trained value) the RMS gap is {float(np.interp(0.13, ws, gaps)):.4f}.")
    result.notes.append("Symbolic rows: sympy identities of theory.expansion (general-L moment form and "
                        "direct sympy.series of the explicit softmax). Numeric rows: float64 evaluation of the "
                        "reduced attention (numerics.reduced_attention_predict) on sampled prompts.")

    # ---- figure
    fig, axes = style.figure(ncols=2)
    ax = axes[0, 0]
    style.sim_points(ax, ws, gaps, None, "RMS gap (sampled prompts)", style.COLORS[0])
    wf = np.geomspace(ws[0], ws[-1], 100)
    style.theory_line(ax, wf, np.exp(coef[0] + coef[1] * np.log(wf) + coef[2] * wf**2),
                      f"fit: slope {coef[1]:.4f} ± {se[1]:.1e}", style.COLORS[1])
    style.baseline(ax, wf, gaps[0] * (wf / ws[0]) ** 2, "slope 2 reference")
    ax.set(xscale="log", yscale="log", xlabel="$w$ (pair $\\omega=\\pm w$, $\\mu=\\pm\\eta/2w$)",
           ylabel="RMS $|\\hat y_{\\rm attn} - \\hat y_{\\rm DGD}|$", title="H5: gap is $O(w^2)$")
    ax.legend()
    ax = axes[0, 1]
    rms_scaled = [math.sqrt(float(np.mean(v**2))) for v in scaled]
    style.sim_points(ax, ws, rms_scaled, None, "RMS gap / $w^2$", style.COLORS[0])
    style.theory_line(ax, wf, np.full_like(wf, math.sqrt(float(np.mean(lead**2)))),
                      "RMS $\\eta c_3$ (series)", style.COLORS[1])
    ax.set(xscale="log", xlabel="$w$", ylabel="RMS gap / $w^2$", title="leading coefficient")
    ax.legend()
    result.figures.append(style.save(fig, ctx.figure("h5_gap_order.png")))
