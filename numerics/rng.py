r"""The training prompts' random numbers: Philox4x32-10, a counter-based generator, with a Box-Muller normal transform.

Why not torch's CPU generator: it is a scalar Mersenne Twister (3-5 ns per normal on the 2-core CPU of the README),
and the training prompts' draws cost more than the attention step itself. :class:`Philox` draws the same law at
1.5-2 ns per normal (AVX-512 or AVX2 builds of ``numerics/csrc/philox.c``), and its state is two integers.

**The stream** (fixed; the C code and the numpy reference here produce the same bits, checked in
``tests/numerics/test_rng.py``):

* block ``i`` of the stream with 64-bit key ``K`` is Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC 2011; checked
  against the Random123 known-answer vectors) of the counter ``(i mod 2^32, i >> 32, 0, 0)`` under the key
  ``(K mod 2^32, K >> 32)``: four 32-bit words;
* blocks come in groups of 16; a group's 64 numbers are written word-major (number ``16 t + j`` is made from word
  ``t`` of block ``j``); a draw of ``n`` numbers uses ``ceil(n / 64)`` whole groups and discards the rest;
* uniform ``u = (w >> 8) 2^-24`` in ``[0, 1)``;
* normals, per word pair ``(w0, w1)`` = words (0, 1) or (2, 3) of a block: ``u1 = ((w0 >> 8) + 1) 2^-24`` in
  ``(0, 1]``, ``r = sqrt(-2 ln u1)``, angle ``t = 2 pi (w1 >> 5) 2^-27``; word 0 (or 2) gives ``r cos t``, word 1
  (or 3) ``r sin t``. ``ln`` is Cephes' ``logf``, ``sin``/``cos`` Cephes' polynomials on an octant, each step one
  IEEE float32 operation: relative error a few 1e-7. As with torch's float32 sampler, ``|z| <= sqrt(48 ln 2) = 5.77``
  (a tail of probability 8e-9 is cut).

**State**: ``(key, next block)``; :meth:`Philox.get_state` is an ``int64`` tensor, so a checkpoint stays loadable
with ``torch.load(weights_only=True)`` and a run resumes bit-identically. Streams with different keys are
independent (Philox is a bijection of the counter for each key; distinct keys give unrelated streams).

The C function is used when :mod:`numerics.native` can build it; otherwise (no compiler, ``ICL_VERIFY_NATIVE=0``)
the numpy reference :func:`fill_reference` draws the same numbers, slower.
"""
from __future__ import annotations

import numpy as np
import torch

from theory.validate import check_int

from . import native

GROUP = 16                       # blocks per group
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)
_F = np.float32


def philox4x32_10(ctr: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of counters ``ctr`` (``(4, n)`` uint32 words) under ``key = (k0, k1)``: ``(4, n)`` uint32."""
    x = [np.asarray(c, dtype=np.uint64) for c in ctr]
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0, p1 = x[0] * _M0, x[2] * _M1
        x = [(p1 >> np.uint64(32)) ^ x[1] ^ np.uint64(k0), p1 & _MASK32,
             (p0 >> np.uint64(32)) ^ x[3] ^ np.uint64(k1), p0 & _MASK32]
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return np.stack(x).astype(np.uint32)


def _words(key: int, block: int, groups: int) -> np.ndarray:
    """The stream's words of ``groups`` groups from ``block`` on, in output order: ``(groups, 4, GROUP)`` uint32."""
    i = np.uint64(block) + np.arange(groups * GROUP, dtype=np.uint64)
    zero = np.zeros_like(i)
    w = philox4x32_10(np.stack([i & _MASK32, i >> np.uint64(32), zero, zero]), (key & 0xFFFFFFFF, key >> 32))
    return w.reshape(4, groups, GROUP).transpose(1, 0, 2)


def _as_float(i: np.ndarray) -> np.ndarray:
    return i.astype(np.int32).astype(_F)


def _log_unit(x: np.ndarray) -> np.ndarray:
    """ln x for float32 ``x`` in (0, 1]: Cephes ``logf``, in the C code's order of operations."""
    bits = x.view(np.int32)
    e = ((bits >> 23) & 0xFF) - 126
    m = ((bits & np.int32(-0x7F800001)) | 0x3F000000).view(_F)      # mask 0x807fffff
    small = ((bits & 0x7FFFFF) - 0x3504F3) >> 31
    e = e + small
    m = np.where(small != 0, m + m, m) - _F(1.0)
    z = m * m
    y = np.full_like(m, _F(7.0376836292e-2))
    for c in (-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
              2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1):
        y = y * m + _F(c)
    y = y * m * z
    fe = e.astype(_F)
    y = y + fe * _F(-2.12194440e-4)
    y = y - z * _F(0.5)
    return (m + y) + fe * _F(0.693359375)


def _normals(w: np.ndarray) -> np.ndarray:
    """``(..., 4, GROUP)`` words -> normals of the same shape (the C code's Box-Muller, step for step)."""
    out = np.empty(w.shape, dtype=_F)
    sgn = np.int32(-0x80000000)
    for p in range(2):
        w0, w1 = w[..., 2 * p, :], w[..., 2 * p + 1, :]
        u1 = _as_float((w0 >> 8) + 1) * _F(5.9604644775390625e-8)
        r = np.sqrt(_F(0.0) - _F(2.0) * _log_unit(u1))
        o = (w1 >> 29).astype(np.int32)
        odd = -(o & 1)
        f = _as_float((w1 >> 5) & 0xFFFFFF) * _F(5.9604644775390625e-8)
        psi = np.where(odd != 0, _F(1.0) - f, f) * _F(0.785398163397448310)
        s2 = psi * psi
        sn = np.full_like(psi, _F(-1.9515295891e-4))
        sn = sn * s2 + _F(8.3321608736e-3)
        sn = sn * s2 - _F(1.6666654611e-1)
        sn = sn * s2 * psi + psi
        cs = np.full_like(psi, _F(2.443315711809948e-5))
        cs = cs * s2 - _F(1.388731625493765e-3)
        cs = cs * s2 + _F(4.166664568298827e-2)
        cs = cs * s2 * s2 - s2 * _F(0.5) + _F(1.0)
        sn = (sn.view(np.int32) ^ (odd & sgn)).view(_F)
        q = ((o + 1) >> 1) & 3
        swap = (q & 1) != 0
        A, B = np.where(swap, sn, cs), np.where(swap, cs, sn)
        out[..., 2 * p, :] = r * (A.view(np.int32) ^ (((q + 1) << 30) & sgn)).view(_F)
        out[..., 2 * p + 1, :] = r * (B.view(np.int32) ^ ((q << 30) & sgn)).view(_F)
    return out


def fill_reference(law: int, key: int, block: int, n: int) -> np.ndarray:
    """``n`` float32 draws of the stream ``key`` from ``block`` on (law 0: normal, 1: uniform), in numpy."""
    groups = -(-n // (4 * GROUP))
    w = _words(key, block, groups)
    vals = _normals(w) if law == 0 else _as_float(w >> 8) * _F(5.9604644775390625e-8)
    return vals.reshape(-1)[:n]


def blocks_used(n: int) -> int:
    """Blocks a draw of ``n`` numbers advances the stream by (whole groups of 16)."""
    return -(-n // (4 * GROUP)) * GROUP


class Philox:
    """A seeded Philox4x32-10 stream on the CPU with the fill methods the samplers use (``normal_``, ``uniform_``)
    and ``get_state``/``set_state`` (see the module docstring for the exact stream).

    >>> g = Philox(7); a = g.normal_(torch.empty(5)); g.set_state(Philox(7).get_state())
    """

    device = torch.device("cpu")

    def __init__(self, seed: int):
        self.key = check_int("seed", seed, lo=0, hi=2**64 - 1)
        self.block = 0
        self._fn = native.philox_function()   # looked up once: a draw is on the training step's path

    def __reduce__(self):   # pickles as (key, block); the C function is looked up again where it is unpickled
        return _restore, (self.key, self.block)

    def __repr__(self) -> str:
        return f"Philox(key={self.key:#x}, block={self.block})"

    def _draw(self, law: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        fn = self._fn
        if fn is None:
            vals = fill_reference(law, self.key, self.block, n)
            if out is None:
                out = vals
            else:
                out[:] = vals
        else:
            if out is None:
                out = np.empty(n, dtype=_F)
            fn(law, self.key, self.block, n, out.ctypes.data)
        self.block += blocks_used(n)
        return out

    def _fill(self, law: int, buf: torch.Tensor) -> torch.Tensor:
        if buf.device.type != "cpu":
            raise ValueError(f"Philox fills CPU tensors, got a tensor on {buf.device}")
        if buf.dtype == torch.float32 and buf.is_contiguous():
            if buf.numel():
                self._draw(law, buf.numel(), buf.numpy().reshape(-1))
        else:   # float64 buffers are the float32 draws widened, as with torch's generator in numerics.data
            buf.copy_(torch.from_numpy(self._draw(law, buf.numel())).reshape(buf.shape))
        return buf

    def normal_(self, buf: torch.Tensor) -> torch.Tensor:
        """Fill ``buf`` (CPU, float32 or float64) with standard normals in its memory order; returns ``buf``."""
        return self._fill(0, buf)

    def uniform_(self, buf: torch.Tensor) -> torch.Tensor:
        """Fill ``buf`` with uniforms on [0, 1) (multiples of 2^-24); returns ``buf``."""
        return self._fill(1, buf)

    def get_state(self) -> torch.Tensor:
        """``int64`` tensor ``[key mod 2^32, key >> 32, next block]``."""
        return torch.tensor([self.key & 0xFFFFFFFF, self.key >> 32, self.block], dtype=torch.int64)

    def set_state(self, state: torch.Tensor) -> None:
        s = torch.as_tensor(state)
        if s.dtype != torch.int64 or tuple(s.shape) != (3,):
            raise ValueError(f"a Philox state is an int64 tensor of shape (3,), got {s.dtype} {tuple(s.shape)}")
        lo, hi, block = (int(v) for v in s.tolist())
        if not (0 <= lo < 2**32 and 0 <= hi < 2**32 and block >= 0):
            raise ValueError(f"not a Philox state: {s.tolist()}")
        self.key, self.block = lo | hi << 32, block


def _restore(key: int, block: int) -> Philox:
    g = Philox(key)
    g.block = block
    return g
