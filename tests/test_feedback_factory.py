"""Units of skselmix/_torch/feedback_factory.py: which feedback a fit gets, and its splits."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold

from skselmix import FitOutcomeWarning
from skselmix._torch.architecture import LINEAR, architecture_of
from skselmix._torch.features import fit_feature_map
from skselmix._torch.feedback import CrossFitFeedback, HoldOutFeedback
from skselmix._torch.feedback_factory import (
    AUTO_FOLDS,
    build_feedback,
    draws_folds,
    fold_of_rows,
    resolved_cv,
    stratified_split,
)
from skselmix._torch.fit_inputs import FitData
from skselmix._torch.seeds import FitSeeds


def _data(counts=(12, 8, 5), with_val=False):
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(y.size, 3))
    extra = {"X_val": X[:6], "y_val": y[:6]} if with_val else {}
    return FitData(X, y, np.arange(len(counts)), class_counts=np.array(counts, dtype=float), **extra)


def _seeds(data, cv, architecture=LINEAR):
    cv = resolved_cv(cv, data.X_val is not None)
    hold_out = cv is None and data.X_val is None
    return FitSeeds.draw(0, network=architecture.needs_seed, folds=draws_folds(cv),
                         hold_out_rows=data.y.shape[0] if hold_out else None)


def _build(data, cv, architecture=LINEAR, **kwargs):
    return build_feedback(data, fit_feature_map(data.X), "cpu", _seeds(data, cv, architecture), cv=cv,
                          validation_fraction=0.25, memory=None, architecture=architecture, **kwargs)


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
    train, val = stratified_split(y, 3, 0.5, np.random.RandomState(0).permutation(7))
    assert 4 in train and 4 in val  # the one row of class 1
    assert np.bincount(y[val], minlength=3).tolist() == [2, 1, 1]
    assert sorted(set(train) | set(val)) == list(range(7))


def test_fold_of_rows_from_an_int_a_splitter_and_a_list():
    y = np.repeat([0, 1], [6, 4])
    X = np.zeros((10, 2))
    fold, n = fold_of_rows(3, X, y, 0)
    assert n == 3 and sorted(np.bincount(fold)) == [3, 3, 4]
    fold, n = fold_of_rows(KFold(2), X, y)
    assert fold.tolist() == [0] * 5 + [1] * 5
    splits = [(np.arange(5, 10), np.arange(5)), (np.arange(5), np.arange(5, 10))]
    assert fold_of_rows(splits, X, y)[0].tolist() == [0] * 5 + [1] * 5


def test_splits_that_do_not_partition_the_rows_are_refused():
    y, X = np.repeat([0, 1], 5), np.zeros((10, 2))
    overlapping = [(np.arange(5, 10), np.arange(6)), (np.arange(5), np.arange(5, 10))]
    with pytest.raises(ValueError, match="each row in exactly one test fold"):
        fold_of_rows(overlapping, X, y)


def test_classes_the_folds_cannot_judge_are_named():
    data = _data(counts=(12, 8, 1))  # class 2's single row sits in one test fold
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _build(data, 3)
    assert any(w.category is FitOutcomeWarning and "[2]" in str(w.message) for w in caught)


def test_networks_draw_their_seed_only_when_there_are_networks():
    data = _data()
    network = architecture_of((4,))
    linear_seeds, network_seeds = _seeds(data, 3), _seeds(data, 3, network)
    assert linear_seeds.network is None and isinstance(network_seeds.network, int)
    # The networks' seed is the first draw; everything after it shifts by one draw.
    draws = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=6).tolist()
    assert [linear_seeds.folds, *linear_seeds.run] == draws[:5]
    assert [network_seeds.network, network_seeds.folds, *network_seeds.run] == draws
    feedback = _build(data, 3, network)
    assert feedback.fit_heads.architecture == network and feedback.fit_heads.seed == network_seeds.network


def test_the_seeds_record_draws_in_the_order_fits_always_drew():
    """A hold-out's order of the rows (one permutation), then the loops' four seeds, from the
    random_state's stream: what releases up to 0.13 drew as the fit went."""
    rng = np.random.RandomState(7)
    order = rng.permutation(25)
    run = rng.randint(np.iinfo(np.int32).max, size=4).tolist()
    seeds = FitSeeds.draw(7, hold_out_rows=25)
    assert seeds.network is None and seeds.folds is None and seeds.draws_rows
    np.testing.assert_array_equal(seeds.hold_out_order, order)
    assert list(seeds.run) == run
    assert not FitSeeds.draw(7).draws_rows  # a user's X_val or splits: no draw of rows
