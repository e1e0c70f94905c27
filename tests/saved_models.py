"""Small fitted models for the persistence tests (tests/test_persistence.py, test_security.py)."""

import numpy as np

from skselmix import SelMixClassifier


def three_classes():
    """70 rows of three shifted Gaussian classes (40, 20, 10 rows) in 3-d."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(40, 3)), rng.normal(size=(20, 3)) + 2, rng.normal(size=(10, 3)) - 2]
    return X, np.repeat([0, 1, 2], [40, 20, 10])


def fitted(data, **params):
    """A short fit of ``data`` (20 SGD steps, seeded): a model to save and load."""
    return SelMixClassifier(**{"max_iter": 20, "device": "cpu", "random_state": 0, **params}).fit(*data)
