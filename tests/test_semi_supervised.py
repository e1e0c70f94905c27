"""Semi-supervised mode: opt-in marker, pseudo-labelled partners, no label leak; mixup variants."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import cross_val_score

from benchmarks._internals import fit_with_hidden_labels as fit_with_hidden
from skselmix import SelMixClassifier
from skselmix._torch.sampler import ClassIndex, draw_partners, mix_features
from skselmix.metrics import min_recall_score, objective_scorer


@pytest.fixture(scope="module")
def semi(digits_lt):
    """Long-tailed labelled digits plus an unlabelled pool (the validation rows, labels hidden)."""
    X_tr, y_tr, X_val, y_val, X_te, y_te = digits_lt[0]
    rng = np.random.RandomState(0)
    pool = rng.permutation(len(X_te))[:300]
    X = np.r_[X_tr, X_te[pool]]
    y = np.r_[y_tr, np.full(len(pool), -1)]
    return X, y, y_te[pool], (X_val, y_val), (np.delete(X_te, pool, axis=0), np.delete(y_te, pool))


def params(**extra):
    return {"unlabeled_label": -1, "device": "cpu", "random_state": 0, **extra}


def test_marker_is_opt_in(semi):
    X, y, _, _, _ = semi
    plain = SelMixClassifier(max_iter=0, device="cpu").fit(X, y)
    assert -1 in plain.classes_  # without the parameter, -1 is an ordinary class
    clf = SelMixClassifier(**params(max_iter=0)).fit(X, y)
    assert -1 not in clf.classes_ and clf.classes_.tolist() == list(range(10))
    assert clf.n_unlabeled_ == 300


def test_history_reports_pools_and_pseudo_label_accuracy(semi):
    X, y, hidden, (X_val, y_val), _ = semi
    clf = fit_with_hidden(
        SelMixClassifier(**params(max_iter=100, pseudo_label_threshold=0.5)), X, y, hidden, X_val=X_val, y_val=y_val
    )
    record = clf.history_[0]
    assert record["unlabeled_counts"].shape == (10,) and 0 < record["unlabeled_counts"].sum() <= 300
    assert 0.8 < record["pseudo_label_accuracy"] <= 1.0  # the warm start is a decent labeller on digits


def test_no_label_leak(semi):
    """Changing the hidden true labels of the unlabelled rows cannot change the model."""
    X, y, hidden, (X_val, y_val), _ = semi
    a = fit_with_hidden(SelMixClassifier(**params(max_iter=150)), X, y, hidden, X_val=X_val, y_val=y_val)
    shuffled = np.random.RandomState(1).permutation(hidden)
    b = fit_with_hidden(SelMixClassifier(**params(max_iter=150)), X, y, shuffled, X_val=X_val, y_val=y_val)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.history_[0]["pseudo_label_accuracy"] != b.history_[0]["pseudo_label_accuracy"]


def test_oracle_partners_are_labelled_by_the_hidden_labels(semi):
    """The analysis seam of benchmarks/semi_supervised_oracle.py: with hidden_partners=True
    every unlabelled row joins the partner pool under its true label, and the fit differs."""
    X, y, hidden, (X_val, y_val), _ = semi
    oracle = fit_with_hidden(SelMixClassifier(**params(max_iter=150)), X, y, hidden, X_val=X_val, y_val=y_val,
                             hidden_partners=True)
    np.testing.assert_array_equal(oracle.history_[0]["unlabeled_counts"], np.bincount(hidden, minlength=10))
    pseudo = fit_with_hidden(SelMixClassifier(**params(max_iter=150)), X, y, hidden, X_val=X_val, y_val=y_val)
    assert not np.array_equal(pseudo.history_[0]["unlabeled_counts"], np.bincount(hidden, minlength=10))
    curve = lambda clf: [record["max_gain"] for record in clf.history_]  # noqa: E731
    assert curve(oracle)[0] == curve(pseudo)[0] and curve(oracle) != curve(pseudo)


def test_unlabelled_rows_change_the_partners(semi):
    X, y, _, (X_val, y_val), _ = semi
    labelled = y != -1
    # selection_confidence=0: the best step whatever the noise, so the steps show in coef_.
    only_labelled = SelMixClassifier(**params(max_iter=100, n_iter_no_change=None, selection_confidence=0)).fit(
        X[labelled], y[labelled], X_val=X_val, y_val=y_val
    )
    with_pool = SelMixClassifier(**params(max_iter=100, n_iter_no_change=None, selection_confidence=0)).fit(
        X, y, X_val=X_val, y_val=y_val)
    assert not np.array_equal(
        only_labelled.history_[-1]["recalls"], with_pool.history_[-1]["recalls"]
    ) or not np.array_equal(only_labelled.coef_, with_pool.coef_)


def test_semi_supervised_finetuning_improves_validation_objective(semi):
    """With ~20 test images per class the held-out difference is within noise (0.636 against
    the warm start's 0.682 on this split: one image); the held-out quality claims live in
    test_classifier.py."""
    X, y, _, (X_val, y_val), (X_test, y_test) = semi
    tuned = SelMixClassifier(**params()).fit(X, y, X_val=X_val, y_val=y_val)
    assert tuned.best_validation_score_ > tuned.history_[0]["objective"] + 0.03
    warm = SelMixClassifier(**params(max_iter=0)).fit(X, y, X_val=X_val, y_val=y_val)
    # The tail class has 22 test images here: allow one image either way.
    assert (
        min_recall_score(y_test, tuned.predict(X_test))
        >= min_recall_score(y_test, warm.predict(X_test)) - 1 / 22 - 1e-9
    )


def test_semi_supervised_errors(semi):
    X, y, hidden, _, _ = semi
    with pytest.raises(ValueError, match="Every row of y is unlabelled"):
        SelMixClassifier(**params()).fit(X, np.full(len(y), -1))
    with pytest.raises(ValueError, match="hidden_labels must have shape"):
        fit_with_hidden(SelMixClassifier(**params(max_iter=0)), X, y, hidden[:5])
    with pytest.raises(ValueError, match="no unlabelled rows"):
        fit_with_hidden(SelMixClassifier(max_iter=0, device="cpu"), X, np.abs(y), hidden)
    with pytest.raises(TypeError, match="hidden_labels"):
        SelMixClassifier(**params(max_iter=0)).fit(X, y, hidden_labels=hidden)  # not a public fit parameter
    with pytest.raises(ValueError, match="pseudo_label_threshold"):
        SelMixClassifier(**params(pseudo_label_threshold=2.0)).fit(X, y)


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_scorers_ignore_marked_rows(semi):
    X, y, _, _, _ = semi
    scorer = objective_scorer("min_recall", unlabeled_label=-1)
    clf = SelMixClassifier(**params(max_iter=50)).fit(X, y)
    labelled = y != -1
    assert scorer(clf, X, y) == pytest.approx(min_recall_score(y[labelled], clf.predict(X[labelled])))
    est = SelMixClassifier(**params(max_iter=50))
    scores = cross_val_score(est, X, y, cv=3, scoring=scorer)
    naive = cross_val_score(est, X, y, cv=3, scoring=objective_scorer("min_recall"))
    assert scores.max() > 0.5
    np.testing.assert_array_equal(naive, 0.0)  # the marker as a "class" that is never predicted


def test_class_index_skips_negative_labels_and_partner_fallback():
    labels = torch.tensor([2, -1, 0, 2, -1, 0])
    index = ClassIndex(labels, 3)
    assert index.counts.tolist() == [2, 0, 2]
    g = torch.Generator().manual_seed(0)
    drawn = index.draw(torch.tensor([0, 2, 0, 2] * 10), g)
    assert set(labels[drawn].tolist()) <= {0, 2} and (labels[drawn] >= 0).all()
    fallback = ClassIndex(torch.tensor([0, 1, 2]), 3)
    idx, from_primary = draw_partners(torch.tensor([1, 0, 1]), index, fallback, g)
    assert from_primary.tolist() == [False, True, False] and idx[0].item() == 1 and idx[2].item() == 1


def test_cutmix_takes_coordinates_and_matches_mixup_in_expectation():
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.zeros(20000, 8), torch.ones(20000, 8)
    cut = mix_features(x1, x2, 0.6, g, mode="cutmix")
    assert set(torch.unique(cut).tolist()) == {0.0, 1.0}  # every coordinate comes from one side
    mix = mix_features(x1, x2, 0.6, torch.Generator().manual_seed(0), mode="mixup")
    assert abs(cut.mean().item() - 0.2) < 0.01 and abs(mix.mean().item() - 0.2) < 0.01  # E[1 - lam] = 0.2


@pytest.mark.parametrize("mixup", ["mixup", "cutmix"])
def test_both_mixups_fit(digits_lt, mixup):
    X_tr, y_tr, X_val, y_val, X_te, y_te = digits_lt[0]
    clf = SelMixClassifier(mixup=mixup, device="cpu", random_state=0).fit(X_tr, y_tr, X_val=X_val, y_val=y_val)
    assert clf.best_validation_score_ >= clf.history_[0]["objective"]
    with pytest.raises(ValueError, match=r"'mixup' parameter of SelMixClassifier must be a str among \{.*'cutmix'.*\}"):
        SelMixClassifier(mixup="puzzlemix").fit(X_tr, y_tr)
