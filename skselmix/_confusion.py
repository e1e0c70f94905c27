"""Balanced confusion matrices, the quantity every skselmix objective reads.

One function builds them for both the metrics (numpy labels, numpy matrix: scoring
a fitted model needs no torch) and the estimator (torch labels on any device, torch
matrix), so the two can never disagree on a definition.
"""

import numpy as np

from ._lazy import torch


def balanced_confusion(y_true, y_pred, n_classes, *, sample_weight=None):
    """Confusion matrix of the balanced distribution from encoded labels.

    Parameters
    ----------
    y_true : torch.Tensor or ndarray of shape (n_samples,)
        Integer class indices in ``[0, n_classes)``.
    y_pred : torch.Tensor or ndarray of shape (n_samples,)
        Integer class indices in ``[0, n_classes]``; the value ``n_classes``
        marks a prediction outside the K classes (an error for its row that
        counts towards no coverage).
    n_classes : int
        Number of classes K.
    sample_weight : torch.Tensor or ndarray of shape (n_samples,), default=None
        Non-negative weights; ``None`` weighs every sample by one.

    Returns
    -------
    confusion : torch.Tensor or ndarray of shape (K, K), float64
        Of ``y_true``'s kind.
        ``C[i, j] = P(yhat = j | y = i) / K``. A row sums to ``1/K`` unless some
        of its predictions fall outside the K classes. Rows of classes with no
        sample (or zero total weight) are all zero.
    present : torch.Tensor or ndarray of shape (K,), bool
        Which rows hold samples.
    """
    if isinstance(y_true, np.ndarray):
        flat = y_true.astype(np.int64) * (n_classes + 1) + np.asarray(y_pred, dtype=np.int64)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        counts = np.bincount(flat, weights=weights, minlength=n_classes * (n_classes + 1))
        counts = counts.astype(np.float64).reshape(n_classes, n_classes + 1)
        row_totals = counts.sum(axis=1, keepdims=True)
        confusion = counts[:, :n_classes] / (np.maximum(row_totals, np.finfo(np.float64).tiny) * n_classes)
        return confusion, row_totals[:, 0] > 0
    flat = y_true.long() * (n_classes + 1) + y_pred.long()
    weights = None if sample_weight is None else sample_weight.to(torch.float64)
    counts = torch.bincount(flat, weights=weights, minlength=n_classes * (n_classes + 1))
    counts = counts.to(torch.float64).reshape(n_classes, n_classes + 1)
    row_totals = counts.sum(dim=1, keepdim=True)
    present = row_totals.squeeze(1) > 0
    confusion = counts[:, :n_classes] / (row_totals.clamp_min(torch.finfo(torch.float64).tiny) * n_classes)
    return confusion, present


def recalls(confusion):
    """Per-class recall ``r_i = K * C_ii`` of a balanced confusion matrix (zero for an empty row)."""
    return confusion.diagonal() * confusion.shape[0]  # a numpy array or a torch tensor alike


def coverages(confusion):
    """Per-class coverage ``sum_i C_ij``: the share of predictions of each class."""
    return confusion.sum(0)
