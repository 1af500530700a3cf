"""H4's wrong theories (:class:`verify.power.Mutant`): each patch is applied while the same judge re-runs on the
same data (the judge integrates the theory's flows itself, :mod:`.flows`)."""
from __future__ import annotations

from theory import flow, mean_field

from ...power import Mutant, patched, scaled, together


def _flow_d_plus_1():
    true = flow.flow_rhs, flow.flow_jacobian

    def shift(fn):
        return lambda n_head, *, d, L, sigma2: fn(n_head, d=d + 1, L=L, sigma2=sigma2)

    return together(lambda: patched(flow, "flow_rhs", shift(true[0])),
                    lambda: patched(flow, "flow_jacobian", shift(true[1])))


MUTANTS = (
    Mutant("H4:flow-c-x0.9", "the flow's c = (1+sigma2)/L 10% low", lambda: scaled(flow, "flow_coupling", 0.9)),
    Mutant("H4:flow-c-L-minus-1", "the flow's c with L - 1 instead of L ((1+sigma2)/(L-1), 2.6% high)",
           lambda: scaled(flow, "flow_coupling", 40 / 39)),
    Mutant("H4:flow-d-plus-1", "the flow's E = exp(d omega omega^T) with d + 1 (an off-by-one in the dimension)",
           _flow_d_plus_1),
    Mutant("H4:eta-star-d+1", "eta* = 1/(1 + c(d+1)) instead of 1/(1 + cd)",
           lambda: patched(mean_field, "eta_star",
                           (lambda f: lambda *, d, L, sigma2: f(d=d + 1, L=L, sigma2=sigma2))(mean_field.eta_star))),
)
