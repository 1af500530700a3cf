"""The theory's numeric domain: every public numeric function returns a finite number that respects its proved
bounds, or raises a one-line ``ValueError`` naming the argument — never NaN/inf, a low-level exception
(``OverflowError``, ``LinAlgError``), a broken bound or a hang — over and just outside its stated domain.

Every call runs under a time limit (a daemon thread; a hang fails the test instead of stalling CI). The default run
takes the profile's example count; ``-m slow`` runs the larger sweep. Regression tests pin each input a hostile
caller found (hardening issue).
"""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

import theory
from tests.strategies import wide_floats, wide_heads, wide_problems, wide_proportional
from theory import bayes, flow, mean_field, refined, risks
from theory.expansion import head_output_coefficient

#: Seconds one call may take (after the module's lambdified kernels are warm) before it counts as a hang.
TIME_LIMIT = 10.0
#: Relative slack for rounding in the bound checks (the bounds themselves are exact).
RTOL = 1e-9


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """Build the lambdified kernels once, so that the time limit measures the call, not sympy."""
    p = {"d": 5, "L": 40, "sigma2": 0.1}
    for order in refined.ORDERS:
        refined.refined_loss_grad([0.1], [1.0], order=order, **p)
    for h in range(1, 5):
        flow.flow_rhs(h, **p), flow.flow_jacobian(h, **p)
    theory.gd_risk(**p), theory.single_head_optimum(**p), theory.excess_ratio_proportional(xi=0.1, sigma2=0.1)
    theory.head_output_coefficient(3, np.ones((1, 3)), np.ones((1, 3)))


def run(fn, *args, **kwargs):
    """``("ok", value)`` or ``("refused", message)``; fails on a hang, a low-level exception or a non-finite value."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001  (re-raised or judged below, in the test's thread)
            box["exc"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(TIME_LIMIT)
    if worker.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not return within {TIME_LIMIT} s (args {args!r:.200}, "
                    f"{kwargs!r:.200})")
    if "exc" in box:
        exc = box["exc"]
        if type(exc) is not ValueError:
            raise AssertionError(f"{getattr(fn, '__name__', fn)} raised {type(exc).__name__}, not ValueError: "
                                 f"{exc}") from exc
        msg = str(exc)
        assert "\n" not in msg and msg, f"error message must be one non-empty line: {msg!r}"
        return "refused", msg
    value = box["value"]
    if callable(value):
        return "ok", value
    parts = value if isinstance(value, tuple) else (value,)
    for part in parts:
        arr = np.asarray(part, dtype=np.float64)
        assert np.all(np.isfinite(arr)), f"{getattr(fn, '__name__', fn)} returned a non-finite value {value!r}"
    try:
        note(f"{getattr(fn, '__name__', fn)} -> {value!r:.200}")
    except Exception:  # noqa: BLE001  (outside a hypothesis test)
        pass
    return "ok", value


def _ge(value, lower, scale=1.0):
    assert value >= lower - RTOL * scale, f"{value!r} < lower bound {lower!r}"


def _le(value, upper, scale=1.0):
    assert value <= upper + RTOL * scale, f"{value!r} > upper bound {upper!r}"


# ---------------------------------------------------------------- mean field (SPEC 3.1)
def _mu_star_closed_form(omega, d, L, sigma2):
    """The independent closed forms of mu* for one head and for a symmetric pair (SPEC 3.1), in scaled form."""
    c = (1 + sigma2) / L
    if len(omega) == 1:
        (w,) = omega
        if abs(w) > 1e100 or d * w * w >= 745:                     # e^(-d w^2) underflows: mu* rounds to 0
            return [0.0]
        e = math.exp(-d * w * w)
        return [w * e / (w * w * e + c)]
    if len(omega) == 2 and omega[0] == -omega[1] and omega[0] != 0:
        w = omega[0]
        if abs(w) > 1e100 or d * w * w > 709:                       # sinh overflows: |mu*| < 1e-300
            return [0.0, 0.0]
        x = d * w * w
        sinhc = math.sinh(x) / x if x > 0 else 1.0                  # w^2 may underflow: m = 1/(2w(1 + c d sinhc))
        m = 1 / (2 * w * (1 + c * d * sinhc))
        return [m, -m]
    return None


@settings(max_examples=100)
@given(hv=wide_heads(), prob=wide_problems)
@example(hv=([37.0, 0.0, 0.0], [1.0, 1.0, 1.0]), prob={"d": 3, "L": 30, "sigma2": 1.0})
@example(hv=([23.9, 0.0, 1.4e-15, 0.0, 5e-324], [1.0] * 5), prob={"d": 7411, "L": 27, "sigma2": 1.0})
@example(hv=([37.77], [-1.6]), prob={"d": 1, "L": 4, "sigma2": 0.0})
@example(hv=([2.0], [0.0]), prob={"d": 7562, "L": 7562, "sigma2": 2.0})
@example(hv=([1e-9, -1e-9], [1.0, 1.0]), prob={"d": 1, "L": 2, "sigma2": 0.0})
def test_mean_field_is_finite_and_bounded_or_refused(hv, prob):
    """L~ >= sigma2; the profile lies in [sigma2, 1 + sigma2] and equals L~(omega, mu*); mu* matches the one-head
    and pair closed forms; or a ValueError."""
    omega, mu = hv
    s2 = prob["sigma2"]
    kind, loss = run(theory.mean_field_loss, omega, mu, **prob)
    if kind == "ok":
        _ge(loss, s2, 1 + s2)
    kind_p, prof = run(theory.profile_loss, omega, **prob)
    kind_m, mu_star = run(theory.optimal_mu, omega, **prob)
    assert kind_p == kind_m, "profile_loss and optimal_mu share one domain"
    if kind_p == "refused":
        return
    _ge(prof, s2, 1 + s2)
    _le(prof, 1 + s2, 1 + s2)
    want = _mu_star_closed_form(omega, prob["d"], prob["L"], s2)
    if want is not None:
        note(f"mu* = {mu_star}, closed form {want}")
        np.testing.assert_allclose(mu_star, want, rtol=1e-6, atol=1e-300)
    kind_l, at_star = run(theory.mean_field_loss, omega, mu_star, **prob)
    if kind_l == "ok" and max(abs(m) for m in mu_star) < 1e4:
        assert at_star == pytest.approx(prof, rel=1e-6, abs=1e-9)


@given(w=st.floats(1e-6, 50.0), d=st.integers(1, 100_000), L=st.integers(2, 10**7), s2=st.floats(0, 1e12))
def test_pair_optimal_mu_matches_the_sinh_form_or_is_refused(w, d, L, s2):
    """Symmetric pair: mu* = (m, -m), m = w / (2 (w^2 + c sinh(d w^2))) (SPEC 3.1), for every d w^2."""
    kind, mu_star = run(theory.optimal_mu, [w, -w], d=d, L=L, sigma2=s2)
    if kind == "ok":
        want = _mu_star_closed_form([w, -w], d, L, s2)
        np.testing.assert_allclose(mu_star, want, rtol=1e-6, atol=1e-300)


def test_equal_heads_share_mu_and_a_loss_that_overflows_is_refused():
    mu = theory.optimal_mu([0.1, 0.1, -0.2], d=5, L=40, sigma2=0.1)          # least squares: min-norm split
    assert mu[0] == pytest.approx(mu[1], rel=1e-12)
    big = theory.optimal_mu([0.1, 0.1, 30.0], d=5, L=40, sigma2=0.1)       # scaled path: the same grouping
    assert big[0] == big[1] and big[2] == 0.0
    with pytest.raises(ValueError, match="^mu, omega: the loss exceeds"):
        theory.mean_field_loss([37.77], [-1.6], d=1, L=4, sigma2=0.0)
    with pytest.raises(ValueError, match="^omega: A = "):
        mean_field.quadratic_form([40.0], d=1, L=4, sigma2=0.0)


# ---------------------------------------------------------------- regressions (hardening issue)
def test_regression_inputs_of_the_hardening_issue():
    p = {"d": 3, "L": 30, "sigma2": 1.0}
    run(theory.optimal_mu, [37.0, 0.0, 0.0], **p)                               # returns (was an endless LAPACK loop)
    np.testing.assert_array_equal(theory.optimal_mu([37.0, 0.0, 0.0], **p), [0.0, 0.0, 0.0])
    assert theory.profile_loss([37.0, 0.0, 0.0], **p) == pytest.approx(2.0)      # mu* = 0: L~ = 1 + sigma2
    kind, msg = run(theory.optimal_mu, [23.9, 0, 1.4e-15, 0, 5e-324], d=7411, L=27, sigma2=1.0)
    assert kind == "refused" and msg.startswith("omega: two distinct heads are too close")
    assert theory.approx_loss([2.0], [0.0], d=7562, L=7562, sigma2=2) == 3.0      # 1 + sigma2
    mu = theory.optimal_mu([1e-9, -1e-9], d=1, L=2, sigma2=0)                   # was -1.46e-25 (closed form 3.3e8)
    np.testing.assert_allclose(mu, _mu_star_closed_form([1e-9, -1e-9], 1, 2, 0.0), rtol=1e-12)
    with pytest.raises(ValueError, match="^sigma2 "):
        theory.gd_risk(d=5, L=40, sigma2=1e308)
    with pytest.raises(ValueError, match="^eta "):
        theory.gd_risk(d=5, L=40, sigma2=0.1, eta=1e200)
    with pytest.raises(ValueError, match="^xi "):
        theory.bayes_risk_proportional(xi=1e200, sigma2=1.0)
    with pytest.raises(ValueError, match="^L "):
        theory.gd_risk(d=5, L=10**400, sigma2=0.1)
    assert theory.excess_ratio_proportional(xi=1e-12, sigma2=0.1) == pytest.approx(11.0, rel=1e-9)
    with pytest.raises(ValueError, match="^xi "):
        theory.excess_ratio_proportional(xi=1e-17, sigma2=0.1)                   # was 13.88 (limit 11)
    assert theory.excess_ratio_proportional(xi=1.0, sigma2=1e12) == pytest.approx(1.0, abs=1e-9)   # was 2.0
    with pytest.raises(ValueError, match="^omega, d: the refined kernels"):
        theory.refined_loss([0.3], [1.0], d=10_000, L=40, sigma2=0.1)           # was nan
    with pytest.raises(ValueError, match="has broken down"):
        theory.refined_loss([0.38], [5.0], d=100, L=40, sigma2=0.1)            # was -7e42
    for bad in ([1 + 2j], [True], ["a"], "abc", [[0.1]]):
        with pytest.raises(ValueError, match="^omega "):
            theory.optimal_mu(bad, d=5, L=40, sigma2=0.1)
        with pytest.raises(ValueError, match="^(omega|mu) "):
            theory.refined_loss([0.1], bad, d=5, L=40, sigma2=0.1)


def test_paper_point_values_unchanged():
    p = {"d": 5, "L": 40, "sigma2": 0.1}
    assert theory.mean_field_loss([0.13, -0.13], [3.45, -3.45], **p) == pytest.approx(0.22137, abs=5e-6)
    assert theory.refined_loss([0.13, -0.13], [3.45, -3.45], **p) == pytest.approx(0.24318018709301004, rel=1e-12)


# ---------------------------------------------------------------- refined (SPEC 3.5)
@settings(max_examples=100)
@given(hv=wide_heads(omega=st.one_of(st.floats(-0.41, 0.41), wide_floats), mu=wide_floats), prob=wide_problems,
       order=st.sampled_from([1, 2, 2, 3, 0, 4]))
def test_refined_is_finite_and_inside_the_exact_interval_or_refused(hv, prob, order):
    """The refined loss lies in [sigma2, (1+sigma2)(1+sqrt(L)|mu|_1)^2] (the exact loss's interval), its gradient is
    finite, and the truncation estimate is finite and >= 0; or a ValueError."""
    omega, mu = hv
    kind, loss = run(theory.refined_loss, omega, mu, order=order, **prob)
    kind_g, _ = run(theory.refined_loss_grad, omega, mu, order=order, **prob)
    assert kind == kind_g
    if kind == "ok":
        s2 = prob["sigma2"]
        _ge(loss, s2, 1 + s2)
        _le(loss, (1 + s2) * (1 + math.sqrt(prob["L"]) * sum(abs(m) for m in mu)) ** 2, loss)
    kind, est = run(refined.truncation_error_estimate, omega, mu, **prob)
    if kind == "ok":
        assert est >= 0
    kind, lin = run(theory.linearized_loss, omega, mu, **prob)
    if kind == "ok":
        _ge(lin, prob["sigma2"], 1 + prob["sigma2"] + abs(lin))
    for fn, kw in ((refined.expansion_parameter, {"d": prob["d"], "L": prob["L"]}), (refined.max_mgf_exponent, {})):
        kind, val = run(fn, omega, **kw)
        if kind == "ok":
            assert val >= 0


# ---------------------------------------------------------------- risks and Bayes (SPEC 3.4)
@settings(max_examples=100)
@given(prob=wide_problems, eta=st.one_of(st.none(), wide_floats), excess=wide_floats, gap=wide_floats)
def test_risks_are_finite_and_bounded_or_refused(prob, eta, excess, gap):
    s2 = prob["sigma2"]
    for fn in (theory.gd_risk, theory.dgd_risk):
        kind, r = run(fn, eta=eta, **prob)
        if kind == "ok":
            if eta is None:
                _ge(r, s2, 1 + s2)
                _le(r, 1 + s2, 1 + s2)
            else:
                k = (prob["d"] + 1 + prob["d"] * s2) / prob["L"]
                _ge(r, s2, 1 + s2 + 2 * abs(eta) + eta * eta * (1 + k))
    for fn in (theory.gd_optimal_step, theory.dgd_optimal_step, theory.eta_star):
        kind, step = run(fn, **prob)
        if kind == "ok":
            assert 0 < step <= 1
    for fn in (theory.small_omega_infimum,):
        kind, v = run(fn, **prob)
        if kind == "ok":
            _ge(v, s2, 1 + s2)
            _le(v, 1 + s2, 1 + s2)
    kind, single = run(theory.single_head_optimum, **prob)
    if kind == "ok":
        _ge(single[2], s2, 1 + s2)
        assert single[0] == pytest.approx(1 / math.sqrt(prob["d"]), rel=1e-12) and single[1] > 0
    kind, tol = run(theory.dgd_step_tolerance, excess=excess, **prob)
    if kind == "ok":
        assert tol > 0
    risk_level = (s2 if isinstance(s2, (int, float)) and math.isfinite(s2) else 0.1) + abs(gap)
    kind, slope = run(theory.dgd_effective_length_slope, risk=risk_level, d=prob["d"], sigma2=s2)
    kind_l, _ = run(theory.dgd_effective_length, risk=risk_level, d=prob["d"], sigma2=s2)
    assert kind == kind_l
    if kind == "ok":
        assert slope < 0


@settings(max_examples=100)
@given(p=wide_proportional)
@example(p={"xi": 1e-17, "sigma2": 0.1})
@example(p={"xi": 1e-20, "sigma2": 0.1})
@example(p={"xi": 1.0, "sigma2": 1e16})
@example(p={"xi": 1e-12, "sigma2": 1e-12})
def test_proportional_limit_respects_its_proved_bounds_or_is_refused(p):
    """1 <= r <= 1 + 1/sigma2 (H7), sigma2 <= Bayes risk <= 1 + sigma2, m > 0 with xi sigma2 m < 1; or ValueError."""
    s2 = p["sigma2"]
    kind, r = run(theory.excess_ratio_proportional, **p)
    if kind == "ok":
        assert 1.0 <= r <= 1.0 + 1.0 / s2
    kind, b = run(theory.bayes_risk_proportional, **p)
    if kind == "ok":
        _ge(b, s2, 1 + s2)
        _le(b, 1 + s2, 1 + s2)
    kind, m = run(theory.mp_stieltjes, **p)
    if kind == "ok":
        assert m > 0 and p["xi"] * s2 * m <= 1 + 1e-12


def test_vectorised_ratio_and_stieltjes_refuse_non_real_arrays():
    xs = np.geomspace(1e-12, 1e12, 9)
    r = theory.excess_ratio_proportional(xi=xs[:, None], sigma2=xs[None, :])
    assert np.all(r >= 1) and np.all(r <= 1 + 1 / xs[None, :])
    for bad in ([1 + 0j], [True], "1", np.array(["a"])):
        with pytest.raises(ValueError, match="^xi "):
            theory.mp_stieltjes(xi=bad, sigma2=0.1)


# ---------------------------------------------------------------- flow, expansion
@settings(max_examples=100)
@given(n_head=st.one_of(st.integers(1, 4), st.sampled_from([8, 9, 4096, 4097, 10**6, 0, True])), prob=wide_problems,
       data=st.data())
def test_flow_is_finite_or_refused(n_head, prob, data):
    kind, rates = run(theory.common_mode_rates, n_head, **prob)
    if kind == "ok":
        lo, hi = rates
        assert lo < 0 < hi <= 1 and lo * hi == pytest.approx(-1.0, rel=1e-12)
    if not (isinstance(n_head, int) and not isinstance(n_head, bool) and 1 <= n_head <= 4):
        return
    y = data.draw(st.lists(wide_floats, min_size=2 * n_head, max_size=2 * n_head))
    for factory in (theory.flow_rhs, theory.flow_jacobian, flow.flow_rhs_matrix):
        kind, f = run(factory, n_head, **prob)
        if kind == "ok":
            run(f, 0.0, np.array(y))


def test_flow_refuses_too_many_symbolic_heads():
    with pytest.raises(ValueError, match="^n_head "):
        theory.flow_rhs(9, d=5, L=40, sigma2=0.1)


@settings(max_examples=100)
@given(k=st.one_of(st.integers(0, 7), st.sampled_from([11, -1, True])), n=st.integers(1, 3), L=st.integers(1, 7),
       scale=st.sampled_from([3.0, 1e10, 1e50, 1e100, 1e200]), seed=st.integers(0, 2**32 - 1))
def test_head_output_coefficient_is_finite_or_refused(k, n, L, scale, seed):
    g = np.random.default_rng(seed)
    run(head_output_coefficient, k, g.normal(size=(n, L)) * scale, g.normal(size=(n, L)))


# ---------------------------------------------------------------- the larger sweep
@pytest.mark.slow
@settings(max_examples=1500)
@given(hv=wide_heads(), prob=wide_problems)
def test_slow_sweep_mean_field(hv, prob):
    test_mean_field_is_finite_and_bounded_or_refused.hypothesis.inner_test(hv=hv, prob=prob)


@pytest.mark.slow
@settings(max_examples=1000)
@given(hv=wide_heads(omega=st.one_of(st.floats(-0.41, 0.41), wide_floats), mu=wide_floats), prob=wide_problems,
       order=st.sampled_from([1, 2, 2, 3, 0, 4]))
def test_slow_sweep_refined(hv, prob, order):
    test_refined_is_finite_and_inside_the_exact_interval_or_refused.hypothesis.inner_test(hv=hv, prob=prob,
                                                                                           order=order)


@pytest.mark.slow
@settings(max_examples=1500)
@given(prob=wide_problems, eta=st.one_of(st.none(), wide_floats), excess=wide_floats, gap=wide_floats,
       p=wide_proportional, w=st.floats(1e-6, 50.0))
def test_slow_sweep_risks_bayes_pair(prob, eta, excess, gap, p, w):
    test_risks_are_finite_and_bounded_or_refused.hypothesis.inner_test(prob=prob, eta=eta, excess=excess, gap=gap)
    test_proportional_limit_respects_its_proved_bounds_or_is_refused.hypothesis.inner_test(p=p)
    if isinstance(prob["d"], int) and 1 <= prob["d"] <= 100_000 and isinstance(prob["L"], int) \
            and 2 <= prob["L"] <= 10**7 and 0 <= prob["sigma2"] <= 1e12:
        test_pair_optimal_mu_matches_the_sinh_form_or_is_refused.hypothesis.inner_test(
            w=w, d=prob["d"], L=prob["L"], s2=prob["sigma2"])


@pytest.mark.slow
@settings(max_examples=600)
@given(n_head=st.one_of(st.integers(1, 4), st.sampled_from([8, 9, 4096, 4097, 10**6, 0, True])), prob=wide_problems,
       data=st.data())
def test_slow_sweep_flow(n_head, prob, data):
    test_flow_is_finite_or_refused.hypothesis.inner_test(n_head=n_head, prob=prob, data=data)


def test_slow_symbolic_derivation_caps_heads():
    """``icl-verify derive optimal-mu --heads 8`` ran for minutes: the symbolic H x H solve is capped at H = 3."""
    from verify.derivations import derive

    with pytest.raises(ValueError, match=r"^--heads must be an integer in \[1, 3\] for 'optimal-mu'"):
        derive("optimal-mu", 8)
    assert len(derive("optimal-mu", 2)) == 2
