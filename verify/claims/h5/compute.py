"""H5 compute: symbolic identities, and the pair-vs-debiased-GD gap on fixed prompts (common random numbers)."""
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
    gaps, scaled_rms, first_scaled = [], [], None
    for w in ws:
        m = eta / (2 * w)
        diff = (reduced_attention_predict(x, y, xq, omega=[w, -w], mu=[m, -m]) - dgd).numpy()
        gaps.append(math.sqrt(float(np.mean(diff**2))))
        scaled_rms.append(math.sqrt(float(np.mean((diff / w**2) ** 2))))
        if first_scaled is None:
            first_scaled = diff / w**2
    # series coefficients per prompt: pair output = eta c1 + eta w^2 c3 + eta w^4 c5 + ...
    s = torch.einsum("nld,nd->nl", x, xq).numpy()
    yn = y.numpy()
    lead = eta * head_output_coefficient(3, s, yn)
    nxt = eta * head_output_coefficient(5, s, yn)
    lead_ms = float(np.mean(lead**2))
    return {
        "identities": proved,
        "w": ws, "gap_rms": np.array(gaps), "gap_over_w2_rms": np.array(scaled_rms),
        "lead_rms": math.sqrt(lead_ms),
        # RMS relative error of gap/w^2 against eta c3 at the smallest w, and the size of the next order there
        "lead_rel_err": float(np.sqrt(np.mean((first_scaled - lead) ** 2) / lead_ms)),
        "next_order_rel": float(ws[0] ** 2 * np.sqrt(np.mean(nxt**2) / lead_ms)),
        "n_prompts": int(len(yn)),
    }
