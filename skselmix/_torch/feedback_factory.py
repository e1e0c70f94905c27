"""Which feedback a fit gets: cross-fitting, a user's ``X_val`` or a hold-out, with its
split or folds. A new feedback scheme is a :class:`~skselmix._torch.feedback.Feedback`
subclass in ``feedback.py`` and a branch of :func:`build_feedback` here.
"""

import numbers
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

from .._fit_report import single_row_hold_out_message, unjudged_by_folds, unjudged_message
from .._fit_report import warn as report
from .._rows import RowSource
from .._stratify import shuffled_class_ranks
from .architecture import LINEAR
from .cluster_features import ClusterFeatures
from .features import float64_tensor, scaled_float32_tensor, torch_ready
from .feedback import CrossFitFeedback, HoldOutFeedback, RowWeights
from .head_fitter import HeadFitter

AUTO_FOLDS = 5  # folds of cv="auto" when no X_val is given


def resolved_cv(cv, has_x_val):
    """The folds a fit's ``cv`` asks for: ``"auto"`` means ``AUTO_FOLDS`` folds without
    ``X_val`` and none with it; anything else is kept (None: a hold-out or ``X_val``)."""
    if isinstance(cv, str) and cv == "auto":
        return None if has_x_val else AUTO_FOLDS
    return cv


def draws_folds(cv):
    """Whether folds of ``cv`` (resolved) are shuffled by a seed of the fit: a number of folds."""
    return isinstance(cv, numbers.Integral)


def build_feedback(data, fmap, device, seeds, *, cv, validation_fraction, memory, architecture=LINEAR, verbose=0):
    """The :class:`~skselmix._torch.feedback.Feedback` of one fit, from its parameters.

    Cross-fitting when ``cv`` says so (``"auto"`` without ``X_val`` means
    ``AUTO_FOLDS`` folds), a user's ``X_val``, or a stratified hold-out of
    ``validation_fraction`` of the rows. ``data`` is the fit's checked
    :class:`~skselmix._torch.fit_inputs.FitData`, ``fmap`` its feature map, ``seeds`` its
    :class:`~skselmix._torch.seeds.FitSeeds` (the folds' shuffle, the hold-out's order,
    the networks' seed); ``memory`` caches the warm-start heads of ``architecture`` (see
    :class:`~skselmix._torch.head_fitter.HeadFitter`).
    Classes the feedback cannot judge are named in a ``FitOutcomeWarning``.
    """
    X, y_enc, n_classes = data.X, data.y, data.classes.shape[0]
    cv = resolved_cv(cv, data.X_val is not None)
    class_weight = float64_tensor(data.class_weight, device)
    fit_heads = HeadFitter(memory, architecture, seeds.network, verbose=verbose)
    as_labels = lambda y: torch.as_tensor(torch_ready(y), device=device, dtype=torch.long)  # noqa: E731
    if cv is not None:
        fold, n_folds = fold_of_rows(cv, X, y_enc, seeds.folds, semi_supervised=data.X_unlabeled is not None)
        _check_every_fold_head_has_weight(data.sample_weight, fold, n_folds)
        unjudged = unjudged_by_folds(y_enc, fold, n_folds, n_classes, data.sample_weight)
        if unjudged.size:
            report(unjudged_message(data.classes[unjudged].tolist(), "out of fold"), verbose)
        weights = RowWeights(float64_tensor(data.sample_weight, device), class_weight, data.weight_unit)
        return CrossFitFeedback(
            _training_features(X, fmap, device, architecture, fit_heads, verbose), as_labels(y_enc),
            torch.as_tensor(fold, device=device), n_folds, n_classes, weights, fit_heads,
        )
    if data.X_val is None:
        train_idx, val_idx = stratified_split(y_enc, n_classes, validation_fraction, seeds.hold_out_order)
        single = np.flatnonzero(np.bincount(y_enc, minlength=n_classes) == 1)
        if single.size:
            report(single_row_hold_out_message(data.classes[single].tolist()), verbose)
        xt = scaled_float32_tensor(X, fmap, device, rows=train_idx, verbose=verbose)
        xv = scaled_float32_tensor(X, fmap, device, rows=val_idx, verbose=verbose)
        y_tr, y_va = y_enc[train_idx], y_enc[val_idx]
        w = data.sample_weight
        w_tr, w_va = (None, None) if w is None else (w[train_idx], w[val_idx])
    else:
        xt = scaled_float32_tensor(X, fmap, device, verbose=verbose)
        xv = scaled_float32_tensor(data.X_val, fmap, device, verbose=verbose)
        y_tr, y_va = y_enc, data.y_val
        w_tr, w_va = data.sample_weight, data.val_weight
    weights = RowWeights(float64_tensor(w_tr, device), class_weight, data.weight_unit)
    return HoldOutFeedback(xt, as_labels(y_tr), xv, as_labels(y_va), n_classes, weights, float64_tensor(w_va, device),
                           fit_heads)


def _training_features(X, fmap, device, architecture, fit_heads, verbose):
    """The cross-fitted heads' scaled features: a float32 tensor on ``device``, or, for an ``X``
    that reads a Dask array with an architecture whose passes run on a cluster (linear
    heads) on the CPU, :class:`ClusterFeatures` (the rows stay on the cluster; the passes
    run there)."""
    array = X.dask_array() if isinstance(X, RowSource) else None
    if array is None or not architecture.on_cluster or torch.device(device).type != "cpu":
        return scaled_float32_tensor(X, fmap, device, verbose=verbose)
    if fit_heads.caches:
        report("memory= caches no warm start of a fit whose X is a Dask array (hashing the rows would gather "
               "them into this process): its warm start is fitted anew.", verbose, category=UserWarning)
    return ClusterFeatures(array, fmap)


def _check_every_fold_head_has_weight(sample_weight, fold, n_folds):
    """Fold head ``f`` trains on the rows outside fold ``f``: they need positive weight."""
    if sample_weight is None:
        return
    per_fold = np.bincount(fold, weights=sample_weight, minlength=n_folds)
    # Summed over the other folds, not total minus own: a heavy fold would swamp light ones.
    outside = np.array([np.delete(per_fold, f).sum() for f in range(n_folds)])
    empty = np.flatnonzero(outside <= 0)
    if empty.size:
        raise ValueError(
            f"sample_weight is zero on every row outside cv fold(s) {empty.tolist()}: the fold head that predicts "
            "those rows would train on nothing. Give rows of other folds positive weight, or use fewer folds."
        )


def stratified_split(y_enc, n_classes, validation_fraction, order):
    """Stratified train/validation split, without a Python loop over classes.

    Each class sends ``round(validation_fraction * n_k)`` rows to validation, clipped to
    ``[1, n_k - 1]``, the first in ``order`` (a random permutation of the rows); a
    single-row class is used on both sides.
    """
    order, rank, counts = shuffled_class_ranks(y_enc, n_classes, order=order)
    n_val = np.clip(np.rint(validation_fraction * counts), 1, np.maximum(counts - 1, 1)).astype(int)
    is_val = rank < n_val[y_enc[order]]
    singleton = counts[y_enc[order]] == 1
    train_idx = np.sort(order[~is_val | singleton])
    val_idx = np.sort(order[is_val])
    return train_idx, val_idx


def fold_of_rows(cv, X, y_enc, seed=None, semi_supervised=False):
    """Fold of every labelled row from ``cv``, and the number of folds (``seed`` shuffles
    the stratified folds of an int ``cv``).

    The test folds must partition the labelled rows, and each split's train set
    must be the rows outside its test fold (what a fold head trains on); anything
    else is a ``ValueError`` naming ``cv`` and the split. In semi-supervised mode the
    splits index the labelled rows only, in their order in ``y``.
    """
    n = y_enc.shape[0]
    with warnings.catch_warnings():
        # A class with fewer rows than folds is expected on long-tailed data (see `cv`).
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        splits = list(_splits(cv, X, y_enc, seed))
    fold = np.full(n, -1)
    times_tested = np.zeros(n, dtype=int)
    for index, split in enumerate(splits):
        if any(type(part).__module__.split(".")[0] == "torch" for part in (split if isinstance(split, tuple) else ())):
            raise ValueError(
                f"cv holds torch tensors (split {index}); give numpy arrays or lists of indices "
                "(tensor.cpu().numpy()): the estimator keeps cv, and a fitted model must unpickle and save "
                "without torch."
            )
        test = _checked_test_fold(split, index, n, semi_supervised)
        fold[test] = index
        np.add.at(times_tested, test, 1)
    n_folds = len(splits)
    if n_folds < 2 or not (times_tested == 1).all():
        spent = ""
        if isinstance(cv, Iterator) and n_folds == 0:
            spent = (" A generator of splits is spent after one fit (a refit, clone or search iterates it again): "
                     "pass a list of splits or a splitter.")
        raise ValueError(
            f"cv must split the labelled rows into at least 2 folds, each row in exactly one test fold; "
            f"{cv!r} gave {n_folds} split(s) and tested {int((times_tested == 0).sum())} row(s) never and "
            f"{int((times_tested > 1).sum())} more than once.{spent}"
        )
    for index, split in enumerate(splits):
        _check_train_is_the_rest(split[0], fold != index, index, n, semi_supervised)
    return fold, n_folds


def _splits(cv, X, y_enc, seed):
    """The ``(train, test)`` pairs of ``cv``: a number of folds, a splitter or an iterable."""
    if draws_folds(cv):
        # Shuffled within classes: rows sorted by class or time must not make the folds.
        return StratifiedKFold(int(cv), shuffle=True, random_state=seed).split(X, y_enc)
    if hasattr(cv, "split") and not isinstance(cv, str):
        return cv.split(X, y_enc)
    if isinstance(cv, dict):
        raise ValueError("cv is a dict; pass a list of (train, test) index pairs, a splitter or a number of folds.")
    if isinstance(cv, np.ndarray) and cv.ndim == 1:
        raise ValueError(
            "cv is a 1-d array: if it holds a fold id per row, pass sklearn.model_selection.PredefinedSplit(fold_ids); "
            "otherwise a list of (train, test) index pairs."
        )
    return cv


def _index_array(part, what, index, n, semi_supervised):
    """A split's ``train`` or ``test`` as integer indices in ``[0, n)`` (a boolean mask of
    length ``n`` is accepted too)."""
    indices = np.asarray(part)
    if indices.dtype == bool and indices.shape == (n,):
        return np.flatnonzero(indices)
    if indices.ndim != 1 or not (indices.dtype.kind in "iu" or indices.size == 0):
        raise ValueError(
            f"cv split {index}: its {what} part must be a 1-d array of integer row indices, got "
            f"{indices.dtype} of shape {indices.shape}."
        )
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        where = (" In semi-supervised mode the splits index the labelled rows only, in their order in y."
                 if semi_supervised else "")
        raise ValueError(
            f"cv split {index}: its {what} indices must lie in [0, {n}) (the {n} labelled rows), "
            f"got {int(indices.min())} to {int(indices.max())}.{where}"
        )
    return indices.astype(np.intp, copy=False)


def _split_pair(split, index):
    try:
        train, test = split
    except (TypeError, ValueError):
        raise ValueError(
            f"cv must give (train, test) pairs of index arrays; split {index} is {type(split).__name__} "
            f"{str(split)[:80]}."
        ) from None
    return train, test


def _checked_test_fold(split, index, n, semi_supervised):
    return _index_array(_split_pair(split, index)[1], "test", index, n, semi_supervised)


def _check_train_is_the_rest(train, outside_test, index, n, semi_supervised):
    """Fold head ``index`` trains on every labelled row outside its test fold: a user's train
    set that is anything else (restricted, purged) cannot be honoured, so it is refused."""
    rows = np.zeros(n, dtype=bool)
    rows[_index_array(train, "train", index, n, semi_supervised)] = True
    if not np.array_equal(rows, outside_test):
        raise ValueError(
            f"cv split {index}: its train part is not the labelled rows outside its test fold (it leaves out "
            f"{int((outside_test & ~rows).sum())} of them and holds {int((rows & ~outside_test).sum())} test rows). "
            "Cross-fitting trains each fold head on every labelled row outside its test fold, so a restricted or "
            "purged train set cannot be honoured: give splits whose train part is the rest of the rows, or use "
            "cv=None with X_val."
        )
