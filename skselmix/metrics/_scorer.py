"""Scorers for model selection (``GridSearchCV(scoring=...)``, ``cross_validate``)."""

import functools

import numpy as np
from sklearn.metrics import make_scorer

from .._objectives import BUILTIN_OBJECTIVES
from .._sklearn_compat import _Scorer
from .._validation import final_estimator
from . import _classification as _metrics

#: Every built-in objective's metric function, and min coverage (a constraint's measure,
#: not an objective): ``<name>_score`` of ``skselmix.metrics``.
_SCORE_FUNCS = {
    name: getattr(_metrics, f"{name}_score")
    for name in [cls.name for cls in BUILTIN_OBJECTIVES] + ["min_coverage"]
}
#: Scorers whose objective tells head from tail classes by the fitted model's training counts.
_NEEDS_CLASS_COUNTS = {cls.name for cls in BUILTIN_OBJECTIVES if cls.needs_class_counts}


def objective_scorer_names():
    """Names accepted by :func:`objective_scorer` and :func:`objective_scorers`, sorted.

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


def objective_scorer(name, *, unlabeled_label=None, **kwargs):
    """A scikit-learn scorer for one of the skselmix metrics (greater is better).

    sklearn's scorer registry is closed, so ``scoring="min_recall"`` cannot work;
    pass the returned object instead (or a dict from :func:`objective_scorers`).

    Parameters
    ----------
    name : str
        One of :func:`objective_scorer_names`.
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
    >>> from skselmix.metrics import objective_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> scores = cross_val_score(LogisticRegression(max_iter=500), X, y,
    ...                          scoring=objective_scorer("min_recall"), cv=3)
    >>> bool(scores.min() > 0.8)
    True
    """
    if name not in _SCORE_FUNCS:
        raise ValueError(f"Unknown scorer {name!r}. Valid names: {', '.join(objective_scorer_names())}.")
    func = _SCORE_FUNCS[name]
    if unlabeled_label is not None:
        func = _ignoring_unlabeled(func, unlabeled_label)
    if name in _NEEDS_CLASS_COUNTS:
        return _TrainingCountsScorer(func, 1, kwargs)
    return make_scorer(func, **kwargs)


class _TrainingCountsScorer(_Scorer):
    """A scorer whose head and tail classes are the fitted model's largest training
    classes (``class_counts_`` of a SelMixClassifier, also as a Pipeline's last step),
    as :meth:`SelMixClassifier.score` decides them; other models: ``y_true``'s counts."""

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        model = final_estimator(estimator)
        counts = getattr(model, "class_counts_", None)
        told = "head_labels" in self._kwargs or "groups" in self._kwargs or "class_counts" in kwargs
        if counts is not None and not told:
            kwargs = {**kwargs, "class_counts": dict(zip(model.classes_.tolist(), np.asarray(counts).tolist()))}
        return super()._score(method_caller, estimator, X, y_true, **kwargs)


def objective_scorers(names=None, *, unlabeled_label=None, labels=None):
    """A dict of scorers, ready for multi-metric ``scoring=`` and ``refit=``.

    Parameters
    ----------
    names : list of str, default=None
        Which metrics (see :func:`objective_scorer_names`); ``None`` takes the
        four recall metrics ``"mean_recall"``, ``"min_recall"``, ``"gmean"``
        and ``"hmean"``.
    unlabeled_label : int, str or None, default=None
        As in :func:`objective_scorer`.
    labels : array-like, default=None
        Passed to every metric: the classes to judge (keeps a class that a
        test fold misses, at recall 0.0 with a warning).

    Returns
    -------
    scorers : dict of str to callable
        Keys are the metric names, so ``refit="min_recall"`` picks one.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skselmix.metrics import objective_scorers
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]},
    ...                       scoring=objective_scorers(), refit="min_recall", cv=3).fit(X, y)
    >>> sorted(k for k in search.cv_results_ if k.startswith("mean_test_"))
    ['mean_test_gmean', 'mean_test_hmean', 'mean_test_mean_recall', 'mean_test_min_recall']
    """
    names = ["mean_recall", "min_recall", "gmean", "hmean"] if names is None else list(names)
    extra = {} if labels is None else {"labels": labels}
    return {name: objective_scorer(name, unlabeled_label=unlabeled_label, **extra) for name in names}
