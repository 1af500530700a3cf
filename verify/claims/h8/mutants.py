"""Wrong theories for H8's power table: each patches :mod:`theory.risks` while the judge runs again on the same
data (:mod:`verify.power`); the judge looks ``risks.dgd_risk`` up at call time. The centring mutant is H6's."""
from __future__ import annotations


import importlib

import numpy as np

from theory import risks

from ...power import Mutant, patched
from ..h6.mutants import dgd_centring_mutant, dgd_excess_patch, risk_shift


def _eta_at_test_length():
    """The trained model predicted by DGD at the step re-optimised for each test length, eta*(L) =
    L/(L+d+d sigma2), instead of its trained step held fixed (the model would re-tune its step to the context
    length). Patches the judge's trained-vs-DGD prediction only; the closed form itself stays right."""
    J = importlib.import_module(__package__ + ".judge")   # the module (the package's ``judge`` is the function)

    def wrong(etas, Ls, problem):
        d, s2 = problem.d, problem.sigma2
        row = [risks.dgd_risk(d=d, L=int(L), sigma2=s2, eta=risks.dgd_optimal_step(d=d, L=int(L), sigma2=s2))
               for L in Ls]
        return np.array([row for _ in etas])
    return patched(J, "dgd_curves", wrong)


def _eta_effect(data, p):
    """Largest relative change of the DGD prediction over the test lengths, at the median trained step."""
    d, s2, eta = p.problem.d, p.problem.sigma2, float(data["theory"]["eta"])
    return max(abs(risks.dgd_risk(d=d, L=int(L), sigma2=s2, eta=risks.dgd_optimal_step(d=d, L=int(L), sigma2=s2))
                   - risks.dgd_risk(d=d, L=int(L), sigma2=s2, eta=eta)) / risks.dgd_risk(d=d, L=int(L), sigma2=s2,
                                                                                           eta=eta)
               for L in data["L_eval"])


def _gd_for_dgd():
    return patched(risks, "dgd_risk", risks.gd_risk)


def _effect(patch):
    return lambda data, p: risk_shift(patch, data["L_eval"], float(data["theory"]["eta"]), p.problem)


def _m(id_, change, patch):
    return Mutant(id_, change, patch, effect=_effect(patch))


MUTANTS = (
    dgd_centring_mutant("H8", _effect),
    Mutant("H8:eta-at-train-length", "trained models follow DGD with eta re-optimised per test length "
           "(eta*(L) = L/(L+d+d sigma2)) instead of the trained step held fixed", _eta_at_test_length,
           effect=_eta_effect),
    _m("H8:gd-for-dgd", "the neighbouring formula: plain GD's risk used for debiased GD", _gd_for_dgd),
    _m("H8:dgd-excess-x1.02", "DGD excess risk R_DGD - sigma2 multiplied by 1.02", lambda: dgd_excess_patch(1.02)),
)
