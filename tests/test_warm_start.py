"""Warm-start heads: L-BFGS with a closed-form gradient reaches the optimum of the intended loss."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from skselmix._warm_start import class_log_prior, fit_linear_head


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    sizes = [200, 60, 15]
    X = np.vstack([rng.normal(size=(n, 5)) + rng.normal(scale=1.5, size=5) for n in sizes])
    return torch.tensor(X), torch.tensor(np.repeat([0, 1, 2], sizes))


@pytest.mark.parametrize("kind", ["cross_entropy", "logit_adjusted", "balanced"])
def test_head_is_a_stationary_point_of_its_loss(problem, kind):
    X, y = problem
    l2 = 1e-2
    coef, intercept = fit_linear_head(X, y, 3, kind=kind, l2=l2, max_iter=500, tol=1e-10)
    c, b = coef.clone().requires_grad_(True), intercept.clone().requires_grad_(True)
    logits = X @ c.T + b
    weight = None
    if kind == "logit_adjusted":
        logits = logits + class_log_prior(y, 3, X.dtype, X.device)
    if kind == "balanced":
        weight = torch.exp(-class_log_prior(y, 3, X.dtype, X.device))
        weight = weight / weight.mean()
    loss = F.cross_entropy(logits, y, weight=weight) + 0.5 * l2 * c.pow(2).sum()
    grad_c, grad_b = torch.autograd.grad(loss, (c, b))
    assert grad_c.abs().max() < 1e-6 and grad_b.abs().max() < 1e-6


def test_cross_entropy_head_matches_sklearn(problem):
    X, y = problem
    l2 = 1e-2
    coef, intercept = fit_linear_head(X, y, 3, kind="cross_entropy", l2=l2, max_iter=500, tol=1e-10)
    lr = LogisticRegression(C=1.0 / (l2 * len(y)), tol=1e-10, max_iter=5000).fit(X.numpy(), y.numpy())
    np.testing.assert_allclose(coef.numpy(), lr.coef_, rtol=1e-3, atol=1e-4)
    # sklearn's multinomial intercepts are defined up to a common shift
    np.testing.assert_allclose(intercept.numpy() - intercept.numpy().mean(), lr.intercept_ - lr.intercept_.mean(), atol=1e-3)
