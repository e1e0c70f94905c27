import numpy as np
import pytest
from sklearn.datasets import load_digits

from skselmix.datasets import long_tailed_split


@pytest.fixture(scope="session")
def digits_lt():
    """Long-tailed digits (rho = 50) with balanced validation (25/class) and test (50/class) sets."""
    X, y = load_digits(return_X_y=True)
    return [
        long_tailed_split(X, y, rho=50, n_val_per_class=25, n_test_per_class=50, random_state=seed) for seed in range(4)
    ]


@pytest.fixture
def blobs3():
    """Three imbalanced Gaussian classes in 5-d."""
    rng = np.random.RandomState(0)
    sizes = [150, 60, 20]
    centers = rng.normal(scale=2.0, size=(3, 5))
    X = np.vstack([rng.normal(size=(n, 5)) + c for n, c in zip(sizes, centers)])
    y = np.repeat([0, 1, 2], sizes)
    return X, y
