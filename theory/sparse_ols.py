r"""Exact excess risk of minimum-norm OLS on isotropic Gaussian covariates (used by C1 as an independent check of the
Monte Carlo of SPEC 7's baselines; a known result, stated with its derivation).

For :math:`x\sim\mathcal N(0, I_d)`, any :math:`\beta` independent of the covariates with :math:`\mathbb E\|\beta\|^2 = B`
(SPEC 7.1: ``B = 1``), noise variance :math:`\sigma^2` and :math:`n` context examples, the excess risk
:math:`\mathbb E(\hat\beta^\top x_q - \beta^\top x_q)^2 = \mathbb E\|\hat\beta-\beta\|^2` of :math:`\hat\beta = X^+y` is

* :math:`\sigma^2\,d/(n-d-1)` for :math:`n\ge d+2` (:math:`\hat\beta-\beta = (X^\top X)^{-1}X^\top\epsilon` and
  :math:`\mathbb E(X^\top X)^{-1} = I/(n-d-1)`, the inverse-Wishart mean);
* :math:`B\,(1-n/d) + \sigma^2\,n/(d-n-1)` for :math:`n\le d-2` (the row space of :math:`X` is a uniformly random
  ``n``-dimensional subspace, so the projection misses a fraction :math:`1-n/d` of :math:`\|\beta\|^2`; the noise
  term is :math:`\sigma^2\operatorname{tr}\mathbb E(XX^\top)^{-1} = \sigma^2 n/(d-n-1)`);
* infinite for :math:`d-1\le n\le d+1`.

The Monte Carlo variance of the per-prompt loss is finite only for :math:`|n-d|\ge 4` (fourth inverse-Wishart
moments), so checks use such ``n``.
"""
from __future__ import annotations

import math

from .validate import check_float, check_int


def ols_excess_risk(*, d: int, n: int, sigma2: float, beta_norm2: float = 1.0) -> float:
    """Excess risk of min-norm OLS (module docstring); ``inf`` for ``d - 1 <= n <= d + 1``."""
    d = check_int("d", d, lo=1)
    n = check_int("n", n, lo=1)
    sigma2 = check_float("sigma2", sigma2, lo=0.0)
    beta_norm2 = check_float("beta_norm2", beta_norm2, lo=0.0)
    if n >= d + 2:
        return sigma2 * d / (n - d - 1)
    if n <= d - 2:
        return beta_norm2 * (1 - n / d) + sigma2 * n / (d - n - 1)
    return math.inf
