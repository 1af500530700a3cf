r"""The paper's one-layer multi-head attention (SPEC 2.1) and linear attention (SPEC 2.3), as ensembles.

An :class:`EnsembleAttention` holds ``E`` independent models of the same shape in stacked tensors, so
that ``E`` seeds train in one batched forward/backward. The parameters are the paper's, per head
:math:`Q^{(h)},K^{(h)},V^{(h)}\in\mathbb R^{D\times D}`, :math:`O^{(h)}\in\mathbb R^{N\times D}` with
:math:`D = d+N` token entries and :math:`N` outputs (``N = 1`` is the single-task model)::

    q, k, v  (E, H, D, D)      o  (E, H, N, D)

Forward (SPEC 2.1), for one member and one prompt with tokens ``Z (L, D)`` and query ``z_q = (x_q; 0)``:

.. math::
    \mathrm{KQ}^{(h)} = K^{(h)\top}Q^{(h)}/\sqrt D,\qquad s^{(h)}_\ell = z_\ell^\top \mathrm{KQ}^{(h)} z_q,\qquad
    \hat y = \sum_h O^{(h)}V^{(h)} \sum_\ell z_\ell\, \operatorname{softmax}_\ell(s^{(h)}).

The query attends to the ``L`` context tokens only. Linear attention replaces the softmax by the identity
(``"linear"``, training length baked into the weights) or by :math:`s/L` (``"linear-normalised"``); the
:math:`1/\sqrt D` is kept there too so that ``KQ`` means the same thing for every kind (a constant
reparameterisation of SPEC 2.3's formula).

Initialisation (SPEC 2.1): every entry uniform on :math:`\pm 1/\sqrt{D}` (torch's default ``nn.Linear``
init, fan-in ``D`` per head), drawn from a CPU ``torch.Generator`` seeded with the member's seed in the
order Q, K, V, O. **Convention:** member ``e`` of an ensemble built with ``seeds`` is initialised exactly
as a one-member ensemble built with ``seeds=[seeds[e]]`` — a standalone run with that seed — on any device.

Training uses :meth:`EnsembleAttention.loss_and_grad`, a hand-written backward pass (the same gradient as
autograd, checked against it in float64 in ``tests/test_attention.py``) that avoids autograd's per-op
overhead; the parameters and the optimiser still see exactly the paper's Q, K, V, O.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import torch
from torch import nn

from theory.validate import check_int, check_tensor

MODEL_KINDS = ("softmax", "linear", "linear-normalised")
#: Tracing the kernel reads shapes as constants (right: a trace is kept per input shape). The filter is installed
#: once, for this module's code, because ``warnings.catch_warnings`` is not thread-safe (runs trace side by side).
#: ``torch.jit.trace`` is deprecated (torch 2.13) but kept: ``torch.compile`` was measured 20% faster per step after a 28 s
#: compilation, which the quick suite's many short runs cannot repay; if trace goes, the eager kernel runs (same numbers).
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=__name__)
warnings.filterwarnings("ignore", message=r"`torch.jit.trace` is deprecated", category=DeprecationWarning)


def check_kind(kind) -> str:
    if kind not in MODEL_KINDS:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    return kind


def init_member(seed: int, *, d: int, n_head: int, n_out: int = 1,
                dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The initial ``q, k, v (H, D, D)`` and ``o (H, N, D)`` of one model with ``seed`` (CPU, ``dtype``).

    Uniform on :math:`\\pm 1/\\sqrt{D}`, drawn in float64 from ``torch.Generator().manual_seed(seed)``
    in the order Q, K, V, O, then cast, so the draw does not depend on ``dtype`` beyond rounding.
    """
    seed = check_int("seed", seed, lo=0)
    D = d + n_out
    gen = torch.Generator().manual_seed(seed)
    bound = 1.0 / math.sqrt(D)
    out = {}
    for name, shape in (("q", (n_head, D, D)), ("k", (n_head, D, D)), ("v", (n_head, D, D)),
                        ("o", (n_head, n_out, D))):
        u = torch.rand(shape, generator=gen, dtype=torch.float64)
        out[name] = ((2 * u - 1) * bound).to(dtype)
    return out


class EnsembleAttention(nn.Module):
    """``E`` one-layer multi-head attention models (SPEC 2.1 / 2.3) with stacked parameters.

    ``seeds`` gives one initialisation seed per member (see the module docstring for the convention).
    Inputs are batched per member: tokens ``Z (E, B, L, D)`` with ``z_l = (x_l, y_l)`` and the query
    covariate ``xq (E, B, d)`` (the query token is ``(xq, 0)``; its zero slots never matter).
    """

    def __init__(self, *, d: int, n_head: int, seeds: Sequence[int], n_out: int = 1, kind: str = "softmax",
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
        super().__init__()
        self.d = check_int("d", d, lo=1)
        self.n_head = check_int("n_head", n_head, lo=1)
        self.n_out = check_int("n_out", n_out, lo=1)
        self.kind = check_kind(kind)
        seeds = [check_int("seed", s, lo=0) for s in seeds]
        if not seeds:
            raise ValueError("seeds must name at least one member")
        self.seeds = tuple(seeds)
        members = [init_member(s, d=d, n_head=n_head, n_out=n_out, dtype=dtype) for s in seeds]
        for name in ("q", "k", "v", "o"):
            stacked = torch.stack([m[name] for m in members]).to(device)  # (E, H, ., D)
            self.register_parameter(name, nn.Parameter(stacked))

    # ----------------------------------------------------------------------------------------- shapes
    @property
    def n_member(self) -> int:
        return self.q.shape[0]

    @property
    def width(self) -> int:
        """Token width ``D = d + N``."""
        return self.d + self.n_out

    def extra_repr(self) -> str:
        return (f"kind={self.kind}, E={self.n_member}, H={self.n_head}, d={self.d}, N={self.n_out}, "
                f"dtype={self.q.dtype}")

    # --------------------------------------------------------------------------------------- circuits
    def kq(self) -> torch.Tensor:
        r""":math:`\mathrm{KQ}^{(h)} = K^{(h)\top}Q^{(h)}/\sqrt D`, shape ``(E, H, D, D)``."""
        return self.k.transpose(-1, -2) @ self.q / math.sqrt(self.width)

    def ov(self) -> torch.Tensor:
        r""":math:`\mathrm{OV}^{(h)} = (O^{(h)}V^{(h)})^\top`, shape ``(E, H, D, N)``."""
        return (self.o @ self.v).transpose(-1, -2)

    # ---------------------------------------------------------------------------------------- forward
    def _check_inputs(self, Z: torch.Tensor, xq: torch.Tensor) -> tuple[int, int, int]:
        E, D, d = self.n_member, self.width, self.d
        if Z.dim() != 4 or Z.shape[0] != E or Z.shape[3] != D:
            raise ValueError(f"Z must have shape ({E}, B, L, {D}), got {tuple(Z.shape)}")
        B, L = Z.shape[1], Z.shape[2]
        if xq.shape != (E, B, d):
            raise ValueError(f"xq must have shape ({E}, {B}, {d}), got {tuple(xq.shape)}")
        return E, B, L

    def _weights(self, s: torch.Tensor, L: int) -> torch.Tensor:
        """Attention weights from scores ``s (E*B, H, L)``."""
        if self.kind == "softmax":
            return torch.softmax(s, dim=-1)
        return s / L if self.kind == "linear-normalised" else s

    def forward(self, Z: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
        """Predictions ``(E, B, N)``; differentiable (autograd) and valid for any context length ``L``."""
        E, B, L = self._check_inputs(Z, xq)
        H, D, d, N = self.n_head, self.width, self.d, self.n_out
        a = self.k.transpose(-1, -2) @ self.q[..., :d] / math.sqrt(D)  # (E, H, D, d): KQ acting on x_q
        u = torch.bmm(xq, a.reshape(E, H * D, d).transpose(1, 2))  # (E, B, H*D): KQ z_q per head
        Zf = Z.reshape(E * B, L, D)
        s = torch.bmm(u.reshape(E * B, H, D), Zf.transpose(1, 2))  # (E*B, H, L) scores
        p = self._weights(s, L)  # (E*B, H, L)
        c = torch.bmm(p, Zf)  # (E*B, H, D) attended token per head
        wt = (self.o @ self.v).permute(0, 2, 1, 3).reshape(E, N, H * D)  # (E, N, H*D): O V, heads stacked
        return torch.bmm(c.reshape(E, B, H * D), wt.transpose(1, 2))  # (E, B, N)

    @torch.no_grad()
    def loss_and_grad(self, Z: torch.Tensor, xq: torch.Tensor, yq: torch.Tensor) -> torch.Tensor:
        r"""Per-member MSE ``(E,)`` of the batch, with its gradient written into ``.grad`` (hand-written backward).

        The loss of member ``e`` is :math:`\frac1{BN}\sum_{b,n}(\hat y_{ebn}-y_{ebn})^2`; the gradients are
        those of ``loss.sum()``, i.e. every member gets the gradient of its own loss (members are independent).
        On the CPU in float32 the step runs as one C function (:mod:`numerics.native`; same mathematics, float32
        rounding of its own) when it can be built, else as a ``torch.jit.trace`` of :func:`loss_and_grads`, traced
        once per input shape: the same ops in the same order as the eager function (bit-identical), run without
        the Python interpreter. Both leave the GIL free for the thread that draws the next batch
        (:class:`numerics.training.prefetch.PrefetchStream`). The choice is made once per input layout; ``kernel``
        names the one chosen for the latest layout (``"native"``, ``"traced"`` or ``"eager"``).
        """
        for par in (self.q, self.k, self.v, self.o):  # gradients are written in place: their storage is stable
            if par.grad is None:
                par.grad = torch.zeros_like(par)
        key = (Z.shape, Z.stride(), Z.dtype, Z.device, xq.shape, xq.stride(), xq.dtype, yq.shape, yq.stride(),
               yq.dtype, self.q.dtype, self.q.device)
        step = self.__dict__.setdefault("_steps", {}).get(key)
        if step is None:
            step = self._steps[key] = self._bind(Z, xq, yq)
        return step(Z, xq, yq)

    def _bind(self, Z, xq, yq):
        """Validate one input layout and choose the kernel for it: a function ``(Z, xq, yq) -> loss``."""
        E, B, L = self._check_inputs(Z, xq)
        N, d = self.n_out, self.d
        if yq.shape != (E, B, N):
            raise ValueError(f"yq must have shape ({E}, {B}, {N}), got {tuple(yq.shape)}")
        native = self._native_step(Z, xq, yq)
        if native is not None:
            self.kernel = "native"
            return native
        chosen = []   # the torch kernel for this layout, found (traced) on the first call

        def torch_step(Z, xq, yq):
            q, k, v, o = self.q, self.k, self.v, self.o
            args = (q.detach(), k.detach(), v.detach(), o.detach(), Z, xq, yq, q.grad, k.grad, v.grad, o.grad)
            if not chosen:
                chosen.append(self._kernel(args))
                self.kernel = "traced" if isinstance(chosen[0], torch.jit.ScriptFunction) else "eager"
            return chosen[0](*args)
        return torch_step

    def _native_step(self, Z, xq, yq):
        """The C kernel for this layout, or ``None`` (not CPU float32, an unusable layout, or not built)."""
        params = (self.q, self.k, self.v, self.o)
        if self.q.device.type != "cpu" or any(t.dtype != torch.float32 for t in (*params, Z, xq, yq)):
            return None
        if not all(t.is_contiguous() and t.grad.is_contiguous() and t.grad.dtype == t.dtype for t in params):
            return None   # the C function reads parameters and writes gradients as dense arrays
        if not (Z.transpose(-1, -2).is_contiguous() and yq.is_contiguous() and xq.stride(-1) == 1
                and xq.stride(0) == xq.shape[1] * xq.stride(1)):
            return None   # the sampler's layout is all the C function reads; anything else takes the torch kernel
        from . import native

        fn = native.attention_function()
        if fn is None:
            return None
        E, B, L, D = Z.shape
        sizes = (native.KIND_CODE[self.kind], E, B, L, D, self.d, self.n_head, self.n_out, xq.stride(1))

        def native_step(Z, xq, yq):
            q, k, v, o = self.q, self.k, self.v, self.o
            loss = torch.empty(E, dtype=torch.float32)
            rc = fn(*sizes, q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), Z.data_ptr(), xq.data_ptr(),
                    yq.data_ptr(), loss.data_ptr(), q.grad.data_ptr(), k.grad.data_ptr(), v.grad.data_ptr(),
                    o.grad.data_ptr())
            if rc:
                raise MemoryError("native attention kernel: scratch memory could not be allocated")
            return loss
        return native_step

    def _kernel(self, args):
        """:func:`loss_and_grads` writing the gradients into the last four arguments, for this kind; on the CPU in
        float32 its trace for these input shapes (eager if tracing fails)."""
        fn = _KERNELS[self.kind]
        if args[0].device.type != "cpu" or args[0].dtype != torch.float32 or torch.jit.is_tracing():
            return _into_grads(fn, self.d)  # a trace records Python scalars as float32 constants: float64 stays eager
        E, B = args[4].shape[:2]
        size = max(1, CHUNK_PROMPTS // B)
        if E > size:
            fn = _chunked(fn, E, size)
        fn = _into_grads(fn, self.d)
        key = tuple((tuple(a.shape), tuple(a.stride())) for a in args[4:7])  # the parameters' shapes are fixed
        traced = self.__dict__.setdefault("_traced", {})
        if key not in traced:
            try:
                traced[key] = torch.jit.trace(fn, args, check_trace=False)
            except Exception:  # tracing is an optimisation only
                traced[key] = fn
        return traced[key]

    # ------------------------------------------------------------------------------------ persistence
    def __getstate__(self):
        """Pickling / deep copies leave out the kernels bound to input layouts (rebuilt on the next step)."""
        state = self.__dict__.copy()
        state.pop("_steps", None)
        state.pop("_traced", None)
        return state

    def member_state(self, e: int) -> dict[str, torch.Tensor]:
        """Parameters of member ``e`` as ``{q, k, v, o}`` tensors without the ensemble axis (detached copies)."""
        e = check_int("e", e, lo=0, hi=self.n_member - 1)
        return {n: getattr(self, n)[e].detach().clone() for n in ("q", "k", "v", "o")}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], *, d: int, kind: str = "softmax",
                   seeds: Sequence[int] | None = None) -> "EnsembleAttention":
        """Rebuild a model from stacked ``q, k, v (E, H, D, D)``, ``o (E, H, N, D)`` tensors."""
        for name in ("q", "k", "v", "o"):
            if name not in state:
                raise ValueError(f"state must hold q, k, v, o; missing {name!r}")
        q = state["q"]
        check_tensor("q", q, (None, None, None, None))
        E, H, D, _ = q.shape
        n_out = D - d
        if n_out < 1:
            raise ValueError(f"state has token width {D}, too small for d = {d}")
        seeds = list(range(E)) if seeds is None else list(seeds)
        model = cls(d=d, n_head=H, seeds=seeds, n_out=n_out, kind=kind, dtype=q.dtype, device=q.device)
        with torch.no_grad():
            for name in ("q", "k", "v", "o"):
                check_tensor(name, state[name], tuple(getattr(model, name).shape))
                getattr(model, name).copy_(state[name])
        return model


def tokens(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Tokens ``z_l = (x_l, y_l)``: ``x (..., L, d)`` and ``y (..., L)`` or ``(..., L, N)`` -> ``(..., L, d+N)``."""
    if y.dim() == x.dim() - 1:
        y = y.unsqueeze(-1)
    return torch.cat([x, y.to(x.dtype)], dim=-1)


def loss_and_grads(q, k, v, o, Z, xq, yq, kind: str = "softmax"):
    r"""The loss ``(E,)`` of :meth:`EnsembleAttention.loss_and_grad` and its gradients with respect to ``Q[..., :d]``,
    ``K``, ``V``, ``O`` (a pure function of detached tensors: traceable). Shapes as in the model; the backward
    pass runs the forward in reverse (:math:`\mathrm{KQ}=K^\top Q/\sqrt D`, :math:`\hat y = OV\,c`)."""
    E, B, L, D = Z.shape
    H, d, N = q.shape[1], xq.shape[-1], o.shape[2]
    sc = 1.0 / math.sqrt(D)
    qd = q[..., :d]  # (E, H, D, d) the query's zero slots never matter
    a = (k.transpose(-1, -2) @ qd).mul_(sc)  # (E, H, D, d)
    u = torch.bmm(xq, a.reshape(E, H * D, d).transpose(1, 2))  # (E, B, H*D)
    Zf = Z.reshape(E * B, L, D)
    s = torch.bmm(u.reshape(E * B, H, D), Zf.transpose(1, 2))  # (E*B, H, L)
    if kind == "softmax":
        p = torch.softmax(s, dim=-1)  # (E*B, H, L)
    else:
        p = s / L if kind == "linear-normalised" else s
    c = torch.bmm(p, Zf)  # (E*B, H, D)
    ow = o @ v  # (E, H, N, D)
    wt = ow.permute(0, 2, 1, 3).reshape(E, N, H * D)  # (E, N, H*D)
    c2 = c.reshape(E, B, H * D)
    r = torch.bmm(c2, wt.transpose(1, 2)) - yq  # (E, B, N) residual
    loss = (r * r).mean(dim=(1, 2))  # (E,)
    # backward, in reverse order of the forward
    gy = r * (2.0 / (B * N))  # (E, B, N)
    dw = torch.bmm(gy.transpose(1, 2), c2).reshape(E, N, H, D).transpose(1, 2)  # (E, H, N, D) d/d(OV)
    gc = torch.bmm(gy, wt).reshape(E * B, H, D)  # (E*B, H, D)
    gp = torch.bmm(gc, Zf.transpose(1, 2))  # (E*B, H, L)
    if kind == "softmax":
        gs = p * (gp - (gc * c).sum(dim=-1, keepdim=True))  # softmax Jacobian: sum_l p_l gp_l = gc . c
    else:
        gs = gp / L if kind == "linear-normalised" else gp
    gu = torch.bmm(gs, Zf).reshape(E, B, H * D)  # (E, B, H*D)
    da = torch.bmm(gu.transpose(1, 2), xq).reshape(E, H, D, d).mul_(sc)  # (E, H, D, d) d/da, times 1/sqrt(D)
    dq = k @ da  # KQ = K^T Q / sqrt(D): dQ = K dKQ / sqrt(D) on the first d columns
    dk = qd @ da.transpose(-1, -2)  # dK = Q dKQ^T / sqrt(D)
    dv = o.transpose(-1, -2) @ dw  # OV^T = O V: dV = O^T dW, dO = dW V^T
    do = dw @ v.transpose(-1, -2)
    return loss, dq, dk, dv, do


#: On the CPU, an ensemble's step runs in chunks of members holding about this many prompts (at least one
#: member): the activations of a chunk stay in the core's cache (measured on a 2-core EPYC, E=16 x B=256 members
#: run 10-25% faster in chunks of 4 than at once). The chunk size depends on the batch size only, so a run's
#: numbers do not depend on the machine (the paper's setting came out bit-identical in chunks of 2 to 16 members).
CHUNK_PROMPTS = 1024


def _into_grads(fn, d: int):
    """``fn``'s loss, with its gradients copied into ``gq[..., :d], gk, gv, go`` (``gq[..., d:]``, the query's zero
    slots, zeroed): in a trace, the whole step's arithmetic is one call."""
    def run(q, k, v, o, Z, xq, yq, gq, gk, gv, go):
        loss, dq, dk, dv, do = fn(q, k, v, o, Z, xq, yq)
        gq[..., :d].copy_(dq)
        gq[..., d:].zero_()
        gk.copy_(dk)
        gv.copy_(dv)
        go.copy_(do)
        return loss
    return run


def _chunked(fn, E: int, size: int):
    def run(*args):
        outs = [fn(*(a[i:i + size] for a in args)) for i in range(0, E, size)]
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return run


_KERNELS = {kind: (lambda kind: lambda q, k, v, o, Z, xq, yq: loss_and_grads(q, k, v, o, Z, xq, yq, kind))(kind)
            for kind in MODEL_KINDS}
