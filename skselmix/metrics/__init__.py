"""Metrics and scorers for the objectives SelMix optimises.

Every metric is computed on the *balanced* confusion matrix (each true class
weighs ``1/K``) through the same objective definitions the estimator uses, so a
score here is exactly what ``SelMixClassifier(metric=...)`` maximises.

How they relate to scikit-learn and imbalanced-learn:

* ``mean_recall_score`` equals ``sklearn.metrics.balanced_accuracy_score``
  (and ``recall_score(average="macro")``) when every class of ``labels``
  occurs in ``y_true``. With ``labels=`` naming a class absent from
  ``y_true``, skselmix counts its recall as 0.0 (with a warning) where
  ``balanced_accuracy_score`` ignores it.
* ``min_recall_score`` is ``recall_score(average=None).min()`` over the
  classes of ``y_true``.
* ``gmean_score`` equals ``imblearn.metrics.geometric_mean_score`` with
  ``labels=`` the classes of ``y_true`` and ``average="multiclass"``
  (imbalanced-learn's default ``labels`` include predicted-only classes,
  whose recall is undefined). ``hmean_score`` is the harmonic mean of the
  recalls (``scipy.stats.hmean``; 0.0 if any recall is 0).
* ``sample_weight`` weighs rows inside each class; classes still weigh
  ``1/K`` each, as in ``balanced_accuracy_score(sample_weight=...)``.
"""

from ._classification import (
    balanced_confusion_matrix,
    gmean_score,
    hmean_min_coverage_score,
    hmean_score,
    mean_recall_min_coverage_score,
    mean_recall_score,
    min_coverage_score,
    min_group_recall_score,
    min_head_tail_recall_score,
    min_recall_score,
)
from ._report import classification_report_balanced
from ._scorer import objective_scorer, objective_scorer_names, objective_scorers

__all__ = [
    "balanced_confusion_matrix",
    "mean_recall_score",
    "min_recall_score",
    "gmean_score",
    "hmean_score",
    "min_coverage_score",
    "min_head_tail_recall_score",
    "min_group_recall_score",
    "mean_recall_min_coverage_score",
    "hmean_min_coverage_score",
    "classification_report_balanced",
    "objective_scorer",
    "objective_scorers",
    "objective_scorer_names",
]
