"""Wrong theories for H7's power table: each patches :mod:`theory.bayes` while the judge runs again on the same
data (:mod:`verify.power`); the judge looks the closed forms up through the module at call time."""
from __future__ import annotations

import math

import numpy as np

from theory import bayes

from ...power import Mutant, patched


def _bayes_patch(wrong):
    """Patch ``theory.bayes.bayes_risk_proportional`` by ``wrong(xi, sigma2)``."""
    def fn(*, xi, sigma2):
        return float(wrong(float(xi), float(sigma2)))
    return patched(bayes, "bayes_risk_proportional", fn)


def _mp_sign(x, s):
    # SPEC 3.4's form with the sign of (1 - xi)/xi flipped inside the square (the MP root with z -> -z)
    return 0.5 * (s + (x - 1) / x + math.sqrt(4 * s + (s - (1 - x) / x) ** 2))


_TRUE = bayes.bayes_risk_proportional


def _ridgeless(x, s):
    # ridge at lambda = sigma2 instead of d sigma2: lambda / L -> 0, the ridgeless (OLS) limit sigma2 / (1 - xi)
    return s / (1 - x) if x < 1 else math.inf


def _excess_scaled(factor):
    def wrong(x, s):
        return s + factor * (_TRUE(xi=x, sigma2=s) - s)
    return wrong


def _ratio_of_risks_patch():
    """r as a ratio of risks (GD risk / Bayes risk) instead of excess risks."""
    true = bayes.excess_ratio_proportional

    def wrong(*, xi, sigma2):
        x, s = np.asarray(xi, dtype=float), np.asarray(sigma2, dtype=float)
        bex = bayes.mp_stieltjes(xi=x, sigma2=s) * x * s
        out = (s + true(xi=x, sigma2=s) * bex) / (s + bex)
        return float(out) if np.ndim(out) == 0 else out
    return patched(bayes, "excess_ratio_proportional", wrong)


def _effect(wrong):
    """Relative change of the proportional-limit Bayes *excess* risk at the spot point."""
    def effect(data, p):
        x, s = p.spot_xi, p.problem.sigma2
        t = _TRUE(xi=x, sigma2=s)
        return abs(wrong(x, s) - t) / (t - s)
    return effect


def _ratio_effect(data, p):
    """Relative change of r at the spot point."""
    x, s = p.spot_xi, p.problem.sigma2
    t = bayes.excess_ratio_proportional(xi=x, sigma2=s)
    with _ratio_of_risks_patch():
        w = bayes.excess_ratio_proportional(xi=x, sigma2=s)
    return abs(w - t) / t


MUTANTS = (
    Mutant("H7:mp-sign", "Bayes risk with the sign of (1 - xi)/xi flipped inside the square root (the wrong MP root)",
           lambda: _bayes_patch(_mp_sign), effect=_effect(_mp_sign)),
    Mutant("H7:bayes-xi-inverted", "Bayes risk evaluated at 1/xi (L/d for d/L)",
           lambda: _bayes_patch(lambda x, s: _TRUE(xi=1 / x, sigma2=s)),
           effect=_effect(lambda x, s: _TRUE(xi=1 / x, sigma2=s))),
    Mutant("H7:ridge-lambda-sigma2", "Bayes = ridge at lambda = sigma2 instead of d sigma2 (in the proportional "
           "limit lambda/L -> 0: the ridgeless risk sigma2/(1 - xi))", lambda: _bayes_patch(_ridgeless),
           effect=_effect(_ridgeless)),
    Mutant("H7:bayes-excess-x1.01", "Bayes excess risk multiplied by 1.01", lambda: _bayes_patch(_excess_scaled(1.01)),
           effect=_effect(_excess_scaled(1.01))),
    Mutant("H7:ratio-of-risks", "r as GD risk / Bayes risk instead of the ratio of excess risks",
           _ratio_of_risks_patch, effect=_ratio_effect),
)
