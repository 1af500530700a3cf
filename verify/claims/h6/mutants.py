"""Wrong theories for H6's (and H8's) power tables: each patches :mod:`theory.risks` while the judge runs again on
the same data (:mod:`verify.power`). The judges look the closed forms up through the module at call time."""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory import risks
from theory.symbols import L, d, eta, sigma2

from ...power import Mutant, patched, together


@lru_cache(maxsize=None)
def _centred_risk_fn(name: str):
    """The risk of centred GD with a wrong centring coefficient, derived by the same Wick engine and lambdified
    once (``"L(L-1)"``: 1/(L(L-1)) instead of SPEC 2.4's 1/L^2)."""
    centring = {"L(L-1)": 1 / (L * (L - 1))}[name]
    return sp.lambdify((d, L, sigma2, eta), risks.centred_gd_risk_expr(centring), "math")


def _needs_step(eta_):
    if eta_ is None:
        raise ValueError("this mutant gives the risk at a given step only (eta=None is not mutated)")
    return float(eta_)


def dgd_centring_patch():
    """Patch ``theory.risks.dgd_risk`` by centred GD with centring 1/(L(L-1)) instead of 1/L^2."""
    def wrong(*, d, L, sigma2, eta=None):
        return float(_centred_risk_fn("L(L-1)")(d, L, sigma2, _needs_step(eta)))
    return patched(risks, "dgd_risk", wrong)


def dgd_excess_patch(factor: float):
    """Patch ``theory.risks.dgd_risk`` by sigma2 + factor x (the true excess risk)."""
    true = risks.dgd_risk

    def wrong(*, d, L, sigma2, eta=None):
        return sigma2 + factor * (true(d=d, L=L, sigma2=sigma2, eta=eta) - sigma2)
    return patched(risks, "dgd_risk", wrong)


def _shifted(name: str, *, dL: int = 0, dd: int = 0):
    true = getattr(risks, name)

    def wrong(*, d, L, sigma2, eta=None):
        return true(d=d + dd, L=L + dL, sigma2=sigma2, eta=eta)
    return patched(risks, name, wrong)


def _noise_free(name: str):
    true = getattr(risks, name)

    def wrong(*, d, L, sigma2, eta=None):
        return true(d=d, L=L, sigma2=sigma2, eta=eta) - sigma2
    return patched(risks, name, wrong)


def risk_shift(patch, Ls, eta: float, problem) -> float:
    """Largest relative change of the GD and DGD closed forms at step ``eta`` over the lengths ``Ls`` under
    ``patch`` (the mutant's effect on the theory itself, not on the rows that compare with it)."""
    d, s2 = problem.d, problem.sigma2

    def both():
        return [f(d=d, L=int(L), sigma2=s2, eta=eta) for L in Ls for f in (risks.gd_risk, risks.dgd_risk)]

    true = both()
    with patch():
        wrong = both()
    return max(abs(w - t) / abs(t) for w, t in zip(wrong, true))


def _h6_effect(patch):
    return lambda data, p: risk_shift(patch, data["Ls"], 2 * p.omega * p.mu, p.problem)


def dgd_centring_mutant(claim: str, effect=None) -> Mutant:
    return Mutant(f"{claim}:dgd-centring-L(L-1)", "DGD centring 1/(L(L-1)) instead of 1/L^2 (theory.risks.dgd_risk "
                  "re-derived by Wick with the wrong centring)", dgd_centring_patch,
                  effect=effect(dgd_centring_patch) if effect else None)


def _m(id_, change, patch):
    return Mutant(id_, change, patch, effect=_h6_effect(patch))


MUTANTS = (
    dgd_centring_mutant("H6", _h6_effect),
    _m("H6:dgd-excess-x1.02", "DGD excess risk R_DGD - sigma2 multiplied by 1.02", lambda: dgd_excess_patch(1.02)),
    _m("H6:gd-for-dgd", "the neighbouring formula: plain GD's risk used for debiased GD",
       lambda: patched(risks, "dgd_risk", risks.gd_risk)),
    _m("H6:L-plus-1", "off-by-one in L: GD and DGD risks evaluated at L + 1",
       lambda: together(lambda: _shifted("gd_risk", dL=1), lambda: _shifted("dgd_risk", dL=1))),
    _m("H6:d-plus-1", "off-by-one in d: GD and DGD risks evaluated at d + 1",
       lambda: together(lambda: _shifted("gd_risk", dd=1), lambda: _shifted("dgd_risk", dd=1))),
    _m("H6:query-noise-dropped", "the risks without the irreducible query noise sigma2",
       lambda: together(lambda: _noise_free("gd_risk"), lambda: _noise_free("dgd_risk"))),
)
