"""The samplers of SPEC 1.1, 1.2, 1.3 and 7.1: moments (within Z standard errors, fixed seeds), the batch
function against the stream, and the stream's state round trip."""
import io

import pytest
import torch

from numerics.data import (AnisotropicSampler, IsotropicSampler, MultiTaskSampler, PromptStream, SparseSampler,
                           ar1_covariance, make_generator, sample_linear, sampler_for, stream_for,
                           torch_generator)
from numerics.rng import Philox
from tests.helpers import within_se
from theory.problem import Problem

N = 20_000
PROBLEMS = {
    "isotropic": Problem(d=4, L=6, sigma2=0.25),
    "anisotropic": Problem(d=3, L=5, sigma2=0.1, cov=((2.0, 0.6, 0.0), (0.6, 1.0, -0.3), (0.0, -0.3, 0.5))),
    "multitask": Problem(d=6, L=5, sigma2=0.1, supports=((0, 1, 2, 3), (2, 3, 4, 5), (5,))),
    "sparse": Problem(d=10, L=4, sigma2=0.5, s=3),
}


#: the two generators a batch function takes: torch's (Monte Carlo, GPU streams), Philox (CPU training streams)
GENERATORS = {"torch": torch_generator, "philox": make_generator}
each_generator = pytest.mark.parametrize("gen", sorted(GENERATORS))


def _draw(kind, gen, n=N, seed=0):
    s = sampler_for(PROBLEMS[kind])
    return s, s(n, generator=GENERATORS[gen](seed))


def _check(samples, expected):
    ok, msg = within_se(samples, expected)
    assert ok, msg


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_sampler_for_picks_the_data_model(kind):
    cls = {"isotropic": IsotropicSampler, "anisotropic": AnisotropicSampler, "multitask": MultiTaskSampler,
           "sparse": SparseSampler}[kind]
    assert type(sampler_for(PROBLEMS[kind])) is cls


@each_generator
def test_isotropic_moments(gen):
    s, p = _draw("isotropic", gen)
    d, sigma2 = 4, 0.25
    assert p.x.shape == (N, 6, d) and p.y.shape == (N, 6) and p.xq.shape == (N, d) and p.yq.shape == (N,)
    _check((p.beta**2).sum(-1), 1.0)  # E|beta|^2 = 1 (SPEC 1.1)
    _check(p.beta[:, 0] * p.beta[:, 1], 0.0)
    _check((p.y - torch.einsum("nld,nd->nl", p.x, p.beta)) ** 2, sigma2)  # label noise
    _check((p.yq - (p.xq * p.beta).sum(-1)) ** 2, sigma2)  # the query label is noisy too
    _check(p.x[..., 0] ** 2, 1.0)
    _check(p.x[..., 0] * p.x[..., 1], 0.0)


@each_generator
def test_anisotropic_covariance_is_sigma(gen):
    s, p = _draw("anisotropic", gen)
    cov = PROBLEMS["anisotropic"].cov_matrix
    x = torch.cat([p.x.reshape(-1, 3), p.xq]).numpy()  # context rows of a prompt are independent
    for i in range(3):
        for j in range(i, 3):
            _check(x[:, i] * x[:, j], cov[i, j])
    _check((p.beta**2).sum(-1), 1.0)
    _check((p.yq - (p.xq * p.beta).sum(-1)) ** 2, 0.1)


@each_generator
def test_multitask_supports_noise_and_noiseless_query(gen):
    s, p = _draw("multitask", gen)
    supports, sigma2 = PROBLEMS["multitask"].supports, 0.1
    assert p.y.shape == (N, 5, 3) and p.yq.shape == (N, 3) and p.beta.shape == (N, 6, 3)
    for k, S in enumerate(supports):
        off = [j for j in range(6) if j not in S]
        assert torch.all(p.beta[:, off, k] == 0)
        _check((p.beta[:, :, k] ** 2).sum(-1), len(S))  # beta_k ~ N(0, I_|S_k|)
        resid = p.y[..., k] - torch.einsum("nld,nd->nl", p.x, p.beta[:, :, k])
        _check(resid**2, len(S) * sigma2)  # noise variance |S_k| sigma^2 (SPEC 1.3)
        torch.testing.assert_close(p.yq[:, k], (p.xq * p.beta[:, :, k]).sum(-1), rtol=0, atol=1e-12)


@each_generator
def test_sparse_support_size_is_exact_and_uniform(gen):
    s, p = _draw("sparse", gen)
    d, k, sigma2 = 10, 3, 0.5
    nz = p.beta != 0
    assert torch.all(nz.sum(-1) == k)  # exactly s coordinates (N(0, 1/s) is never exactly 0)
    for j in range(d):
        _check(nz[:, j].double(), k / d)  # every coordinate equally likely
    _check((p.beta**2).sum(-1), 1.0)  # E|beta|^2 = 1 (SPEC 7.1)
    _check((p.yq - (p.xq * p.beta).sum(-1)) ** 2, sigma2)  # excess-risk target beta^T x_q is recoverable


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stream_draws_are_the_batch_function(kind, dtype):
    """Member e's t-th batch is the t-th call of the batch function on a generator seeded like member e (a Philox
    stream on the CPU)."""
    seeds, B = [3, 7], 4
    st = stream_for(PROBLEMS[kind], batch=B, seeds=seeds, dtype=dtype)
    got = [tuple(t.clone() for t in st.sample()[:3]) for _ in range(3)]
    for e, seed in enumerate(seeds):
        g = make_generator(seed)
        assert isinstance(g, Philox)
        for t in range(3):
            p = st.sampler(B, generator=g, dtype=dtype)
            multi = p.y.dim() == 3
            y, yq = (p.y, p.yq) if multi else (p.y.unsqueeze(-1), p.yq.unsqueeze(-1))
            Zb, xq, yqb = got[t]
            assert torch.equal(Zb[e], torch.cat([p.x, y], -1)), (e, t)
            assert torch.equal(xq[e], p.xq) and torch.equal(yqb[e], yq), (e, t)


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_stream_state_round_trips_bit_identically(kind):
    st = stream_for(PROBLEMS[kind], batch=5, seeds=[1, 2, 3])
    st.sample()
    buf = io.BytesIO()
    torch.save(st.state(), buf)  # the state survives a weights-only save/load
    after = [t.clone() for t in st.sample()]
    buf.seek(0)
    fresh = stream_for(PROBLEMS[kind], batch=5, seeds=[9, 9, 9])
    fresh.set_state(torch.load(buf, weights_only=True))
    for a, b in zip(after, fresh.sample()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="3 generators"):
        stream_for(PROBLEMS[kind], batch=5, seeds=[1]).set_state(st.state())


def test_members_draw_different_prompts():
    b = stream_for(PROBLEMS["isotropic"], batch=3, seeds=[0, 1]).sample()
    assert not torch.equal(b.Z[0], b.Z[1])


def test_sample_linear_is_the_isotropic_and_anisotropic_batch_function():
    a = sample_linear(7, d=3, L=4, sigma2=0.2, generator=make_generator(4))
    b = sampler_for(Problem(d=3, L=4, sigma2=0.2))(7, generator=make_generator(4))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    cov = ar1_covariance(3, 0.5)
    root = torch.linalg.cholesky(cov)
    c = sample_linear(7, d=3, L=4, sigma2=0.2, generator=make_generator(4), cov_sqrt=root)
    e = sampler_for(Problem(d=3, L=4, sigma2=0.2, cov=cov.numpy()))(7, generator=make_generator(4))
    for u, v in zip(c, e):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)
    quiet = sample_linear(7, d=3, L=4, sigma2=0.2, generator=make_generator(4), query_noise=False)
    torch.testing.assert_close(quiet.yq, (quiet.xq * quiet.beta).sum(-1), rtol=0, atol=1e-12)
    assert torch.equal(quiet.x, a.x)  # switching the query noise off changes nothing else


def test_bad_arguments_are_one_line():
    with pytest.raises(ValueError, match="needs a Problem with supports"):
        MultiTaskSampler(Problem(d=3, L=4, sigma2=0.1))
    with pytest.raises(ValueError, match="needs a Problem with s"):
        SparseSampler(Problem(d=3, L=4, sigma2=0.1))
    with pytest.raises(ValueError, match="cov_sqrt must have shape"):
        sample_linear(3, d=3, L=4, sigma2=0.1, generator=make_generator(0), cov_sqrt=torch.eye(2))
    with pytest.raises(ValueError, match="seeds must name"):
        PromptStream(sampler_for(PROBLEMS["isotropic"]), batch=2, seeds=[])
    with pytest.raises(ValueError, match="query_noise=False"):
        sampler_for(PROBLEMS["sparse"], query_noise=False)
