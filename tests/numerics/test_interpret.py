"""Interpretability tools: head masking (paired), pruning, layer-wise probes on a synthetic residual stream."""
import numpy as np
import pytest
import torch

from numerics.attention import EnsembleAttention
from numerics.interpret import (fit_probes, head_importance, keep_mask, masked, masked_risks, probe_risks,
                                probe_stream)
from numerics.sparse.constructions import construction
from numerics.transformer import EnsembleTransformer
from theory.problem import Problem

SPARSE = Problem(d=4, L=12, sigma2=0.0, s=1)


def test_importance_of_the_gd_construction_finds_the_step_heads():
    """In the PtO construction (d heads in layer 1, one GD head per later layer) zeroing an unused head of a later
    layer changes nothing exactly; zeroing a GD head raises the risk."""
    net = construction(4, steps=2, etas=[0.01])  # small fixed step: the unnormalised reweighting stays stable
    imp = head_importance(net, SPARSE, n_prompts=1024, seed=3)
    rise = imp["rise"][0]
    assert rise.shape == (3, 4)
    assert np.all(rise[1:, 1:] == 0.0) and np.all(imp["rise_se"][0][1:, 1:] == 0.0)
    assert np.all(rise[1:, 0] > 4 * imp["rise_se"][0][1:, 0])
    assert np.all(rise[0] > 0)  # every preprocessing head matters


def test_pruning_keep_all_is_the_full_model_and_masks_restore():
    m = EnsembleTransformer(d=4, n_layer=2, n_head=3, width=9, seeds=[0, 1], dtype=torch.float64)
    before = [p.clone() for p in m.parameters()]
    out = masked_risks(m, SPARSE, {"all": keep_mask(m, [(l, h) for l in range(2) for h in range(3)]),
                                   "one": keep_mask(m, [(0, 0), (1, 2)])}, n_prompts=128, seed=2)
    np.testing.assert_array_equal(out["all"]["diff"], 0.0)
    np.testing.assert_array_equal(out["all"]["mean"], out["full"]["mean"])
    assert np.all(out["one"]["diff"] != 0.0)
    assert torch.equal(m.head_mask, torch.ones_like(m.head_mask))
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))


def test_masking_works_for_the_one_layer_attention_model():
    m = EnsembleAttention(d=3, n_head=2, seeds=[0], dtype=torch.float64)
    o = m.o.detach().clone()
    with masked(m, [[1.0, 0.0]]):
        assert torch.all(m.o[:, 1] == 0) and torch.equal(m.o[:, 0], o[:, 0])
    assert torch.equal(m.o, o)
    with pytest.raises(ValueError, match="mask must have shape"):
        with masked(m, np.ones((2, 2))):
            pass


def test_probes_on_a_synthetic_residual_stream():
    """Layer 0 carries noise, layer 1 the target linearly (plus tiny noise), layer 2 half of it: held-out risks
    are the target variance, ~0, and the variance of the missing half."""
    g = torch.Generator().manual_seed(0)
    M, W = 4000, 6
    a = torch.randn(M, 2, generator=g, dtype=torch.float64)
    t = a[:, 0] + a[:, 1]
    noise = torch.randn(M, W, generator=g, dtype=torch.float64)
    l1 = torch.cat([a, torch.randn(M, W - 2, generator=g, dtype=torch.float64)], 1) @ torch.randn(
        W, W, generator=g, dtype=torch.float64)
    l2 = torch.cat([a[:, :1], torch.randn(M, W - 1, generator=g, dtype=torch.float64)], 1)
    risk = probe_stream(torch.stack([noise, l1, l2]), t, fit=2000)
    assert abs(risk[0] - 2.0) < 0.2 and risk[1] < 1e-6 and abs(risk[2] - 1.0) < 0.1


def test_probe_fit_is_least_squares_with_intercept():
    g = torch.Generator().manual_seed(1)
    F = torch.randn(50, 3, generator=g, dtype=torch.float64)
    t = F @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 3.0
    w = fit_probes(F, t, ridge=0.0)
    torch.testing.assert_close(w, torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64))


def test_probe_risks_of_the_construction_reach_the_algorithm_at_the_last_layer():
    net = construction(4, steps=1, etas=[0.7], preprocess=False)
    out = probe_risks(net, SPARSE, n_fit=512, n_prompts=512, seed=3)
    assert out["risk"].shape == (1, 2)
    # after the embedding a linear probe of x_q alone cannot predict beta.x_q (risk ~ E(beta.x)^2 = 1)
    assert 0.7 < out["risk"][0, 0] < 1.3
    # at the last layer the stream holds the GD prediction, so the probe is at least as good as the model
    assert out["risk"][0, 1] <= out["model_risk"][0] + 4 * out["model_se"][0]
