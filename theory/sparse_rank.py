r"""Why fewer than about ``d`` linear-attention heads cannot compute PtO's reweighting :math:`\operatorname{diag}(\hat r)x`
exactly (SPEC 7.2; the package's own argument — [CZZ24]'s is not available to us).

**Setting.** One linear-attention layer (the construction's, :mod:`numerics.sparse.constructions`): tokens
:math:`z_i = (x_i, y_i)`, query :math:`z_q = (x, 0)`, head ``h`` adds
:math:`O_hV_h\frac1n\sum_i z_i z_i^\top K_h^\top Q_h z_q = A_h M B_h z_q` with :math:`A_h = O_hV_h` (any output and
head size), :math:`B_h = K_h^\top Q_h` and the context moments :math:`M = \begin{pmatrix}G & \hat r\\ \hat r^\top & c
\end{pmatrix}`, :math:`G = X^\top X/n`, :math:`\hat r = X^\top y/n`, :math:`c = \|y\|^2/n`. The target is
:math:`T(\hat r, x) = \operatorname{diag}(\hat r)\,x`, for all prompts.

**Derivation** (:func:`head_rhat_tensor`, symbolic). The part of a head's output linear in :math:`\hat r` is the
bilinear map with tensor :math:`T^{(h)}_{jkl} = a_{hj}\,C_{h,kl} + A'_{h,jk}\,c_{hl}` (output ``j``, :math:`\hat r`
index ``k``, :math:`x` index ``l``), where :math:`a_h` is the column of :math:`A_h` that reads the label slot,
:math:`A'_h` the columns that read :math:`x`, :math:`C_h` the x–x block of :math:`B_h` and :math:`c_h` its label row.
The first term ("value reads y, key and query read x") has **output-mode rank 1**; the second ("value reads x,
key reads y") has **x-mode rank 1**. Monomials :math:`y_ix_{ik}x_l` are distinct from every other monomial of the
layer's output, so an exact layer must match the target's tensor :math:`\delta_{jkl}` (1 iff ``j = k = l``).

**Bound** (:func:`min_heads`). :math:`\delta` has output-mode and x-mode rank ``d``
(:func:`diagonal_tensor_ranks`). Write :math:`\delta = X + Y` with :math:`X = \sum_h a_h\otimes C_h` (output-mode
rank :math:`\le H`) and :math:`Y = \sum_h A'_h\otimes c_h` (x-mode rank :math:`\le H`). There are subspaces
:math:`P` (output covectors annihilating :math:`X`) and :math:`Q` (x vectors annihilating :math:`Y`) of dimension
:math:`\ge d-H`, and :math:`\delta(p,\cdot,q) = p\circ q` must vanish for all :math:`p\in P, q\in Q`. If
:math:`\dim P + \dim Q > d` that is impossible (generic elements have supports :math:`S_P, S_Q` with
:math:`\dim P\le|S_P|`, :math:`\dim Q\le|S_Q|` and :math:`p\circ q = 0` forces :math:`S_P\cap S_Q=\emptyset`).
Hence **H ≥ ⌈d/2⌉ heads for any head size**, and **H ≥ d when values read only the label** (then
:math:`Y = 0` and :math:`X` needs output-mode rank ``d``), which is the construction's form (SPEC 7.2: "value reads
y") and what it uses. The bound counts only the :math:`\hat r`-linear part; the other monomials (in :math:`G` and
``c``) must cancel as well, so the true minimum may be higher — the bound is a necessary condition, not shown
tight. Group-wise PtO (:func:`numerics.sparse.estimators.pto_matrix`) is what ``H < d`` heads *can* compute: head
``h`` outputs the one scalar :math:`\sum_{j\in S_h}\hat r_jx_j` (an output-mode rank-1 term).
"""
from __future__ import annotations

import math
from functools import lru_cache

import sympy as sp

from .validate import check_int


@lru_cache(maxsize=None)
def head_rhat_tensor(d: int) -> tuple[sp.MutableDenseNDimArray, sp.Expr]:
    """``(T, residual)``: the :math:`\\hat r`-linear part of one generic linear-attention head's output at the query,
    as the tensor ``T[j, k, l]`` (derived by differentiating :math:`A M B z_q`), and the symbolic difference between
    it and the two-term form :math:`a_j C_{kl} + A'_{jk} c_l` summed over all entries (simplifies to 0)."""
    d = check_int("d", d, lo=1, hi=6)
    D = d + 1
    A = sp.Matrix(d, D, lambda i, j: sp.Symbol(f"A_{i}_{j}"))  # O V: output (d) x token slots (d+1)
    B = sp.Matrix(D, D, lambda i, j: sp.Symbol(f"B_{i}_{j}"))  # K^T Q
    r = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"r_{i}"))
    G = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"G_{min(i, j)}_{max(i, j)}"))
    c = sp.Symbol("c")
    x = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"x_{i}"))
    M = sp.BlockMatrix([[G, r], [r.T, sp.Matrix([[c]])]]).as_explicit()
    out = A * M * B * sp.Matrix.vstack(x, sp.zeros(1, 1))  # (d, 1)
    T = sp.MutableDenseNDimArray.zeros(d, d, d)
    resid = sp.Integer(0)
    for j in range(d):
        for k in range(d):
            for l in range(d):
                T[j, k, l] = sp.expand(sp.diff(out[j], r[k], x[l]))
                form = A[j, d] * B[k, l] + A[j, k] * B[d, l]  # a_j C_kl + A'_jk c_l
                resid += (T[j, k, l] - form) ** 2
    return T, sp.simplify(resid)


def diagonal_tensor_ranks(d: int) -> tuple[int, int]:
    """Ranks of the output-mode and x-mode flattenings (``d x d^2``) of the target tensor
    :math:`\\delta_{jkl}` of :math:`\\operatorname{diag}(\\hat r)x` (both ``d``; exact, sympy)."""
    d = check_int("d", d, lo=1, hi=64)
    out_mode = sp.zeros(d, d * d)
    x_mode = sp.zeros(d, d * d)
    for j in range(d):
        out_mode[j, j * d + j] = 1  # rows: output j; columns: (k, l)
        x_mode[j, j * d + j] = 1  # rows: x index l; columns: (j, k)
    return out_mode.rank(), x_mode.rank()


def min_heads(d: int, *, value_reads_label_only: bool = False) -> int:
    """Necessary number of heads of one linear-attention layer computing :math:`\\operatorname{diag}(\\hat r)x`
    exactly (module docstring): ``ceil(d / 2)`` for heads of any size, ``d`` when values read only the label."""
    d = check_int("d", d, lo=1)
    return d if value_reads_label_only else math.ceil(d / 2)


def annihilator_lemma_holds(d: int, dim_p: int, dim_q: int) -> bool:
    """The lemma behind :func:`min_heads`: subspaces ``P, Q`` of :math:`\\mathbb R^d` with every ``p ∘ q = 0`` satisfy
    ``dim P + dim Q <= d``. Returns whether ``(dim_p, dim_q)`` is allowed (the extremal case is coordinate subspaces on
    disjoint supports, which is how the bound is attained)."""
    d = check_int("d", d, lo=1)
    return check_int("dim_p", dim_p, lo=0, hi=d) + check_int("dim_q", dim_q, lo=0, hi=d) <= d
