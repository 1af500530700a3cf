"""H5's wrong theories (:class:`verify.power.Mutant`), judged on the same stored prompts."""
from __future__ import annotations

import numpy as np

from theory import expansion

from ...power import Mutant, patched


def _c1(fn):
    return lambda: patched(expansion, "first_order_coefficient", fn)


def _c1_effect(fn):
    """Relative RMS change of the first-order coefficient over the stored prompts."""
    def effect(data, p):
        nu0, nu1, sbar = np.asarray(data["moments"], dtype=np.float64)
        true = nu1 - nu0 * sbar
        return float(np.sqrt(np.mean((fn(nu0, nu1, sbar) - true) ** 2) / np.mean(true**2)))
    return effect


_UNCENTRED = lambda nu0, nu1, sbar: nu1  # noqa: E731
_L_MINUS_1 = lambda nu0, nu1, sbar: nu1 - nu0 * sbar * 40 / 39  # noqa: E731
_X101 = lambda nu0, nu1, sbar: 1.01 * (nu1 - nu0 * sbar)  # noqa: E731


MUTANTS = (
    Mutant("H5:gap-order-1", "the pair's gap to debiased GD at fixed eta is O(w) instead of O(w^2)",
           lambda: patched(expansion, "pair_gap_order", lambda order=5: 1)),
    Mutant("H5:first-order-uncentred", "the first-order term is plain GD, (1/L) sum y_l s_l, not centred at sbar",
           _c1(_UNCENTRED), effect=_c1_effect(_UNCENTRED)),
    Mutant("H5:centring-L-minus-1", "the first-order term centred with sbar L/(L-1), L = 40 (the unbiased-variance "
           "normalisation) instead of sbar", _c1(_L_MINUS_1), effect=_c1_effect(_L_MINUS_1)),
    Mutant("H5:first-order-x1.01", "the first-order coefficient 1% too large (eta off by 1%)",
           _c1(_X101), effect=_c1_effect(_X101)),
)
