"""Logits of a fitted model in numpy: the one place prediction happens, for either kind of
head, so that predicting, scoring and loading a model never import torch.

A fitted model is a linear head on ``X`` (``coef_``, ``intercept_``) or ``M`` networks
whose logits are averaged (``network_coefs_``, ``network_intercepts_``: the hidden layers,
then the head). The training code (``skselmix/_torch/``) computes the same logits in torch
while it fits; tests/test_predict.py checks that both agree.
"""

from typing import NamedTuple

import numpy as np

from ._rows import blocks_of


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


# What a fit's solver returns (skselmix/_torch/heads.py and network.py build them from their
# stacks): numpy models on the scaled features, which set the estimator's fitted attributes.


class LinearModel(NamedTuple):
    """A fitted linear model on the scaled features: the head ``coef`` (K, D), ``intercept``
    (K,) and the stack it stands for (``stack``: fold heads (H, K, D), (H, K))."""

    coef: np.ndarray
    intercept: np.ndarray
    stack: tuple

    def fitted_attributes(self, fmap, check_finite):
        """The estimator's fitted attributes of this model, on the original features."""
        coef, intercept = fmap.head_to_original(self.coef, self.intercept)
        check_finite(coef, intercept, fmap)
        attributes = {"coef_": coef, "intercept_": intercept}
        if self.stack[0].shape[0] > 1:
            attributes["cv_heads_"] = fmap.head_to_original(*self.stack)
        return attributes


class NetworkModel(NamedTuple):
    """Fitted networks on the scaled features: their hidden layers ``weights``/``biases``
    (lists of (M, out, in) and (M, out) arrays, ``input_scale`` folded in) and heads
    ``coef`` (M, K, width), ``intercept`` (M, K); their logits are averaged."""

    weights: list
    biases: list
    coef: np.ndarray
    intercept: np.ndarray

    def fitted_attributes(self, fmap, check_finite):
        weights, biases = list(self.weights), list(self.biases)
        weights[0], biases[0] = fmap.head_to_original(weights[0], biases[0])  # the first layer reads X
        check_finite(weights[0], biases[0], fmap)
        return {"network_coefs_": [*weights, self.coef], "network_intercepts_": [*biases, self.intercept]}


def _logits_width(model):
    """Values per row the widest array of the logits' computation holds."""
    if hasattr(model, "network_coefs_"):
        return max(coef.shape[0] * coef.shape[1] for coef in model.network_coefs_)
    return max(model.coef_.shape)


def blockwise(model, X, per_block, tail=(), dtype=np.float64, block_elements=None):
    """``per_block(logits)`` of every row of ``X``, computed a block of rows at a time.

    ``X`` is an in-memory float array or a :class:`~skselmix._rows.RowSource`;
    ``per_block`` maps a block's float64 logits to one result row per row, of shape
    ``tail`` and ``dtype``. Working memory is a block's features and logits
    (``LIMITS.prediction_block`` values of the widest, :mod:`skselmix._limits`), not the whole
    input's: one product over 100,000 rows at K = 1000 held 1.96 GiB.
    ``block_elements`` overrides that bound.
    """
    out = np.empty((X.shape[0],) + tuple(tail), dtype=dtype)
    width = max(_logits_width(model), X.shape[1])
    for positions, block in blocks_of(X, width=width, block_elements=block_elements):
        # float64 whatever X's dtype: the same values give the same predictions (float32
        # products lost 1 % of predictions on columns near 3000 with a signal of 0.02).
        out[positions] = per_block(model_logits(model, np.asarray(block, dtype=np.float64)))
    return out
