"""SPEC 7.2's constructions run through the transformer's forward pass and equal the algorithms to float64 precision."""
import pytest
import torch

from numerics.sparse.constructions import construction, equivalent_step, run_prompts
from numerics.sparse.estimators import gd, pto, stats
from numerics.transformer import EnsembleTransformer


def _prompts(M=9, n=7, d=5, seed=0, sparse=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(M, n, d, generator=g, dtype=torch.float64)
    beta = torch.randn(M, d, generator=g, dtype=torch.float64)
    if sparse:
        beta[:, 2:] = 0.0
    y = torch.einsum("mnd,md->mn", x, beta) + 0.3 * torch.randn(M, n, generator=g, dtype=torch.float64)
    return x, y, torch.randn(M, d, generator=g, dtype=torch.float64)


def _loop_gd(x, y, xq, steps, eta, D=None):
    """A plain per-prompt loop: GD from 0 on (1/2n)|y - X~ w|^2 with X~ = X D (D = I: plain GD)."""
    out = []
    for m in range(x.shape[0]):
        X = x[m] if D is None else x[m] @ D[m]
        q = xq[m] if D is None else D[m] @ xq[m]
        w = torch.zeros(X.shape[1], dtype=X.dtype)
        for _ in range(steps):
            w = w + eta * X.T @ (y[m] - X @ w) / X.shape[0]
        out.append(w @ q)
    return torch.stack(out)


@pytest.mark.parametrize("steps", [0, 1, 3, 6])
def test_gd_network_equals_gd(steps):
    x, y, xq = _prompts()
    net = construction(5, steps=steps, etas=[0.2, 0.45], preprocess=False)
    assert isinstance(net, EnsembleTransformer) and net.attention == "linear" and not net.norm
    out = run_prompts(net, x, y, xq)
    for e, eta in enumerate((0.2, 0.45)):
        torch.testing.assert_close(out[e], gd(x, y, xq, steps=steps, eta=eta), rtol=0, atol=1e-12)
        torch.testing.assert_close(out[e], _loop_gd(x, y, xq, steps, eta), rtol=0, atol=1e-12)


@pytest.mark.parametrize("steps, eta", [(1, 0.5), (3, 1.0), (5, 0.3)])
def test_pto_network_equals_pto_with_the_per_prompt_step(steps, eta):
    x, y, xq = _prompts(seed=steps)
    _, r_hat, _ = stats(x, y)
    net = construction(5, steps=steps, etas=equivalent_step(eta, r_hat).tolist())
    torch.testing.assert_close(run_prompts(net, x, y, xq, per_member=True), pto(x, y, xq, steps=steps, eta=eta),
                               rtol=0, atol=1e-12)


def test_first_layer_computes_the_unnormalised_reweighting_for_every_token():
    x, y, xq = _prompts(M=4)
    net = construction(5, steps=2, etas=[0.1])
    Z = torch.cat([x, y.unsqueeze(-1)], -1).unsqueeze(0)
    h = net.embed(Z, xq.unsqueeze(0))
    h = h + net.attend(h, 0, x.shape[1])
    _, r_hat, _ = stats(x, y)
    xs = torch.cat([x, xq.unsqueeze(1)], 1)  # every position: context then query
    torch.testing.assert_close(h[0, :, :, 6:11], xs * r_hat.unsqueeze(1), rtol=0, atol=1e-13)


def test_fixed_step_network_is_unnormalised_pto():
    x, y, xq = _prompts(M=6, seed=3)
    _, r_hat, _ = stats(x, y)
    net = construction(5, steps=4, etas=[0.05])
    torch.testing.assert_close(run_prompts(net, x, y, xq)[0], _loop_gd(x, y, xq, 4, 0.05, torch.diag_embed(r_hat)),
                               rtol=0, atol=1e-12)


def test_construction_validates():
    with pytest.raises(ValueError, match="etas must hold"):
        construction(3, steps=1, etas=[])
    with pytest.raises(ValueError, match="steps must be"):
        construction(3, steps=-1, etas=[0.1])
    with pytest.raises(ValueError, match="per_member needs"):
        x, y, xq = _prompts(M=3)
        run_prompts(construction(5, steps=1, etas=[0.1]), x, y, xq, per_member=True)
