r"""Numeric evaluation of the mean-field loss :math:`\tilde{\mathcal L}` (SPEC 3.1; derived in
:mod:`theory.mean_field`): the quadratic form :math:`(A, b)` plain and scaled, the loss, :math:`\mu^*(\omega)`
and the profile loss, in forms that stay finite wherever the answer is (no overflow of :math:`e^{d\omega\omega'}`,
an extended-precision solve where the system is ill-conditioned). Re-exported by :mod:`theory.mean_field`.
"""
from __future__ import annotations

import numpy as np

from .validate import check_finite_result, check_heads, check_problem, check_vector


def _kernels():
    from .mean_field import _kernels as kernels   # lambdified once there (sympy lives in that module)

    return kernels()


#: Below this ``d * max(omega**2)`` (and ``max|mu|`` below ``_DIRECT_MU``) the unscaled matrix ``A`` is evaluated
#: directly (e^50 ~ 5e21: no overflow, ordinary conditioning); beyond it the scaled forms below are used.
_DIRECT_DW2 = 50.0
_DIRECT_MU = 1e6
#: Above this condition number of the scaled system (relative error of a float64 solve ~ cond * 1.1e-16 > 1e-8)
#: mu* is solved in extended precision (at most _MAX_EXTENDED_HEADS distinct heads).
_FLOAT_CONDITION = 1e8
_MAX_EXTENDED_HEADS = 64
_LOG_MAX = float(np.log(np.finfo(np.float64).max))   # ~709.78


def quadratic_form(omega, *, d: int, L: int, sigma2: float) -> tuple[np.ndarray, np.ndarray]:
    r"""``(A, b)`` with :math:`\tilde{\mathcal L} = 1+\sigma^2 - 2\mu^\top b + \mu^\top A\mu` (lambdified kernels).

    Domain: any finite ``omega`` (length ``H >= 1``) with every :math:`d\,\omega_h\omega_{h'}\le 709` (else
    :math:`A` overflows float64: ``ValueError``; :func:`mean_field_loss`, :func:`optimal_mu` and :func:`profile_loss`
    work in the scaled form :func:`scaled_quadratic_form` there), ``d, L, sigma2`` as in
    :func:`theory.validate.check_problem`."""
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return _quadratic_form(omega, d, L, sigma2)


def _quadratic_form(omega, d, L, sigma2):
    if _dw2(omega, d) > _LOG_MAX - 1:
        raise ValueError(f"omega: A = omega omega^T + c e^(d omega omega^T) overflows float64 when d*max(omega_h^2) > "
                         f"{_LOG_MAX - 1:.0f}, got d*max(omega_h^2) = {_dw2(omega, d):.4g} "
                         f"(use scaled_quadratic_form)")
    kb, ka = _kernels()
    with np.errstate(over="ignore", invalid="ignore"):
        b = np.broadcast_to(kb(omega, d), omega.shape).astype(float)
        A = np.asarray(ka(omega[:, None], omega[None, :], d, L, sigma2), dtype=float)
    check_finite_result("omega: A", A, "bound d*max(omega_h^2)")
    return A, b


def scaled_quadratic_form(omega, *, d: int, L: int, sigma2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``(B, s, v)``: the quadratic form of :math:`\tilde{\mathcal L}` in the scaled variable :math:`y = \mu/s`,
    :math:`s_h = e^{-d\omega_h^2/2}`, i.e. :math:`B = SAS`, :math:`S=\operatorname{diag}(s)`:

    .. math:: B_{hh'} = v_hv_{h'} + c\,e^{-d(\omega_h-\omega_{h'})^2/2},\qquad v = s\odot\omega,

    since :math:`d\omega_h\omega_{h'} - d\omega_h^2/2 - d\omega_{h'}^2/2 = -d(\omega_h-\omega_{h'})^2/2`. Every entry lies in
    :math:`[0, 1 + c]` for every finite ``omega`` (log-space form of :math:`E`; no overflow), and :math:`\mu^* = s\odot B^{-1}v`.
    """
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return _scaled(omega, d, L, sigma2)


def _dw2(omega, d) -> float:
    """``d * max(omega**2)`` (inf where it overflows)."""
    with np.errstate(over="ignore"):
        return float(d * np.max(omega**2))


def _scaled(omega, d, L, sigma2):
    c = (1 + sigma2) / L
    with np.errstate(over="ignore", under="ignore"):
        s = np.exp(-0.5 * d * omega**2)                                    # (H,) in [0, 1]
        v = s * omega                                                      # |v| <= 1/sqrt(e d)
        gap = np.subtract.outer(omega, omega)                              # (H, H), may be +-inf
        K = np.exp(-0.5 * d * gap**2)                                      # (H, H) in [0, 1], unit diagonal
    return np.outer(v, v) + c * K, s, v


def mean_field_loss(omega, mu, *, d: int, L: int, sigma2: float) -> float:
    r"""The paper's mean-field ("approximate") population loss :math:`\tilde{\mathcal L}` (SPEC 3.1),

    .. math:: \tilde{\mathcal L}(\omega,\mu) = 1+\sigma^2 - 2\mu^\top\omega + \mu^\top\big(\omega\omega^\top + c\,E(\omega)\big)\mu,
       \quad c = \tfrac{1+\sigma^2}{L},\ E_{hh'} = e^{d\omega_h\omega_{h'}}.

    ``omega``, ``mu``: per-head reduced coordinates (length ``H >= 1``). Mean-field: accurate for large
    ``L`` and small ``d * omega**2``; it underestimates the true loss (see :func:`theory.refined`).

    Domain: ``d, L, sigma2`` of :func:`theory.validate.check_problem`; any finite ``omega``, ``mu`` for which the
    loss itself is below float64's maximum (about :math:`\log c + d\omega_h^2 + 2\log|\mu_h| < 709`); beyond it a
    ``ValueError``. Always :math:`\ge\sigma^2`. For large :math:`d\omega^2` or :math:`|\mu|` it is evaluated as
    :math:`\sigma^2 + (1-\mu^\top\omega)^2 + c\,z^\top Kz`, :math:`z_h = \mu_he^{d\omega_h^2/2}`,
    :math:`K_{hh'} = e^{-d(\omega_h-\omega_{h'})^2/2}` (log-space scaling of :math:`E`; equal to the above).
    """
    omega, mu = check_heads(omega, mu)
    d, L, sigma2 = check_problem(d, L, sigma2)
    if _dw2(omega, d) <= _DIRECT_DW2 and float(np.max(np.abs(mu))) <= _DIRECT_MU:
        A, b = _quadratic_form(omega, d, L, sigma2)
        return float(1 + sigma2 - 2 * mu @ b + mu @ A @ mu)
    return _stable_loss(omega, mu, d, L, sigma2)


def _stable_loss(omega, mu, d, L, sigma2) -> float:
    hint = "the loss exceeds float64's maximum; bound |mu_h| and d*omega_h^2 (log c + d omega_h^2 + 2 log|mu_h| < 709)"
    c = (1 + sigma2) / L
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        u = float(np.dot(mu, omega))                                       # may overflow: caught below
        fit = (1.0 - u) ** 2 if abs(u) < 1e150 else float("inf")
        nz = mu != 0
        quad = 0.0
        if np.any(nz):
            om, m = omega[nz], mu[nz]
            lz = np.log(np.abs(m)) + 0.5 * d * om**2                       # log|z_h|
            top = float(np.max(lz))
            if not np.isfinite(top):
                raise ValueError(f"mu, omega: {hint}")
            zh = np.sign(m) * np.exp(lz - top)                             # |zh| <= 1
            K = np.exp(-0.5 * d * np.subtract.outer(om, om) ** 2)
            qh = max(float(zh @ K @ zh), 0.0)                              # K is PSD (a Gaussian kernel)
            if qh > 0:
                log_q = np.log(c) + 2 * top + np.log(qh)
                if log_q > _LOG_MAX - 1:
                    raise ValueError(f"mu, omega: {hint}")
                quad = float(np.exp(log_q))
    out = sigma2 + fit + quad
    if not np.isfinite(out):
        raise ValueError(f"mu, omega: {hint}")
    return float(out)


#: The name the paper's loss had before it was named for what it is; the same function object (public API).
approx_loss = mean_field_loss


def optimal_mu(omega, *, d: int, L: int, sigma2: float) -> np.ndarray:
    r""":math:`\mu^*(\omega) = (\omega\omega^\top + cE)^{-1}\omega`, the minimiser of :math:`\tilde{\mathcal L}` in :math:`\mu`.

    The matrix is positive definite when the :math:`\omega_h` are distinct; as two of them merge it becomes
    singular and :math:`\mu^*` grows like the inverse of their gap. For an exactly singular matrix (equal
    :math:`\omega_h`) the minimum-norm minimiser is returned (equal heads share their total :math:`\mu` equally).

    Domain: any finite ``omega``, ``d, L, sigma2`` of :func:`theory.validate.check_problem`. Solved in the scaled
    form of :func:`scaled_quadratic_form` where :math:`d\omega^2` is large (no overflow: heads with
    :math:`e^{-d\omega_h^2/2}` below float64's range get :math:`\mu^*_h = 0`, its correctly rounded value). Where two
    distinct heads are so close that the (scaled, equal heads merged) system is ill conditioned in float64
    (condition number above 1e8), it is rebuilt from the exact float64 ``omega`` and solved with mpmath at rising
    precision (at most 64 distinct heads); where :math:`\mu^*` itself overflows float64 (:math:`|\mu^*|\sim1/` gap)
    a ``ValueError`` says so.
    """
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return _optimal(omega, d, L, sigma2)[0]


def _optimal(omega, d, L, sigma2) -> tuple[np.ndarray, float]:
    """``(mu*, b^T mu*)``: float64 where the scaled system is well conditioned, else extended precision."""
    uniq, inverse, counts = np.unique(omega, return_inverse=True, return_counts=True)
    B, s, v = _scaled(uniq, d, L, sigma2)
    if float(np.linalg.cond(B)) <= _FLOAT_CONDITION:
        if _dw2(omega, d) <= _DIRECT_DW2 and uniq.size == omega.size:
            A, b = _quadratic_form(omega, d, L, sigma2)
            mu = _solve(A, b)
            return mu, float(b @ mu)
        if _dw2(omega, d) <= _DIRECT_DW2:                       # equal heads: solve for the distinct ones and split
            A, b = _quadratic_form(uniq, d, L, sigma2)          # (least squares' cutoff is relative to the largest
            y = np.linalg.solve(A, b)                           # singular value: wrong when e^(d omega^2) is large)
            return (y / counts)[inverse], float(b @ y)
        y = np.linalg.solve(B, v)                                          # (H_unique,)
        with np.errstate(under="ignore"):
            mu_u = s * y
        return (mu_u / counts)[inverse], float(v @ y)
    mu_u, fit = _optimal_extended(uniq, d, L, sigma2)
    return (mu_u / counts)[inverse], fit


def _optimal_extended(uniq, d, L, sigma2) -> tuple[np.ndarray, float]:
    """Nearly coincident heads: B = c K + v v^T is ill conditioned in float64 only because rounding its entries
    (K_hh' = e^(-d gap^2/2) ~ 1) loses the gaps; the float64 omega are exact binary numbers, so B is rebuilt and
    solved with mpmath at increasing precision until two precisions agree to 1e-17 (mu* itself is a well-defined,
    finite function of distinct omega)."""
    import mpmath

    if uniq.size > _MAX_EXTENDED_HEADS:
        raise ValueError(f"omega: two distinct heads are too close for mu* to be determined in float64, and "
                         f"{uniq.size} > {_MAX_EXTENDED_HEADS} distinct heads is too many for the extended-precision "
                         f"solve; make equal heads exactly equal or separate them")
    prev = None
    for dps in (40, 80, 160, 320, 640, 1280):
        with mpmath.workdps(dps):
            om = [mpmath.mpf(float(x)) for x in uniq]
            c = (1 + mpmath.mpf(sigma2)) / L
            sv = [mpmath.exp(-d * x * x / 2) for x in om]
            vv = [si * x for si, x in zip(sv, om)]
            B = mpmath.matrix([[vv[i] * vv[j] + c * mpmath.exp(-d * (om[i] - om[j]) ** 2 / 2)
                                for j in range(len(om))] for i in range(len(om))])
            try:
                y = mpmath.lu_solve(B, mpmath.matrix(vv))
            except (ZeroDivisionError, TypeError, ValueError):    # singular even at this precision (mpmath's
                continue                                          # pivot search fails with a TypeError then)
            mu = [sv[i] * y[i] for i in range(len(om))]
            fit = mpmath.fsum(vv[i] * y[i] for i in range(len(om)))
            if prev is not None and all(abs(a - b) <= mpmath.mpf("1e-17") * (abs(a) + mpmath.mpf("1e-300"))
                                        for a, b in zip(prev, mu)):
                out = np.array([float(x) for x in mu])
                if not np.all(np.isfinite(out)):
                    raise ValueError(f"omega: two distinct heads are so close that mu* overflows float64 "
                                     f"(|mu*| ~ 1/gap; smallest gap {float(np.min(np.diff(uniq))):.3g}); make equal "
                                     f"heads exactly equal or separate them")
                return out, float(fit)
            prev = mu
    raise ValueError(f"omega: two distinct heads are too close for mu* = (omega omega^T + cE)^(-1) omega to be "
                     f"determined even in extended precision (smallest gap {float(np.min(np.diff(uniq))):.3g}); "
                     f"make equal heads exactly equal or separate them")


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, b, rcond=None)[0]


def profile_loss(omega, *, d: int, L: int, sigma2: float) -> float:
    r""":math:`\tilde{\mathcal L}(\omega,\mu^*) = 1+\sigma^2-\omega^\top(\omega\omega^\top+cE)^{-1}\omega`, in
    :math:`[\sigma^2, 1+\sigma^2]`. Same domain and errors as :func:`optimal_mu` (scaled form:
    :math:`\omega^\top A^{-1}\omega = v^\top B^{-1}v`)."""
    omega = check_vector("omega", omega)
    d, L, sigma2 = check_problem(d, L, sigma2)
    return float(1 + sigma2 - _optimal(omega, d, L, sigma2)[1])

