"""Long-tailed problems for judging SelMix against its own warm start (issue 31).

Each entry maps a seed to ``(X, y, X_test, y_test, params)``: labelled rows (the fit gets
no ``X_val``, so the default is 5-fold cross-fitting), a balanced test set, and the
``SelMixClassifier`` parameters that differ from its defaults. The shapes follow the
problems a new user tried (shared/REFERENCE.md, "A new user's five problems") and the
project's own benchmarks:

* ``digits_tiny``: raw digit pixels, imbalance 50 (tails of 2 or 3 rows), as
  ``benchmarks.tabular``;
* ``digits_12``: raw digit pixels, imbalance 10 (tails of about 12 rows);
* ``breast``: breast cancer, standardised, 300 benign to 12 malignant rows
  (``breast_raw``: the same rows, raw columns);
* ``wine_raw``: wine's raw columns, 40 / 12 / 4 training rows;
* ``fashion_pca64``: raw Fashion-MNIST pixels projected on 64 principal components,
  500 down to 10 rows a class;
* ``fashion_lt``: Fashion-MNIST-LT embeddings, ``benchmarks.paired``'s split (every
  labelled row: training and validation);
* ``synthetic``: ``benchmarks.tabular``'s nonlinear synthetic problem (K = 20, tails of 25);
* ``synthetic_adapter``: the same with ``hidden_layer_sizes=(256,)``;
* ``tiny_unit_signal``: the class signal in two columns in units of 1e-9, beside three
  noise columns in units of 1e4 (issue 41, R02: 0.10 treated the signal as constant);
* ``income_beside_age``: an age-like signal column beside an income-like noise column
  (issue 41, R03: 0.10's "auto" never standardised two columns).
"""

from functools import cache

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from sklearn.decomposition import PCA

from skselmix.datasets import long_tailed_split


@cache
def _digits():
    return load_digits(return_X_y=True)


@cache
def _synthetic():
    return make_classification(n_samples=30_000, n_features=16, n_informative=12, n_redundant=2, n_classes=20,
                               n_clusters_per_class=3, class_sep=1.5, random_state=0)


def _tabular(X, y, seed, **split):
    X_tr, y_tr, _, _, X_te, y_te = long_tailed_split(X, y, n_val_per_class=0, random_state=seed, **split)
    return X_tr, y_tr, X_te, y_te


def digits_tiny(seed):
    return (*_tabular(*_digits(), seed, rho=50, n_test_per_class=50), {})


def digits_12(seed):
    return (*_tabular(*_digits(), seed, rho=10, n_test_per_class=50), {})


def breast_raw(seed):
    """300 benign and 12 malignant training rows, 50 of each in the test set, raw columns
    (their units lie four orders of magnitude apart)."""
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.RandomState(seed)
    malignant, benign = rng.permutation(np.flatnonzero(y == 0)), rng.permutation(np.flatnonzero(y == 1))
    train = np.r_[benign[:300], malignant[:12]]
    test = np.r_[benign[300:350], malignant[12:62]]
    return X[train], y[train], X[test], y[test], {}


def breast(seed):
    """:func:`breast_raw`, standardised with the training rows' moments."""
    X, y, X_test, y_test, params = breast_raw(seed)
    mean, std = X.mean(axis=0), X.std(axis=0)
    return (X - mean) / std, y, (X_test - mean) / std, y_test, params


def wine_raw(seed):
    """Wine's raw columns (proline in the hundreds, hue near 1): 40, 12 and 4 training rows,
    the class order drawn per seed, 8 test rows a class."""
    X, y = load_wine(return_X_y=True)
    rng = np.random.RandomState(seed)
    sizes = rng.permutation([40, 12, 4])
    train, test = [], []
    for c in range(3):  # three classes: a loop is fine off the hot path
        rows = rng.permutation(np.flatnonzero(y == c))
        train.append(rows[:sizes[c]])
        test.append(rows[sizes[c]:sizes[c] + 8])
    train, test = np.concatenate(train), np.concatenate(test)
    return X[train], y[train], X[test], y[test], {}


@cache
def _fashion_pixels():
    from skselmix.datasets import load_fashion_mnist

    images, labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    flat = lambda a: a.reshape(a.shape[0], -1).astype(np.float64) / 255.0  # noqa: E731
    return flat(images), labels, flat(test_images), test_labels


def fashion_pca64(seed):
    """Raw Fashion-MNIST pixels: 500 down to 10 training rows a class (imbalance 50), PCA-64
    fitted on the training rows; 100 test images a class."""
    X, y, X_test, y_test = _fashion_pixels()
    X_tr, y_tr, _, _, _, _ = long_tailed_split(X, y, rho=50, n_max=500, n_val_per_class=0, n_test_per_class=0,
                                               random_state=seed)
    rng = np.random.RandomState(seed)
    test = np.concatenate([rng.choice(np.flatnonzero(y_test == c), 100, replace=False) for c in range(10)])
    pca = PCA(64, random_state=seed).fit(X_tr)
    return pca.transform(X_tr), y_tr, pca.transform(X_test[test]), y_test[test], {}


def fashion_lt(seed):
    """benchmarks.paired's Fashion-MNIST-LT split, every labelled row (training and validation)."""
    from ._data import fashion_split
    from ._methods import labelled

    split = labelled(fashion_split(seed))
    return split.X_train, split.y_train, split.X_test, split.y_test, {}


def synthetic(seed):
    return (*_tabular(*_synthetic(), seed, rho=50, n_test_per_class=200), {})


def synthetic_adapter(seed):
    return (*_tabular(*_synthetic(), seed, rho=50, n_test_per_class=200), {"hidden_layer_sizes": (256,)})


def _long_tailed_gaussians(seed, sizes, n_test, centres, noise):
    """Rows of classes of ``sizes`` (training) and ``n_test`` each (test): ``centres[y]`` plus
    Gaussian noise of per-column ``noise``."""
    rng = np.random.RandomState(seed)

    def rows(counts):
        y = np.repeat(np.arange(len(counts)), counts)
        return centres[y] + rng.normal(size=(y.size, centres.shape[1])) * noise, y

    return (*rows(sizes), *rows([n_test] * len(sizes)))


def tiny_unit_signal(seed):
    """Four classes (200, 60, 20, 8 training rows; 50 test rows each), told apart by two
    columns in units of 1e-9; three columns of noise in units of 1e4."""
    centres = np.c_[np.array([[0, 0], [3, 0], [0, 3], [3, 3]]) * 1e-9, np.zeros((4, 3))]
    noise = np.array([1e-9, 1e-9, 1e4, 1e4, 1e4])
    return (*_long_tailed_gaussians(seed, [200, 60, 20, 8], 50, centres, noise), {})


def income_beside_age(seed):
    """Three age bands (240, 60, 15 training rows; 60 test rows each) in an age-like column
    (years: means 30, 45, 60, spread 5), beside an income-like column of noise (spread
    30,000)."""
    centres = np.array([[30.0, 50_000.0], [45.0, 50_000.0], [60.0, 50_000.0]])
    noise = np.array([5.0, 30_000.0])
    return (*_long_tailed_gaussians(seed, [240, 60, 15], 60, centres, noise), {})


#: How the reports name each problem.
TITLES = {
    "digits_tiny": "digits, raw pixels, imbalance 50 (tails of 2 to 3 rows)",
    "digits_12": "digits, raw pixels, imbalance 10 (tails of about 12 rows)",
    "breast": "breast cancer, standardised, 300 : 12",
    "breast_raw": "breast cancer, raw columns (units 1e-3 to 1e3), 300 : 12",
    "wine_raw": "wine, raw columns (proline in the hundreds), 40 / 12 / 4",
    "fashion_pca64": "Fashion-MNIST pixels, PCA-64, 500 down to 10 rows a class",
    "fashion_lt": "Fashion-MNIST-LT embeddings (benchmarks.paired's split)",
    "synthetic": "synthetic nonlinear, K = 20, tails of 25 (linear head)",
    "synthetic_adapter": "synthetic nonlinear, K = 20, tails of 25, hidden_layer_sizes=(256,)",
    "tiny_unit_signal": "signal in units of 1e-9 beside noise in units of 1e4, 200 down to 8",
    "income_beside_age": "age-like signal beside income-like noise (2 columns), 240 / 60 / 15",
}

PROBLEMS = {
    "digits_tiny": digits_tiny,
    "digits_12": digits_12,
    "breast": breast,
    "breast_raw": breast_raw,
    "wine_raw": wine_raw,
    "fashion_pca64": fashion_pca64,
    "fashion_lt": fashion_lt,
    "synthetic": synthetic,
    "synthetic_adapter": synthetic_adapter,
    "tiny_unit_signal": tiny_unit_signal,
    "income_beside_age": income_beside_age,
}
