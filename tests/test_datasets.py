import numpy as np
import pytest

from skselmix.datasets import long_tailed_profile, long_tailed_split


def test_profile_is_exponential():
    sizes = long_tailed_profile(5000, 10, 100)
    assert sizes[0] == 5000 and sizes[-1] == 50
    np.testing.assert_allclose(sizes[1:] / sizes[:-1], 100 ** (-1 / 9), rtol=0.01)


def test_split_sizes_balance_and_disjointness():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(5), 200)
    X = np.arange(y.size, dtype=float).reshape(-1, 1)  # row ids
    Xtr, ytr, Xva, yva, Xte, yte = long_tailed_split(
        X, y, rho=10, n_val_per_class=20, n_test_per_class=30, random_state=rng
    )
    assert np.bincount(yva).tolist() == [20] * 5 and np.bincount(yte).tolist() == [30] * 5
    assert sorted(np.bincount(ytr).tolist(), reverse=True) == long_tailed_profile(150, 5, 10).tolist()
    ids = np.concatenate([Xtr, Xva, Xte]).ravel()
    assert np.unique(ids).size == ids.size  # no row in two parts
    np.testing.assert_array_equal(y[Xtr.ravel().astype(int)], ytr)  # labels stay with their rows


def test_split_is_seeded_and_class_order_random():
    y = np.repeat(np.arange(6), 100)
    X = np.zeros((600, 1))
    a = long_tailed_split(X, y, rho=20, n_val_per_class=5, n_test_per_class=5, random_state=1)[1]
    b = long_tailed_split(X, y, rho=20, n_val_per_class=5, n_test_per_class=5, random_state=1)[1]
    np.testing.assert_array_equal(a, b)
    heads = {
        int(
            np.argmax(
                np.bincount(long_tailed_split(X, y, rho=20, n_val_per_class=5, n_test_per_class=5, random_state=s)[1])
            )
        )
        for s in range(10)
    }
    assert len(heads) > 1


def test_split_errors():
    with pytest.raises(ValueError, match="needs more than"):
        long_tailed_split(np.zeros((20, 1)), np.repeat([0, 1], 10), rho=5, n_val_per_class=5, n_test_per_class=5)
    with pytest.raises(ValueError, match="rho"):
        long_tailed_profile(10, 3, 0)
