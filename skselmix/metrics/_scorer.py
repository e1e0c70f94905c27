"""Scorers for model selection (``GridSearchCV(scoring=...)``, ``cross_validate``)."""

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


def get_scorer(name, **kwargs):
    """A scikit-learn scorer for one of the skselmix metrics (greater is better).

    Parameters
    ----------
    name : str
        One of :func:`get_scorer_names`.
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
    return make_scorer(_SCORE_FUNCS[name], **kwargs)
