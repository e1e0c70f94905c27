"""score() is the fitted objective, so a search without scoring= tunes for it."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skselmix import SelMixClassifier
from skselmix.metrics import min_head_tail_recall_score, min_recall_score, objective_scorer


@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.RandomState(0)
    sizes = [300, 100, 30]
    centers = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5]])
    X = np.vstack([rng.normal(size=(n, 2)) + c for n, c in zip(sizes, centers)])
    return X, np.repeat([0, 1, 2], sizes)


def test_score_is_the_objective(imbalanced):
    X, y = imbalanced
    model = SelMixClassifier(max_iter=50, device="cpu", random_state=0).fit(X, y)
    assert model.score(X, y) == min_recall_score(y, model.predict(X))
    weights = np.linspace(0.5, 2.0, len(y))
    assert model.score(X, y, sample_weight=weights) == min_recall_score(y, model.predict(X), sample_weight=weights)
    assert model.score(X, y) < np.mean(model.predict(X) == y)  # not accuracy


def test_score_ignores_classes_absent_from_y(imbalanced):
    X, y = imbalanced
    model = SelMixClassifier(max_iter=0, device="cpu").fit(X, y)
    keep = y != 2
    assert model.score(X[keep], y[keep]) == min_recall_score(y[keep], model.predict(X[keep]))


def test_score_of_min_head_tail_recall_uses_training_counts():
    rng = np.random.RandomState(1)
    sizes = np.r_[np.full(18, 40), [6, 6]]  # 20 classes: the two small ones are the tail
    X = np.vstack([rng.normal(size=(n, 8)) + 3 * np.eye(20, 8)[c % 8] * (1 + c // 8) for c, n in enumerate(sizes)])
    y = np.repeat(np.arange(20), sizes)
    model = SelMixClassifier("min_head_tail_recall", max_iter=0, device="cpu").fit(X, y)
    head = np.argsort(-np.bincount(y), kind="stable")[:18]
    assert model.score(X, y) == pytest.approx(min_head_tail_recall_score(y, model.predict(X), head_labels=head))


def test_search_without_scoring_selects_by_the_objective(imbalanced):
    X, y = imbalanced
    grid = {"init": ["cross_entropy", "logit_adjusted"]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    estimator = SelMixClassifier(metric="min_recall", max_iter=0, device="cpu")
    by_default = GridSearchCV(estimator, grid, cv=cv).fit(X, y)
    by_min_recall = GridSearchCV(estimator, grid, cv=cv, scoring=objective_scorer("min_recall")).fit(X, y)
    by_accuracy = GridSearchCV(estimator, grid, cv=cv, scoring="accuracy").fit(X, y)
    np.testing.assert_allclose(by_default.cv_results_["mean_test_score"], by_min_recall.cv_results_["mean_test_score"])
    assert by_default.best_params_ == {"init": "logit_adjusted"}
    assert by_accuracy.best_params_ == {"init": "cross_entropy"}  # accuracy would have picked the other head
