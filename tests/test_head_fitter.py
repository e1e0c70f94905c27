"""Units of skselmix/_torch/head_fitter.py: heads fitted directly or through a memory cache."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skselmix._torch.head_fitter import HeadFitter, code_version


def _rows():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [20, 12, 8])
    x = rng.normal(size=(y.size, 4)) + 2 * np.eye(3, 4)[y]
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)


def test_cached_heads_equal_direct_heads_and_n_iter_is_the_most_of_any_call(tmp_path):
    x, y = _rows()
    direct, cached = HeadFitter(), HeadFitter(memory=str(tmp_path))
    assert not direct.caches and cached.caches
    for fitter in (direct, cached):
        coef, intercept = fitter(x, y, 3, kind="logit_adjusted", l2=1e-2)
        assert coef.shape == (1, 3, 4) and intercept.shape == (1, 3)
    again = HeadFitter(memory=str(tmp_path))(x, y, 3, kind="logit_adjusted", l2=1e-2)  # served from the cache
    direct_heads = direct(x, y, 3, kind="logit_adjusted", l2=1e-2)
    torch.testing.assert_close(again[0], direct_heads[0], rtol=1e-5, atol=1e-6)
    first = direct.n_iter
    with pytest.warns(ConvergenceWarning, match=r"iteration cap \(2\)"):
        direct(x, y, 3, kind="cross_entropy", l2=1e-2, max_iter=2)
    assert direct.n_iter == first > 2  # a shorter call does not lower it


def test_fold_heads_have_one_head_per_fold():
    x, y = _rows()
    fold = torch.as_tensor(np.arange(y.shape[0]) % 4)
    coef, intercept = HeadFitter()(x, y, 3, kind="logit_adjusted", l2=1e-2, fold=fold, n_folds=4)
    assert coef.shape == (4, 3, 4) and intercept.shape == (4, 3)


def test_a_cache_entry_of_the_wrong_shape_is_refused_naming_the_cache(tmp_path):
    fitter = HeadFitter(memory=str(tmp_path))
    with pytest.raises(ValueError, match="memory= cache at .* does not fit this fit"):
        fitter._checked([np.zeros((1, 3, 5)), np.zeros((1, 3)), 4, False], [(1, 3, 4), (1, 3)])
    with pytest.raises(ValueError, match="not a finite number"):
        fitter._checked([np.zeros((1, 3, 4)), np.zeros((1, 3)), float("nan"), False], [(1, 3, 4), (1, 3)])


def test_the_code_version_holds_every_numeric_librarys_version():
    import numpy
    import scipy
    import sklearn

    import skselmix

    assert code_version() == (skselmix.__version__, torch.__version__, numpy.__version__, scipy.__version__,
                              sklearn.__version__)
