"""Hypothesis strategies shared by the tests, each bounded to the regime where its formula holds."""
from __future__ import annotations

from hypothesis import strategies as st

#: A seed for one example's Monte Carlo (fixed per example, so a failure replays exactly).
seeds = st.integers(0, 2**31 - 1)

#: The data-model parameters of every closed form (SPEC 1.1): d >= 1, L >= 2, sigma2 >= 0, kept where float64
#: evaluation of e^{d omega^2} and 1/L stays well conditioned.
problems = st.fixed_dictionaries({"d": st.integers(1, 20), "L": st.integers(2, 200),
                                  "sigma2": st.floats(0, 2, allow_nan=False)})


def head_vectors(*, max_heads: int = 4, omega_max: float = 0.4, mu_max: float = 5.0):
    """``(omega, mu)`` lists of one length H in [1, max_heads]: |omega| <= omega_max, |mu| <= mu_max (finite mu:
    the mean-field forms are meant for moderate d*omega^2)."""
    return st.integers(1, max_heads).flatmap(lambda h: st.tuples(
        st.lists(st.floats(-omega_max, omega_max, allow_nan=False), min_size=h, max_size=h),
        st.lists(st.floats(-mu_max, mu_max, allow_nan=False), min_size=h, max_size=h)))


#: Refined-loss regime at order 2: every chi^2 MGF exponent 3 max omega^2 < 1/2 needs |omega| < 1/sqrt(6) ~ 0.408.
refined_heads = head_vectors(omega_max=0.35)

#: Distinct omega_h on a 0.02 grid, |omega| <= 0.5: there the mean-field quadratic form in mu is well conditioned.
distinct_omegas = st.lists(st.integers(-25, 25), min_size=1, max_size=4, unique=True).map(
    lambda g: [0.02 * k for k in g])

#: Proportional-limit parameters where both excess risks are representable in float64 (no underflow).
proportional = st.fixed_dictionaries({"xi": st.floats(1e-4, 1e3), "sigma2": st.floats(1e-3, 1e3)})
