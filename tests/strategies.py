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


# ---------------------------------------------------------------- the theory's numeric domain (tests/theory/test_domain.py)
#: Floats a hostile caller would try: ordinary values, tiny/denormal, huge, and the boundary of each cap.
_edge_floats = st.sampled_from([0.0, 5e-324, 1e-300, 1e-17, 1e-9, 1.4e-15, 0.13, 0.408, 0.7, 1.4, 2.0, 23.9, 37.0,
                                37.77, 1e10, 1e100, 1e200, 1e308])
wide_floats = st.one_of(st.floats(-3, 3, allow_nan=False), _edge_floats, _edge_floats.map(lambda x: -x))

#: (d, L, sigma2) over and just outside the domain of check_problem (1 <= d <= 1e5, 2 <= L <= 1e7, 0 <= sigma2 <= 1e12).
wide_problems = st.fixed_dictionaries({
    "d": st.one_of(st.integers(1, 20), st.sampled_from([1000, 7411, 10_000, 100_000, 100_001, 10**400, 0])),
    "L": st.one_of(st.integers(2, 200), st.sampled_from([4, 27, 7562, 10**7, 10**7 + 1, 10**400, 1])),
    "sigma2": st.one_of(st.floats(0, 2), st.sampled_from([0.0, 5e-324, 1e12, 1.1e12, 1e16, 1e308, -1e-9])),
})


def wide_heads(*, max_heads: int = 5, omega=None, mu=None):
    """``(omega, mu)`` of one length with entries anywhere in float64 (ordinary values most of the time), sometimes
    with two heads exactly equal or a symmetric pair (the singular and near-singular cases of mu*)."""
    omega = wide_floats if omega is None else omega
    mu = wide_floats if mu is None else mu

    def build(h):
        base = st.tuples(st.lists(omega, min_size=h, max_size=h), st.lists(mu, min_size=h, max_size=h))
        if h < 2:
            return base
        tie = base.map(lambda om_mu: ([om_mu[0][0]] + om_mu[0][1:1] + [om_mu[0][0]] + om_mu[0][2:], om_mu[1]))
        pair = base.map(lambda om_mu: ([om_mu[0][0], -om_mu[0][0]] + om_mu[0][2:], om_mu[1]))
        return st.one_of(base, tie, pair)

    return st.integers(1, max_heads).flatmap(build)


#: Proportional-limit parameters over and just outside the domain xi, sigma2 in [1e-12, 1e12].
wide_proportional = st.fixed_dictionaries({
    "xi": st.one_of(st.floats(1e-12, 1e12), st.sampled_from([1e-300, 1e-20, 1e-17, 1e-12, 1e12, 1e13, 1e200])),
    "sigma2": st.one_of(st.floats(1e-12, 1e12), st.sampled_from([1e-300, 1e-13, 1e-12, 0.1, 1e12, 1e16, 1e308])),
})
