"""Metric functions with scikit-learn signatures for the SelMix objectives.

All of them are defined on the balanced confusion matrix ``C`` of
:func:`balanced_confusion_matrix`: ``C[i, j] = P(yhat = j | y = i) / K`` over
the K classes of ``labels``. Recall is ``r_i = K C_ii``; coverage is
``cov_j = sum_i C_ij``. Values come from the same objective objects the
estimator optimises (:mod:`skselmix._objectives`).
"""


import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target, unique_labels

from .._confusion import balanced_confusion, coverages
from .._fit_report import class_list, warn
from .._labels import check_label_types
from .._objectives import (
    GMean,
    HMean,
    HMeanMinCoverage,
    MeanRecall,
    MeanRecallMinCoverage,
    MinGroupRecall,
    MinHeadTailRecall,
    MinRecall,
)


def _confusion_tensor(y_true, y_pred, labels, sample_weight):
    """Balanced confusion (numpy float64), the label set, and each class's total true weight."""
    check_label_types(y_true, "y_true")
    check_label_types(y_pred, "y_pred")
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred, sample_weight)
    if y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty.")
    # As sklearn's classification metrics: NaN labels, continuous targets and a mix of
    # string and number labels across y_true / y_pred are errors, not a score of 0.0.
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        target_type = type_of_target(values, input_name=name)
        if target_type not in ("binary", "multiclass"):
            raise ValueError(
                f"{name} must hold class labels (a binary or multiclass target), got a {target_type} target."
            )
    unique_labels(y_true, y_pred)
    weights = _checked_metric_weights(sample_weight, y_true.shape[0])
    if labels is None:
        # Recall is a property of true classes: a class that is only predicted is an
        # error of its true class, not a class of its own. Rows of weight zero are
        # absent, as in fit: a class whose rows all weigh zero is not judged.
        labels = np.unique(y_true[weights > 0])
    else:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0:
            raise ValueError("labels must be a non-empty 1-d array of class labels.")
        if np.unique(labels).size != labels.size:
            raise ValueError("labels must not contain duplicates.")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    k = labels.size

    def encode(values):
        pos = np.clip(np.searchsorted(sorted_labels, values), 0, k - 1)
        known = sorted_labels[pos] == values
        return np.where(known, order[pos], k), known

    true_idx, true_known = encode(y_true)
    pred_idx, _ = encode(y_pred)
    # Rows whose true label is outside `labels` do not enter (as in sklearn's recall).
    keep = true_known
    confusion, present = balanced_confusion(true_idx[keep], pred_idx[keep], k, sample_weight=weights[keep])
    if not bool(present.all()):
        missing = labels[~present].tolist()
        warn(
            f"Recall is ill-defined for labels {class_list(missing)} with no true sample; their recall is set to 0.0.",
            category=UndefinedMetricWarning,
        )
    class_totals = np.bincount(true_idx[keep], weights=weights[keep], minlength=k)
    return confusion, labels, class_totals


def _checked_metric_weights(sample_weight, n_samples):
    """Finite non-negative weights, not all zero, divided by the largest: every metric is a
    ratio of weighted counts, so the scale is free, and sums of weights near 1e308 would
    overflow to inf (and the metric to NaN)."""
    if sample_weight is None:
        return np.ones(n_samples)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim != 1 or not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must be a 1-d array of finite, non-negative numbers.")
    if not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights / weights.max()


def balanced_confusion_matrix(y_true, y_pred, *, labels=None, sample_weight=None):
    """Confusion matrix of the balanced distribution.

    ``C[i, j]`` is the (weighted) fraction of class ``labels[i]`` samples
    predicted as ``labels[j]``, divided by ``K``: each true class weighs ``1/K``
    whatever its frequency. Predictions outside ``labels`` count as errors of
    their true class (their row then sums to less than ``1/K``).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), default=None
        Classes (rows and columns, in this order). Defaults to the sorted
        classes of ``y_true`` that have a row of positive weight. A listed
        class with no such row gets a zero row (recall 0.0) and an
        ``UndefinedMetricWarning``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights. Rows of weight zero are absent, as in
        :meth:`SelMixClassifier.fit <skselmix.SelMixClassifier.fit>`; only
        ratios of weights matter.

    Returns
    -------
    C : ndarray of shape (n_classes, n_classes)

    Examples
    --------
    >>> from skselmix.metrics import balanced_confusion_matrix
    >>> balanced_confusion_matrix([0, 0, 0, 1], [0, 0, 1, 1])
    array([[0.33333333, 0.16666667],
           [0.        , 0.5       ]])
    """
    return _confusion_tensor(y_true, y_pred, labels, sample_weight)[0]


def _score(objective, y_true, y_pred, labels, sample_weight, class_counts=None):
    confusion = _confusion_tensor(y_true, y_pred, labels, sample_weight)[0]
    return float(objective.value(confusion, class_counts))


def _score_with_class_counts(objective, y_true, y_pred, sample_weight, class_counts):
    """``objective`` on the classes of ``y_true`` (rows of positive weight), whose sizes for
    head/tail objectives come from ``class_counts`` (``{label: size}``, 0 when missing):
    what :meth:`SelMixClassifier.score` and the skselmix scorers compute alike. An
    objective's own ``groups`` (one per class of ``class_counts``, in its order) follow the
    classes that ``y_true`` holds."""
    confusion, labels, _ = _confusion_tensor(y_true, y_pred, None, sample_weight)
    counts = np.array([float(class_counts.get(label, 0.0)) for label in labels.tolist()])
    if getattr(objective, "groups", None) is not None:
        by_label = dict(zip(class_counts, np.asarray(objective.groups).tolist()))
        objective = type(objective)(**{**objective.get_params(), "groups": [by_label[label] for label in
                                                                           labels.tolist()]})
    return float(objective.value(confusion, counts))


def mean_recall_score(y_true, y_pred, *, labels=None, sample_weight=None):
    """Mean of per-class recalls, ``(1/K) sum_i r_i`` (balanced accuracy).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
        Classes to average over (default: the classes of ``y_true``).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import mean_recall_score
    >>> mean_recall_score([0, 0, 0, 1], [0, 0, 1, 1])
    0.8333333333333333
    """
    return _score(MeanRecall(), y_true, y_pred, labels, sample_weight)


def min_recall_score(y_true, y_pred, *, labels=None, sample_weight=None):
    """Worst-class recall, ``min_i r_i``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
        Classes to take the minimum over (default: the classes of ``y_true``).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import min_recall_score
    >>> min_recall_score([0, 0, 0, 1], [0, 0, 1, 1])
    0.6666666666666666
    """
    return _score(MinRecall(), y_true, y_pred, labels, sample_weight)


def gmean_score(y_true, y_pred, *, labels=None, sample_weight=None):
    """Geometric mean of per-class recalls, ``(prod_i r_i) ** (1/K)``.

    Zero when any class has zero recall. For two classes this is
    ``sqrt(sensitivity * specificity)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import gmean_score
    >>> round(gmean_score([0, 0, 0, 1], [0, 0, 1, 1]), 6)  # sqrt(2/3 * 1)
    0.816497
    """
    return _score(GMean(), y_true, y_pred, labels, sample_weight)


def hmean_score(y_true, y_pred, *, labels=None, sample_weight=None):
    """Harmonic mean of per-class recalls, ``K / sum_i (1 / r_i)``; zero if any ``r_i = 0``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import hmean_score
    >>> hmean_score([0, 0, 0, 1], [0, 0, 1, 1])  # 2 / (3/2 + 1)
    0.8
    """
    return _score(HMean(), y_true, y_pred, labels, sample_weight)


def min_coverage_score(y_true, y_pred, *, labels=None, sample_weight=None):
    """Smallest class coverage on the balanced distribution, ``min_j sum_i C_ij``.

    ``cov_j`` is the share of predictions that go to class ``j`` when every
    true class weighs ``1/K``; a perfectly balanced classifier has ``1/K``
    everywhere. The coverage constraint of the fairness objectives is
    ``min_coverage_score >= alpha / K``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, default=None
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import min_coverage_score
    >>> min_coverage_score([0, 0, 0, 1], [0, 0, 1, 1])  # class 0: (2/3) / 2
    0.3333333333333333
    """
    confusion = _confusion_tensor(y_true, y_pred, labels, sample_weight)[0]
    return float(coverages(confusion).min())


def mean_recall_min_coverage_score(y_true, y_pred, *, alpha=0.95, labels=None, sample_weight=None):
    """Mean recall under the coverage constraint ``cov_j >= alpha / K``, penalised.

    Equals :func:`mean_recall_score` when every class meets the constraint and
    ``mean_recall - K * sum_j max(0, alpha/K - cov_j)`` otherwise: the base
    score minus the total coverage shortfall, in units of the balanced share.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    alpha : float, default=0.95
        Coverage target as a fraction of ``1/K``.
    labels : array-like, default=None
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import mean_recall_min_coverage_score
    >>> y_true = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> mean_recall_min_coverage_score(y_true, [0, 0, 0, 1, 1, 1, 1, 0])  # feasible
    0.75
    >>> mean_recall_min_coverage_score(y_true, [0, 0, 0, 0, 1, 1, 1, 0])  # cov_1 = 3/8 < 0.475
    0.675
    """
    return _score(MeanRecallMinCoverage(alpha=alpha), y_true, y_pred, labels, sample_weight)


def hmean_min_coverage_score(y_true, y_pred, *, alpha=0.95, labels=None, sample_weight=None):
    """H-mean of recalls under ``cov_j >= alpha / K``, penalised like
    :func:`mean_recall_min_coverage_score`.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    alpha : float, default=0.95
    labels : array-like, default=None
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import hmean_min_coverage_score
    >>> round(hmean_min_coverage_score([0, 0, 1, 1], [0, 1, 1, 1]), 6)  # 2/3 - 2 * (0.475 - 0.25)
    0.216667
    """
    return _score(HMeanMinCoverage(alpha=alpha), y_true, y_pred, labels, sample_weight)


def min_head_tail_recall_score(
    y_true, y_pred, *, head_labels=None, head_fraction=0.9, labels=None, sample_weight=None, class_counts=None
):
    """``min(mean recall of head classes, mean recall of tail classes)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    head_labels : array-like, default=None
        The head classes. By default the ``floor(head_fraction * K)`` most
        frequent classes of ``y_true`` (weighted; ties by label order), which
        matches the training distribution when ``y_true`` is drawn from it (a
        cross-validation fold). Pass the head explicitly to score a balanced
        test set.
    head_fraction : float, default=0.9
        Fraction of classes forming the head when ``head_labels`` is None.
    labels : array-like, default=None
    sample_weight : array-like of shape (n_samples,), default=None
    class_counts : dict, default=None
        ``{label: size}`` deciding the head when ``head_labels`` is None, for
        example the training counts (a label missing from it has size 0).
        :func:`objective_scorer` passes a fitted
        :class:`~skselmix.SelMixClassifier`'s ``class_counts_``, so that the
        scorer and :meth:`~skselmix.SelMixClassifier.score` agree. None uses the
        (weighted) counts of ``y_true``.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import min_head_tail_recall_score
    >>> y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2]
    >>> y_pred = [0, 0, 0, 0, 1, 1, 0, 2, 0]
    >>> min_head_tail_recall_score(y_true, y_pred, head_fraction=0.67)  # head {0, 1}, tail {2}
    0.5
    """
    confusion, labels, counts = _confusion_tensor(y_true, y_pred, labels, sample_weight)
    if class_counts is not None and head_labels is None:
        counts = np.array([float(class_counts.get(label, 0.0)) for label in labels.tolist()])
    return _head_tail_recall(confusion, labels, counts, head_labels, head_fraction)


def _head_tail_recall(confusion, labels, counts, head_labels=None, head_fraction=0.9):
    """Min head-tail recall of a balanced confusion matrix; the head is ``head_labels``, or the
    ``floor(head_fraction * K)`` classes with the largest ``counts``."""
    if head_labels is not None:
        head_labels = np.asarray(head_labels)
        unknown = np.setdiff1d(head_labels, labels)
        if unknown.size:
            raise ValueError(f"head_labels contains classes not among the labels: {class_list(unknown.tolist())}.")
        is_head = np.isin(labels, head_labels)
        if is_head.all() or not is_head.any():
            raise ValueError("head_labels must leave at least one head and one tail class.")
        counts = is_head.astype(np.float64)
        # Half a class above the head size, so floor(head_fraction * K) is exact.
        head_fraction = (is_head.sum() + 0.5) / labels.size
    objective = MinHeadTailRecall(head_fraction=head_fraction)
    return float(objective.value(confusion, np.asarray(counts, dtype=np.float64)))


def min_group_recall_score(
    y_true, y_pred, *, groups=None, many_shot=100, few_shot=20, labels=None, sample_weight=None, class_counts=None
):
    """The worst mean recall over groups of classes (see :class:`~skselmix.MinGroupRecall`).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    groups : dict or array-like, default=None
        The group of each class: ``{label: group}``, or one group per class of
        ``labels`` in its order. By default classes are grouped by their size:
        more than ``many_shot`` rows (many-shot), ``few_shot`` to ``many_shot``
        (medium-shot), fewer than ``few_shot`` (few-shot); groups without
        classes are ignored.
    many_shot, few_shot : float, default=100, 20
        The size bounds of the default groups.
    labels : array-like, default=None
    sample_weight : array-like of shape (n_samples,), default=None
    class_counts : dict, default=None
        ``{label: size}`` deciding the default groups, for example the training
        counts (a label missing from it has size 0). :func:`objective_scorer`
        passes a fitted :class:`~skselmix.SelMixClassifier`'s ``class_counts_``.
        None uses the (weighted) counts of ``y_true``, which on a balanced test
        set put every class in one group: pass the training counts there.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from skselmix.metrics import min_group_recall_score
    >>> y_true = [0, 0, 1, 1, 2, 2]
    >>> y_pred = [0, 0, 1, 0, 2, 0]
    >>> min_group_recall_score(y_true, y_pred, groups={0: "many", 1: "few", 2: "few"})
    0.5
    >>> min_group_recall_score(y_true, y_pred, class_counts={0: 500, 1: 50, 2: 5})  # many, medium, few
    0.5
    """
    confusion, labels, counts = _confusion_tensor(y_true, y_pred, labels, sample_weight)
    if groups is not None:
        groups = _group_labels(groups, labels)
    elif class_counts is not None:
        counts = np.array([float(class_counts.get(label, 0.0)) for label in labels.tolist()])
    objective = MinGroupRecall(groups=groups, many_shot=many_shot, few_shot=few_shot)
    objective.validate()
    return float(objective.value(confusion, np.asarray(counts, dtype=np.float64)))


def _group_labels(groups, labels):
    """One group per class of ``labels``, from ``{label: group}`` or a sequence in their order."""
    if isinstance(groups, dict):
        missing = [label for label in labels.tolist() if label not in groups]
        if missing:
            raise ValueError(f"groups names no group for labels {class_list(missing)}.")
        return [groups[label] for label in labels.tolist()]
    if len(groups) != labels.size:
        raise ValueError(f"groups has {len(groups)} entries for {labels.size} labels.")
    return list(groups)
