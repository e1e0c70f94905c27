"""Class labels as users pass them: one type throughout, never silently coerced.

numpy turns a Python list mixing strings and numbers into strings
(``np.asarray([1, "a"])`` is ``['1', 'a']``), so class ``1`` would come back as
``'1'``; the same labels as an object array have no order for ``classes_``.
Both are rejected here, by the same rule, before numpy sees them.
"""

import numbers

import numpy as np


def _is_text(value):
    return isinstance(value, (str, np.str_))


def check_label_types(y, name="y"):
    """Raise ``ValueError`` when a 1-d ``y`` mixes string labels with other labels.

    Parameters
    ----------
    y : array-like
        Labels as the user passed them (list, tuple, ndarray, Series...).
        Arrays of a non-object dtype hold one type by construction and are
        not inspected.
    name : str, default="y"
        Name used in the error message.
    """
    dtype = getattr(y, "dtype", None)
    if dtype is not None and dtype != object:  # noqa: E721 (a numpy dtype, not a type)
        return
    values = np.asarray(y, dtype=object)
    if values.ndim != 1 or values.size == 0:
        return
    text = np.fromiter((_is_text(v) for v in values.tolist()), dtype=bool, count=values.size)
    if text.any() and not text.all():
        kinds = sorted({type(v).__name__ for v in values.tolist()})
        raise ValueError(
            f"{name} mixes label types {kinds} (string and number); use labels of one type (e.g. all str or all int)."
        )


def normalize_object_labels(y):
    """Object labels: all-integer arrays become integer labels; mixed types are an error.

    sklearn's ``type_of_target`` calls an object array of ints "unknown" and
    rejects it as a regression target, which misleads; a mix of strings and
    numbers has no order for ``classes_``.
    """
    if y.dtype != object:
        return y
    if all(_is_text(v) for v in y.tolist()):
        return y
    converted = np.asarray(y.tolist())
    if converted.dtype.kind in "iub":
        return converted
    kinds = sorted({type(v).__name__ for v in y.tolist()})
    if len(kinds) > 1:
        raise ValueError(f"y mixes label types {kinds}; use labels of one type (e.g. all str or all int).")
    return y


def check_marker_type(marker, y):
    """Raise ``ValueError`` when the unlabelled marker cannot equal any label of ``y``.

    A string marker never equals a numeric label (``"-1" != -1``) and a number
    never equals a string label, so such a marker would silently mark nothing and
    turn the unlabelled rows into a class of their own.
    """
    text_labels = y.dtype.kind in "US" or (y.dtype == object and y.size and all(_is_text(v) for v in y.tolist()))
    numeric_labels = y.dtype.kind in "iufb"
    marker_is_text = _is_text(marker)
    marker_is_number = isinstance(marker, numbers.Number) and not marker_is_text
    if (text_labels and not marker_is_text) or (numeric_labels and not marker_is_number):
        label_kind = "string" if text_labels else "numeric"
        raise ValueError(
            f"unlabeled_label={marker!r} ({type(marker).__name__}) can never match the {label_kind} labels of y; "
            f"use a marker of the labels' type (e.g. {'-1' if numeric_labels else repr('-1')})."
        )
