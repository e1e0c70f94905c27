"""The private scikit-learn names skselmix relies on, in one place.

scikit-learn makes no promise about names that start with an underscore, so every use
goes through this module. A release that moves or changes one of them then breaks one
import here, not four modules. CI runs the test suite against the oldest scikit-learn
setup.py declares (1.6) as well as the newest, so a change on either side shows.

* ``sklearn.utils._param_validation``: the declarative parameter constraints that
  ``BaseEstimator._validate_params`` reads from ``_parameter_constraints``. skselmix
  declares its own in that form (and subclasses ``Interval`` and ``HasMethods``).
* ``sklearn.metrics._scorer._Scorer``: the base of a scorer whose call needs the fitted
  estimator (``min_head_tail_recall`` takes its head classes from the fit).
* ``sklearn.utils.validation._check_sample_weight``: the validation of ``sample_weight``
  that scikit-learn's own estimators apply, so skselmix refuses what they refuse.

And one public function whose signature grew: ``compute_class_weight`` takes
``sample_weight`` from scikit-learn 1.7 on; :func:`compute_class_weight` here gives 1.6
the same answer.
"""

import inspect

import numpy as np
from sklearn.metrics._scorer import _Scorer
from sklearn.utils import class_weight as _class_weight
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "HasMethods", "Hidden", "Interval", "Options", "StrOptions", "_Scorer", "_check_sample_weight",
    "compute_class_weight", "validate_parameter_constraints",
]

_WEIGHTED_CLASS_WEIGHT = "sample_weight" in inspect.signature(_class_weight.compute_class_weight).parameters


def compute_class_weight(class_weight, *, classes, y, sample_weight=None):
    """scikit-learn's ``compute_class_weight`` with ``sample_weight`` on every supported
    release: ``"balanced"`` weighs class ``c`` by ``sum(w) / (K * sum(w[y == c]))``."""
    if _WEIGHTED_CLASS_WEIGHT:
        return _class_weight.compute_class_weight(class_weight, classes=classes, y=y, sample_weight=sample_weight)
    weights = _class_weight.compute_class_weight(class_weight, classes=classes, y=y)
    if sample_weight is None or not (isinstance(class_weight, str) and class_weight == "balanced"):
        return weights
    per_class = np.bincount(np.searchsorted(classes, y), weights=sample_weight, minlength=len(classes))
    return np.sum(sample_weight) / (len(classes) * per_class)
