"""The ensemble attention models (SPEC 2.1, 2.3), their hand-written gradient and the pattern metrics.

References: a per-member, per-head loop written straight from SPEC 2.1's formula; torch autograd in
float64 for the gradient (micrograd style); the reduced model of SPEC 2.2 (``reduced_attention_predict``)
for a model whose circuits are set to the pattern.
"""
import math

import numpy as np
import pytest
import torch

from numerics.attention import EnsembleAttention, init_member, tokens
from numerics.estimators import reduced_attention_predict
from numerics.patterns import circuits, model_patterns, omega_spread, patterns, spec_table_metrics
from tests.helpers import pattern_model

KINDS = ("softmax", "linear", "linear-normalised")


def _prompts(E, B, L, d, N, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(E, B, L, d, generator=g, dtype=torch.float64)
    y = torch.randn(E, B, L, N, generator=g, dtype=torch.float64)
    xq = torch.randn(E, B, d, generator=g, dtype=torch.float64)
    yq = torch.randn(E, B, N, generator=g, dtype=torch.float64)
    return tokens(x, y), xq, yq


def _reference(model, Z, xq):
    """SPEC 2.1 / 2.3 literally: loop over members, prompts and heads."""
    E, B, L, D = Z.shape
    N = model.n_out
    out = torch.zeros(E, B, N, dtype=Z.dtype)
    for e in range(E):
        for b in range(B):
            zq = torch.cat([xq[e, b], torch.zeros(N, dtype=Z.dtype)])  # (D,)
            Zm = Z[e, b].T  # (D, L): columns are tokens
            for h in range(model.n_head):
                Q, K, V, O = (getattr(model, n)[e, h].detach() for n in ("q", "k", "v", "o"))
                s = Zm.T @ K.T @ Q @ zq / math.sqrt(D)  # (L,)
                if model.kind == "softmax":
                    w = torch.softmax(s, 0)
                else:
                    w = s / L if model.kind == "linear-normalised" else s
                out[e, b] += O @ V @ Zm @ w
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_out", [1, 2])
def test_forward_matches_spec_formula(kind, n_out):
    model = EnsembleAttention(d=3, n_head=2, seeds=[4, 9], n_out=n_out, kind=kind, dtype=torch.float64)
    Z, xq, _ = _prompts(2, 5, 7, 3, n_out)
    torch.testing.assert_close(model(Z, xq).detach(), _reference(model, Z, xq), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_out", [1, 3])
def test_handwritten_gradient_equals_autograd(kind, n_out):
    model = EnsembleAttention(d=4, n_head=3, seeds=[1, 2, 3], n_out=n_out, kind=kind, dtype=torch.float64)
    Z, xq, yq = _prompts(3, 11, 6, 4, n_out, seed=1)
    loss = model.loss_and_grad(Z, xq, yq)
    manual = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    ref = ((model(Z, xq) - yq) ** 2).mean(dim=(1, 2))
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-13, atol=1e-13)
    for n, p in model.named_parameters():
        torch.testing.assert_close(manual[n], p.grad, rtol=1e-11, atol=1e-13, msg=f"gradient of {n}")


def test_gradient_is_per_member():
    """Member e's gradient depends on member e's data only (the ensemble is E independent models)."""
    model = EnsembleAttention(d=2, n_head=2, seeds=[0, 1], dtype=torch.float64)
    Z, xq, yq = _prompts(2, 4, 5, 2, 1)
    model.loss_and_grad(Z, xq, yq)
    g0 = model.q.grad[0].clone()
    Z2, xq2, yq2 = Z.clone(), xq.clone(), yq.clone()
    Z2[1] += 1.0
    yq2[1] -= 2.0
    model.loss_and_grad(Z2, xq2, yq2)
    torch.testing.assert_close(model.q.grad[0], g0, rtol=0, atol=0)


def test_member_init_equals_standalone_seed():
    ens = EnsembleAttention(d=5, n_head=4, seeds=[10, 11, 12])
    for e, seed in enumerate([10, 11, 12]):
        alone = EnsembleAttention(d=5, n_head=4, seeds=[seed])
        for n in ("q", "k", "v", "o"):
            assert torch.equal(getattr(ens, n)[e], getattr(alone, n)[0])
    assert not torch.equal(ens.q[0], ens.q[1])


def test_init_is_default_linear_layer_uniform():
    d, H = 5, 4
    p = init_member(3, d=d, n_head=H, dtype=torch.float64)
    bound = 1 / math.sqrt(d + 1)
    allv = torch.cat([t.flatten() for t in p.values()])
    assert allv.abs().max() <= bound
    # uniform on [-b, b]: mean 0 and variance b^2/3, within 4 standard errors
    n = allv.numel()
    assert abs(allv.mean()) <= 4 * bound / math.sqrt(3 * n)
    var_se = bound**2 * math.sqrt(4 / 45 / n)  # sd of the sample variance of U(-b, b)
    assert abs(allv.var() - bound**2 / 3) <= 4 * var_se
    assert p["q"].shape == (H, d + 1, d + 1) and p["o"].shape == (H, 1, d + 1)


def test_circuits_define_the_scores():
    model = EnsembleAttention(d=3, n_head=2, seeds=[5], dtype=torch.float64)
    kq, ov, d = circuits(model)
    Z, xq, _ = _prompts(1, 1, 4, 3, 1)
    zq = np.concatenate([xq[0, 0].numpy(), [0.0]])
    for h in range(2):
        Q, K = model.q[0, h].detach().numpy(), model.k[0, h].detach().numpy()
        s_ref = Z[0, 0].numpy() @ K.T @ Q @ zq / 2.0
        np.testing.assert_allclose(Z[0, 0].numpy() @ kq[0, h] @ zq, s_ref, rtol=1e-12)
        np.testing.assert_allclose(ov[0, h, :, 0], (model.o[0, h] @ model.v[0, h]).detach().numpy()[0], rtol=1e-12)


def test_pattern_model_is_the_reduced_model_and_metrics_are_exact():
    omega, mu = [0.13, -0.13, 0.02, 0.0], [3.4, -3.4, 0.001, 1.0]
    model = pattern_model(omega, mu)
    Z, xq, _ = _prompts(1, 50, 9, 4, 1, seed=3)
    pred = model(Z, xq)[0, :, 0]
    ref = reduced_attention_predict(Z[0, ..., :4], Z[0, ..., 4], xq[0], omega=omega, mu=mu)
    torch.testing.assert_close(pred.detach(), ref, rtol=1e-12, atol=1e-12)
    p = model_patterns(model)
    np.testing.assert_allclose(p.omega[0], omega, atol=1e-15)
    np.testing.assert_allclose(p.mu[0], mu, atol=1e-15)
    np.testing.assert_allclose(p.diag_ratio[0, :3], 1.0)
    np.testing.assert_allclose(p.homogeneity[0, :3], 0.0, atol=1e-24)
    np.testing.assert_allclose(p.ov_last_ratio[0], 1.0)
    np.testing.assert_allclose(p.eta_eff[0], sum(w * m for w, m in zip(omega, mu)))
    np.testing.assert_allclose(p.zero_sum[0], abs(sum(mu)) / sum(abs(m) for m in mu))
    # heads 3 (mu*omega = 2e-5) and 4 (omega = 0) contribute nothing: dummy; the others split +/-
    assert p.dummy[0].tolist() == [False, False, True, True]
    assert p.sign[0].tolist() == [1, -1, 0, 0] and bool(p.split[0])
    assert omega_spread(p)[0] == pytest.approx(0.0, abs=1e-12)
    t = spec_table_metrics(p)
    assert t["n_heads"][0] == 3 and t["diag_ratio"][0] == pytest.approx(1.0)


def test_pattern_metrics_on_hand_built_circuits():
    kq = np.zeros((1, 1, 3, 3))
    kq[0, 0, :2, :2] = [[1.0, 1.0], [0.0, 3.0]]
    ov = np.array([[[[0.0], [3.0], [4.0]]]])
    p = patterns(kq, ov, 2)
    assert p.omega[0, 0] == pytest.approx(2.0)
    assert p.diag_ratio[0, 0] == pytest.approx(math.sqrt(10) / math.sqrt(11))
    assert p.homogeneity[0, 0] == pytest.approx(1.0 / 4.0)  # var([1, 3]) / 2^2
    assert p.ov_last_ratio[0, 0] == pytest.approx(4 / 5)
    assert p.mu[0, 0] == 4.0 and p.zero_sum[0] == 1.0 and not p.split[0]


def test_multi_output_mu_reads_each_tasks_slot():
    model = EnsembleAttention(d=3, n_head=2, seeds=[1], n_out=2, dtype=torch.float64)
    p = model_patterns(model)
    ov = model.ov().detach().numpy()
    assert p.mu.shape == (1, 2, 2)
    np.testing.assert_allclose(p.mu[0, :, 1], ov[0, :, 4, 1])


def test_linear_normalised_is_unnormalised_over_L():
    a = EnsembleAttention(d=2, n_head=2, seeds=[3], kind="linear", dtype=torch.float64)
    b = EnsembleAttention(d=2, n_head=2, seeds=[3], kind="linear-normalised", dtype=torch.float64)
    Z, xq, _ = _prompts(1, 3, 13, 2, 1)
    torch.testing.assert_close(b(Z, xq), a(Z, xq) / 13)


def test_from_state_round_trip_and_checks():
    m = EnsembleAttention(d=3, n_head=2, seeds=[1, 2])
    m2 = EnsembleAttention.from_state(m.state_dict(), d=3)
    for n in ("q", "k", "v", "o"):
        assert torch.equal(getattr(m, n), getattr(m2, n))
    with pytest.raises(ValueError, match="missing"):
        EnsembleAttention.from_state({"q": m.q}, d=3)


@pytest.mark.parametrize("kw, match", [
    ({"kind": "relu"}, "model must be one of"),
    ({"n_head": 0}, "n_head"),
    ({"seeds": []}, "seeds"),
    ({"seeds": [-1]}, "seed"),
])
def test_bad_arguments(kw, match):
    args = {"d": 2, "n_head": 1, "seeds": [0], **kw}
    with pytest.raises(ValueError, match=match):
        EnsembleAttention(**args)


def test_shape_errors_are_one_line():
    m = EnsembleAttention(d=2, n_head=1, seeds=[0])
    with pytest.raises(ValueError, match=r"Z must have shape \(1, B, L, 3\)") as exc:
        m(torch.zeros(2, 4, 5, 3), torch.zeros(2, 4, 2))
    assert "\n" not in str(exc.value)
