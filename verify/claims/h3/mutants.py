"""H3's wrong theories (:class:`verify.power.Mutant`): each patch is applied while the same judge re-runs on the
same Monte Carlo data."""
from __future__ import annotations

import importlib
from functools import wraps

import numpy as np

from theory import refined, refined_eval

from ...power import Mutant, patched, scaled

_judge = importlib.import_module(__package__ + ".judge")  # the module (the package attribute is the function)


def _grid_effect(patch):
    """Median over the grid points of the relative change of the refined O(1/L^2) prediction under ``patch``."""
    def effect(data, p):
        def values():
            out = []
            for pt in data["grid"]:
                kw = {"d": pt["d"], "L": pt["L"], "sigma2": pt["sigma2"]}
                out.append(refined.refined_loss(pt["omega"], pt["mu"], check_regime=False, **kw))
            return np.array(out)
        true = values()
        with patch():
            wrong = values()
        return float(np.median(np.abs(wrong - true) / np.abs(true)))
    return effect


def _tau2_frozen_d5():
    true = refined_eval.residual_variance
    return patched(refined_eval, "residual_variance", lambda d, sigma2: true(5, sigma2))


def _refined_with(**change):
    """``theory.refined.refined_loss`` (the form the judge compares) with one argument rewritten; the truncation
    allowance (computed in ``theory.refined_eval``) stays the true theory's."""
    true = refined.refined_loss

    @wraps(true)
    def wrong(omega, mu, *, d, L, sigma2, order=refined.DEFAULT_ORDER, check_regime=True):
        kw = {"d": d, "L": L, "sigma2": sigma2, "order": order}
        for k, f in change.items():
            kw[k] = f(kw[k])
        return true(omega, mu, check_regime=check_regime, **kw)

    return patched(refined, "refined_loss", wrong)


MUTANTS = (
    Mutant("H3:tau2-frozen-d5", "tau-bar^2 = (d-1)/d + sigma2 frozen at its d = 5 value in the refined kernels",
           _tau2_frozen_d5, effect=_grid_effect(_tau2_frozen_d5)),
    Mutant("H3:cv-mean-x1.004", "the control variate's exact mean (DGD risk + mean term) multiplied by 1.004",
           lambda: scaled(_judge, "control_mean", 1.004), effect=lambda data, p: 0.004),
    Mutant("H3:refined-order-1", "the refined form truncated at O(1/L) instead of O(1/L^2)",
           lambda: _refined_with(order=lambda o: 1 if o == 2 else o)),
    Mutant("H3:L-minus-1", "the refined form evaluated with L - 1 (an off-by-one in the context length)",
           lambda: _refined_with(L=lambda L: L - 1)),
    Mutant("H3:d-plus-1", "the refined form evaluated with d + 1 (an off-by-one in the dimension)",
           lambda: _refined_with(d=lambda d: d + 1)),
)
