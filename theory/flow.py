r"""Gradient flow of :math:`\tilde{\mathcal L}` (SPEC 3.2) and its linearisation at the origin.

:math:`\dot\omega = -\nabla_\omega\tfrac12\tilde{\mathcal L}`, :math:`\dot\mu = -\nabla_\mu\tfrac12\tilde{\mathcal L}`; time is in
units of the learning rate of plain gradient descent on :math:`\tfrac12\tilde{\mathcal L}` (``t = lr * steps``).
The right-hand side is differentiated from the *derived* loss (:func:`theory.mean_field.approx_loss_expr`, the
Gaussian integrals), written in :math:`c=(1+\sigma^2)/L` (:func:`derived_loss_in_c`); SPEC 3.2's closed forms
are a second route, proved equal (:func:`identities`):
:math:`\dot\mu = \omega-(\omega\omega^\top+cE)\mu`,
:math:`\dot\omega = \mu-(\mu^\top\omega)\mu-c\,d\,(E\odot\mu\mu^\top)\omega`.
The numeric right-hand sides take :math:`c` from :func:`flow_coupling` at call time.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from .validate import check_int, check_problem, check_vector

#: The lambdified (symbolic) right-hand side is built per ``n_head``: ~2 s at 8 heads and growing like H^3;
#: beyond it use :func:`flow_rhs_matrix` (numpy, any ``n_head <= MAX_HEADS``).
MAX_SYMBOLIC_HEADS = 8
MAX_HEADS = 4096
from .mean_field import approx_loss_expr
from .symbols import C_OF, L, c, d, head_symbols, lam_flow, sigma2


def _state(n_head: int) -> list[sp.Symbol]:
    omega, mu = head_symbols(n_head)
    return list(omega) + list(mu)


@lru_cache(maxsize=None)
def derived_loss_in_c(n_head: int) -> sp.Expr:
    r"""The derived :math:`\tilde{\mathcal L}` (:func:`theory.mean_field.approx_loss_expr`) with
    :math:`\sigma^2 = cL-1`, i.e. in the symbol ``c`` (SPEC 3: :math:`c=(1+\sigma^2)/L`); only its constant keeps ``L``."""
    n_head = check_int("n_head", n_head, lo=1)
    return sp.expand(approx_loss_expr(n_head).subs(sigma2, c * L - 1))


@lru_cache(maxsize=None)
def flow_expr(n_head: int) -> sp.Matrix:
    r"""Right-hand side :math:`-\tfrac12\nabla\tilde{\mathcal L}` of the derived loss as a column, state
    ``(omega_1..H, mu_1..H)``, in ``c`` and ``d``."""
    loss = derived_loss_in_c(check_int("n_head", n_head, lo=1))
    return sp.Matrix([-sp.diff(loss, v) / 2 for v in _state(n_head)])


@lru_cache(maxsize=None)
def _coupling_fn():
    return sp.lambdify((L, sigma2), C_OF.rhs, "math")


def flow_coupling(L: int, sigma2: float) -> float:
    r""":math:`c=(1+\sigma^2)/L` (SPEC 3's definition, :data:`theory.symbols.C_OF`), the coupling every numeric
    right-hand side of this module uses (looked up at call time)."""
    _, L, sigma2 = check_problem(1, L, sigma2)
    return float(_coupling_fn()(L, sigma2))


def flow_closed_form_expr(n_head: int) -> sp.Matrix:
    """SPEC 3.2's matrix form of the same right-hand side (a second route; tests prove equality)."""
    omega, mu = head_symbols(n_head)
    om, mv = sp.Matrix(omega), sp.Matrix(mu)
    E = sp.Matrix(n_head, n_head, lambda i, j: sp.exp(d * omega[i] * omega[j]))
    mu_dot = om - (om * om.T + c * E) * mv
    omega_dot = mv - (mv.T * om)[0] * mv - c * d * E.multiply_elementwise(mv * mv.T) * om
    return sp.Matrix.vstack(omega_dot, mu_dot)


@lru_cache(maxsize=None)
def linearisation_expr(n_head: int) -> dict:
    r"""Jacobian of the flow at the origin and its spectrum.

    :math:`J = \begin{pmatrix}0 & I\\ I & -c\,\mathbf 1\mathbf 1^\top\end{pmatrix}`. On zero-sum directions
    (:math:`\mathbf 1^\top v=0`) the eigenvalues are :math:`\pm1`: the zero-sum mode grows like :math:`e^t`.
    On the common mode :math:`\mathbf 1`, :math:`\ddot u = u - cH\dot u` (friction :math:`cH` on :math:`\mathbf 1^\top\mu`),
    eigenvalues :math:`\lambda_\pm = (-cH\pm\sqrt{c^2H^2+4})/2`: its growth rate :math:`\lambda_+<1`, so relative to
    the zero-sum mode it decays like :math:`e^{-(1-\lambda_+)t}`.
    """
    state = _state(n_head)
    J = flow_expr(n_head).jacobian(state).subs({v: 0 for v in state})
    H = sp.Integer(n_head)
    lam_common = list(sp.roots(sp.Poly(lam_flow**2 + c * H * lam_flow - 1, lam_flow)))   # no sympy.solve
    return {"jacobian": sp.simplify(J), "eigenvalues": sp.simplify(J).eigenvals(),
            "common_mode": sorted(lam_common, key=lambda e: sp.sign(e.subs(c, sp.Rational(1, 10))))}


def common_mode_rates(n_head: int, *, d: int, L: int, sigma2: float) -> tuple[float, float]:
    r"""``(lambda_minus, lambda_plus)``: the flow's common-mode eigenvalues at the origin,
    :math:`\lambda_\pm = (-cH\pm\sqrt{c^2H^2+4})/2`, :math:`c=(1+\sigma^2)/L` (:func:`linearisation_expr`, SPEC 3.2).

    :math:`0<\lambda_+<1` is the common mode's growth rate; relative to the zero-sum mode (rate 1) it decays
    like :math:`e^{-(1-\lambda_+)t}`, which is why trained heads end zero-sum (H4).

    Domain: ``1 <= n_head <= MAX_HEADS``, ``d, L, sigma2`` of :func:`theory.validate.check_problem`. Evaluated as
    :math:`\lambda_+ = 2/(cH+\sqrt{c^2H^2+4})` (no cancellation when :math:`cH` is large), :math:`\lambda_- = -1/\lambda_+`
    (the roots of :math:`\lambda^2+cH\lambda-1`; :func:`linearisation_expr` derives them, the tests compare).
    """
    n_head = check_int("n_head", n_head, lo=1, hi=MAX_HEADS)
    d, L, sigma2 = check_problem(d, L, sigma2)
    ch = flow_coupling(L, sigma2) * n_head
    root = float(np.sqrt(ch * ch + 4.0))
    return float(-(ch + root) / 2), float(2.0 / (ch + root))


@lru_cache(maxsize=None)
def identities(n_heads: tuple[int, ...] = (1, 2, 3)) -> dict[str, sp.Expr]:
    r"""SPEC 3.2's statements as expressions that are identically 0 (``simplify(e) == 0``):
    ``closed_form_H{h}_{i}`` (each component of the differentiated loss minus SPEC 3.2's matrix form), and
    ``jacobian_at_origin_H{h}_{i}_{j}``: the Jacobian at 0 is :math:`\begin{pmatrix}0&I\\I&-c\mathbf 1\mathbf 1^\top\end{pmatrix}`.
    The spectrum itself is checked numerically (eigenvalues of :func:`flow_jacobian`) in the tests."""
    out: dict[str, sp.Expr] = {}
    for h in n_heads:
        diff = flow_expr(h) - flow_closed_form_expr(h)
        for i in range(2 * h):
            out[f"closed_form_H{h}_{i}"] = diff[i]
        J = linearisation_expr(h)["jacobian"]
        eye, ones = sp.eye(h), sp.ones(h, h)
        want = sp.Matrix(sp.BlockMatrix([[sp.zeros(h, h), eye], [eye, -c * ones]]))
        for i in range(2 * h):
            for j in range(2 * h):
                out[f"jacobian_at_origin_H{h}_{i}_{j}"] = J[i, j] - want[i, j]
    return out


# ---------------------------------------------------------------- numeric right-hand sides
@lru_cache(maxsize=None)
def _lambdified(n_head: int):
    state = _state(n_head)
    rhs = flow_expr(n_head)
    jac = rhs.jacobian(state)
    f = sp.lambdify([state, d, c], list(rhs), "numpy", cse=True)
    j = sp.lambdify([state, d, c], jac, "numpy", cse=True)
    return f, j


def _guarded(fn, n_head: int, d, L, sigma2, what: str):
    r"""``fn(y, d, c)`` as ``f(t, y)`` with ``c = flow_coupling(L, sigma2)``; ``y`` must be ``2 * n_head`` finite
    reals, and a result outside float64 (:math:`e^{d\omega_h\omega_{h'}}` overflows for :math:`d\omega^2 \gtrsim 709`)
    raises instead of returning inf/NaN."""
    cc = flow_coupling(L, sigma2)

    def f(t, y):
        arr = y if isinstance(y, np.ndarray) and y.dtype == np.float64 else None      # the ODE solvers' case
        if arr is None or arr.shape != (2 * n_head,) or not np.all(np.isfinite(arr)):
            arr = check_vector("y", y, length=2 * n_head)
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(fn(arr, d, cc), dtype=float)
        if not np.all(np.isfinite(out)):
            with np.errstate(over="ignore"):
                top = d * float(np.max(arr[:n_head] ** 2))
            raise ValueError(f"y: the flow's {what} overflows float64 at this state (max d*omega_h^2 = {top:.4g}, "
                             f"|mu| up to {float(np.max(np.abs(arr[n_head:]))):.3g}); bound d*omega^2 and |mu|")
        return out
    return f


def flow_rhs(n_head: int, *, d: int, L: int, sigma2: float) -> Callable[[float, np.ndarray], np.ndarray]:
    r"""Numeric :math:`f(t, y)` of the flow with ``y = concat(omega, mu)`` (lambdified once per ``n_head``).

    Domain: ``1 <= n_head <= MAX_SYMBOLIC_HEADS`` (8; use :func:`flow_rhs_matrix` beyond), ``d, L, sigma2`` of
    :func:`theory.validate.check_problem`; ``f`` takes ``2 * n_head`` finite reals and raises ``ValueError`` where
    the right-hand side overflows float64."""
    n_head = check_int("n_head", n_head, lo=1, hi=MAX_SYMBOLIC_HEADS)
    d, L, sigma2 = check_problem(d, L, sigma2)
    f, _ = _lambdified(n_head)
    return _guarded(f, n_head, d, L, sigma2, "right-hand side")


def flow_jacobian(n_head: int, *, d: int, L: int, sigma2: float) -> Callable[[float, np.ndarray], np.ndarray]:
    """Numeric Jacobian :math:`\\partial f/\\partial y` of :func:`flow_rhs` (for stiff solvers); same domain."""
    n_head = check_int("n_head", n_head, lo=1, hi=MAX_SYMBOLIC_HEADS)
    d, L, sigma2 = check_problem(d, L, sigma2)
    _, j = _lambdified(n_head)
    return _guarded(j, n_head, d, L, sigma2, "Jacobian")


def flow_rhs_matrix(n_head: int, *, d: int, L: int, sigma2: float) -> Callable[[float, np.ndarray], np.ndarray]:
    """The closed matrix form of SPEC 3.2 in numpy: fast for large ``n_head`` (equal to :func:`flow_rhs`).
    Domain: ``1 <= n_head <= MAX_HEADS``, otherwise as :func:`flow_rhs`."""
    n_head = check_int("n_head", n_head, lo=1, hi=MAX_HEADS)
    d, L, sigma2 = check_problem(d, L, sigma2)

    def rhs(y, d, cc):
        om, mu = y[:n_head], y[n_head:]
        E = np.exp(d * np.outer(om, om))
        mu_dot = om - om * (om @ mu) - cc * E @ mu
        om_dot = mu - (mu @ om) * mu - cc * d * (E * np.outer(mu, mu)) @ om
        return np.concatenate([om_dot, mu_dot])

    return _guarded(rhs, n_head, d, L, sigma2, "right-hand side")
