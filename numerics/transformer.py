r"""A small multi-layer multi-head transformer for in-context regression (SPEC 7.3), as an ensemble.

An :class:`EnsembleTransformer` holds ``E`` independently initialised models of one shape in stacked tensors
(the ensemble axis comes first everywhere), so ``E`` seeds train in one batched forward/backward through the
platform's training engine (:mod:`numerics.training`), like :class:`numerics.attention.EnsembleAttention`.

**Prompt format** (SPEC 7.1 / 2.1). Context tokens :math:`z_i = (x_i, y_i)\in\mathbb R^{d+N}`, the query token
:math:`z_q = (x_q, 0)`; positions ``0..n-1`` are the context, position ``n`` the query. No positional encoding
(the task is permutation invariant). Every position attends to the ``n`` **context** positions only (keys and
values come from the context; the query is never a key, as in SPEC 2.1), with no causal mask: this is what
lets one linear-attention layer perform one GD step on every token at once (:mod:`numerics.sparse.constructions`).

**Block** (pre-norm, GPT-2 style, width ``W``, ``H`` heads of size ``k``): with :math:`h^{(0)} = W_{\rm in} z`,

.. math::
    h \leftarrow h + \sum_h m_{lh}\, O_{lh}\, \mathrm{Attn}\big(Q_{lh}\,\mathrm{LN}(h),\, K_{lh}\,\mathrm{LN}(h_{\rm ctx}),
    \, V_{lh}\,\mathrm{LN}(h_{\rm ctx})\big),\qquad
    h \leftarrow h + W_2\,\mathrm{gelu}(W_1\,\mathrm{LN}(h) + b_1) + b_2 \ \ (\text{when } \texttt{mlp} > 0),

and the prediction is :math:`\hat y = W_{\rm out}\,\mathrm{LN}_f(h_q)`. ``mlp = 0`` is the attention-only
stack; ``norm=False`` drops every LayerNorm (the constructions use that). ``m_{lh}`` is the **head mask**, a
multiplicative factor per (member, layer, head), all ones by default (a non-persistent buffer: not a parameter,
not in checkpoints); :mod:`numerics.interpret` sets it to zero a head or keep a subset.

Attention weights: ``"softmax"`` — :math:`\operatorname{softmax}_i(q_m^\top k_i/\sqrt k)` over the context;
``"linear"`` — :math:`q_m^\top k_i / n` (no softmax, normalised by the context length ``n`` so that a fixed layer
means the same at every ``n``; SPEC 7.2's :math:`\hat r` and GD's gradient carry the same :math:`1/n`).

**Initialisation.** Every matrix uniform on :math:`\pm 1/\sqrt{\text{fan-in}}` (torch's ``nn.Linear`` default),
LayerNorm weights 1, every bias 0, drawn in float64 from ``torch.Generator().manual_seed(seed)`` in the fixed
order of :data:`PARAM_ORDER`, then cast. **Convention:** member ``e`` of an ensemble built with ``seeds`` is
initialised exactly as a one-member ensemble built with ``seeds=[seeds[e]]`` — and members never interact, so
each trains exactly as it would alone on its own prompt stream (up to floating-point reduction order).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from theory.validate import check_int, check_tensor

ATTENTION_KINDS = ("softmax", "linear")
MAX_LAYERS = 64
MAX_WIDTH = 16384
LN_EPS = 1e-5


def check_attention(kind) -> str:
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION_KINDS)}, got {kind!r}")
    return kind


def param_shapes(*, d: int, n_out: int, n_layer: int, n_head: int, width: int, head_dim: int, mlp: int,
                 norm: bool) -> dict[str, tuple[tuple[int, ...], int | None]]:
    """``{name: (shape without the ensemble axis, fan-in or None for LayerNorm/bias)}`` in initialisation order."""
    D, W, nL, H, k = d + n_out, width, n_layer, n_head, head_dim
    out: dict[str, tuple[tuple[int, ...], int | None]] = {"w_in": ((W, D), D)}
    out.update({"wq": ((nL, H, k, W), W), "wk": ((nL, H, k, W), W), "wv": ((nL, H, k, W), W),
                "wo": ((nL, H, W, k), H * k)})
    if mlp:
        out.update({"w1": ((nL, mlp, W), W), "b1": ((nL, mlp), None), "w2": ((nL, W, mlp), mlp),
                    "b2": ((nL, W), None)})
    if norm:
        out.update({"ln1_w": ((nL, W), None), "ln1_b": ((nL, W), None), "lnf_w": ((W,), None), "lnf_b": ((W,), None)})
        if mlp:
            out.update({"ln2_w": ((nL, W), None), "ln2_b": ((nL, W), None)})
    out["w_out"] = ((n_out, W), W)
    return out


def init_member(seed: int, shapes: dict, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Initial parameters of one member (CPU): matrices uniform on ±1/sqrt(fan-in), LN weights 1, biases 0."""
    seed = check_int("seed", seed, lo=0)
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, (shape, fan_in) in shapes.items():
        if fan_in is None:
            t = torch.ones(shape, dtype=torch.float64) if name.endswith("_w") else torch.zeros(shape,
                                                                                              dtype=torch.float64)
        else:
            t = (2 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1) / math.sqrt(fan_in)
        out[name] = t.to(dtype)
    return out


def _ln(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last axis with per-member affine ``w, b (E, W)``; ``h (E, ..., W)``."""
    shape = (w.shape[0],) + (1,) * (h.dim() - 2) + (w.shape[-1],)
    mu = h.mean(-1, keepdim=True)
    var = h.var(-1, unbiased=False, keepdim=True)
    return (h - mu) * torch.rsqrt(var + LN_EPS) * w.reshape(shape) + b.reshape(shape)


class EnsembleTransformer(nn.Module):
    """``E`` multi-layer multi-head transformers for in-context regression (module docstring).

    ``forward(Z (E, B, n, d+N), xq (E, B, d)) -> (E, B, N)`` — the training engine's model interface; with
    ``residuals=True`` it also returns the query token's residual stream after the embedding and after every
    layer, ``(E, B, n_layer + 1, W)`` (what :func:`numerics.interpret.probe_risks` reads).
    """

    def __init__(self, *, d: int, n_layer: int, n_head: int, width: int, seeds: Sequence[int], mlp: int = 0,
                 head_dim: int | None = None, n_out: int = 1, attention: str = "softmax", norm: bool = True,
                 dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
        super().__init__()
        self.d = check_int("d", d, lo=1)
        self.n_layer = check_int("n_layer", n_layer, lo=1, hi=MAX_LAYERS)
        self.n_head = check_int("n_head", n_head, lo=1, hi=1024)
        self.width = check_int("width", width, lo=1, hi=MAX_WIDTH)
        self.mlp = check_int("mlp", mlp, lo=0, hi=16 * MAX_WIDTH)
        self.head_dim = check_int("head_dim", head_dim if head_dim is not None else max(1, width // n_head),
                                  lo=1, hi=MAX_WIDTH)
        self.n_out = check_int("n_out", n_out, lo=1)
        self.attention = check_attention(attention)
        if not isinstance(norm, bool):
            raise ValueError(f"norm must be True or False, got {norm!r}")
        self.norm = norm
        seeds = [check_int("seed", s, lo=0) for s in seeds]
        if not seeds:
            raise ValueError("seeds must name at least one member")
        self.seeds = tuple(seeds)
        self.shapes = param_shapes(d=d, n_out=n_out, n_layer=n_layer, n_head=n_head, width=width,
                                   head_dim=self.head_dim, mlp=mlp, norm=norm)
        members = [init_member(s, self.shapes, dtype) for s in seeds]
        for name in self.shapes:
            self.register_parameter(name, nn.Parameter(torch.stack([m[name] for m in members]).to(device)))
        self.register_buffer("head_mask", torch.ones(len(seeds), n_layer, n_head, dtype=dtype, device=device),
                             persistent=False)

    # ----------------------------------------------------------------------------------------- shapes
    @property
    def n_member(self) -> int:
        return self.w_in.shape[0]

    @property
    def token_width(self) -> int:
        return self.d + self.n_out

    def extra_repr(self) -> str:
        return (f"attention={self.attention}, E={self.n_member}, layers={self.n_layer}, H={self.n_head}, "
                f"W={self.width}, k={self.head_dim}, mlp={self.mlp}, norm={self.norm}, d={self.d}, "
                f"N={self.n_out}, dtype={self.w_in.dtype}")

    def set_head_mask(self, mask) -> None:
        """Set the multiplicative head mask: ``(n_layer, H)`` (every member) or ``(E, n_layer, H)``; finite."""
        m = torch.as_tensor(mask, dtype=self.head_mask.dtype, device=self.head_mask.device)
        E, nL, H = self.head_mask.shape
        if m.shape == (nL, H):
            m = m.unsqueeze(0).expand(E, nL, H)
        if m.shape != (E, nL, H):
            raise ValueError(f"head mask must have shape ({nL}, {H}) or ({E}, {nL}, {H}), got {tuple(m.shape)}")
        if not bool(torch.isfinite(m).all()):
            raise ValueError("head mask must be finite")
        self.head_mask.copy_(m)

    # ---------------------------------------------------------------------------------------- forward
    def _check_inputs(self, Z: torch.Tensor, xq: torch.Tensor) -> tuple[int, int, int]:
        E, D, d = self.n_member, self.token_width, self.d
        if Z.dim() != 4 or Z.shape[0] != E or Z.shape[3] != D:
            raise ValueError(f"Z must have shape ({E}, B, n, {D}), got {tuple(Z.shape)}")
        B, n = Z.shape[1], Z.shape[2]
        if n < 1:
            raise ValueError("Z must hold at least one context token")
        if xq.shape != (E, B, d):
            raise ValueError(f"xq must have shape ({E}, {B}, {d}), got {tuple(xq.shape)}")
        return E, B, n

    def embed(self, Z: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
        """Residual stream after the embedding, ``(E, B, n+1, W)``: context tokens, then the query ``(x_q, 0)``."""
        E, B, n = self._check_inputs(Z, xq)
        zq = torch.cat([xq, xq.new_zeros(E, B, self.n_out)], -1).unsqueeze(2)  # (E, B, 1, D)
        X = torch.cat([Z.to(self.w_in.dtype), zq.to(self.w_in.dtype)], 2)  # (E, B, n+1, D)
        return torch.bmm(X.reshape(E, -1, X.shape[-1]), self.w_in.transpose(1, 2)).reshape(E, B, n + 1, self.width)

    def _proj(self, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Per-head projection: ``a (E, B, T, W)``, ``w (E, H, k, W)`` -> ``(E, B, H, T, k)``."""
        E, B, T, W = a.shape
        H, k = w.shape[1], w.shape[2]
        out = torch.bmm(a.reshape(E, B * T, W), w.reshape(E, H * k, W).transpose(1, 2))  # (E, B*T, H*k)
        return out.reshape(E, B, T, H, k).permute(0, 1, 3, 2, 4)

    def attend(self, h: torch.Tensor, layer: int, n: int) -> torch.Tensor:
        """Layer ``layer``'s attention output (added to the residual), ``(E, B, n+1, W)``; ``h`` is the stream."""
        E, B, T, W = h.shape
        a = _ln(h, self.ln1_w[:, layer], self.ln1_b[:, layer]) if self.norm else h
        q = self._proj(a, self.wq[:, layer])  # (E, B, H, T, k)
        ctx = a[:, :, :n]
        kk = self._proj(ctx, self.wk[:, layer])  # (E, B, H, n, k)
        v = self._proj(ctx, self.wv[:, layer])  # (E, B, H, n, k)
        s = q @ kk.transpose(-1, -2)  # (E, B, H, T, n) scores
        p = torch.softmax(s / math.sqrt(self.head_dim), -1) if self.attention == "softmax" else s / n
        c = p @ v  # (E, B, H, T, k) attended values per head
        c = c * self.head_mask[:, layer].reshape(E, 1, self.n_head, 1, 1)
        c = c.permute(0, 1, 3, 2, 4).reshape(E, B * T, self.n_head * self.head_dim)  # heads stacked
        wo = self.wo[:, layer].permute(0, 2, 1, 3).reshape(E, W, self.n_head * self.head_dim)  # (E, W, H*k)
        return torch.bmm(c, wo.transpose(1, 2)).reshape(E, B, T, W)

    def feed_forward(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        E, B, T, W = h.shape
        a = _ln(h, self.ln2_w[:, layer], self.ln2_b[:, layer]) if self.norm else h
        u = torch.baddbmm(self.b1[:, layer].unsqueeze(1), a.reshape(E, B * T, W), self.w1[:, layer].transpose(1, 2))
        u = torch.baddbmm(self.b2[:, layer].unsqueeze(1), F.gelu(u), self.w2[:, layer].transpose(1, 2))
        return u.reshape(E, B, T, W)

    def readout(self, hq: torch.Tensor) -> torch.Tensor:
        """Prediction ``(E, B, N)`` from the query's residual stream ``hq (E, B, W)``."""
        f = _ln(hq, self.lnf_w, self.lnf_b) if self.norm else hq
        return torch.bmm(f, self.w_out.transpose(1, 2))

    def forward(self, Z: torch.Tensor, xq: torch.Tensor, *, residuals: bool = False):
        """Predictions ``(E, B, N)`` (and, with ``residuals``, the query's stream ``(E, B, n_layer+1, W)``)."""
        n = Z.shape[2] if Z.dim() == 4 else 0
        h = self.embed(Z, xq)  # (E, B, n+1, W)
        res = [h[:, :, n]] if residuals else None
        for layer in range(self.n_layer):
            h = h + self.attend(h, layer, n)
            if self.mlp:
                h = h + self.feed_forward(h, layer)
            if residuals:
                res.append(h[:, :, n])
        y = self.readout(h[:, :, n])
        return (y, torch.stack(res, 2)) if residuals else y

    # ------------------------------------------------------------------------------------ persistence
    def member_state(self, e: int) -> dict[str, torch.Tensor]:
        """Parameters of member ``e`` without the ensemble axis (detached copies)."""
        e = check_int("e", e, lo=0, hi=self.n_member - 1)
        return {n: getattr(self, n)[e].detach().clone() for n in self.shapes}

    def hyper(self) -> dict:
        """The constructor's shape arguments (rebuild with ``EnsembleTransformer(**hyper, seeds=...)``)."""
        return dict(d=self.d, n_layer=self.n_layer, n_head=self.n_head, width=self.width, mlp=self.mlp,
                    head_dim=self.head_dim, n_out=self.n_out, attention=self.attention, norm=self.norm)

    @classmethod
    def from_members(cls, states: Sequence[dict[str, torch.Tensor]], **hyper) -> "EnsembleTransformer":
        """An ensemble whose member ``e`` holds ``states[e]`` (each a :meth:`member_state`-like dict)."""
        if not states:
            raise ValueError("states must hold at least one member")
        first = next(iter(states[0].values()))
        model = cls(**hyper, seeds=list(range(len(states))), dtype=first.dtype, device=first.device)
        with torch.no_grad():
            for name, (shape, _) in model.shapes.items():
                for e, st in enumerate(states):
                    if name not in st:
                        raise ValueError(f"member {e} state is missing {name!r}")
                    check_tensor(name, st[name], shape)
                    getattr(model, name)[e].copy_(st[name])
        return model
