"""Temperature scaling of predict_proba (``calibrate``, ``temperature_``)."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import log_loss

from skselmix import SelMixClassifier
from skselmix._calibration import balanced_row_weights, fit_temperature


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.RandomState(0)
    logits = rng.normal(scale=4.0, size=(20_000, 5))
    cumulative = softmax(logits / 2.5, axis=1).cumsum(axis=1)
    y = (rng.rand(20_000, 1) > cumulative).sum(axis=1)
    assert fit_temperature(logits, y, np.ones(len(y))) == pytest.approx(2.5, rel=0.05)


def test_fit_temperature_degenerate_inputs():
    assert fit_temperature(np.zeros((4, 3)), np.array([0, 1, 2, 0]), np.ones(4)) == 1.0  # all logits equal
    assert fit_temperature(np.ones((0, 3)), np.array([], dtype=int), np.ones(0)) == 1.0
    separable = np.eye(3)[[0, 1, 2]] * 5
    # Separable rows: the log loss keeps falling as T -> 0; the bound keeps T positive and finite.
    assert np.exp(-6.0) * 0.99 <= fit_temperature(separable, np.array([0, 1, 2]), np.ones(3)) < 0.1


def test_balanced_row_weights_give_every_class_the_same_total():
    y = np.array([0, 0, 0, 0, 1, 2, 2])
    w = balanced_row_weights(y, 4, np.array([1.0, 1.0, 2.0, 0.0, 3.0, 1.0, 1.0]))
    np.testing.assert_allclose(np.bincount(y, weights=w, minlength=4), [1.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("cv", [None, "auto"])
def test_temperature_changes_probabilities_not_predictions(digits_lt, cv):
    X_train, y_train, X_val, y_val, X_test, y_test = digits_lt[0]
    fit = {"X_val": X_val, "y_val": y_val} if cv is None else {}
    X_fit, y_fit = (X_train, y_train) if cv is None else (np.r_[X_train, X_val], np.r_[y_train, y_val])
    raw = SelMixClassifier(calibrate=False, device="cpu", random_state=0).fit(X_fit, y_fit, **fit)
    calibrated = SelMixClassifier(device="cpu", random_state=0).fit(X_fit, y_fit, **fit)
    assert raw.temperature_ == 1.0 and 0.2 < calibrated.temperature_ < 1.0  # mixup: under-confident
    np.testing.assert_array_equal(raw.coef_, calibrated.coef_)
    np.testing.assert_array_equal(raw.predict(X_test), calibrated.predict(X_test))
    np.testing.assert_array_equal(raw.decision_function(X_test), calibrated.decision_function(X_test))
    proba = calibrated.predict_proba(X_test)
    np.testing.assert_allclose(proba, softmax(calibrated.decision_function(X_test) / calibrated.temperature_, axis=1))
    np.testing.assert_allclose(np.exp(calibrated.predict_log_proba(X_test)), proba, rtol=1e-10)
    # Measured on the held-out test set (benchmarks/results/calibration.md has ten splits).
    assert log_loss(y_test, proba) < log_loss(y_test, raw.predict_proba(X_test))


def test_calibrate_must_be_a_bool(blobs3):
    with pytest.raises(
        TypeError,
        match=r"'calibrate' parameter of SelMixClassifier must be an instance of 'bool' or an instance of 'numpy.bool'",
    ):
        SelMixClassifier(calibrate="yes", device="cpu").fit(*blobs3)
