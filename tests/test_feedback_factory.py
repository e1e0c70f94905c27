"""Units of skselmix/_torch/feedback_factory.py: which feedback a fit gets, and its splits."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold

from skselmix import FitOutcomeWarning
from skselmix._torch.features import fit_feature_map
from skselmix._torch.feedback import CrossFitFeedback, HoldOutFeedback
from skselmix._torch.feedback_factory import AUTO_FOLDS, build_feedback, fold_of_rows, stratified_split
from skselmix._torch.fit_inputs import FitData


def _data(counts=(12, 8, 5), with_val=False):
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(y.size, 3))
    extra = {"X_val": X[:6], "y_val": y[:6]} if with_val else {}
    return FitData(X, y, np.arange(len(counts)), class_counts=np.array(counts, dtype=float), **extra)


def _build(data, cv, **kwargs):
    return build_feedback(data, fit_feature_map(data.X), "cpu", np.random.RandomState(0), cv=cv,
                          validation_fraction=0.25, memory=None, **kwargs)


def test_cv_auto_cross_fits_without_x_val_and_holds_out_with_it():
    feedback = _build(_data(), "auto")
    assert isinstance(feedback, CrossFitFeedback) and feedback.n_heads == AUTO_FOLDS
    feedback = _build(_data(with_val=True), "auto")
    assert isinstance(feedback, HoldOutFeedback) and feedback.x_val.shape[0] == 6


def test_cv_none_holds_out_a_stratified_fraction():
    data = _data()
    feedback = _build(data, None)
    assert isinstance(feedback, HoldOutFeedback)
    assert np.bincount(feedback.y_val.numpy(), minlength=3).tolist() == [3, 2, 1]  # round(0.25 * n_k), at least 1
    assert feedback.x_train.shape[0] + feedback.x_val.shape[0] == data.X.shape[0]


def test_stratified_split_keeps_a_single_row_class_on_both_sides():
    y = np.array([0, 0, 0, 0, 1, 2, 2])
    train, val = stratified_split(y, 3, 0.5, np.random.RandomState(0))
    assert 4 in train and 4 in val  # the one row of class 1
    assert np.bincount(y[val], minlength=3).tolist() == [2, 1, 1]
    assert sorted(set(train) | set(val)) == list(range(7))


def test_fold_of_rows_from_an_int_a_splitter_and_a_list():
    y = np.repeat([0, 1], [6, 4])
    X = np.zeros((10, 2))
    fold, n = fold_of_rows(3, X, y, np.random.RandomState(0))
    assert n == 3 and sorted(np.bincount(fold)) == [3, 3, 4]
    fold, n = fold_of_rows(KFold(2), X, y, np.random.RandomState(0))
    assert fold.tolist() == [0] * 5 + [1] * 5
    splits = [(np.arange(5, 10), np.arange(5)), (np.arange(5), np.arange(5, 10))]
    assert fold_of_rows(splits, X, y, np.random.RandomState(0))[0].tolist() == [0] * 5 + [1] * 5


def test_splits_that_do_not_partition_the_rows_are_refused():
    y, X = np.repeat([0, 1], 5), np.zeros((10, 2))
    overlapping = [(np.arange(5, 10), np.arange(6)), (np.arange(5), np.arange(5, 10))]
    with pytest.raises(ValueError, match="each row in exactly one test fold"):
        fold_of_rows(overlapping, X, y, np.random.RandomState(0))


def test_classes_the_folds_cannot_judge_are_named():
    data = _data(counts=(12, 8, 1))  # class 2's single row sits in one test fold
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _build(data, 3)
    assert any(w.category is FitOutcomeWarning and "[2]" in str(w.message) for w in caught)


def test_networks_draw_their_seed_only_when_there_are_networks():
    rng_linear, rng_network = np.random.RandomState(0), np.random.RandomState(0)
    data = _data()
    build_feedback(data, fit_feature_map(data.X), "cpu", rng_linear, cv=3, validation_fraction=0.2, memory=None)
    feedback = build_feedback(data, fit_feature_map(data.X), "cpu", rng_network, cv=3, validation_fraction=0.2,
                              memory=None, hidden_layer_sizes=(4,))
    assert feedback.fit_heads.hidden_layer_sizes == (4,)
    rng_linear.randint(np.iinfo(np.int32).max)  # the one more draw: the networks' seed
    assert rng_linear.randint(10**6, size=5).tolist() == rng_network.randint(10**6, size=5).tolist()
