"""The estimators' parameter constraints, in scikit-learn's declarative form.

``SelMixClassifier._parameter_constraints`` is :data:`PARAMETER_CONSTRAINTS`, so
``BaseEstimator._validate_params`` checks every parameter at ``fit``; the loop's
settings of a search's candidates are checked against the same entries
(:func:`check_params`). Numeric parameters use :class:`~skselmix._validation.Finite`,
which refuses what scikit-learn's ``Interval`` lets through (infinities, bools).
"""

from numbers import Integral, Real

from ._objectives import Objective
from ._sklearn_compat import HasMethods, Hidden, Options, StrOptions, validate_parameter_constraints
from ._validation import Finite


class _Splits(HasMethods):
    """An object with a ``split`` method that is not a string: all ``check_cv`` asks of a
    splitter (``"cv_object"`` also asks for ``get_n_splits``)."""

    def __init__(self):
        super().__init__(["split"])

    def is_satisfied_by(self, val):
        return not isinstance(val, str) and super().is_satisfied_by(val)


class _LayerSizes(Options):
    """``hidden_layer_sizes``: a tuple or list of positive ints (``()``: no adapter). An
    ``Options`` only because scikit-learn accepts constraints of its own classes."""

    def __init__(self):
        super().__init__(object, set())

    def is_satisfied_by(self, val):
        return isinstance(val, (tuple, list)) and all(
            isinstance(size, Integral) and not isinstance(size, bool) and size > 0 for size in val
        )

    def __str__(self):
        return "a tuple of positive ints (() for the linear head)"


class _TorchDevice(Options):
    """A ``torch.device``, recognised by its type's name so that checking it imports no torch
    (its ``type`` and ``index`` are attributes, not the methods ``HasMethods`` asks for)."""

    def __init__(self):
        super().__init__(object, set())

    def is_satisfied_by(self, val):
        return type(val).__module__ == "torch" and type(val).__name__ == "device"

    def __str__(self):
        return "a torch.device"


#: How SelMix mixes an anchor with its partner (``mixup=``).
MIXUPS = ("mixup", "cutmix")
#: How ``column_scaling=`` may scale the columns (see ``_torch.features.fit_feature_map``).
COLUMN_SCALINGS = ("auto", "keep", "standardize")
#: The warm starts ``init=`` names (besides ``"auto"``).
WARM_STARTS = ("logit_adjusted", "balanced", "cross_entropy")
#: Parameters of SelMixClassifier that only the refresh/SGD loop reads: a search over them
#: can share one warm start (SelMixClassifierCV, or ``memory=``).
LOOP_ONLY_PARAMETERS = (
    "s", "lambda_min", "mixup", "max_iter", "refresh_every", "batch_size", "learning_rate", "average_decay",
    "n_iter_no_change", "tol", "selection_confidence", "pseudo_label_threshold", "calibrate",
)

#: Constraints of every parameter of ``SelMixClassifier`` (keyed exactly by ``get_params()``).
PARAMETER_CONSTRAINTS = {
    "metric": [str, Objective, callable],  # names are checked by get_objective, which lists the valid ones
    "s": [Finite(Real, 0, None, closed="left")],
    "lambda_min": [Finite(Real, 0, 1, closed="right")],
    "mixup": [StrOptions(set(MIXUPS))],
    "max_iter": [Finite(Integral, 0, None, closed="left")],
    "refresh_every": [Finite(Integral, 1, None, closed="left")],
    "batch_size": [Finite(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"auto"}), Finite(Real, 0, None, closed="neither")],
    "weight_decay": [StrOptions({"auto"}), Finite(Real, 0, None, closed="left")],
    "average_decay": [Finite(Real, 0, 1, closed="left")],
    "validation_fraction": [Finite(Real, 0, 1, closed="neither")],
    "column_scaling": [StrOptions(set(COLUMN_SCALINGS))],
    "cv": [StrOptions({"auto"}), "cv_object", Hidden(_Splits())],
    "n_iter_no_change": [Finite(Integral, 1, None, closed="left"), None],
    "tol": [Finite(Real, 0, None, closed="left")],
    "selection_confidence": [Finite(Real, 0, 1, closed="both")],
    "init": [StrOptions(set(WARM_STARTS) | {"auto"})],
    "hidden_layer_sizes": [_LayerSizes()],
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "calibrate": ["boolean"],
    "unlabeled_label": "no_validation",  # any label value; checked against y's type at fit (check_marker_type)
    "pseudo_label_threshold": [Finite(Real, 0, 1, closed="both")],
    "warm_start": ["boolean"],
    "device": [str, _TorchDevice()],  # a name, or a torch.device; resolve_device checks it
    "memory": [str, HasMethods(["cache"]), None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def check_params(params, caller_name):
    """``InvalidParameterError`` (a ``ValueError`` and ``TypeError``) naming the first of
    ``params`` outside its entry of :data:`PARAMETER_CONSTRAINTS`."""
    validate_parameter_constraints(PARAMETER_CONSTRAINTS, params, caller_name=caller_name)
