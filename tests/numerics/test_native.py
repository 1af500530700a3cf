"""The C attention step (numerics.native) against the float64 reference, and its fallbacks.

Tolerance: the C function and the torch kernel both compute in float32, in different orders; each lands within a
few float32 roundings of the float64 result. The check is that the C function is as accurate as the torch float32
kernel on the same inputs (at most 4x its error, floor 2e-6 relative to the largest entry: a few hundred units of
float32 roundoff 6e-8, the size of sums over a batch of 300 prompts)."""
import warnings

import pytest
import torch

import numerics.native as native
from numerics.attention import EnsembleAttention, loss_and_grads
from numerics.data import stream_for
from theory.problem import Problem

KINDS = ("softmax", "linear", "linear-normalised")
FLOOR = 2e-6   # relative to the largest entry: a few hundred float32 roundings (6e-8), see the module docstring
NEEDS_C = pytest.mark.skipif(native.attention_function() is None, reason="no C compiler: the torch kernel runs")


def _inputs(E, B, L, d, N, seed, dtype=torch.float32):
    """Tokens as a transposed view of a draw buffer and ``xq`` a slice of a wider one, as the samplers hand them out."""
    g = torch.Generator().manual_seed(seed)
    ctx = torch.randn(E, B, d + N, L, generator=g, dtype=torch.float64).to(dtype)
    qry = torch.randn(E, B, d + 3, generator=g, dtype=torch.float64).to(dtype)
    yq = torch.randn(E, B, N, generator=g, dtype=torch.float64).to(dtype)
    return ctx.transpose(-1, -2), qry[..., :d], yq


def _rel_err(got, ref):
    return max(float((a.double() - b).abs().max() / b.abs().max().clamp_min(1e-30)) for a, b in zip(got, ref))


@NEEDS_C
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("E, B, L, d, H, N", [(1, 256, 40, 5, 4, 1), (3, 7, 9, 3, 2, 3), (2, 33, 17, 4, 1, 2)])
def test_native_step_is_as_accurate_as_the_torch_float32_kernel(kind, E, B, L, d, H, N):
    model = EnsembleAttention(d=d, n_head=H, seeds=range(E), n_out=N, kind=kind)
    Z64, xq64, yq64 = _inputs(E, B, L, d, N, seed=B + L, dtype=torch.float64)
    Z, xq, yq = _inputs(E, B, L, d, N, seed=B + L)
    assert Z.transpose(-1, -2).is_contiguous() and not xq.is_contiguous()
    loss = model.loss_and_grad(Z, xq, yq)
    assert model.kernel == "native"
    got = (loss, model.q.grad[..., :d], model.k.grad, model.v.grad, model.o.grad)
    assert torch.equal(model.q.grad[..., d:], torch.zeros_like(model.q.grad[..., d:]))
    params64 = [p.detach().double() for p in (model.q, model.k, model.v, model.o)]
    ref = loss_and_grads(*params64, Z64, xq64, yq64, kind)
    torch32 = loss_and_grads(*(p.detach() for p in (model.q, model.k, model.v, model.o)), Z, xq, yq, kind)
    err, err_torch = _rel_err(got, ref), _rel_err(torch32, ref)
    assert err <= max(4 * err_torch, FLOOR), (err, err_torch)


@NEEDS_C
def test_native_step_is_deterministic_and_members_are_independent():
    """Same inputs, same bits; member e of an ensemble gets exactly what a one-member model with its seed gets."""
    Z, xq, yq = _inputs(3, 50, 12, 4, 1, seed=0)
    ens = EnsembleAttention(d=4, n_head=3, seeds=[5, 6, 7])
    first = ens.loss_and_grad(Z, xq, yq).clone(), ens.k.grad.clone()
    again = ens.loss_and_grad(Z, xq, yq), ens.k.grad
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    alone = EnsembleAttention(d=4, n_head=3, seeds=[6])
    loss = alone.loss_and_grad(Z[1:2].transpose(-1, -2).contiguous().transpose(-1, -2), xq[1:2].contiguous(), yq[1:2])
    assert torch.equal(loss, first[0][1:2]) and torch.equal(alone.k.grad[0], first[1][1])


@NEEDS_C
def test_training_stream_takes_the_native_step_and_other_layouts_the_torch_kernel():
    stream = stream_for(Problem(d=3, L=10, sigma2=0.1), batch=20, seeds=[1, 2])
    Z, xq, yq = stream.sample()[:3]
    model = EnsembleAttention(d=3, n_head=2, seeds=[0, 1])
    native_loss = model.loss_and_grad(Z, xq, yq)
    assert model.kernel == "native"
    other = EnsembleAttention(d=3, n_head=2, seeds=[0, 1])
    torch_loss = other.loss_and_grad(Z.contiguous(), xq, yq)          # tokens not in the draw layout
    assert other.kernel == "traced"
    torch.testing.assert_close(native_loss, torch_loss, rtol=FLOOR, atol=0)
    f64 = EnsembleAttention(d=3, n_head=2, seeds=[0, 1], dtype=torch.float64)
    f64.loss_and_grad(Z.double(), xq.double(), yq.double())
    assert f64.kernel == "eager"


def test_disabled_or_unbuildable_native_kernel_falls_back_to_torch(monkeypatch, tmp_path):
    stream = stream_for(Problem(d=3, L=10, sigma2=0.1), batch=20, seeds=[1])
    Z, xq, yq = stream.sample()[:3]
    monkeypatch.setenv("ICL_VERIFY_NATIVE", "0")
    model = EnsembleAttention(d=3, n_head=2, seeds=[0])
    model.loss_and_grad(Z, xq, yq)
    assert model.kernel == "traced" and native.status()["available"] is False
    monkeypatch.setenv("ICL_VERIFY_NATIVE", "1")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("ICL_VERIFY_CACHE", str(tmp_path))
    monkeypatch.setattr(native, "_state", {})
    with pytest.warns(RuntimeWarning, match="native kernels unavailable"):
        assert native.attention_function() is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = EnsembleAttention(d=3, n_head=2, seeds=[0])
        model.loss_and_grad(Z, xq, yq)
    assert not [w for w in caught if "native" in str(w.message)]       # warned once, not per model
    assert model.kernel == "traced"


@NEEDS_C
def test_a_fresh_cache_builds_once_and_loads(monkeypatch, tmp_path):
    monkeypatch.setenv("ICL_VERIFY_CACHE", str(tmp_path))
    monkeypatch.setattr(native, "_state", {})
    assert native.attention_function() is not None
    built = list((tmp_path / "native").glob("attention-*.so"))
    assert len(built) == 1 and list((tmp_path / "native").iterdir()) == built   # no temporary file left behind
    monkeypatch.setattr(native, "_state", {})
    assert native.attention_function() is not None                     # from the cache: no second file
    assert list((tmp_path / "native").glob("*.so")) == built


@NEEDS_C
def test_the_numbers_do_not_depend_on_the_vector_width(tmp_path):
    """Built for baseline x86-64 (SSE2) and for this CPU (-march=native), the C step gives the same bits: no
    fast-math, no contraction into FMA, lane-wise arithmetic in a fixed order (the source's header)."""
    outs = []
    for extra in ((), ("-march=native",)):
        lib = tmp_path / f"attention{len(extra)}.so"
        assert native.compile_library(lib, native.FLAGS + extra).returncode == 0
        fn = native.load(lib)
        model = EnsembleAttention(d=5, n_head=3, seeds=[1, 2])
        Z, xq, yq = _inputs(2, 37, 23, 5, 1, seed=3)
        loss = torch.empty(2)
        grads = [torch.empty_like(p) for p in (model.q, model.k, model.v, model.o)]
        params = [p.detach() for p in (model.q, model.k, model.v, model.o)]
        assert fn(0, 2, 37, 23, 6, 5, 3, 1, xq.stride(1), *(t.data_ptr() for t in (*params, Z, xq, yq, loss, *grads))) == 0
        outs.append([loss, *grads])
    assert all(torch.equal(a, b) for a, b in zip(*outs))
