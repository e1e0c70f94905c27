"""SelMixClassifier: gain-driven selective mixup fine-tuning of a linear head."""


import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data

from ._docstrings import ATTRIBUTES, PARAMETERS, entries, substitute
from ._fit_report import kept_warm_start_message, one_class_message, see_saw_message
from ._fit_report import warn as report
from ._objectives import get_objective
from ._parameters import PARAMETER_CONSTRAINTS
from ._predict import blockwise
from ._rows import is_dask_array, is_out_of_core, validated_source
from ._validation import tensor_to_numpy
from .metrics._classification import _score_with_class_counts

#: Every attribute a fit may set (beyond the parameters): what a saved model may hold
#: (``persistence.load`` refuses any other name). tests/test_persistence.py checks that
#: fits in every mode stay within it and that the docstring documents each.
FITTED_ATTRIBUTES = (
    "classes_", "n_features_in_", "feature_names_in_", "coef_", "intercept_", "n_iter_", "history_", "gain_matrix_",
    "sampling_distribution_", "prototypes_", "best_validation_score_", "best_step_", "objective_",
    "feature_offset_", "feature_scale_", "cv_heads_", "temperature_", "init_", "n_iter_warm_start_",
    "weight_decay_", "n_unlabeled_", "class_counts_", "network_coefs_", "network_intercepts_", "validation_gain_",
    "validation_gain_std_", "column_scaling_",
)
#: Parameters added after the first saved models, with the value that reproduces the fits of
#: the releases before them (0.8 added selection_confidence, 0.9 column_scaling).
PARAMETERS_ADDED_SINCE_SAVED = {"selection_confidence": 0.0, "column_scaling": "keep"}

# Where the site built from docs/ is published; the API pages are docs/_build/html/generated/.
DOCUMENTATION_URL = "https://skselmix.readthedocs.io/en/latest/"


@substitute(parameters=entries(PARAMETERS), attributes=entries(ATTRIBUTES))
class SelMixClassifier(ClassifierMixin, BaseEstimator):
    """Linear head (or small network) fine-tuned by SelMix for a non-decomposable objective.

    SelMix (Ramasubramanian et al., ICLR 2024) starts from a linear head fitted
    on fixed features (embeddings of a pretrained network, or tabular
    features), or with ``hidden_layer_sizes`` from a small network trained
    under it, and fine-tunes it with mixups chosen for the objective: every
    ``refresh_every`` SGD steps it measures the validation confusion matrix,
    computes the first-order gain ``G[i, j]`` of the objective from an SGD step
    on mixups of class ``i`` with class ``j`` (label ``i``), and samples pairs
    from ``P = softmax(s * G)`` restricted to pairs with positive gain.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
%(parameters)s

    Attributes
    ----------
%(attributes)s

    See Also
    --------
    skselmix.gain_matrix : The gain matrix on its own.
    skselmix.metrics : Metrics and scorers for the same objectives.
    sklearn.linear_model.LogisticRegression : A plain linear head.

    Notes
    -----
    Training works on ``(X - feature_offset_) / feature_scale_`` in float32
    (see ``column_scaling``) and maps the head back, so ``coef_`` and
    ``intercept_`` apply to the original features: the fit is invariant to
    per-column offsets and to one overall scale of ``X``. ``X`` whose RMS row
    norm is not a normal float64 number is refused with a ``ValueError``.

    ``X`` may be a torch tensor (detached, copied to the CPU), or a memory
    map, HDF5, Zarr or Dask array, read a block of rows at a time
    (:ref:`out_of_core`). Labels may be numbers, strings or booleans; labels
    mixing strings with numbers are refused. A class absent from a user's
    validation set takes its row of the confusion matrix from the training
    rows (with a warning).

    :meth:`fit` works on a copy and commits in one assignment: an exception or
    ``KeyboardInterrupt`` leaves the estimator as it was. Non-finite weights
    stop training with the best head so far and a ``ConvergenceWarning``; a
    metric that fails is a ``ValueError`` naming it. On the CPU the same
    ``random_state`` and data give bit-identical ``coef_`` for a given torch
    build and thread count, whatever the memory layout of ``X``
    (:ref:`the user guide <determinism>`).

    References
    ----------
    .. [1] S. Ramasubramanian, H. Rangwani, S. Takemori, K. Samanta, Y. Umeda,
       R. V. Babu. "Selective Mixup Fine-Tuning for Optimizing Non-Decomposable
       Objectives". ICLR 2024.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skselmix import SelMixClassifier
    >>> X, y = make_classification(n_samples=300, n_classes=3, n_informative=4,
    ...                            weights=[0.7, 0.2, 0.1], random_state=0)
    >>> clf = SelMixClassifier(metric="min_recall", max_iter=200, device="cpu",
    ...                        random_state=0).fit(X, y)
    >>> clf.predict(X[:4]).shape
    (4,)
    >>> clf.history_[0]["step"]
    0
    """

    # The "?" of the estimator's HTML repr links its API page (sklearn's _HTMLDocumentationLinkMixin).
    _doc_link_module = "skselmix"
    _doc_link_template = DOCUMENTATION_URL + "generated/{estimator_module}.{estimator_name}.html"

    def __init__(
        self,
        metric="min_recall",
        *,
        s=10.0,
        lambda_min=0.6,
        mixup="mixup",
        max_iter=1000,
        refresh_every=50,
        batch_size=64,
        learning_rate="auto",
        weight_decay="auto",
        average_decay=0.0,
        validation_fraction=0.2,
        column_scaling="auto",
        cv="auto",
        n_iter_no_change=10,
        tol=1e-4,
        selection_confidence=0.8,
        init="logit_adjusted",
        hidden_layer_sizes=(),
        class_weight=None,
        calibrate=True,
        unlabeled_label=None,
        pseudo_label_threshold=0.0,
        warm_start=False,
        device="auto",
        memory=None,
        random_state=None,
        verbose=0,
    ):
        self.metric = metric
        self.s = s
        self.lambda_min = lambda_min
        self.mixup = mixup
        self.max_iter = max_iter
        self.refresh_every = refresh_every
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.average_decay = average_decay
        self.validation_fraction = validation_fraction
        self.column_scaling = column_scaling
        self.cv = cv
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.selection_confidence = selection_confidence
        self.init = init
        self.hidden_layer_sizes = hidden_layer_sizes
        self.class_weight = class_weight
        self.calibrate = calibrate
        self.unlabeled_label = unlabeled_label
        self.pseudo_label_threshold = pseudo_label_threshold
        self.warm_start = warm_start
        self.device = device
        self.memory = memory
        self.random_state = random_state
        self.verbose = verbose

    def __setstate__(self, state):
        # A model saved by an older release lacks the parameters added since: give them the
        # values that reproduce that release's fit, so get_params, clone and a refit work.
        super().__setstate__(state)
        for name, value in PARAMETERS_ADDED_SINCE_SAVED.items():
            self.__dict__.setdefault(name, value)

    # ------------------------------------------------------------------ checks
    _parameter_constraints = PARAMETER_CONSTRAINTS

    def _validate_fit_params(self):
        """Every parameter against ``_parameter_constraints``, then what a constraint cannot
        say: the objective (its name, or its own parameters) and the device."""
        from ._torch.device import resolve_device  # torch: fitting needs it, a fitted model does not

        self._validate_params()
        check_memory(self.memory)
        return get_objective(self.metric), resolve_device(self.device)

    def _candidate_params(self):
        """The loop parameters each run of this fit overrides: one run, with its own parameters."""
        return [{}]

    def _select(self, results, candidates):
        """The index of the run whose state becomes the fitted model, and the fitted
        attributes the choice adds (one run and none here)."""
        return 0, {}

    # -------------------------------------------------------------------- fit
    def fit(
        self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None, coef_init=None,
        intercept_init=None,
    ):
        """Warm-start a linear head, then fine-tune it with SelMix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features. A memory map, an h5py dataset, a Zarr or a
            Dask array is read a block of rows at a time, never copied whole:
            the fit's float32 features then live in an unnamed temporary file
            (in ``TMPDIR``) instead of memory (:ref:`out_of_core`).
        y : array-like of shape (n_samples,)
            Training labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights. They weigh the warm start's loss, the
            within-class draws of anchors and partners (a row is drawn in
            proportion to its weight), the class prototypes, and, with
            cross-fitting or the internal hold-out, the rows' votes in the
            validation confusion matrix. An integer weight ``w`` acts like
            ``w`` copies of the row (up to the random draws, and the folds
            or hold-out that copies would be spread over). Rows of weight
            zero take no part (they keep their place in ``cv`` splits); a
            class whose rows all weigh zero is an error.
            The total weight plays the part of the row count in
            ``weight_decay="auto"``.
        X_val : array-like of shape (n_val_samples, n_features), default=None
            Validation features for the feedback loop and model selection
            (with ``cv="auto"`` or ``cv=None``); when ``None``, the feedback
            comes from cross-fitting (``cv="auto"``, an int or a splitter) or
            from a stratified ``validation_fraction`` of ``X`` (``cv=None``).
            ``X_val`` is used as given: inside a ``Pipeline`` it bypasses the
            earlier steps unless metadata routing transforms it (see the user
            guide); a validation set on a clearly different scale from ``X``
            raises a warning.
        y_val : array-like of shape (n_val_samples,), default=None
            Validation labels (classes must appear in ``y``).
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation rows in the confusion matrix and the
            prototypes (only with ``X_val``).
        coef_init : array-like of shape (n_classes, n_features), default=None
            Start from this head (e.g. a pretrained network's own) instead of
            fitting ``init``. Columns follow the sorted class labels.
        intercept_init : array-like of shape (n_classes,), default=None
            Biases of that head (zeros when omitted).

        Returns
        -------
        self : SelMixClassifier
            Fitted estimator.

        Warns
        -----
        FitOutcomeWarning
            When the feedback cannot judge some classes (all of a class's
            labelled rows in one test fold, typically a single row, under
            cross-fitting; a single row on the internal hold-out), and
            whenever a fit that ran SGD steps returns its warm start, with
            the reason: the objective never left a floor held by classes at
            recall 0, collapsed after the warm start, took the early verdict
            (no step beat the warm start on half the resamples), or its best
            step's gain was within noise (``selection_confidence``).
            ``verbose=1`` prints the same words.
        """
        return self._fit_and_commit(
            X, y, sample_weight=sample_weight, X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val,
            coef_init=coef_init, intercept_init=intercept_init,
        )

    def _fit_and_commit(self, X, y, hooks=None, **fit_params):
        """:meth:`fit` with its keyword arguments, and the analysis-only ``hooks``
        (:class:`~skselmix._torch.problem.AnalysisHooks`: the true labels of the unlabelled
        rows, which only benchmarks have, and an observer of every refresh; see
        ``benchmarks/_internals.py``)."""
        # The fit runs on a scratch copy (validate_data writes n_features_in_ first) and
        # its state is committed by one assignment at the end: another thread predicting
        # with this estimator meanwhile sees the previous model, and an exception or
        # KeyboardInterrupt leaves the estimator exactly as it was.
        scratch = object.__new__(type(self))
        scratch.__dict__.update(vars(self))
        scratch._fit(X, y, hooks, **fit_params)
        self.__dict__ = scratch.__dict__
        return self

    def _fit(self, X, y, hooks, **fit_params):
        """Validate, prepare the problem once, run the candidates, select, report, commit."""
        # The fit's modules import torch; importing them here keeps `import skselmix`, prediction,
        # scoring and loading torch-free.
        from ._torch.architecture import architecture_of
        from ._torch.problem import NO_HOOKS, prepare_problem, run_candidates

        hooks = NO_HOOKS if hooks is None else hooks
        previous_head = self._previous_head() if self.warm_start else None
        objective, device = self._validate_fit_params()
        candidates = self._candidate_params()
        problem = prepare_problem(self, X, y, architecture=architecture_of(self.hidden_layer_sizes),
                                  objective=objective, device=device, candidates=candidates,
                                  previous_head=previous_head, hooks=hooks, **fit_params)
        results = run_candidates(problem, hooks)
        selected, search_attributes = self._select(results, candidates)
        result = results[selected]
        _report_outcome(result, problem, problem.settings[selected], self.verbose)
        self._commit({**_fitted_attributes(result, problem), **search_attributes})

    def _commit(self, fitted):
        """Set the ``fitted`` attributes: they replace every attribute of an earlier fit (a
        refit of the other kind of model, or without cv, leaves none of its own behind)."""
        for name in FITTED_ATTRIBUTES:
            if name not in ("n_features_in_", "feature_names_in_"):  # set by validate_data
                self.__dict__.pop(name, None)
        self.__dict__.update(fitted)

    def _previous_head(self):
        if hasattr(self, "network_coefs_"):
            raise ValueError(
                "warm_start=True continues from the previous fit's linear head, but the previous fit was a "
                "network (network_coefs_); warm_start works with the linear head only: set warm_start=False to "
                "fit anew."
            )
        if not hasattr(self, "coef_"):  # unfitted
            return None
        from ._torch.records import InitHead

        return InitHead(self.coef_.copy(), self.intercept_.copy(), "warm_start", self.classes_)

    # ---------------------------------------------------------------- predict
    # Every prediction is computed a block of rows at a time (skselmix._predict.blockwise);
    # an out-of-core X (memory map, HDF5, Zarr) is read where it lies, and a Dask array
    # gives a lazy Dask array of its blocks' predictions (skselmix._rows).

    def decision_function(self, X):
        """Logits of the head; for two classes, ``logit[1] - logit[0]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            In memory, memory-mapped, HDF5, Zarr or Dask (read in blocks of rows).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            A Dask array when ``X`` is one.
        """
        check_is_fitted(self)
        if self.classes_.shape[0] == 2:
            return self._blockwise(X, lambda logits: logits[:, 1] - logits[:, 0])
        return self._blockwise(X, lambda logits: logits, tail=self.classes_.shape)

    def predict_proba(self, X):
        """Class probabilities: ``softmax(logits / temperature_)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            In memory, memory-mapped, HDF5, Zarr or Dask (read in blocks of rows).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``. A Dask array when ``X`` is one.
        """
        check_is_fitted(self)
        return self._blockwise(X, lambda logits: softmax(logits / self.temperature_, axis=1), tail=self.classes_.shape)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            In memory, memory-mapped, HDF5, Zarr or Dask (read in blocks of rows).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            A Dask array when ``X`` is one.
        """
        check_is_fitted(self)

        def log_proba(logits):
            logits = logits / self.temperature_
            return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

        return self._blockwise(X, log_proba, tail=self.classes_.shape)

    def predict(self, X):
        """Class labels (from ``classes_``) of the largest logit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            In memory, memory-mapped, HDF5, Zarr or Dask (read in blocks of rows).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            A Dask array when ``X`` is one.
        """
        check_is_fitted(self)  # before classes_ is read
        return self._blockwise(X, lambda logits: self.classes_[np.argmax(logits, axis=1)], dtype=self.classes_.dtype)

    def score(self, X, y, sample_weight=None):
        """The fitted objective (``objective_``) on the balanced distribution of ``(X, y)``.

        Not accuracy: ``GridSearchCV(SelMixClassifier(metric="min_recall"), ...)``
        without ``scoring=`` selects by min recall, the quantity the estimator
        maximises. A search over ``metric`` itself must pass ``scoring=``
        (:func:`~skselmix.metrics.objective_scorer`): otherwise each candidate
        is scored in its own objective and the one with the larger kind of
        number wins (:ref:`the user guide <search_over_metric>`). Recall is
        taken over the classes present in ``y`` (with a
        row of positive weight: rows of weight zero are absent, as in
        :meth:`fit`), as :mod:`skselmix.metrics` and
        :func:`~skselmix.metrics.objective_scorer` do: a class absent from a
        test fold is not judged there, and a label never seen in :meth:`fit`
        is judged (its rows are always mispredicted). Head and tail classes of
        ``"min_head_tail_recall"`` and the default groups of
        ``"min_group_recall"`` are decided by ``class_counts_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test features.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            The objective's value, e.g. the smallest per-class recall for
            ``metric="min_recall"``.
        """
        y_pred = np.asarray(self.predict(X))  # a Dask array's predictions, computed
        counts = dict(zip(self.classes_.tolist(), self.class_counts_.tolist()))
        return _score_with_class_counts(self.objective_, tensor_to_numpy(y), y_pred, sample_weight, counts)

    def _blockwise(self, X, per_block, tail=(), dtype=np.float64):
        """``per_block(logits)`` of every row of ``X`` (see :func:`skselmix._predict.blockwise`);
        for a Dask array, a lazy Dask array of its row blocks' results."""
        if is_dask_array(X):
            validated_source(self, X, reset=False)
            X = X.rechunk({1: -1})  # each block holds whole rows
            meta = np.empty((0,) + tuple(tail), dtype=dtype)
            on_block = lambda block: self._blockwise(block, per_block, tail, dtype)  # noqa: E731
            if tail:
                return X.map_blocks(on_block, chunks=(X.chunks[0], tuple(tail)), dtype=dtype, meta=meta)
            return X.map_blocks(on_block, drop_axis=1, dtype=dtype, meta=meta)
        X = tensor_to_numpy(X)
        if is_out_of_core(X):
            X = validated_source(self, X, reset=False)
        else:
            # float32 stays float32 here (each block is cast to float64): a float64 copy of
            # the whole input would double what prediction holds.
            X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return blockwise(self, X, per_block, tail, dtype)


def _report_outcome(result, problem, chosen, verbose):
    """Say why a fit kept its warm start, see-sawed or predicts one class (a
    ``FitOutcomeWarning``, printed too with ``verbose``)."""
    classes = problem.classes.tolist()
    name = problem.objective.name
    why = kept_warm_start_message(result, classes, name, chosen.learning_rate, chosen.selection_confidence)
    see_saw = see_saw_message(result.history, classes, name)
    if why is not None or see_saw is not None:
        report(" ".join(message for message in (why, see_saw) if message is not None), verbose)
    degenerate = one_class_message(result.history, result.best_step, classes)
    if degenerate is not None:
        report(degenerate, verbose)


def _fitted_attributes(result, problem):
    """Every fitted attribute of a fit, from what its solver returned (a
    :class:`~skselmix._torch.records.LoopResult` on the scaled features) mapped back to ``X``."""
    fmap, unlabeled = problem.fmap, problem.unlabeled
    return {
        **result.model.fitted_attributes(fmap, _check_finite_weights),
        "classes_": problem.classes,
        "class_counts_": problem.data.class_counts,
        "prototypes_": result.prototypes * fmap.scale + fmap.offset,
        "feature_offset_": fmap.offset,
        "feature_scale_": fmap.scale,
        "column_scaling_": "standardize" if fmap.per_column else "keep",
        "n_unlabeled_": 0 if unlabeled is None else int(unlabeled.features.shape[0]),
        "objective_": problem.objective,
        "n_iter_": result.n_iter,
        "history_": result.history,
        "gain_matrix_": result.gain_matrix,
        "sampling_distribution_": result.sampling_distribution,
        "best_validation_score_": result.best_validation_score,
        "best_step_": result.best_step,
        "validation_gain_": result.selection.gain,
        "validation_gain_std_": result.selection.gain_std,
        "init_": result.init,
        "weight_decay_": result.weight_decay,
        "temperature_": result.temperature,
        "n_iter_warm_start_": result.n_iter_warm_start,
    }


def _check_finite_weights(coef, intercept, fmap):
    """Safety net: tiny-but-normal X can still push ``coef / scale`` past float64."""
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError(
            f"The fitted weights overflow float64 on features this small (smallest feature scale "
            f"{fmap.scale.min():g}); rescale X (e.g. StandardScaler)."
        )
