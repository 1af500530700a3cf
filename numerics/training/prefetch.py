"""Prompts drawn one step ahead in a background thread, and Adam's step without its Python overhead.

Both are exact: :class:`PrefetchStream` hands out the same batches in the same order as the stream it wraps
(the generators are used by one thread at a time), and its :meth:`~PrefetchStream.state` is the state before the
batch drawn ahead, so a checkpoint resumes bit-identically. :func:`fused_adam_step` calls the same fused kernel
as ``torch.optim.Adam(fused=True).step()`` with the same arguments, so the parameters are bit-identical too.

Why: on a CPU, drawing an ensemble's prompts is a large part of its step (the ``(d+1) x L x B`` normals per member,
about 0.1 ms at the paper's setting with :class:`numerics.rng.Philox`); with a second core free the draw overlaps the
step (the generator's C call and torch's ops release the GIL). The batch is built from the draws in the calling
thread. For small steps the hand-over costs more than it saves: the trainer only draws ahead from
:data:`numerics.training.loop.AHEAD_MIN_DRAWS` numbers per step.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
from typing import Sequence

import torch

from theory.validate import check_int


class PrefetchStream:
    """Wraps a :class:`numerics.data.PromptStream`: ``sample()`` returns the next batch, drawn ahead in a
    background thread that keeps ``depth`` draws queued (so it never sleeps between them).

    ``depth + 1`` buffers rotate, so a returned batch stays valid until the next ``sample()`` (the stream's
    contract). Each draw records the generators' states before it; :meth:`state` reports those of the oldest draw
    not yet handed out. Call :meth:`close` (or use it as a context manager) to stop the background thread; the
    wrapped stream is then left exactly where the handed-out batches leave it.
    """

    def __init__(self, stream, depth: int = 2):
        self.inner = stream
        self.generators = stream.generators
        self.depth = check_int("depth", depth, lo=1, hi=8)
        raw = stream.raw["ctx"]
        self._bufs = [stream.raw] + [stream.sampler.empty(tuple(raw.shape[:2]), dtype=raw.dtype, device=raw.device)
                                     for _ in range(self.depth)]
        self._next = 0                                   # the buffer the next draw fills
        self._pending: collections.deque[cf.Future] = collections.deque()
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="prompts")

    @property
    def problem(self):
        return self.inner.problem

    def _draw(self, raw):
        """The random draws only (each a C or torch call that frees the GIL); the batch is built by :meth:`sample`,
        in the calling thread, so the background thread needs the interpreter as little as possible."""
        before = [g.get_state() for g in self.generators]
        for e, g in enumerate(self.generators):
            self.inner.sampler._fill(raw, g, index=e)
        return raw, before

    def _top_up(self) -> None:
        while len(self._pending) < self.depth:
            raw = self._bufs[self._next]
            self._next = (self._next + 1) % len(self._bufs)
            self._pending.append(self._pool.submit(self._draw, raw))

    def sample(self):
        self._top_up()
        raw, _ = self._pending.popleft().result()
        self._top_up()               # never refills `raw`: the buffers rotate, and it is the last one to come round
        return self.inner.sampler.build(raw)

    def _settle(self) -> None:
        """Wait for the draws ahead and rewind the generators to before the oldest (none was handed out)."""
        if self._pending:
            first = self._pending[0].result()[1]
            for f in self._pending:
                f.result()
            for g, s in zip(self.generators, first):
                g.set_state(s)
            self._pending.clear()

    def state(self) -> list[torch.Tensor]:
        """The generators' states as if no batch had been drawn ahead (what the wrapped stream would report)."""
        if not self._pending:
            return self.inner.state()
        return [s.cpu() for s in self._pending[0].result()[1]]

    def set_state(self, states: Sequence[torch.Tensor]) -> None:
        self._settle()
        self.inner.set_state(states)

    def close(self) -> None:
        """Stop drawing ahead; the wrapped stream is left where the handed-out batches leave it."""
        self._settle()
        self._pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fused_adam_step(opt: torch.optim.Optimizer):
    """A function taking ``opt``'s step exactly as ``opt.step()`` would, without its Python bookkeeping, or ``None``.

    Only for ``torch.optim.Adam``/``AdamW`` with ``fused=True`` on the CPU, one parameter group, no AMSGrad,
    maximize, differentiable or capturable mode, a float learning rate, and state already created (call it after
    one ordinary ``opt.step()``). The kernel and its arguments are those of ``torch.optim.adam._fused_adam``.
    """
    if type(opt) not in (torch.optim.Adam, torch.optim.AdamW) or len(opt.param_groups) != 1:
        return None
    g = opt.param_groups[0]
    if (not g.get("fused") or g.get("amsgrad") or g.get("maximize") or g.get("differentiable")
            or g.get("capturable") or not isinstance(g["lr"], float)):
        return None
    params = list(g["params"])
    if any(p.device.type != "cpu" or p.grad is None or p not in opt.state for p in params):
        return None
    if len({(p.dtype, p.device) for p in params}) != 1:
        return None
    st = [opt.state[p] for p in params]
    avgs, sqs, steps = [s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st], [s["step"] for s in st]
    grads = [p.grad for p in params]
    decoupled = type(opt) is torch.optim.AdamW or bool(g.get("decoupled_weight_decay"))
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
    beta1, beta2 = (float(b) for b in g["betas"])
    kw = dict(amsgrad=False, lr=g["lr"], beta1=beta1, beta2=beta2, weight_decay=g["weight_decay"], eps=g["eps"],
              maximize=False, grad_scale=None, found_inf=None)

    def step():
        if g["lr"] != kw["lr"] or any(p.grad is not gr for p, gr in zip(params, grads)):
            opt.step()   # the learning rate changed or the gradients were replaced: the ordinary path
            return
        torch._foreach_add_(steps, 1)
        kernel(params, grads, avgs, sqs, [], steps, **kw)

    return step
