"""Stratified row selection: each class's rows in a random order, without a loop over classes."""

import numpy as np


def shuffled_class_ranks(y, n_classes, rng=None, order=None):
    """Rows grouped by class in a random order within each class, and each row's rank there.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes K.
    rng : numpy.random.RandomState, default=None
        Draws the order (one permutation of the rows), unless ``order`` is given.
    order : ndarray of shape (n,), default=None
        That permutation, drawn already.

    Returns
    -------
    order : ndarray of shape (n,)
        Row indices, class by class.
    rank : ndarray of shape (n,)
        Position of ``order[r]`` among the rows of its class (0 for the first).
    counts : ndarray of shape (K,)
        Rows per class.
    """
    if order is None:
        order = rng.permutation(y.shape[0])
    order = order[np.argsort(y[order], kind="stable")]
    counts = np.bincount(y, minlength=n_classes)
    rank = np.arange(y.shape[0]) - (np.cumsum(counts) - counts)[y[order]]
    return order, rank, counts
