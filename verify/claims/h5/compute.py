"""H5 compute: symbolic identities, and the pair-vs-debiased-GD gap on fixed prompts (common random numbers),
stored per prompt with the prompt's moments so that the judge measures the gap to the theory's first-order term."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch

from numerics import dgd_predict, make_generator, reduced_attention_predict, sample_linear
from theory.expansion import head_output_coefficient, identities


def compute(p, ctx) -> dict:
    ids = identities(p.n_tokens, p.order, p.n_head)
    proved = {key: bool(sp.simplify(expr) == 0) for key, expr in ids.items()}

    d, L, s2, eta = p.problem.d, p.problem.L, p.problem.sigma2, p.eta
    prompts = sample_linear(p.n_prompts, d=d, L=L, sigma2=s2, generator=make_generator(ctx.seed_int("prompts")))
    x, y, xq = prompts.x, prompts.y, prompts.xq
    dgd = dgd_predict(x, y, xq, eta=eta)
    ws = np.geomspace(p.w_min, p.w_max, p.n_w)
    pair_minus_dgd = []
    for w in ws:
        m = eta / (2 * w)
        pair_minus_dgd.append((reduced_attention_predict(x, y, xq, omega=[w, -w], mu=[m, -m]) - dgd).numpy())
    diff = np.stack(pair_minus_dgd)                                   # (n_w, n): simulation (float64 forward passes)
    s = torch.einsum("nld,nd->nl", x, xq).numpy()
    yn = y.numpy()
    # series coefficients per prompt (theory): pair output = eta c1 + eta w^2 c3 + eta w^4 c5 + ...
    lead = eta * head_output_coefficient(3, s, yn)
    nxt = eta * head_output_coefficient(5, s, yn)
    lead_ms = float(np.mean(lead**2))
    first_scaled = diff[0] / ws[0] ** 2
    return {
        "identities": proved,
        "w": ws,
        # per prompt: the pair's output minus the debiased-GD prediction (numerics.dgd_predict) at each w, small
        # numbers kept in float32 (relative rounding 6e-8 of the gap itself), and the prompt's raw moments
        # ybar, mean(y s), sbar (float64), from which the judge rebuilds the gap to the *theory's* first-order term
        "pair_minus_dgd": diff.astype(np.float32),
        "moments": np.stack([yn.mean(1), (yn * s).mean(1), s.mean(1)]),  # (3, n)
        "lead_rms": math.sqrt(lead_ms),
        # RMS relative error of gap/w^2 against eta c3 at the smallest w, and the size of the next order there
        "lead_rel_err": float(np.sqrt(np.mean((first_scaled - lead) ** 2) / lead_ms)),
        "next_order_rel": float(ws[0] ** 2 * np.sqrt(np.mean(nxt**2) / lead_ms)),
        "n_prompts": int(len(yn)),
    }
