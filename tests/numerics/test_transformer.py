"""SPEC 7.3's transformer: shapes, ensemble members independent, head masks, the training engine (resume is
bit-identical, a member trains as it would alone), validation."""
import numpy as np
import pytest
import torch

from numerics.interpret import masked
from numerics.training import TrainConfig, Trainer, build_model, train
from numerics.transformer import EnsembleTransformer

SHAPE = dict(d=4, n_layer=2, n_head=2, width=8)
SPARSE = dict(d=4, L=6, sigma2=0.1, s=2, model="transformer", n_layer=2, n_head=2, width=8, batch=16, steps=40,
              log_every=10, eval_prompts=256, checkpoint_every=10)


def _inputs(E, B=5, n=6, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(E, B, n, d + 1, generator=g, dtype=torch.float64), torch.randn(E, B, d, generator=g,
                                                                                     dtype=torch.float64)


@pytest.mark.parametrize("mlp, norm, attention", [(0, True, "softmax"), (12, True, "softmax"), (0, False, "linear"),
                                                   (6, False, "linear")])
def test_member_equals_the_same_seed_alone(mlp, norm, attention):
    kw = dict(SHAPE, mlp=mlp, norm=norm, attention=attention, dtype=torch.float64)
    big = EnsembleTransformer(**kw, seeds=[3, 7, 11])
    alone = EnsembleTransformer(**kw, seeds=[7])
    Z, xq = _inputs(3)
    y, res = big(Z, xq, residuals=True)
    y1, res1 = alone(Z[1:2], xq[1:2], residuals=True)
    assert y.shape == (3, 5, 1) and res.shape == (3, 5, 3, 8)
    torch.testing.assert_close(y[1:2], y1, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(res[1:2], res1, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(y[0], y[1])  # different seeds, different models


def test_all_ones_mask_is_the_unmasked_model_and_zero_masks_change_it():
    m = EnsembleTransformer(**SHAPE, mlp=8, seeds=[0, 1], dtype=torch.float64)
    Z, xq = _inputs(2)
    y = m(Z, xq)
    with masked(m, np.ones((2, 2))):
        assert torch.equal(m(Z, xq), y)
    with masked(m, [[1, 0], [1, 1]]):
        assert not torch.allclose(m(Z, xq), y)
    assert torch.equal(m(Z, xq), y)  # restored
    # masking every head of every layer leaves only the embedding (+ MLP) path: the context no longer matters
    with masked(m, np.zeros((2, 2))):
        Z2 = Z.clone()
        Z2[..., -1] += 1.0
        torch.testing.assert_close(m(Z2, xq), m(Z, xq))


def test_prediction_is_permutation_invariant_in_the_context():
    m = EnsembleTransformer(**SHAPE, seeds=[0], dtype=torch.float64)
    Z, xq = _inputs(1)
    torch.testing.assert_close(m(Z.flip(2), xq), m(Z, xq), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw, match", [
    (dict(n_layer=0), "n_layer must be"), (dict(width=0), "width must be"), (dict(mlp=-1), "mlp must be"),
    (dict(attention="relu"), "attention must be one of"), (dict(seeds=[]), "seeds must name"),
    (dict(norm=1), "norm must be True or False"),
])
def test_bad_arguments_are_one_line_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        EnsembleTransformer(**{**SHAPE, "seeds": [0], **kw})


def test_bad_inputs_and_masks_are_rejected():
    m = EnsembleTransformer(**SHAPE, seeds=[0, 1])
    Z, xq = _inputs(2)
    with pytest.raises(ValueError, match="Z must have shape"):
        m(Z[:1].float(), xq[:1].float())
    with pytest.raises(ValueError, match="head mask must have shape"):
        m.set_head_mask(np.ones(3))
    with pytest.raises(ValueError, match="head mask must be finite"):
        m.set_head_mask(np.full((2, 2), np.nan))


@pytest.mark.parametrize("kw, match", [
    (dict(n_layer=0), "n_layer must be"), (dict(width=0), "width must be"), (dict(mlp=-3), "mlp must be"),
    (dict(n_head=9), "n_head must be at most width"),
])
def test_config_validates_the_transformer_fields(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{**SPARSE, **kw})


def test_transformer_fields_do_not_change_other_models_hashes():
    base = TrainConfig(d=3, L=5)
    assert "n_layer" not in base.identity() and "width" not in base.identity()
    assert TrainConfig(d=3, L=5, width=64).hash() == base.hash()
    t = TrainConfig(**SPARSE)
    assert t.identity()["n_layer"] == 2 and t.replace(width=16).hash() != t.hash()
    assert isinstance(build_model(t), EnsembleTransformer)


def test_engine_trains_the_transformer_and_resume_is_bit_identical(tmp_path):
    cfg = TrainConfig(**SPARSE, ensemble=2)
    straight = train(cfg)
    tr = Trainer(cfg, tmp_path / "run")
    tr.run_until(20)  # as if killed right after the step-20 checkpoint
    resumed = train(cfg, tmp_path / "run")
    assert resumed.resumed_from == 20
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(straight.trajectory["loss"], resumed.trajectory["loss"])
    np.testing.assert_array_equal(straight.final_loss, resumed.final_loss)
    assert straight.summary()["members"][0]["final_loss"] == float(straight.final_loss[0])


def test_ensemble_member_trains_as_in_a_smaller_ensemble():
    big = train(TrainConfig(**SPARSE, seed=4, ensemble=3, dtype="float64"))
    small = train(TrainConfig(**SPARSE, seed=4, ensemble=1, dtype="float64"))
    for name in big.model.shapes:
        torch.testing.assert_close(getattr(big.model, name)[:1], getattr(small.model, name), rtol=1e-9, atol=1e-11)
