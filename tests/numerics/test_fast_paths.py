"""The trainer's fast paths are exact: the traced, chunked kernel, the fused Adam step and the prompts drawn ahead
in a background thread give bit-identical numbers to the plain code, including across a checkpoint and resume."""
import numpy as np
import pytest
import torch

from numerics.attention import EnsembleAttention, loss_and_grads
from numerics.data import stream_for
from numerics.training import TrainConfig, Trainer, train
from numerics.training.prefetch import PrefetchStream, fused_adam_step
from theory.problem import Problem

TINY = dict(d=3, L=10, sigma2=0.1, n_head=2, batch=64, steps=120, log_every=40, eval_prompts=512,
            checkpoint_every=40)


@pytest.mark.parametrize("E, chunks", [(1, 1), (5, 3)])
def test_traced_kernel_equals_the_eager_one_bit_for_bit(E, chunks, monkeypatch):
    import numerics.attention as att

    monkeypatch.setattr(att, "CHUNK_PROMPTS", 2 * 64)   # chunks of two members: 5 members run as 2 + 2 + 1
    model = EnsembleAttention(d=3, n_head=2, seeds=range(E))
    stream = stream_for(Problem(d=3, L=10, sigma2=0.1), batch=64, seeds=range(10, 10 + E))
    Z, xq, yq = stream.sample()[:3]
    params = tuple(getattr(model, n).detach() for n in ("q", "k", "v", "o"))
    grads = tuple(torch.full_like(p, 7.0) for p in params)     # stale values: every entry must be overwritten
    kernel = model._kernel(params + (Z, xq, yq) + grads)
    assert isinstance(kernel, torch.jit.ScriptFunction)
    loss = kernel(*params, Z, xq, yq, *grads)
    size = 2 if E > 2 else E
    assert len(range(0, E, size)) == chunks
    parts = [loss_and_grads(*(a[i:i + size] for a in params + (Z, xq, yq))) for i in range(0, E, size)]
    eager = tuple(torch.cat(p) for p in zip(*parts))
    assert torch.equal(loss, eager[0])
    assert torch.equal(grads[0][..., :3], eager[1]) and torch.equal(grads[0][..., 3:], torch.zeros_like(grads[0][..., 3:]))
    for got, ref in zip(grads[1:], eager[2:]):
        assert torch.equal(got, ref)
    whole = loss_and_grads(*params, Z, xq, yq)      # chunking only regroups independent members
    torch.testing.assert_close(loss, whole[0], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grads[1], whole[2], rtol=1e-5, atol=1e-7)


def test_fused_adam_step_is_adams_step():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3, 4)) for _ in range(2)]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    opts = [torch.optim.Adam(ps, lr=1e-2, fused=True) for ps in (params, twins)]
    fast = None
    for step in range(20):
        g = [torch.randn(3, 4) for _ in params]
        for ps in (params, twins):
            for p, gi in zip(ps, g):
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                p.grad.copy_(gi)
        opts[0].step()
        if fast is None:
            opts[1].step()
            fast = fused_adam_step(opts[1])
            assert fast is not None
        else:
            fast()
    for p, q in zip(params, twins):
        assert torch.equal(p, q)
    assert torch.equal(opts[0].state[params[0]]["step"], opts[1].state[twins[0]]["step"])
    assert fused_adam_step(torch.optim.SGD(params, lr=0.1)) is None
    assert fused_adam_step(torch.optim.Adam(params, lr=0.1, amsgrad=True, fused=True)) is None


def test_prefetched_stream_hands_out_the_same_batches_and_reports_the_state_before_the_draw_ahead():
    problem = Problem(d=3, L=10, sigma2=0.1)
    plain = stream_for(problem, batch=16, seeds=[3, 4])
    ahead = PrefetchStream(stream_for(problem, batch=16, seeds=[3, 4]))
    try:
        for _ in range(3):
            a, b = plain.sample(), ahead.sample()
            assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert all(torch.equal(s, t) for s, t in zip(plain.state(), ahead.state()))
        state = ahead.state()
        nxt = [t.clone() for t in ahead.sample()]
        ahead.set_state(state)
        assert all(torch.equal(x, y) for x, y in zip(nxt, ahead.sample()))
    finally:
        ahead.close()
    assert not all(torch.equal(s, t) for s, t in zip(plain.state(), ahead.inner.state()))  # one more handed out
    plain.sample()
    assert all(torch.equal(s, t) for s, t in zip(plain.state(), ahead.inner.state()))


def test_two_threads_train_bit_identically_to_one_and_resume_bit_identically(tmp_path):
    """threads=2 draws ahead in a background thread; the run, and a run stopped at a checkpoint and resumed, equal
    the single-threaded run bit for bit."""
    one = train(TrainConfig(**TINY, ensemble=3, threads=1))
    two = train(TrainConfig(**TINY, ensemble=3, threads=2))
    cfg = TrainConfig(**TINY, ensemble=3, threads=2)
    first = Trainer(cfg, run_dir=tmp_path)
    first.run_until(80)
    again = Trainer(cfg, run_dir=tmp_path)
    assert again.resume() and again.step == 80
    resumed = again.run()
    for res in (two, resumed):
        for n in ("q", "k", "v", "o"):
            assert torch.equal(getattr(res.model, n), getattr(one.model, n))
        np.testing.assert_array_equal(res.trajectory["loss"], one.trajectory["loss"])
        np.testing.assert_array_equal(res.final_loss, one.final_loss)


def test_fused_adam_step_follows_a_changed_learning_rate():
    torch.manual_seed(1)
    p, q = torch.nn.Parameter(torch.randn(4)), torch.nn.Parameter(torch.randn(4))
    with torch.no_grad():
        q.copy_(p)
    a, b = torch.optim.Adam([p], lr=0.1, fused=True), torch.optim.Adam([q], lr=0.1, fused=True)
    for x in (p, q):
        x.grad = torch.ones(4)
    a.step()
    b.step()
    fast = fused_adam_step(b)
    for opt in (a, b):
        opt.param_groups[0]["lr"] = 0.01
    a.step()
    fast()
    assert torch.equal(p, q)
