"""Slow, loop-by-loop references for the gain, shared by the gain tests."""

import itertools

import numpy as np


def prototype_confusion(Z, W, b):
    """The surrogate confusion matrix pi_q softmax(W z_q + b) on the balanced distribution."""
    A = Z @ W.T + b
    S = np.exp(A - A.max(axis=1, keepdims=True))
    return S / S.sum(axis=1, keepdims=True) / Z.shape[0]


def mixup_step(Z, W, b, i, j, lbar):
    """Mixed prototype zbar_ij, its softmax p_ij, and the SGD direction V_ij = (e_i - p_ij) zbar_ij^T."""
    zbar = lbar * Z[i] + (1 - lbar) * Z[j]
    a = W @ zbar + b
    p = np.exp(a - a.max())
    p /= p.sum()
    return zbar, p, np.outer(np.eye(Z.shape[0])[i] - p, zbar)


def finite_difference_gain(Z, W, b, psi, lbar, eps=1e-6):
    """G[i, j] = d/dt psi(prototype_confusion(W + t V_ij)) at t = 0, by central differences."""
    k = Z.shape[0]
    G = np.zeros((k, k))
    for i, j in itertools.product(range(k), range(k)):
        V = mixup_step(Z, W, b, i, j, lbar)[2]
        G[i, j] = (psi(prototype_confusion(Z, W + eps * V, b)) - psi(prototype_confusion(Z, W - eps * V, b))) / (
            2 * eps
        )
    return G
