"""Scorers for model selection (``GridSearchCV(scoring=...)``, ``cross_validate``)."""

import functools

import numpy as np
from sklearn.metrics import make_scorer

from . import _classification as _metrics

_SCORE_FUNCS = {
    "mean_recall": _metrics.mean_recall_score,
    "min_recall": _metrics.min_recall_score,
    "gmean": _metrics.gmean_score,
    "hmean": _metrics.hmean_score,
    "min_coverage": _metrics.min_coverage_score,
    "min_head_tail_recall": _metrics.min_head_tail_recall_score,
    "mean_recall_min_coverage": _metrics.mean_recall_min_coverage_score,
    "hmean_min_coverage": _metrics.hmean_min_coverage_score,
}


def get_scorer_names():
    """Names accepted by :func:`get_scorer`, sorted.

    Returns
    -------
    names : list of str
    """
    return sorted(_SCORE_FUNCS)


def _ignoring_unlabeled(score_func, marker):
    """``score_func`` evaluated only on the rows whose true label is not ``marker``."""

    @functools.wraps(score_func)
    def score(y_true, y_pred, **kwargs):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        keep = ~np.asarray(y_true == marker, dtype=bool).reshape(y_true.shape)
        weights = kwargs.pop("sample_weight", None)
        if weights is not None:
            kwargs["sample_weight"] = np.asarray(weights)[keep]
        return score_func(y_true[keep], y_pred[keep], **kwargs)

    return score


def get_scorer(name, *, unlabeled_label=None, **kwargs):
    """A scikit-learn scorer for one of the skselmix metrics (greater is better).

    Parameters
    ----------
    name : str
        One of :func:`get_scorer_names`.
    unlabeled_label : int, str or None, default=None
        Rows whose true label equals this marker (e.g. ``-1`` in
        semi-supervised data, as for ``SelMixClassifier(unlabeled_label=-1)``)
        are ignored; ``None`` scores every row.
    **kwargs
        Passed to the metric function (e.g. ``alpha=0.9`` for the coverage
        objectives, ``labels=`` to keep every class in folds that miss one).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, usable as ``scoring=`` in model selection.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.datasets import load_iris
    >>> from skselmix.metrics import get_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> scores = cross_val_score(LogisticRegression(max_iter=500), X, y,
    ...                          scoring=get_scorer("min_recall"), cv=3)
    >>> bool(scores.min() > 0.8)
    True
    """
    if name not in _SCORE_FUNCS:
        raise ValueError(f"Unknown scorer {name!r}. Valid names: {', '.join(get_scorer_names())}.")
    func = _SCORE_FUNCS[name]
    if unlabeled_label is not None:
        func = _ignoring_unlabeled(func, unlabeled_label)
    return make_scorer(func, **kwargs)
