"""Checks of the arrays a fit is given: features, labels, weights, validation rows,
a user's initial head, and the hidden labels of benchmarks.

Everything here raises a ``ValueError`` or ``TypeError`` naming the argument, never
modifies a user's array, and returns numpy arrays (the training loop makes tensors).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .._fit_report import class_list
from .._labels import check_label_types, check_marker_type, normalize_object_labels
from .._rows import is_out_of_core, take_rows, validated_source
from .._sklearn_compat import _check_sample_weight, compute_class_weight
from .._validation import tensor_to_numpy
from .records import InitHead

FLOAT_DTYPES = (np.float64, np.float32)


def checked_weights(sample_weight, X):
    """Non-negative float64 weights, one per row of ``X`` (sklearn's checks and messages)."""
    return _check_sample_weight(tensor_to_numpy(sample_weight), X, dtype=np.float64, ensure_non_negative=True)


def relative_weights(weights):
    """``(weights / weights.max(), weights.max())``: a fit computes with weights of at most one
    (float32 means and float64 sums of weights near 1e38 or 1e308 overflow) and keeps the
    scale apart for what reads it (``weight_decay="auto"``). ``(None, 1.0)`` for None."""
    if weights is None:
        return None, 1.0
    unit = float(weights.max())
    return (weights / unit, unit) if unit > 0 else (weights, 1.0)


def without_unit_weights(weights):
    """None for weights that are all one, so such a fit is the unweighted fit, bit for bit."""
    return None if weights is None or bool((weights == 1.0).all()) else weights


def relative_or_none(weights):
    """Relative weights (:func:`relative_weights`), or None when they are uniform or absent."""
    return without_unit_weights(relative_weights(weights)[0])


@dataclass
class FitData:
    """The checked arrays of one fit, labels encoded as indices into ``classes``."""

    X: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    sample_weight: Optional[np.ndarray] = None  # relative: at most one (see relative_weights)
    class_weight: Optional[np.ndarray] = None
    weight_unit: float = 1.0  # what sample_weight was divided by
    class_counts: Optional[np.ndarray] = None  # rows, or their total weight in the user's units, per class
    X_unlabeled: Optional[np.ndarray] = None
    unlabeled_weight: Optional[np.ndarray] = None
    X_val: Optional[np.ndarray] = None
    y_val: Optional[np.ndarray] = None
    val_weight: Optional[np.ndarray] = None

    def check_weighted_classes(self):
        """Every class needs rows of positive weight; weights that are all one become None.

        Rows of weight zero stay (a user's ``cv`` splits index them) but take no
        part: they are never drawn, and weigh nothing in any loss, mean or count.
        """
        totals = np.bincount(self.y, weights=self.sample_weight, minlength=self.classes.shape[0])
        if not (totals > 0).all():
            raise ValueError(
                f"sample_weight is zero on every row of class(es) {class_list(self.classes[totals <= 0].tolist())}; "
                "a class needs rows of positive weight to be learnt."
            )
        # The fit's float32 arithmetic (class means) sees rows lighter than float32's smallest
        # normal number, relative to the heaviest row, as weightless.
        float32_totals = np.bincount(self.y, weights=self.sample_weight.astype(np.float32), minlength=totals.shape[0])
        tiny = float32_totals < np.finfo(np.float32).tiny
        if tiny.any():
            raise ValueError(
                f"sample_weight spans more than the fit's float32 arithmetic holds: the rows of class(es) "
                f"{class_list(self.classes[tiny].tolist())} weigh less than {np.finfo(np.float32).tiny:.1e} times "
                "the heaviest row, which is zero in float32. Bring the weights closer together (for example clip "
                "the largest)."
            )
        self.sample_weight = without_unit_weights(self.sample_weight)


def checked_class_weight(class_weight, classes):
    """Finite, positive weights of every class, divided by the largest (the warm start's
    loss is a weighted mean, so only their ratios matter). The rules of ``sample_weight``:
    NaN, infinite, negative or zero weights are a ``ValueError`` naming ``class_weight``."""
    class_weight = np.asarray(class_weight, dtype=np.float64)
    bad = ~np.isfinite(class_weight) | (class_weight <= 0)
    if bad.any():
        raise ValueError(
            f"class_weight must give every class a finite, positive weight; class(es) "
            f"{class_list(classes[bad].tolist())} got {class_list(class_weight[bad].tolist())}. A class of weight "
            "zero would not be learnt by the warm start."
        )
    return class_weight / class_weight.max()


def validate_fit_data(estimator, X, y, *, sample_weight=None, X_val=None, y_val=None, sample_weight_val=None):
    """Checked arrays of one fit of ``estimator`` (a :class:`FitData`); user arrays are never modified.

    Sets ``n_features_in_`` (and ``feature_names_in_``) on ``estimator``, as ``validate_data`` does.
    """
    X, y = tensor_to_numpy(X), tensor_to_numpy(y)
    check_label_types(y)
    X, y = _checked_rows_and_labels(estimator, X, y, reset=True)
    y = normalize_object_labels(y)
    weights = None
    if sample_weight is not None:
        weights = checked_weights(sample_weight, X)
    X_unlabeled = weights_unlabeled = None
    if estimator.unlabeled_label is not None:
        check_marker_type(estimator.unlabeled_label, y)
        unlabeled = np.asarray(y == estimator.unlabeled_label, dtype=bool)
        X_unlabeled, X, y = take_rows(X, unlabeled), take_rows(X, ~unlabeled), y[~unlabeled]
        if weights is not None:
            weights_unlabeled, weights = weights[unlabeled], weights[~unlabeled]
        if y.shape[0] == 0:
            raise ValueError(
                f"Every row of y is unlabelled (marker {estimator.unlabeled_label!r}): need labelled rows."
            )
    check_classification_targets(y)
    classes, y_enc = np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(f"Classifier can't train when only one class is present: got the single class {classes[0]!r}.")
    counts = np.bincount(y_enc, weights=weights, minlength=classes.shape[0])
    counts = counts.astype(np.int64) if weights is None or bool((weights == 1.0).all()) else counts
    weights, unit = relative_weights(weights)
    class_weight = None
    if isinstance(estimator.class_weight, dict):
        # scikit-learn's own message says it backwards ("The classes, [...], are not in class_weight").
        strangers = [key for key in estimator.class_weight if key not in set(classes.tolist())]
        if strangers:
            raise ValueError(f"class_weight names {class_list(strangers)}, which are not classes of y (the classes "
                             f"are {class_list(classes.tolist())}).")
    if estimator.class_weight is not None:
        class_weight = checked_class_weight(
            compute_class_weight(estimator.class_weight, classes=classes, y=y, sample_weight=weights), classes
        )
    data = FitData(X, y_enc, classes, weights, class_weight, weight_unit=unit, class_counts=counts)
    if weights is not None:
        data.check_weighted_classes()
    if X_unlabeled is not None:
        keep = slice(None) if weights_unlabeled is None else weights_unlabeled > 0
        data.X_unlabeled = take_rows(X_unlabeled, keep)
        data.unlabeled_weight = relative_or_none(None if weights_unlabeled is None else weights_unlabeled[keep])
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be passed together (or neither).")
    if X_val is None and sample_weight_val is not None:
        raise ValueError("sample_weight_val was given without X_val and y_val.")
    if X_val is not None and estimator.cv not in (None, "auto"):
        raise ValueError(
            f"X_val was passed with cv={estimator.cv!r}: cross-fitting takes its feedback from out-of-fold "
            "predictions on the training rows. Pass cv=None to use X_val, or add X_val to the training rows."
        )
    if X_val is None:
        return data
    X_val, y_val = tensor_to_numpy(X_val), tensor_to_numpy(y_val)
    check_label_types(y_val, "y_val")
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and np.ndim(X_val) == 2 and np.shape(X_val)[1] != n_features:
        # validate_data would say "X has ... features": name the argument at fault.
        raise ValueError(f"X_val has {np.shape(X_val)[1]} features, but X has {n_features}: the validation rows "
                         "must have the training rows' columns.")
    X_val, y_val = _checked_rows_and_labels(estimator, X_val, y_val, reset=False, name="X_val")
    unknown = np.setdiff1d(np.unique(y_val), classes)
    if unknown.size:
        raise ValueError(f"y_val contains classes not present in y: {class_list(unknown.tolist())}.")
    data.X_val, data.y_val = X_val, np.searchsorted(classes, y_val)
    if sample_weight_val is not None:
        data.val_weight = relative_or_none(checked_weights(sample_weight_val, X_val))
    return data


def _checked_rows_and_labels(estimator, X, y, *, reset, name="X"):
    """``validate_data``'s checks of ``(X, y)``; an out-of-core ``X`` (``skselmix._rows``)
    becomes a :class:`~skselmix._rows.RowSource`, its rows checked as they are read."""
    if not is_out_of_core(X):
        return validate_data(estimator, X, y, dtype=FLOAT_DTYPES, y_numeric=False, reset=reset)
    X = validated_source(estimator, X, reset=reset, name=name)
    y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y" if name == "X" else "y_val"), warn=True)
    check_consistent_length(X, y)
    return X, y


def check_init_head(coef_init, intercept_init, n_classes, n_features):
    """The user's head as an :class:`InitHead` named ``"coef_init"`` (float64, checked); None
    without ``coef_init``."""
    if coef_init is None:
        if intercept_init is not None:
            raise ValueError("intercept_init was given without coef_init.")
        return None
    coef = np.asarray(coef_init, dtype=np.float64)
    if coef.shape != (n_classes, n_features):
        raise ValueError(
            f"coef_init must have shape (n_classes, n_features) = {(n_classes, n_features)}, got {coef.shape}."
        )
    intercept = np.zeros(n_classes) if intercept_init is None else np.asarray(intercept_init, dtype=np.float64)
    if intercept.shape != (n_classes,):
        raise ValueError(f"intercept_init must have shape (n_classes,) = ({n_classes},), got {intercept.shape}.")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("coef_init and intercept_init must be finite.")
    return InitHead(coef, intercept, "coef_init")


def mapped_float32_head(init_head, fmap):
    """A user's head (original features) on the mapped features, checked finite in float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        coef, intercept = fmap.head_from_original(init_head.coef, init_head.intercept)
        finite = np.isfinite(coef.astype(np.float32)).all() and np.isfinite(intercept.astype(np.float32)).all()
    if not finite:
        raise ValueError(
            f"{init_head.name} does not fit in float32 on the scaled features the fit uses "
            f"(largest |weight * feature scale| = {np.abs(coef).max():g}, largest |bias + weight . offset| = "
            f"{np.abs(intercept).max():g}; float32 holds at most {np.finfo(np.float32).max:g})."
        )
    return init_head._replace(coef=coef, intercept=intercept)


def encode_hidden(hidden_labels, classes, n_unlabeled, device):
    """Hidden labels as class indices (-1 for a label outside ``classes_``), or None."""
    if hidden_labels is None:
        return None
    hidden = np.asarray(hidden_labels)
    if hidden.shape != (n_unlabeled,):
        raise ValueError(
            f"hidden_labels must have shape ({n_unlabeled},) like the unlabelled rows, got {hidden.shape}."
        )
    pos = np.clip(np.searchsorted(classes, hidden), 0, classes.size - 1)
    return torch.as_tensor(np.where(classes[pos] == hidden, pos, -1), device=device)
