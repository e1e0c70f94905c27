"""Metrics against confusion matrices computed by hand, and scorers in model selection."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skselmix import metrics
from skselmix.metrics import (
    balanced_confusion_matrix,
    classification_report_balanced,
    gmean_score,
    hmean_min_coverage_score,
    hmean_score,
    mean_recall_min_coverage_score,
    mean_recall_score,
    min_coverage_score,
    min_head_tail_recall_score,
    min_recall_score,
    objective_scorer,
    objective_scorer_names,
    objective_scorers,
)

# 3 classes: class a has 4 samples, b 2, c 4.
Y_TRUE = np.array(["a", "a", "a", "a", "b", "b", "c", "c", "c", "c"])
Y_PRED = np.array(["a", "a", "a", "b", "b", "c", "c", "c", "a", "a"])
# Row-normalised by hand: a -> (3/4, 1/4, 0), b -> (0, 1/2, 1/2), c -> (2/4, 0, 2/4).
C_HAND = np.array([[0.75, 0.25, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]) / 3
RECALLS = np.array([0.75, 0.5, 0.5])


def test_confusion_by_hand():
    np.testing.assert_allclose(balanced_confusion_matrix(Y_TRUE, Y_PRED), C_HAND)


def test_scores_by_hand():
    assert mean_recall_score(Y_TRUE, Y_PRED) == pytest.approx(RECALLS.mean())
    assert min_recall_score(Y_TRUE, Y_PRED) == pytest.approx(0.5)
    assert gmean_score(Y_TRUE, Y_PRED) == pytest.approx((0.75 * 0.5 * 0.5) ** (1 / 3))
    assert hmean_score(Y_TRUE, Y_PRED) == pytest.approx(3 / (1 / 0.75 + 2 + 2))
    # coverages: a = (0.75 + 0.5)/3, b = 0.75/3, c = 1/3
    assert min_coverage_score(Y_TRUE, Y_PRED) == pytest.approx(0.25)


def test_constrained_scores_by_hand():
    # alpha/K = 0.95/3 = 0.31667; only b (0.25) falls short, by 0.06667.
    shortfall = 3 * (0.95 / 3 - 0.25)
    assert mean_recall_min_coverage_score(Y_TRUE, Y_PRED) == pytest.approx(RECALLS.mean() - shortfall)
    assert hmean_min_coverage_score(Y_TRUE, Y_PRED) == pytest.approx(3 / (1 / 0.75 + 4) - shortfall)
    # With alpha = 0.7 every class is feasible and the score is the base metric.
    assert mean_recall_min_coverage_score(Y_TRUE, Y_PRED, alpha=0.7) == pytest.approx(RECALLS.mean())


def test_head_tail_by_hand():
    # By count in y_true, head (floor(0.67 * 3) = 2 classes) = {a, c} (ties by label order), tail = {b}.
    assert min_head_tail_recall_score(Y_TRUE, Y_PRED, head_fraction=0.67) == pytest.approx(min(0.625, 0.5))
    # Explicit head {b}: head mean 0.5, tail mean 0.625.
    assert min_head_tail_recall_score(Y_TRUE, Y_PRED, head_labels=["b"]) == pytest.approx(0.5)
    assert min_head_tail_recall_score(Y_TRUE, Y_PRED, head_labels=["a", "b"]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="head_labels contains classes"):
        min_head_tail_recall_score(Y_TRUE, Y_PRED, head_labels=["z"])
    with pytest.raises(ValueError, match="at least one head and one tail"):
        min_head_tail_recall_score(Y_TRUE, Y_PRED, head_labels=["a", "b", "c"])


def test_sample_weight_equals_repetition():
    w = np.arange(1, 11)
    rep_true, rep_pred = np.repeat(Y_TRUE, w), np.repeat(Y_PRED, w)
    for func in (mean_recall_score, min_recall_score, gmean_score, hmean_score, min_coverage_score):
        assert func(Y_TRUE, Y_PRED, sample_weight=w) == pytest.approx(func(rep_true, rep_pred))


def test_agrees_with_sklearn():
    rng = np.random.RandomState(0)
    y_true, y_pred = rng.randint(0, 5, 200), rng.randint(0, 5, 200)
    assert mean_recall_score(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert min_recall_score(y_true, y_pred) == pytest.approx(recall_score(y_true, y_pred, average=None).min())


def test_class_missing_from_predictions_counts_as_zero():
    y_true, y_pred = [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]
    assert min_recall_score(y_true, y_pred) == 0.0
    assert gmean_score(y_true, y_pred) == 0.0
    assert hmean_score(y_true, y_pred) == 0.0
    assert min_coverage_score(y_true, y_pred) == 0.0


def test_predicted_class_outside_labels_is_an_error_not_dropped():
    # Class 9 appears only in predictions: it is an error of class 0, recall 1/2.
    assert min_recall_score([0, 0, 1], [0, 9, 1]) == pytest.approx(0.5)
    assert mean_recall_score([0, 0, 1], [0, 9, 1], labels=[0, 1]) == pytest.approx(0.75)


def test_class_missing_from_truth_warns_and_counts_zero():
    with pytest.warns(UndefinedMetricWarning, match=r"labels \[2\]"):
        assert min_recall_score([0, 1], [0, 1], labels=[0, 1, 2]) == 0.0


def test_input_errors():
    with pytest.raises(ValueError):
        min_recall_score([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        min_recall_score([], [])
    with pytest.raises(ValueError, match="duplicates"):
        min_recall_score([0, 1], [0, 1], labels=[0, 0, 1])
    with pytest.raises(ValueError, match="sample_weight"):
        min_recall_score([0, 1], [0, 1], sample_weight=[1.0, -1.0])


def test_metric_does_not_modify_inputs():
    y_true, y_pred = Y_TRUE.copy(), Y_PRED.copy()
    mean_recall_min_coverage_score(y_true, y_pred)
    np.testing.assert_array_equal(y_true, Y_TRUE)
    np.testing.assert_array_equal(y_pred, Y_PRED)


def test_scorer_names_and_errors():
    assert objective_scorer_names() == sorted(objective_scorer_names())
    assert {"min_recall", "gmean", "min_coverage", "mean_recall_min_coverage"} <= set(objective_scorer_names())
    with pytest.raises(ValueError, match="Valid names: gmean"):
        objective_scorer("accuracy")


@pytest.fixture
def imbalanced():
    rng = np.random.RandomState(0)
    sizes = [300, 60, 20]
    X = np.vstack([rng.normal(size=(n, 2)) + [i * 1.5, 0] for i, n in enumerate(sizes)])
    return X, np.repeat([0, 1, 2], sizes)


def test_grid_search_picks_balanced_weights_for_min_recall(imbalanced):
    X, y = imbalanced
    grid = {"class_weight": [None, "balanced"]}
    for name in ("min_recall", "gmean", "hmean", "mean_recall"):
        search = GridSearchCV(LogisticRegression(), grid, scoring=objective_scorer(name), cv=3).fit(X, y)
        assert search.best_params_ == {"class_weight": "balanced"}, name
    # Plain accuracy prefers the unweighted model on this data: the scorers measure something else.
    acc = GridSearchCV(LogisticRegression(), grid, scoring="accuracy", cv=3).fit(X, y)
    assert acc.best_params_ == {"class_weight": None}


def test_scorers_in_cross_validate_and_pipeline(imbalanced):
    X, y = imbalanced
    scoring = {name: objective_scorer(name) for name in objective_scorer_names()}
    out = cross_validate(make_pipeline(StandardScaler(), LogisticRegression()), X, y, scoring=scoring, cv=3)
    for name in objective_scorer_names():
        scores = out[f"test_{name}"]
        assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert np.all(out["test_min_recall"] <= out["test_mean_recall"] + 1e-12)


def test_scorer_kwargs_are_passed():
    X, y = np.r_[np.zeros((20, 1)), np.ones((20, 1))], np.repeat([0, 1], 20)
    clf = LogisticRegression().fit(X, y)
    assert objective_scorer("min_recall", labels=[0, 1, 2])._kwargs == {"labels": [0, 1, 2]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        assert objective_scorer("min_recall", labels=[0, 1, 2])(clf, X, y) == 0.0
    assert objective_scorer("min_recall")(clf, X, y) == 1.0


def test_public_module_lists_everything():
    for name in metrics.__all__:
        assert hasattr(metrics, name)


# ---------------------------------------------------------------- equivalences the docs state
def _random_labels(seed, n=300, k=5):
    rng = np.random.RandomState(seed)
    prior = np.array([0.5, 0.2, 0.15, 0.1, 0.05])[:k]
    y_true = rng.choice(k, size=n, p=prior / prior.sum())
    y_pred = np.where(rng.rand(n) < 0.6, y_true, rng.randint(0, k, size=n))
    return y_true, y_pred, rng.rand(n) * 3


@pytest.mark.parametrize("seed", range(5))
def test_documented_equivalences_with_sklearn(seed):
    from scipy.stats import hmean

    y_true, y_pred, w = _random_labels(seed)
    assert mean_recall_score(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred), abs=1e-12)
    assert mean_recall_score(y_true, y_pred, sample_weight=w) == pytest.approx(
        balanced_accuracy_score(y_true, y_pred, sample_weight=w), abs=1e-12
    )
    per_class = recall_score(y_true, y_pred, average=None)
    assert min_recall_score(y_true, y_pred) == pytest.approx(per_class.min(), abs=1e-12)
    assert hmean_score(y_true, y_pred) == pytest.approx(hmean(per_class), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_gmean_equals_imbalanced_learn_with_labels(seed):
    imblearn_metrics = pytest.importorskip("imblearn.metrics")
    y_true, y_pred, w = _random_labels(seed)
    labels = np.unique(y_true)
    expected = imblearn_metrics.geometric_mean_score(y_true, y_pred, labels=labels, average="multiclass")
    assert gmean_score(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


def test_absent_class_differs_from_balanced_accuracy():
    """The documented difference: a class of labels= absent from y_true counts as recall 0."""
    y_true, y_pred = [0, 0, 1, 1], [0, 0, 1, 0]
    with pytest.warns(UndefinedMetricWarning):
        assert mean_recall_score(y_true, y_pred, labels=[0, 1, 2]) == pytest.approx(0.5)
    assert balanced_accuracy_score(y_true, y_pred) == pytest.approx(0.75)


def test_objective_scorers_drop_into_a_multi_metric_search(blobs3):
    X, y = blobs3
    search = GridSearchCV(
        LogisticRegression(),
        {"class_weight": [None, "balanced"]},
        scoring=objective_scorers(["min_recall", "mean_recall"]),
        refit="min_recall",
        cv=3,
    ).fit(X, y)
    assert search.best_params_ == {"class_weight": "balanced"}
    assert "mean_test_mean_recall" in search.cv_results_
    assert set(objective_scorers()) == {"mean_recall", "min_recall", "gmean", "hmean"}
    assert objective_scorers(["min_recall"], labels=[0, 1, 2])["min_recall"]._kwargs == {"labels": [0, 1, 2]}


def test_deprecated_scorer_aliases_are_gone():
    """Deprecated in 0.3, removed in 0.6 (they shadowed sklearn.metrics.get_scorer)."""
    import skselmix.metrics as metrics

    assert not hasattr(metrics, "get_scorer") and not hasattr(metrics, "get_scorer_names")


def test_classification_report_balanced():
    y_true, y_pred, w = _random_labels(0)
    report = classification_report_balanced(y_true, y_pred, output_dict=True, head_labels=[0, 1])
    np.testing.assert_allclose(
        [report[str(c)]["recall"] for c in range(5)],
        recall_score_per_class := [np.mean(y_pred[y_true == c] == c) for c in range(5)],
    )
    assert report["objectives"]["min recall"] == pytest.approx(min(recall_score_per_class))
    assert report["objectives"]["G-mean"] == pytest.approx(gmean_score(y_true, y_pred))
    assert report["objectives"]["min head-tail recall"] == pytest.approx(
        min_head_tail_recall_score(y_true, y_pred, head_labels=[0, 1])
    )
    coverage = 5 * balanced_confusion_matrix(y_true, y_pred).sum(axis=0)
    np.testing.assert_allclose([report[str(c)]["coverage x K"] for c in range(5)], coverage)
    assert [report[str(c)]["support"] for c in range(5)] == np.bincount(y_true).tolist()
    text = classification_report_balanced(y_true, y_pred, target_names=list("abcde"), sample_weight=w)
    assert text.splitlines()[2].split()[0] == "a" and "H-mean, penalised below cov 0.95/K" in text
    assert "penalised: the metric minus" in text
    with pytest.raises(ValueError, match="target_names has 2 names for 5 labels"):
        classification_report_balanced(y_true, y_pred, target_names=["a", "b"])
