"""Metrics and scorers for the objectives SelMix optimises.

Every metric is computed on the *balanced* confusion matrix (each true class
weighs ``1/K``) through the same objective definitions the estimator uses, so a
score here is exactly what ``SelMixClassifier(metric=...)`` maximises.
"""

from ._classification import (
    balanced_confusion_matrix,
    gmean_score,
    hmean_min_coverage_score,
    hmean_score,
    mean_recall_min_coverage_score,
    mean_recall_score,
    min_coverage_score,
    min_head_tail_recall_score,
    min_recall_score,
)
from ._scorer import get_scorer, get_scorer_names

__all__ = [
    "balanced_confusion_matrix",
    "mean_recall_score",
    "min_recall_score",
    "gmean_score",
    "hmean_score",
    "min_coverage_score",
    "min_head_tail_recall_score",
    "mean_recall_min_coverage_score",
    "hmean_min_coverage_score",
    "get_scorer",
    "get_scorer_names",
]
