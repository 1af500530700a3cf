"""C5 judge: paired differences decided against 0 with 4 SE intervals; SPEC 7.2's quoted reference numbers within
4 SE plus their published precision. The method names are looked up here at call time (the mutants patch them)."""
from __future__ import annotations

from dataclasses import replace

from ...result import Z, decided, reported, within

#: the method whose claim is judged (mutants: "pto_nonorm", or roles swapped)
PTO = "pto"
GD = "gd"
RIDGE = "ridge"
LASSO = "lasso"

#: SPEC 7.2 reference points (d=20, s=3, beta_S ~ N(0,1), sigma=0.5, T=10, tuned): n -> method -> E||b^-b||^2
REFERENCE = {20: {"gd": 0.91, "ridge": 0.81, "pto": 0.35, "lasso": 0.19},
             40: {"gd": 0.26, "ridge": 0.23, "pto": 0.18, "lasso": 0.07}}
REF_PRECISION = 0.005  # quoted to two decimals


def _diff(row, a, b):
    if a == b:
        return 0.0, 0.0
    if f"{a}-{b}" in row["diff"]:
        return row["diff"][f"{a}-{b}"], row["diff_se"][f"{a}-{b}"]
    return -row["diff"][f"{b}-{a}"], row["diff_se"][f"{b}-{a}"]


def in_scope(p, n, sigma2) -> bool:
    """The claim's stated regime: n <= d or noisy (sigma2 >= p.noisy_sigma2)."""
    return n <= p.d or sigma2 >= p.noisy_sigma2


def judge(data, p, result) -> None:
    for row in data["settings"]:
        n, s2 = row["n"], row["sigma2"]
        tag = f"n={n}, sigma2={s2:g}"
        scope = in_scope(p, n, s2)
        for other in (GD, RIDGE):
            m, se = _diff(row, PTO, other)
            how = (f"paired difference of excess risks over {p.prompts} common prompts; pass when "
                   f"mean + {Z} SE < 0, fail when mean - {Z} SE > 0, else inconclusive")
            c = decided(f"PtO - {other} [{tag}]", m, m - Z * se, m + Z * se, 0.0, how, above=False,
                        kind="monte-carlo")
            if not scope:
                c = reported(f"PtO - {other} [{tag}] (outside the claimed regime: n > d, low noise)", m,
                             how + f"; outcome here: {'PtO better' if c.passed else 'not better'}")
            result.add(c)
        m, se = _diff(row, LASSO, PTO)
        result.add(decided(f"Lasso - PtO [{tag}]", m, m - Z * se, m + Z * se, 0.0,
                           f"paired difference; Lasso stays best: pass when mean + {Z} SE < 0", above=False,
                           kind="monte-carlo"))
    for row in data.get("reference", []):
        n = row["n"]
        for name, ref in REFERENCE.get(n, {}).items():
            key = {"pto": PTO, "lasso": LASSO, "gd": GD, "ridge": RIDGE}[name]
            val, se = row["mean"][key], row["se"][key]
            how = (f"{Z} SE of our Monte Carlo + the quoted precision ±{REF_PRECISION}; the reference's own "
                   "Monte Carlo error and tuning grid are not published")
            c = within(f"{name} vs SPEC 7.2 reference [n={n}, beta_S~N(0,1), sigma=0.5]", val, ref,
                       Z * se + REF_PRECISION, how)
            if Z * se > ref:  # stated in advance: a sample that cannot resolve the quoted number decides nothing
                c = replace(c, passed=False, inconclusive=True,
                            how=how + f"; inconclusive: {Z} SE exceeds the quoted value (a heavy-tailed sample, "
                                      "e.g. a rare diverging fixed step at n = d)")
            result.add(c)
