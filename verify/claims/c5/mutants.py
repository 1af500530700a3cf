"""Wrong alternatives for C5, each re-judged on the same data (:mod:`verify.power`)."""
from __future__ import annotations

from ...power import Mutant, patched, together
import sys

from . import judge as _judge_module  # noqa: F401  (the submodule; the package attribute is the function)

J = sys.modules[__package__ + ".judge"]

def _effect(wrong: str, right: str):
    """Median over settings of the relative change of the judged method's excess risk."""
    def effect(data, p):
        vals = sorted(abs(r["mean"][wrong] - r["mean"][right]) / r["mean"][right] for r in data["settings"]
                      if r["mean"][right] > 0)
        return vals[len(vals) // 2] if vals else float("nan")
    return effect


MUTANTS = (
    Mutant("C5:pto-no-normalisation", "PtO's D = diag(r) without the division by ||r||_inf (SPEC 7.2)",
           lambda: patched(J, "PTO", "pto_nonorm"), effect=_effect("pto_nonorm", "pto")),
    Mutant("C5:gd-beats-pto", "the roles of PtO and GD swapped (plain GD is the better T-step method)",
           lambda: together(lambda: patched(J, "PTO", "gd"), lambda: patched(J, "GD", "pto")),
           effect=_effect("gd", "pto")),
    Mutant("C5:lasso-is-ridge", "the best method is an L2 (ridge) rather than L1 (Lasso) penalty",
           lambda: patched(J, "LASSO", "ridge"), effect=_effect("ridge", "lasso")),
)
