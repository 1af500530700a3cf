"""The rank argument for the number of first-layer heads (theory.sparse_rank) and OLS's exact risk."""
import math

import pytest

from theory.sparse_ols import ols_excess_risk
from theory.sparse_rank import annihilator_lemma_holds, diagonal_tensor_ranks, head_rhat_tensor, min_heads


@pytest.mark.parametrize("d", [1, 2])
def test_head_rhat_part_is_the_two_rank_one_terms(d):
    _, resid = head_rhat_tensor(d)
    assert resid == 0


def test_target_tensor_has_full_flattening_ranks_and_the_bounds():
    assert diagonal_tensor_ranks(6) == (6, 6)
    assert min_heads(7) == 4 and min_heads(8) == 4 and min_heads(7, value_reads_label_only=True) == 7
    assert annihilator_lemma_holds(6, 3, 3) and not annihilator_lemma_holds(6, 4, 3)


def test_ols_exact_risk_regimes():
    assert ols_excess_risk(d=10, n=20, sigma2=0.25) == pytest.approx(0.25 * 10 / 9)
    assert ols_excess_risk(d=10, n=5, sigma2=0.25) == pytest.approx(0.5 + 0.25 * 5 / 4)
    assert math.isinf(ols_excess_risk(d=10, n=10, sigma2=0.25))
    with pytest.raises(ValueError, match="n must be"):
        ols_excess_risk(d=10, n=0, sigma2=0.1)
