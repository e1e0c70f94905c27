"""Which feedback a fit gets: cross-fitting, a user's ``X_val`` or a hold-out, with its
split or folds. A new feedback scheme is a :class:`~skselmix._feedback.Feedback`
subclass in ``_feedback.py`` and a branch of :func:`build_feedback` here.
"""

import numbers
import warnings

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold, check_cv

from ._features import float64_tensor, scaled_float32_tensor
from ._feedback import CrossFitFeedback, HoldOutFeedback, RowWeights
from ._head_fitter import HeadFitter
from ._stratify import shuffled_class_ranks

AUTO_FOLDS = 5  # folds of cv="auto" when no X_val is given


def build_feedback(data, fmap, device, rng, *, cv, validation_fraction, memory):
    """The :class:`~skselmix._feedback.Feedback` of one fit, from its parameters.

    Cross-fitting when ``cv`` says so (``"auto"`` without ``X_val`` means
    ``AUTO_FOLDS`` folds), a user's ``X_val``, or a stratified hold-out of
    ``validation_fraction`` of the rows. ``data`` is the fit's checked
    :class:`~skselmix._fit_inputs.FitData`, ``fmap`` its feature map; ``memory``
    caches the warm-start heads (see :class:`~skselmix._head_fitter.HeadFitter`).
    """
    X, y_enc, n_classes = data.X, data.y, data.classes.shape[0]
    cv = (AUTO_FOLDS if data.X_val is None else None) if (isinstance(cv, str) and cv == "auto") else cv
    class_weight = float64_tensor(data.class_weight, device)
    fit_heads = HeadFitter(memory)
    as_labels = lambda y: torch.as_tensor(y, device=device, dtype=torch.long)  # noqa: E731
    if cv is not None:
        fold, n_folds = fold_of_rows(cv, X, y_enc, rng)
        weights = RowWeights(float64_tensor(data.sample_weight, device), class_weight)
        return CrossFitFeedback(
            scaled_float32_tensor(X, fmap, device), as_labels(y_enc), torch.as_tensor(fold, device=device),
            n_folds, n_classes, weights, fit_heads,
        )
    if data.X_val is None:
        train_idx, val_idx = stratified_split(y_enc, n_classes, validation_fraction, rng)
        xt = scaled_float32_tensor(X, fmap, device, rows=train_idx)
        xv = scaled_float32_tensor(X, fmap, device, rows=val_idx)
        y_tr, y_va = y_enc[train_idx], y_enc[val_idx]
        w = data.sample_weight
        w_tr, w_va = (None, None) if w is None else (w[train_idx], w[val_idx])
    else:
        xt, xv = scaled_float32_tensor(X, fmap, device), scaled_float32_tensor(data.X_val, fmap, device)
        y_tr, y_va = y_enc, data.y_val
        w_tr, w_va = data.sample_weight, data.val_weight
    weights = RowWeights(float64_tensor(w_tr, device), class_weight)
    return HoldOutFeedback(xt, as_labels(y_tr), xv, as_labels(y_va), n_classes, weights, float64_tensor(w_va, device),
                           fit_heads)


def stratified_split(y_enc, n_classes, validation_fraction, rng):
    """Stratified train/validation split, without a Python loop over classes.

    Each class sends ``round(validation_fraction * n_k)`` rows to validation,
    clipped to ``[1, n_k - 1]``; a single-row class is used on both sides.
    """
    order, rank, counts = shuffled_class_ranks(y_enc, n_classes, rng)
    n_val = np.clip(np.rint(validation_fraction * counts), 1, np.maximum(counts - 1, 1)).astype(int)
    is_val = rank < n_val[y_enc[order]]
    singleton = counts[y_enc[order]] == 1
    train_idx = np.sort(order[~is_val | singleton])
    val_idx = np.sort(order[is_val])
    return train_idx, val_idx


def fold_of_rows(cv, X, y_enc, rng):
    """Fold of every labelled row from ``cv``; each row must be in exactly one test fold."""
    if isinstance(cv, numbers.Integral):
        # Shuffled within classes: rows sorted by class or time must not make the folds.
        splitter = StratifiedKFold(int(cv), shuffle=True, random_state=rng.randint(np.iinfo(np.int32).max))
    else:  # a splitter or an iterable of (train, test) pairs, as sklearn accepts
        splitter = check_cv(cv, y_enc, classifier=True)
    fold = np.full(y_enc.shape[0], -1)
    times_tested = np.zeros(y_enc.shape[0], dtype=int)
    with warnings.catch_warnings():
        # A class with fewer rows than folds is expected on long-tailed data (see `cv`).
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        for f, (_, test) in enumerate(splitter.split(X, y_enc)):
            fold[test] = f
            np.add.at(times_tested, test, 1)
    n_folds = f + 1 if y_enc.shape[0] else 0
    if n_folds < 2 or not (times_tested == 1).all():
        raise ValueError(
            f"cv must split the labelled rows into at least 2 folds, each row in exactly one test fold; "
            f"{cv!r} gave {n_folds} split(s) and tested {int((times_tested == 0).sum())} row(s) never and "
            f"{int((times_tested > 1).sum())} more than once."
        )
    return fold, n_folds
