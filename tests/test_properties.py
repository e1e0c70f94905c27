"""Property-based tests (hypothesis) for the metrics and the gain."""

import numpy as np
import pytest
import torch
from gain_reference import finite_difference_gain, prototype_confusion
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import balanced_accuracy_score, recall_score

from skselmix import gain_matrix, get_objective
from skselmix.metrics import (
    gmean_score,
    hmean_score,
    mean_recall_score,
    min_coverage_score,
    min_recall_score,
)


@st.composite
def label_pairs(draw):
    """y_true covering every class in 0..K-1, and arbitrary predictions in the same range."""
    k = draw(st.integers(2, 6))
    extra = draw(st.lists(st.integers(0, k - 1), min_size=0, max_size=40))
    y_true = np.array(list(range(k)) + extra)
    y_pred = np.array(draw(st.lists(st.integers(0, k - 1), min_size=y_true.size, max_size=y_true.size)))
    return y_true, y_pred, k


@given(label_pairs())
@settings(max_examples=60, deadline=None)
def test_metric_bounds_and_order(pair):
    y_true, y_pred, k = pair
    mean, low = mean_recall_score(y_true, y_pred), min_recall_score(y_true, y_pred)
    g, h = gmean_score(y_true, y_pred), hmean_score(y_true, y_pred)
    assert 0.0 <= low <= h + 1e-12 <= g + 2e-12 <= mean + 3e-12 <= 1.0 + 3e-12  # min <= H <= G <= mean
    cov = min_coverage_score(y_true, y_pred)
    assert 0.0 <= cov <= 1.0 / k + 1e-12


@given(label_pairs())
@settings(max_examples=60, deadline=None)
def test_agreement_with_sklearn(pair):
    y_true, y_pred, _ = pair
    assert mean_recall_score(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    recalls = recall_score(y_true, y_pred, average=None, labels=np.unique(y_true), zero_division=0)
    assert min_recall_score(y_true, y_pred) == pytest.approx(recalls.min())
    assert gmean_score(y_true, y_pred) == pytest.approx(float(np.prod(recalls) ** (1 / recalls.size)))


@given(label_pairs(), st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_invariance_to_relabelling(pair, random):
    y_true, y_pred, k = pair
    perm = np.array(random.sample(range(k), k))
    names = np.array([f"class-{i}" for i in perm])
    for func in (mean_recall_score, min_recall_score, gmean_score, hmean_score, min_coverage_score):
        assert func(names[y_true], names[y_pred]) == pytest.approx(func(y_true, y_pred))


@given(label_pairs())
@settings(max_examples=40, deadline=None)
def test_perfect_prediction_scores_one(pair):
    y_true, _, k = pair
    for func in (mean_recall_score, min_recall_score, gmean_score, hmean_score):
        assert func(y_true, y_true) == pytest.approx(1.0)
    assert min_coverage_score(y_true, y_true) == pytest.approx(1.0 / k)


finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@given(
    st.integers(2, 4),
    st.integers(1, 4),
    st.data(),
    st.sampled_from(["mean_recall", "gmean", "hmean", "min_recall"]),
    st.floats(0.5, 1.0),
)
@settings(max_examples=40, deadline=None)
def test_gain_agrees_with_finite_differences(k, d, data, name, lbar):
    """With C = pi * softmax(prototype logits), G[i, j] is the derivative of psi along V_ij."""
    Z = data.draw(arrays(np.float64, (k, d), elements=finite))
    W = data.draw(arrays(np.float64, (k, d), elements=finite))
    b = data.draw(arrays(np.float64, (k,), elements=finite))
    objective = get_objective(name)
    if (np.diag(prototype_confusion(Z, W, b)) * k).min() < 0.02:  # G-/H-mean clip recalls at 0.01: stay clear
        W = W + 3 * Z  # push each class's weights towards its prototype
    C = prototype_confusion(Z, W, b)
    if (np.diag(C) * k).min() < 0.02:
        return
    mult = objective.update_multipliers(None, torch.tensor(C))
    G = gain_matrix(Z, W, b, C, objective, lambda_mean=lbar, multipliers=mult, confusion_smoothing=0.0)

    def psi(c):  # the surrogate at fixed multipliers
        ct = torch.tensor(c)
        return float((mult * torch.diagonal(ct) * k).sum()) if name == "min_recall" else float(objective.value(ct))

    np.testing.assert_allclose(G, finite_difference_gain(Z, W, b, psi, lbar), rtol=1e-4, atol=1e-7)
