"""Batched sparse-regression estimators (SPEC 7.2) against independent references: scikit-learn's Lasso, numpy's
least squares / ridge, and plain per-prompt Python loops for GD and preprocess-then-optimize."""
import math

import numpy as np
import pytest
import torch

from numerics.sparse import estimators as est
from numerics.sparse.tuning import GRIDS, evaluate_methods, make_problem

sklearn = pytest.importorskip("sklearn.linear_model")


def _problem(M, n, d, seed, noise=0.3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(M, n, d, generator=g, dtype=torch.float64)
    beta = torch.zeros(M, d, dtype=torch.float64)
    beta[:, : max(1, d // 5)] = torch.randn(M, max(1, d // 5), generator=g, dtype=torch.float64)
    y = torch.einsum("mnd,md->mn", x, beta) + noise * torch.randn(M, n, generator=g, dtype=torch.float64)
    xq = torch.randn(M, d, generator=g, dtype=torch.float64)
    return x, y, xq


@pytest.mark.parametrize("n,d", [(6, 12), (12, 12), (30, 8), (1, 5)])
@pytest.mark.parametrize("lam", [1e-3, 0.05, 0.4])
def test_lasso_matches_sklearn(n, d, lam):
    x, y, _ = _problem(8, n, d, seed=n * 100 + d)
    w = est.lasso_coef(x, y, lam=lam, tol=1e-12).numpy()
    for m in range(x.shape[0]):
        ref = sklearn.Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(x[m].numpy(),
                                                                                         y[m].numpy()).coef_
        assert np.allclose(w[m], ref, atol=1e-6 * max(1.0, np.abs(ref).max())), (m, w[m], ref)


def test_lasso_path_every_grid_point_certified():
    """The homotopy path at every grid value has duality gap <= tol * ||y||^2/n (the stopping rule), and agrees
    with scikit-learn at a few grid values."""
    x, y, _ = _problem(40, 10, 20, seed=3)
    G, b, yy = est.stats(x, y)
    lams = torch.tensor(GRIDS["lasso"][1])
    W, worst = est._lasso_solve(G, b, yy, lams, tol=1e-10, max_iter=500)
    assert worst <= 1e-10
    for k in (3, 15, 28):
        ref = sklearn.Lasso(alpha=float(lams[k]), fit_intercept=False, tol=1e-14, max_iter=10**6).fit(
            x[0].numpy(), y[0].numpy()).coef_
        assert np.allclose(W[k, 0].numpy(), ref, atol=1e-6)


def test_lasso_coordinate_descent_fallback_matches_path():
    x, y, _ = _problem(6, 8, 10, seed=4)
    G, b, yy = est.stats(x, y)
    w_cd, rel, _ = est._lasso_cd(G, b, yy, 0.1, tol=1e-12, max_iter=50_000)
    w_path = est.lasso_coef(x, y, lam=0.1, tol=1e-12)
    assert rel <= 1e-12
    assert torch.allclose(w_cd, w_path, atol=1e-5)


def _loop_gd(X, Y, steps, eta):
    n, d = X.shape
    w = np.zeros(d)
    for _ in range(steps):
        w = w + eta / n * X.T @ (Y - X @ w)
    return w


@pytest.mark.parametrize("steps", [0, 1, 7])
def test_gd_and_pto_match_per_prompt_loop(steps):
    x, y, xq = _problem(5, 9, 6, seed=steps)
    eta = 0.3
    got_gd = est.gd(x, y, xq, steps=steps, eta=eta).numpy()
    got_pto = est.pto(x, y, xq, steps=steps, eta=eta).numpy()
    for m in range(5):
        X, Y, q = x[m].numpy(), y[m].numpy(), xq[m].numpy()
        assert got_gd[m] == pytest.approx(_loop_gd(X, Y, steps, eta) @ q, abs=1e-12)
        r = X.T @ Y / X.shape[0]
        D = np.diag(r / np.abs(r).max())
        wt = _loop_gd(X @ D, Y, steps, eta)
        assert got_pto[m] == pytest.approx(wt @ (D @ q), abs=1e-12)


def test_groupwise_pto_definition():
    """Singleton blocks reproduce the d-head PtO exactly; one block is a T-step GD on the single feature
    r^T x / ||r||_2; a general partition matches a loop over the block features."""
    x, y, xq = _problem(4, 10, 6, seed=9)
    a = est.pto(x, y, xq, steps=5, eta=0.4)
    b = est.pto(x, y, xq, steps=5, eta=0.4, groups=[[j] for j in range(6)])
    assert torch.equal(a, b)
    groups = [[0, 3], [1, 2, 5], [4]]
    got = est.pto(x, y, xq, steps=5, eta=0.4, groups=groups).numpy()
    one = est.pto(x, y, xq, steps=5, eta=0.4, groups=[list(range(6))]).numpy()
    for m in range(4):
        X, Y, q = x[m].numpy(), y[m].numpy(), xq[m].numpy()
        r = X.T @ Y / X.shape[0]
        P = np.zeros((3, 6))
        for h, g in enumerate(groups):
            P[h, g] = r[g]
        P /= max(np.linalg.norm(r[g]) for g in groups)
        assert got[m] == pytest.approx(_loop_gd(X @ P.T, Y, 5, 0.4) @ (P @ q), abs=1e-12)
        p1 = (r / np.linalg.norm(r))[None]
        assert one[m] == pytest.approx(_loop_gd(X @ p1.T, Y, 5, 0.4) @ (p1 @ q), abs=1e-12)
    assert est.even_groups(7, 3) == [[0, 1, 2], [3, 4], [5, 6]]


@pytest.mark.parametrize("n,d", [(4, 9), (15, 6)])
def test_ols_and_ridge_match_numpy(n, d):
    x, y, xq = _problem(5, n, d, seed=n)
    ols = est.ols(x, y, xq).numpy()
    rid = est.ridge(x, y, xq, 0.2).numpy()
    for m in range(5):
        X, Y, q = x[m].numpy(), y[m].numpy(), xq[m].numpy()
        assert ols[m] == pytest.approx(np.linalg.lstsq(X, Y, rcond=None)[0] @ q, rel=1e-9, abs=1e-9)
        w = np.linalg.solve(X.T @ X / n + 0.2 * np.eye(d), X.T @ Y / n)
        assert rid[m] == pytest.approx(w @ q, rel=1e-10, abs=1e-12)
    assert torch.equal(est.ridge(x, y, xq, 0.0), est.ols(x, y, xq))


def test_zero_labels_give_zero_prediction():
    x, _, xq = _problem(3, 5, 4, seed=1)
    y = torch.zeros(3, 5, dtype=torch.float64)
    for pred in (est.pto(x, y, xq, steps=3, eta=0.5), est.gd(x, y, xq, steps=3, eta=0.5),
                 est.lasso(x, y, xq, 0.1)):
        assert torch.equal(pred, torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("call,match", [
    (lambda x, y, q: est.ols(x[0], y, q), "x must have shape"),
    (lambda x, y, q: est.ridge(x, y[:, :2], q, 0.1), "y must have shape"),
    (lambda x, y, q: est.gd(x, y, q[:, :2], steps=2, eta=0.1), "xq must have shape"),
    (lambda x, y, q: est.gd(x, y * math.nan, q, steps=2, eta=0.1), "y must contain only finite"),
    (lambda x, y, q: est.gd(x, y, q, steps=-1, eta=0.1), "steps must be"),
    (lambda x, y, q: est.pto(x, y, q, steps=2, eta=-0.1), "eta must be"),
    (lambda x, y, q: est.ridge(x, y, q, -1.0), "lam must be"),
    (lambda x, y, q: est.lasso(x, y, q, 0.0), "lam must be"),
    (lambda x, y, q: est.pto(x, y, q, steps=2, eta=0.1, groups=[[0, 1]]), "groups must partition"),
    (lambda x, y, q: est.pto(x, y, q, steps=2, eta=0.1, groups=[[0, 1, 2], [2, 3]]), "groups must partition"),
    (lambda x, y, q: est.pto(x, y, q, steps=2, eta=0.1, groups=[[0, 1, 2, 9]]), "groups entry must"),
])
def test_validation(call, match):
    x, y, xq = _problem(2, 5, 4, seed=0)
    with pytest.raises(ValueError, match=match):
        call(x, y, xq)


@pytest.mark.parametrize("kw,match", [
    ({"s": 6}, "s must be an integer in \\[1, 5\\]"), ({"s": 0}, "s must"), ({"n": 0}, "n must"),
    ({"sigma2": -0.1}, "sigma2 must"), ({"sigma2": math.nan}, "sigma2 must"), ({"d": 0}, "d must"),
    ({"data": "gauss"}, "data must"),
])
def test_bad_settings(kw, match):
    args = {"data": "sparse", "d": 5, "s": 2, "n": 4, "sigma2": 0.1} | kw
    with pytest.raises(ValueError, match=match):
        make_problem(**args)


def test_evaluate_methods_small():
    """Paired evaluation: every method on the same prompts, tuned values on the grid, reproducible by seed; one
    example (n = 1) works for both data models."""
    a = evaluate_methods(d=6, s=2, n=5, sigma2=0.1, steps=3, prompts=60, seed=2)
    b = evaluate_methods(d=6, s=2, n=5, sigma2=0.1, steps=3, prompts=60, seed=2)
    assert [r.name for r in a] == ["ols", "ridge", "gd", "pto", "lasso"]
    for r, r2 in zip(a, b):
        assert r.excess_risk == r2.excess_risk and math.isfinite(r.se) and r.se > 0
        assert r.errors.shape == (60,)
        if r.name != "ols":
            assert r.param in GRIDS[r.name][1]
    for data in ("sparse", "isotropic"):
        res = evaluate_methods(d=4, s=1, n=1, sigma2=0.0, steps=2, prompts=20, seed=0, data=data,
                               methods=("gd", "pto"))
        assert all(math.isfinite(r.excess_risk) for r in res)


@pytest.mark.gpu
def test_estimators_on_cuda_match_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, y, xq = _problem(50, 12, 20, seed=11)
    for f in (lambda *a: est.ols(*a), lambda *a: est.ridge(*a, 0.1), lambda *a: est.gd(*a, steps=5, eta=0.3),
              lambda *a: est.pto(*a, steps=5, eta=0.3), lambda *a: est.lasso(*a, 0.05, tol=1e-12)):
        cpu = f(x, y, xq)
        gpu = f(x.cuda(), y.cuda(), xq.cuda()).cpu()
        assert torch.allclose(cpu, gpu, atol=1e-8, rtol=1e-8)
    res = evaluate_methods(d=8, s=2, n=6, sigma2=0.1, steps=3, prompts=40, seed=0, device="cuda")
    assert all(math.isfinite(r.excess_risk) for r in res)


def test_problem_allows_one_example_for_the_sparse_model_only():
    from theory.problem import Problem
    assert Problem(d=5, L=1, sigma2=0.1, s=2).L == 1
    with pytest.raises(ValueError, match="L must be an integer"):
        Problem(d=5, L=1, sigma2=0.1)
    with pytest.raises(ValueError, match="s must be an integer in \\[1, 5\\]"):
        Problem(d=5, L=3, sigma2=0.1, s=6)
