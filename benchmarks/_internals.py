"""The one door from the benchmarks into skselmix's private modules.

Benchmarks use the public API. Where an analysis needs more (the naive K^4 gain beside
the closed form, a warm start fitted alone, the feedback's traces, the true labels of
unlabelled rows), it takes the private names from here, so a refactor of the package
finds every such use in one file. Nothing here replaces or patches a private name:
``tests/test_benchmark_code.py`` checks that no other benchmark imports ``skselmix._*``
and that no benchmark assigns to an attribute of a skselmix module or class.
"""

import torch

from skselmix._calibration import fit_temperature
from skselmix._classifier_cv import DEFAULT_S_VALUES
from skselmix._confusion import balanced_confusion, recalls
from skselmix._gain import (
    ProductPrecision,
    _mixed_products,
    expected_mixed_sensitivity,
    gain_from_sensitivity,
    objective_logit_sensitivity,
    prototype_sensitivity,
    rows_at_risk,
)
from skselmix._limits import LIMITS
from skselmix._selection import n_resamples
from skselmix._torch.architecture import LINEAR
from skselmix._torch.device import CPU
from skselmix._torch.features import fit_feature_map, scaled_float32_tensor
from skselmix._torch.problem import AnalysisHooks
from skselmix._torch.warm_start import LBFGS_MEMORY, fit_linear_head

__all__ = [
    "CPU", "DEFAULT_S_VALUES", "LBFGS_MEMORY", "LIMITS",
    "balanced_confusion", "expected_mixed_sensitivity", "fit_feature_map", "fit_temperature",
    "float64_mixed_products", "prototype_sensitivity", "rows_at_risk", "columns_in_another_unit",
    "fit_linear_head", "fit_observing_refreshes", "fit_with_hidden_labels", "gain_from_sensitivity", "n_resamples",
    "objective_logit_sensitivity", "recalls", "resolve_weight_decay",
    "scaled_float32_tensor",
]


def fit_with_hidden_labels(estimator, X, y, hidden_labels, *, hidden_partners=False, **fit_params):
    """Fit a semi-supervised estimator that knows the true labels of its unlabelled rows.

    ``hidden_labels`` are the true labels of the unlabelled rows of ``y``, in their order
    in ``X``. Each refresh record of ``history_`` then holds ``pseudo_label_accuracy``.
    By default they are never trained on, so they cannot change the fitted model.
    ``hidden_partners=True`` labels the mixup partners by them instead of by pseudo-labels
    (the oracle of ``semi_supervised_oracle.py``). Kept out of
    :meth:`SelMixClassifier.fit` (and its metadata-routing requests) because only
    benchmarks have such labels; the estimator's private ``_fit_and_commit`` takes them.
    """
    _check_fit_params(fit_params)
    hooks = AnalysisHooks(hidden_labels=hidden_labels, hidden_partners=hidden_partners)
    return estimator._fit_and_commit(X, y, hooks, **fit_params)


def fit_observing_refreshes(estimator, X, y, on_refresh, **fit_params):
    """Fit, calling ``on_refresh(step, stack, predictions, returned)`` at every refresh.

    ``stack`` holds the evaluated heads in SelMix's scaled coordinates (``coef`` (H, K, D),
    ``intercept`` (H, K) and the ``adapter`` or None, one head per fold), ``predictions``
    the judged (out-of-fold) class indices of the feedback rows and ``returned`` the stack
    the fit would return for this refresh (the all-rows head of a cross-fitted linear fit,
    else ``stack`` itself). The observer reads; it must not change them
    (``selection_traces.py`` records them).
    """
    _check_fit_params(fit_params)
    return estimator._fit_and_commit(X, y, AnalysisHooks(on_refresh=on_refresh), **fit_params)


def resolve_weight_decay(weight_decay, n_train):
    """The L2 strength of a linear SelMix fit on ``n_train`` rows (``"auto"`` resolved)."""
    return LINEAR.weight_decay(weight_decay, n_train)


def _check_fit_params(fit_params):
    allowed = {"sample_weight", "X_val", "y_val", "sample_weight_val", "coef_init", "intercept_init"}
    unexpected = sorted(set(fit_params) - allowed)
    if unexpected:
        raise TypeError(f"Unexpected fit parameters: {unexpected}.")


def float64_mixed_products(logits, h, lbar):
    """The gain's softmax term by the float64 products alone, whatever K (what the float32
    products of :func:`expected_mixed_sensitivity` are measured against)."""
    return _mixed_products(logits, h.to(torch.float64), logits, h.to(torch.float64), lbar,
                           ProductPrecision.exact())[0]


def columns_in_another_unit(X):
    """What ``column_scaling="auto"`` reads of ``X``: the share of its non-constant columns whose
    range lies more than 100 times off the median range of the others."""
    from skselmix._torch.features import _varies, share_in_another_unit

    ranges = X.max(axis=0) - X.min(axis=0)
    return share_in_another_unit(ranges[_varies(X.var(axis=0), X.mean(axis=0), X.shape[0])])
