"""The estimators' docstring entries, written once and substituted into each class's docstring.

:class:`~skselmix.SelMixClassifierCV` takes every parameter of
:class:`~skselmix.SelMixClassifier` but ``s`` (it searches ``s`` instead) and has every
fitted attribute, so their numpydoc entries live here, in signature order, and both class
docstrings name them by placeholders that :func:`substitute` fills, as imbalanced-learn's
``Substitution`` decorator does. Only placeholders of the names given are replaced, so
numpydoc's ``{"a", "b"}`` and a literal percent sign stay as written. Methods are named
in full (``~skselmix.SelMixClassifier.fit``): the CV class inherits them and documents them
on SelMixClassifier's page.
"""

import re

#: Every parameter's entry, keyed by name, in the order of SelMixClassifier's signature.
PARAMETERS = {
    "metric": """\
    metric : str, Objective or callable, default="min_recall"
        Objective to maximise on the balanced distribution (:ref:`objectives`):
        ``"min_recall"``, ``"mean_recall"``, ``"gmean"``, ``"hmean"``,
        ``"mean_recall_min_coverage"``, ``"hmean_min_coverage"``,
        ``"min_head_tail_recall"`` or ``"min_group_recall"``; an
        :class:`~skselmix.Objective` instance to set its parameters; or a
        callable mapping the K x K balanced torch confusion matrix to a scalar
        tensor (derivative by autograd). :meth:`~skselmix.SelMixClassifier.score` reports this objective:
        to search over ``metric``, pass ``scoring=`` (:ref:`the user guide <search_over_metric>`).""",
    "s": """\
    s : float, default=10.0
        Inverse temperature of the pair distribution ``P = softmax(s * G)``:
        small values explore, large values exploit. ``G`` is divided by its
        largest absolute entry first, so ``s`` does not depend on the scale of
        the features.""",
    "lambda_min": """\
    lambda_min : float, default=0.6
        Mixing coefficients are drawn from ``U[lambda_min, 1]``; the gain uses
        their mean ``(lambda_min + 1) / 2``.""",
    "mixup": """\
    mixup : {"mixup", "cutmix"}, default="mixup"
        How an anchor ``x1`` and a partner ``x2`` are mixed: ``lam * x1 + (1 -
        lam) * x2``, or each feature from ``x1`` with probability ``lam``, else
        from ``x2`` (CutMix in feature space). Both have the expected mix the
        gain uses.""",
    "max_iter": """\
    max_iter : int, default=1000
        Largest number of SGD steps of fine-tuning. ``0`` fits the warm start
        alone (the logit-adjusted head on the centred, rescaled features,
        refitted on every labelled row), the recommended model where tail
        classes hold a few rows (see :ref:`the user guide <warm_start_only>`).""",
    "refresh_every": """\
    refresh_every : int, default=50
        SGD steps between two refreshes of the confusion matrix, multipliers,
        gains and pair distribution.""",
    "batch_size": """\
    batch_size : int, default=64
        Mixed samples per SGD step.""",
    "learning_rate": """\
    learning_rate : float or "auto", default="auto"
        Initial SGD step size, decayed by a cosine schedule over ``max_iter``:
        ``"auto"`` is 0.01 for the linear head and 0.003 with
        ``hidden_layer_sizes``. It is measured on the mapped features (see
        Notes), so it transfers across feature scales; too large a rate makes
        the validation objective collapse (:ref:`fine_tuning`).

        .. versionchanged:: 0.7
           The default became ``"auto"`` (0.01, as before, for the linear head).""",
    "weight_decay": """\
    weight_decay : float or "auto", default="auto"
        L2 penalty ``weight_decay / 2 * ||W||^2`` on the weights (not the
        biases) on the mapped features, in the warm start and the SGD steps.
        ``"auto"`` uses ``0.1 / n_train`` (``1 / n_train`` with
        ``hidden_layer_sizes``), ``n_train`` the labelled rows a head trains on
        (:ref:`fine_tuning`); ``weight_decay_`` holds the value used.""",
    "average_decay": """\
    average_decay : float, default=0.0
        When positive, an exponential moving average of the head (``avg <- d *
        avg + (1 - d) * head`` after each step) is what the feedback judges,
        the gains use and the fit can return. ``0`` uses the raw SGD iterate.""",
    "validation_fraction": """\
    validation_fraction : float, default=0.2
        Fraction of the training data held out (stratified) for validation
        feedback when ``cv=None`` and no ``X_val`` is given.""",
    "column_scaling": """\
    column_scaling : {"auto", "keep", "standardize"}, default="auto"
        Every column is centred and the rows brought to unit root-mean-square
        norm; ``"keep"`` then keeps the columns' relative scales (pixels,
        embeddings), ``"standardize"`` divides each column by its own spread
        (columns in different units), and ``"auto"`` standardises when at least
        2 % of the non-constant columns have a range more than 100 times off the
        median of the others'. ``column_scaling_`` says what a fit did
        (:ref:`scaling`).

        .. versionadded:: 0.9""",
    "cv": """\
    cv : "auto", int, cross-validation generator, iterable or None, default="auto"
        Where the feedback comes from (:ref:`feedback`). ``"auto"``: the user's
        ``X_val`` when :meth:`~skselmix.SelMixClassifier.fit` gets one, else
        5-fold cross-fitting. ``None``: a hold-out (``X_val``, else a stratified
        ``validation_fraction`` of the rows). An int ``F >= 2`` (stratified,
        shuffled with ``random_state``), a splitter or an iterable of ``(train,
        test)`` pairs cross-fits: each row is judged by the head that never
        trained on it, and the fitted head is the warm start refitted on every
        row, carried through the same steps. Test folds must partition the rows
        and each train part be the rest; ``X_val`` with an explicit ``cv`` is an error.

        .. versionchanged:: 0.2
           ``"auto"`` became the default; before, it was ``cv=None``.""",
    "n_iter_no_change": """\
    n_iter_no_change : int or None, default=10
        Stop after this many *refreshes* (``refresh_every`` SGD steps each, not
        epochs) without an improvement of the best validation objective by more
        than ``tol``; ``None`` runs ``max_iter``. Where the feedback judges some
        class on fewer than 10 rows it also stops after 3 refreshes that never
        beat the warm start on half of the bootstrap resamples, returning the
        warm start (:ref:`honest_selection`).""",
    "tol": """\
    tol : float, default=1e-4
        Smallest improvement of the validation objective that counts.""",
    "selection_confidence": """\
    selection_confidence : float, default=0.8
        How sure the feedback must be before the fit leaves its warm start: the
        best refresh is returned only if it beats the warm start on at least
        this share of paired, class-stratified bootstrap resamples of the
        feedback rows and its optimism-corrected gain is positive; otherwise
        the warm start is (``best_step_ == 0``) and a ``FitOutcomeWarning`` says
        why. ``0`` returns the best refresh whatever the noise
        (:ref:`honest_selection`).

        .. versionadded:: 0.8""",
    "init": """\
    init : {"logit_adjusted", "balanced", "cross_entropy", "auto"}, default="logit_adjusted"
        Warm start when ``coef_init`` is not given: logit-adjusted
        cross-entropy (Menon et al., 2021; the paper's), class-balanced
        cross-entropy, plain ERM, or ``"auto"``: the better on the feedback of
        the first two (``init_`` says which), at twice the cost.""",
    "hidden_layer_sizes": """\
    hidden_layer_sizes : tuple of int, default=()
        Widths of a trainable adapter of ReLU layers under the head, as in
        ``MLPClassifier``; ``()`` is the linear head. The warm start trains the
        whole network (Adam, a fixed schedule), the gains use the penultimate
        activations' prototypes, and the steps update the adapter too. With
        ``cv`` the fitted model averages the fold networks' logits
        (``network_coefs_``, ``network_intercepts_`` instead of ``coef_``). Not
        with ``coef_init``, ``warm_start`` or ``unlabeled_label``. For tabular
        features; embeddings are usually best served by the linear head
        (:ref:`adapter`).""",
    "class_weight": """\
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the warm start's loss, as in
        ``LogisticRegression`` (they multiply ``sample_weight``). They enter
        neither SelMix's steps nor the objective, whose balanced confusion
        matrix already weighs every class alike.""",
    "calibrate": """\
    calibrate : bool, default=True
        Fit a temperature ``temperature_`` after selection, on the selected
        head's held-out (or out-of-fold) logits, each class weighing alike, so
        that :meth:`~skselmix.SelMixClassifier.predict_proba` is ``softmax(logits / temperature_)``; it
        cannot change :meth:`~skselmix.SelMixClassifier.predict`. ``False`` keeps ``temperature_ = 1``
        (:ref:`the user guide <probabilities>`).""",
    "unlabeled_label": """\
    unlabeled_label : int, str or None, default=None
        Semi-supervised mode: rows of ``y`` equal to this value are
        unlabelled; pseudo-labelled by the current head at every refresh, they
        serve as mixing partners of their pseudo-class (anchors are always
        labelled). A marker that can never equal a label is a ``ValueError``.""",
    "pseudo_label_threshold": """\
    pseudo_label_threshold : float, default=0.0
        Unlabelled rows whose top predicted probability is below this value are
        not used as partners at that refresh. A class with no confident
        unlabelled row takes its partners from the labelled rows.""",
    "warm_start": """\
    warm_start : bool, default=False
        When True and the estimator is already fitted (same classes and
        features), continue from the current head instead of fitting ``init``.""",
    "device": """\
    device : {"auto", "cpu", "cuda"}, default="auto"
        Torch device of the fit; ``"auto"`` uses CUDA when available. Fitted
        state is numpy, so prediction and unpickling never need the device.""",
    "memory": """\
    memory : str, joblib.Memory or None, default=None
        Cache of the warm-start heads (or networks) on disk, as ``Pipeline``
        caches its transformers, keyed by everything they are computed from
        (rows, labels, folds, weights, ``init``, L2 strength, code versions), so
        ``GridSearchCV`` over loop-only parameters fits each split's warm start
        once. Its entries are joblib pickles: the directory must be trusted.
        With ``random_state=None`` it cannot hit (a warning says so). To search
        ``s`` on one set of rows, :class:`SelMixClassifierCV` shares the warm
        start in memory (:ref:`searching_s`).""",
    "random_state": """\
    random_state : int, RandomState instance or None, default=None
        Seeds the folds or hold-out and every draw, through a local generator
        (numpy's and torch's global generators are never used or advanced);
        ``None`` draws fresh entropy, so repeated fits differ.""",
    "verbose": """\
    verbose : int, default=0
        ``1``: the warm start's phases (its L-BFGS iterations, rows read from
        an out-of-core ``X``, a line at most every 5 s), then one line per
        refresh: step, objective, best so far, elapsed and remaining time.
        ``2``: also the three worst classes' recalls.""",
}

#: Every fitted attribute's entry, keyed by name.
ATTRIBUTES = {
    "classes_": """\
    classes_ : ndarray of shape (n_classes,)
        Class labels.""",
    "n_features_in_": """\
    n_features_in_ : int
        Number of features seen during fit.""",
    "feature_names_in_": """\
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when ``X`` has string column names.""",
    "coef_": """\
    coef_ : ndarray of shape (n_classes, n_features)
        Weights of the selected head (also for two classes); linear head only
        (``hidden_layer_sizes=()``).""",
    "intercept_": """\
    intercept_ : ndarray of shape (n_classes,)
        Biases of the selected head; linear head only.""",
    "network_coefs_": """\
    network_coefs_ : list of ndarray
        With ``hidden_layer_sizes`` only: the weights of every layer of the
        fitted networks, element ``l`` of shape (n_networks, n_out, n_in),
        hidden layers first and the head last (the first layer acts on the
        original features). ``n_networks`` is 1 with a hold-out and ``F``
        with ``cv``; the model's logits are the mean of the networks' logits.""",
    "network_intercepts_": """\
    network_intercepts_ : list of ndarray
        With ``hidden_layer_sizes`` only: the biases, element ``l`` of shape
        (n_networks, n_out).""",
    "n_iter_": """\
    n_iter_ : int
        SGD steps taken.""",
    "history_": """\
    history_ : list of dict
        One record per refresh: ``step``, ``objective`` (with ``cv``, pooled
        out of fold), ``recalls``, ``coverages``, ``parts`` (see
        :meth:`Objective.parts`), ``multipliers``, ``max_gain``, ``entropy``
        (of P), ``lr``, ``time``, ``refresh_time`` and ``p_beats_start``; in
        semi-supervised mode ``unlabeled_counts``; after a divergence a last
        record with ``diverged=True``. At most 24 K + 2000 bytes a record
        (:ref:`the user guide <history>`).""",
    "gain_matrix_": """\
    gain_matrix_ : ndarray of shape (n_classes, n_classes)
        Last gain matrix, divided by its largest absolute entry.""",
    "sampling_distribution_": """\
    sampling_distribution_ : ndarray of shape (n_classes, n_classes)
        Last pair distribution ``P`` (with ``cv``, the mean over the fold
        heads, which differ only where a class has no training row in a
        head's folds).""",
    "prototypes_": """\
    prototypes_ : ndarray of shape (n_classes, n_features)
        Class prototypes: mean feedback row of each class (with ``cv``, of all
        its labelled rows); with ``hidden_layer_sizes`` the gains use the
        penultimate activations' instead, not stored.""",
    "best_validation_score_": """\
    best_validation_score_ : float
        Validation objective of the returned head (with ``cv``, pooled out of
        fold): honest at ``best_step_ == 0``, optimistic after a step was
        chosen; ``history_[0]["objective"] + validation_gain_`` is the
        corrected estimate (:ref:`honest_selection`).""",
    "best_step_": """\
    best_step_ : int
        SGD step at which the returned head was reached (0: the warm start).""",
    "validation_gain_": """\
    validation_gain_ : float
        What the fine-tuning bought: the estimated gain of the returned head
        over the warm start in the validation objective, corrected for the
        optimism of choosing the best of the refreshes (Efron's bootstrap
        optimism, over resamples of the feedback rows). ``0.0`` when the
        warm start is returned.""",
    "validation_gain_std_": """\
    validation_gain_std_ : float
        Bootstrap standard deviation of the paired difference between the
        returned step's and the warm start's validation objective (``0.0``
        when the warm start is returned).""",
    "objective_": """\
    objective_ : Objective
        The resolved objective.""",
    "feature_offset_": """\
    feature_offset_ : ndarray of shape (n_features,)
        Column means of the labelled ``X`` (see Notes).""",
    "feature_scale_": """\
    feature_scale_ : ndarray of shape (n_features,)
        Root-mean-square norm of the centred rows of ``X``, the same for every
        column; with ``column_scaling_ == "standardize"``, each column's
        standard deviation times the square root of the number of
        non-constant columns (see Notes).""",
    "column_scaling_": """\
    column_scaling_ : {"keep", "standardize"}
        What ``column_scaling`` did: kept the columns' relative scales, or
        divided each column by its own spread.

        .. versionadded:: 0.9""",
    "cv_heads_": """\
    cv_heads_ : tuple of ndarray
        With ``cv`` only: ``(coef, intercept)`` of the fold heads at the
        selected step, (F, n_classes, n_features) and (F, n_classes), whose
        out-of-fold predictions judged it.

        .. versionchanged:: 0.11
           ``coef_`` was the mean of these heads after step 0.""",
    "temperature_": """\
    temperature_ : float
        Temperature that divides the logits in :meth:`~skselmix.SelMixClassifier.predict_proba` (see
        ``calibrate``; 1.0 when it is False).""",
    "init_": """\
    init_ : str
        The warm start used: ``"coef_init"``, ``"warm_start"`` or an ``init`` value.""",
    "n_iter_warm_start_": """\
    n_iter_warm_start_ : int
        L-BFGS iterations of the warm start (the most of any of its runs; 0
        from ``coef_init`` or the previous head; the Adam steps with
        ``hidden_layer_sizes``). A run stopped at its cap of 100 raises a
        ``ConvergenceWarning``, as ``LogisticRegression`` does.""",
    "weight_decay_": """\
    weight_decay_ : float
        The L2 strength used (``weight_decay``, or its ``"auto"`` value).""",
    "n_unlabeled_": """\
    n_unlabeled_ : int
        Number of unlabelled rows used (0 outside semi-supervised mode).""",
    "class_counts_": """\
    class_counts_ : ndarray of shape (n_classes,)
        Labelled rows per class in ``y`` (tells head from tail classes for
        ``min_head_tail_recall`` in :meth:`~skselmix.SelMixClassifier.score`).""",
}


def entries(table, *, without=()):
    """The entries of ``table`` (:data:`PARAMETERS` or :data:`ATTRIBUTES`) but ``without``,
    joined as a numpydoc section's body."""
    return "\n".join(text for name, text in table.items() if name not in without)


def substitute(**snippets):
    """A class decorator that fills the placeholders ``%(name)s`` of its docstring with
    ``snippets[name]``; a placeholder left unfilled is an error at import."""

    def fill(match):
        return snippets[match.group(1)]

    def decorate(cls):
        pattern = "|".join(re.escape(name) for name in snippets)
        doc = re.sub(rf"%\(({pattern})\)s", fill, cls.__doc__)
        left = re.findall(r"%\(\w+\)s", doc)
        if left:
            raise ValueError(f"{cls.__name__}'s docstring has unfilled placeholders {left}")
        cls.__doc__ = doc
        return cls

    return decorate
