"""skselmix: SelMix selective-mixup fine-tuning for non-decomposable objectives.

The public API: :class:`SelMixClassifier` and :class:`SelMixClassifierCV`, the objectives it optimises, the
closed-form :func:`gain_matrix`, and :mod:`skselmix.metrics` (metric functions
and scorers for the same objectives).
"""

from ._classifier import SelMixClassifier
from ._classifier_cv import SelMixClassifierCV
from ._display import HistoryDisplay, PerClassRecallDisplay
from ._fit_report import FitOutcomeWarning
from ._gain import gain_matrix
from ._objectives import (
    CallableObjective,
    GMean,
    HMean,
    HMeanMinCoverage,
    MeanRecall,
    MeanRecallMinCoverage,
    MinGroupRecall,
    MinHeadTailRecall,
    MinRecall,
    Objective,
    get_objective,
    get_objective_names,
)
from ._version import __version__

__all__ = [
    "SelMixClassifier",
    "SelMixClassifierCV",
    "PerClassRecallDisplay",
    "HistoryDisplay",
    "FitOutcomeWarning",
    "gain_matrix",
    "Objective",
    "CallableObjective",
    "MeanRecall",
    "MinRecall",
    "GMean",
    "HMean",
    "MeanRecallMinCoverage",
    "HMeanMinCoverage",
    "MinHeadTailRecall",
    "MinGroupRecall",
    "get_objective",
    "get_objective_names",
    "__version__",
]
