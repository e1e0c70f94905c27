"""Data of the benchmarks: the real long-tailed splits (Fashion-MNIST-LT, WordNet-45, the
semi-supervised Fashion splits) in SelMix's own coordinates, and synthetic long-tailed
Gaussians. Shared by the programs; not a program itself."""

import numpy as np
from sklearn.model_selection import train_test_split

from skselmix.datasets import (
    fetch_fashion_mnist_embeddings,
    fetch_wordnet_embeddings,
    long_tailed_profile,
    long_tailed_split,
)

from . import _methods as M
from ._internals import fit_feature_map

FASHION_VAL_PER_CLASS = 100


def selmix_coordinates(split):
    """Every method sees the same features, in SelMix's own coordinates: columns centred on
    the training rows, divided by the RMS norm of the centred training rows (so the L2
    strength means the same for every head)."""
    fmap = fit_feature_map(split.X_train)
    for name in ("X_train", "X_val", "X_test"):
        setattr(split, name, fmap.transform(getattr(split, name)).astype(np.float32))
    return split


def fashion_split(seed):
    """Fashion-MNIST-LT: n_max 5000, rho 100, random class order; balanced validation of
    100 per class drawn from the remaining training images; the official balanced 10k test set."""
    X, y = fetch_fashion_mnist_embeddings("train")
    X_test, y_test = fetch_fashion_mnist_embeddings("test")
    X_tr, y_tr, X_val, y_val, _, _ = long_tailed_split(
        X, y, rho=100, n_max=5000, n_val_per_class=FASHION_VAL_PER_CLASS, n_test_per_class=0, random_state=seed
    )
    return selmix_coordinates(M.Split(X_tr, y_tr, X_val, y_val, X_test, y_test, 10))


def wordnet_split(seed):
    """WordNet-45 (naturally long-tailed): stratified 70 / 10 / 20 % train / validation / test.

    Recall-based metrics do not depend on the test prior, so the test set need not be balanced."""
    X, labels = fetch_wordnet_embeddings()
    classes, y = np.unique(labels, return_inverse=True)
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=2 / 3, stratify=y_rest, random_state=seed)
    return selmix_coordinates(M.Split(X_tr, y_tr, X_val, y_val, X_test, y_test, classes.size))



def long_tailed_gaussians(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, (n * 100 ** (-np.arange(k) / max(k - 1, 1)))).astype(float)
    sizes = np.maximum(2, np.round(sizes / sizes.sum() * n)).astype(int)
    y = np.repeat(np.arange(k), sizes)[:n]
    y = np.r_[y, rng.integers(0, k, n - y.size)] if y.size < n else y
    centers = rng.normal(size=(k, d)).astype(np.float32) * 0.3
    X = centers[y] + rng.normal(size=(n, d)).astype(np.float32)
    return X, y



UNLABELED = -1  # marker of unlabelled rows: sklearn's SelfTrainingClassifier requires -1


SETTINGS = {
    "consistent (rho_u=100)": (100.0, 2000),
    "uniform (rho_u=1)": (1.0, 400),
    "reversed (rho_u=1/100)": (0.01, 2000),
}


def make_split(seed, rho_u, n_max_u):
    X, y = fetch_fashion_mnist_embeddings("train")
    X_test, y_test = fetch_fashion_mnist_embeddings("test")
    rng = np.random.RandomState(seed)
    order = rng.permutation(10)  # class order[r] has labelled rank r
    rank = np.empty(10, int)
    rank[order] = np.arange(10)
    n_lab = long_tailed_profile(500, 10, 100)[rank]
    # rho_u < 1 reverses the profile: the profile's largest class sits at the labelled tail.
    n_unl = (
        long_tailed_profile(n_max_u, 10, rho_u) if rho_u >= 1 else long_tailed_profile(n_max_u, 10, 1 / rho_u)[::-1]
    )[rank]
    parts = {"lab": [], "unl": [], "val": []}
    for c in range(10):  # ten classes: a loop over classes is fine off the hot path
        idx = rng.permutation(np.flatnonzero(y == c))
        parts["val"].append(idx[:100])
        parts["lab"].append(idx[100 : 100 + n_lab[c]])
        parts["unl"].append(idx[100 + n_lab[c] : 100 + n_lab[c] + n_unl[c]])
    lab, unl, val = (np.concatenate(parts[k]) for k in ("lab", "unl", "val"))
    fmap = fit_feature_map(X[lab])  # SelMix's own coordinates, fitted on the labelled rows
    return (
        fmap.transform(X[lab]),
        y[lab],
        fmap.transform(X[unl]),
        y[unl],
        fmap.transform(X[val]),
        y[val],
        fmap.transform(X_test),
        y_test,
    )


def with_unlabeled(X_l, y_l, X_u):
    """One training set: the labelled rows, then the unlabelled rows marked ``UNLABELED``."""
    return np.r_[X_l, X_u], np.r_[y_l, np.full(len(X_u), UNLABELED)]

