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


def test_a_search_over_metric_needs_one_yardstick(imbalanced):
    """The documented trap (user guide, search_over_metric): without scoring=, each candidate
    is judged by its own objective, so mean recall outscores min recall on the same head;
    the documented recipes judge both by one scorer."""
    from skselmix.metrics import objective_scorers

    X, y = imbalanced
    grid = {"metric": ["min_recall", "mean_recall"]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    estimator = SelMixClassifier(max_iter=0, device="cpu")  # the same warm start for both metrics
    own = GridSearchCV(estimator, grid, cv=cv).fit(X, y).cv_results_["mean_test_score"]
    assert own[1] > own[0]  # the same heads, yet mean_recall "wins"
    fixed = GridSearchCV(estimator, grid, cv=cv, scoring=objective_scorer("min_recall")).fit(X, y)
    np.testing.assert_array_equal(fixed.cv_results_["mean_test_score"], own[0])
    both = GridSearchCV(estimator, grid, cv=cv, scoring=objective_scorers(), refit="min_recall").fit(X, y)
    np.testing.assert_array_equal(both.cv_results_["mean_test_min_recall"], own[0])


# ------------------------------------------------ reliability pass 3: score() is the scorer
def _model(X, y, metric):
    return SelMixClassifier(metric, max_iter=30, device="cpu", random_state=0).fit(X, y)


@pytest.mark.parametrize("name", sorted(__import__("skselmix").get_objective_names()))
def test_score_equals_the_objective_scorer_on_every_input(imbalanced, name):
    """Unseen labels, a class of zero weight, huge weights, a Pipeline: one answer."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = imbalanced
    model = _model(X, y, name)
    pipeline = make_pipeline(StandardScaler(), SelMixClassifier(name, max_iter=30, device="cpu", random_state=0))
    pipeline.fit(X, y)
    rng = np.random.RandomState(3)
    X_test = np.r_[X[::7], rng.normal(size=(5, 2))]
    y_test = np.r_[y[::7], np.full(5, 9)]  # five rows of a label fit never saw
    weights = rng.uniform(0.5, 2.0, size=y_test.shape[0])
    weights[y_test == 1] = 0.0  # a class whose test rows all weigh zero
    scorer = objective_scorer(name)
    for estimator in (model, pipeline):
        for w in (None, weights, weights / weights.max() * 1e308):
            got = estimator.score(X_test, y_test, sample_weight=w)
            assert np.isfinite(got)
            assert got == scorer(estimator, X_test, y_test, sample_weight=w), (name, w is None)


def test_rows_of_an_unseen_label_count_in_score(imbalanced):
    X, y = imbalanced
    model = _model(X, y, "min_recall")
    X_test, y_test = np.r_[X, X[:5]], np.r_[y, np.full(5, 7)]
    assert model.score(X_test, y_test) == 0.0 == min_recall_score(y_test, model.predict(X_test))


def test_zero_weight_rows_are_absent_in_score_and_metrics(imbalanced):
    """The rule of fit: rows of weight zero take no part; a class without positive weight
    is not judged (it does not score recall 0)."""
    X, y = imbalanced
    model = _model(X, y, "min_recall")
    weights = np.where(y == 2, 0.0, 1.0)
    keep = y != 2
    expected = min_recall_score(y[keep], model.predict(X[keep]))
    assert model.score(X, y, sample_weight=weights) == expected
    assert min_recall_score(y, model.predict(X), sample_weight=weights) == expected


def test_metrics_do_not_overflow_with_huge_weights():
    from skselmix.metrics import gmean_score, mean_recall_score

    y_true, y_pred = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 2])
    for metric in (mean_recall_score, gmean_score, min_recall_score):
        assert metric(y_true, y_pred, sample_weight=np.full(5, 1e308)) == pytest.approx(metric(y_true, y_pred))
