"""Semi-supervised benchmarks know the true labels of their unlabelled rows; the library does not."""


def fit_recording_pseudo_label_accuracy(estimator, X, y, hidden_labels, **fit_params):
    """Fit a semi-supervised estimator and record its pseudo-label accuracy (analysis only).

    ``hidden_labels`` are the true labels of the unlabelled rows of ``y``, in
    their order in ``X``; each refresh record of ``history_`` then holds
    ``pseudo_label_accuracy``. They are never used for training, so they cannot
    change the fitted model. Kept out of :meth:`SelMixClassifier.fit` (and its
    metadata-routing requests) because only benchmarks have such labels; the
    estimator's private ``_fit_and_commit`` takes them.
    """
    allowed = {"sample_weight", "X_val", "y_val", "sample_weight_val", "coef_init", "intercept_init"}
    unexpected = sorted(set(fit_params) - allowed)
    if unexpected:
        raise TypeError(f"Unexpected fit parameters: {unexpected}.")
    return estimator._fit_and_commit(X, y, hidden_labels=hidden_labels, **fit_params)
