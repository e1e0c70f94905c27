"""Logits of a fitted model in numpy: the one place prediction happens, for either kind of
head, so that predicting, scoring and loading a model never import torch.

A fitted model is a linear head on ``X`` (``coef_``, ``intercept_``) or ``M`` networks
whose logits are averaged (``network_coefs_``, ``network_intercepts_``: the hidden layers,
then the head). The training code (``skselmix/_torch/``) computes the same logits in torch
while it fits; tests/test_predict.py checks that both agree.
"""

import numpy as np


def linear_logits(X, coef, intercept):
    """Logits (n, K) of the linear head ``coef`` (K, D), ``intercept`` (K,) on rows ``X`` (n, D)."""
    return X @ coef.T + intercept


def network_logits(X, weights, biases, coef, intercept):
    """Logits (n, K) of the networks ``weights``/``biases`` (lists of (M, out, in) and (M, out)
    arrays) with heads ``coef`` (M, K, width), ``intercept`` (M, K) on rows ``X`` (n, D):
    the mean of the ``M`` networks' logits."""
    h = X[np.newaxis]
    for weight, bias in zip(weights, biases):
        h = np.maximum(np.matmul(h, weight.transpose(0, 2, 1)) + bias[:, np.newaxis, :], 0.0)
    return (np.matmul(h, coef.transpose(0, 2, 1)) + intercept[:, np.newaxis, :]).mean(axis=0)


def model_logits(model, X):
    """Logits (n, K) of a fitted SelMixClassifier on rows ``X`` (float64 numpy), whatever its kind."""
    if hasattr(model, "network_coefs_"):
        *weights, coef = model.network_coefs_
        *biases, intercept = model.network_intercepts_
        return network_logits(X, weights, biases, coef, intercept)
    return linear_logits(X, model.coef_, model.intercept_)
