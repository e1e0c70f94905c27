"""Long-tailed training splits with balanced validation and test sets."""

import numpy as np
from sklearn.utils import check_random_state


def long_tailed_profile(n_max, n_classes, rho):
    """Exponential class sizes ``n_k = n_max * rho ** (-k / (K - 1))``, at least 1.

    Parameters
    ----------
    n_max : int
        Size of the largest class (``k = 0``).
    n_classes : int
        Number of classes K (at least 2).
    rho : float
        Imbalance ratio ``n_0 / n_{K-1}`` (``>= 1``; below 1 the profile rises).

    Returns
    -------
    sizes : ndarray of shape (n_classes,), int

    Examples
    --------
    >>> long_tailed_profile(100, 3, 100).tolist()
    [100, 10, 1]
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}.")
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho!r}.")
    k = np.arange(n_classes)
    return np.maximum(np.floor(n_max * float(rho) ** (-k / (n_classes - 1)) + 1e-9), 1).astype(int)


def long_tailed_split(X, y, *, rho, n_val_per_class, n_test_per_class, n_max=None, random_state=None):
    """Split a dataset into a long-tailed train set and balanced validation/test sets.

    Each class first gives ``n_test_per_class`` rows to the test set and
    ``n_val_per_class`` to the validation set; the training set then takes
    :func:`long_tailed_profile` sizes from what is left, with classes assigned
    to ranks in a random order.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    rho : float
        Imbalance ratio of the training set.
    n_val_per_class, n_test_per_class : int
        Balanced validation and test sizes per class.
    n_max : int, default=None
        Training size of the largest class; defaults to the rows left in the
        smallest class after the validation and test rows are taken.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X_train, y_train, X_val, y_val, X_test, y_test : ndarrays

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> parts = long_tailed_split(X, y, rho=50, n_val_per_class=25,
    ...                           n_test_per_class=50, random_state=0)
    >>> [len(p) for p in parts[1::2]]
    [273, 250, 500]
    """
    X, y = np.asarray(X), np.asarray(y)
    rng = check_random_state(random_state)
    classes, y_enc = np.unique(y, return_inverse=True)
    counts = np.bincount(y_enc)
    reserved = n_val_per_class + n_test_per_class
    if counts.min() <= reserved:
        raise ValueError(
            f"Every class needs more than n_val_per_class + n_test_per_class = {reserved} rows; "
            f"the smallest has {counts.min()}."
        )
    sizes = long_tailed_profile(n_max if n_max is not None else counts.min() - reserved, classes.size, rho)
    train_size = np.empty_like(sizes)
    train_size[rng.permutation(classes.size)] = sizes  # class c gets the size of its random rank
    train_size = np.minimum(train_size, counts - reserved)

    # Random order within each class, then position-in-class decides the part.
    order = rng.permutation(y.shape[0])
    order = order[np.argsort(y_enc[order], kind="stable")]
    cls = y_enc[order]
    rank = np.arange(order.size) - (np.cumsum(counts) - counts)[cls]
    test = order[rank < n_test_per_class]
    val = order[(rank >= n_test_per_class) & (rank < reserved)]
    train = order[(rank >= reserved) & (rank < reserved + train_size[cls])]
    return X[train], y[train], X[val], y[val], X[test], y[test]
