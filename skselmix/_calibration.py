"""Temperature scaling of the fitted head's probabilities (Guo et al., 2017).

Mixup trains on soft, interpolated targets, which leaves ``softmax(logits)``
under-confident: on long-tailed digits the SelMix head's expected calibration
error was 0.206 against LogisticRegression's 0.045. One temperature ``T``,
fitted on the feedback rows with the head frozen, divides the logits before the
softmax. It cannot change ``argmax``, so ``predict`` and every objective stay
exactly as selected.
"""

import numpy as np

from ._limits import LIMITS
from ._stratify import shuffled_class_ranks

# Search range of log T: T in [e^-6, e^6], far wider than temperatures met in practice
# (0.3 to 3); the bound only keeps a separable feedback set (log loss -> 0 as T -> 0)
# from pushing T to zero.
LOG_TEMPERATURE_BOUND = 6.0
# The fit reads at most LIMITS.calibration_logits logits (rows x K, skselmix/_limits.py): a
# class keeps all its rows up to its share of the budget, and at least MIN_ROWS_PER_CLASS.
MIN_ROWS_PER_CLASS = 1  # K = 1000 classes: 1000 rows x 1000 logits, already ample for one scalar


def balanced_row_weights(y, n_classes, sample_weight=None):
    """Row weights that give every class present the same total (times ``sample_weight``).

    The objectives are measured on the balanced distribution, and the head targets
    it (its argmax is chosen for balanced metrics), so its probabilities are
    calibrated for that distribution too: a 2-row tail class counts as much as a
    500-row head class.
    """
    w = np.ones(y.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    totals = np.bincount(y, weights=w, minlength=n_classes)
    return w / np.where(totals > 0, totals, 1.0)[y]


def calibration_rows(y, n_classes, rng, limits=LIMITS):
    """Rows the temperature is fitted on: all of them, or a random subset of each class
    that keeps the logits within ``limits.calibration_logits``. With class-balanced weights a
    uniform subset of a class estimates that class's mean log loss, so no reweighting
    is needed."""
    n = y.shape[0]
    if n * n_classes <= limits.calibration_logits:
        return np.arange(n)
    per_class = max(MIN_ROWS_PER_CLASS, limits.calibration_logits // (n_classes * n_classes))
    order, rank, _ = shuffled_class_ranks(y, n_classes, rng)
    return np.sort(order[rank < per_class])


def _log_loss_slope(logits, picked, weights, inverse_t):
    """First and second derivative, in ``b = 1 / T``, of the weighted log loss of
    ``softmax(b * logits)`` (a convex function of ``b``)."""
    proba = np.multiply(logits, inverse_t)  # the one n x K temporary
    proba -= proba.max(axis=1, keepdims=True)
    np.exp(proba, out=proba)
    proba /= proba.sum(axis=1, keepdims=True)
    proba *= logits
    mean = proba.sum(axis=1)  # E_p[z]
    proba *= logits
    second = proba.sum(axis=1) - mean * mean  # Var_p[z]
    return float(weights @ (mean - picked)), float(weights @ np.maximum(second, 0.0))


def fit_temperature(logits, y, weights, max_iter=50):
    """The temperature minimising the weighted log loss of ``softmax(logits / T)``.

    The loss is convex in ``b = 1 / T``, so a safeguarded Newton iteration on ``b``
    (bisection in ``log b`` whenever Newton leaves the bracket) converges in a few
    passes over the logits.

    Parameters
    ----------
    logits : ndarray of shape (n, K)
        Logits of the frozen head on the feedback rows.
    y : ndarray of shape (n,)
        Class indices.
    weights : ndarray of shape (n,)
        Non-negative row weights (:func:`balanced_row_weights`).
    max_iter : int, default=50
        Largest number of Newton or bisection steps.

    Returns
    -------
    temperature : float
        ``1.0`` when there is nothing to fit (no weight, or all logits equal).
    """
    logits = np.asarray(logits, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    total = float(weights.sum())
    if logits.shape[0] == 0 or total <= 0 or np.ptp(logits, axis=1).max(initial=0.0) == 0:
        return 1.0
    weights = weights / total
    picked = logits[np.arange(y.shape[0]), y]
    low, high = np.exp(-LOG_TEMPERATURE_BOUND), np.exp(LOG_TEMPERATURE_BOUND)  # bracket of b
    b = 1.0
    for _ in range(max_iter):
        slope, curvature = _log_loss_slope(logits, picked, weights, b)
        if slope > 0:
            high = b
        else:
            low = b
        step = b - slope / curvature if curvature > 0 else np.inf
        new_b = step if low < step < high else float(np.sqrt(low * high))  # Newton, else bisect
        if abs(new_b - b) <= 1e-6 * b or high / low < 1 + 1e-9:
            b = new_b
            break
        b = new_b
    return float(1.0 / b)
