"""SelMixClassifierCV: a search over ``s`` (and other loop-only parameters) from one warm start."""

import time
from numbers import Real

import numpy as np
from scipy.stats import rankdata
from sklearn.model_selection import ParameterGrid

from ._classifier import SelMixClassifier
from ._docstrings import ATTRIBUTES, PARAMETERS, entries, substitute
from ._fit_report import warn as report
from ._parameters import LOOP_ONLY_PARAMETERS, PARAMETER_CONSTRAINTS

#: The search's fitted attributes, beyond SelMixClassifier's FITTED_ATTRIBUTES.
SEARCH_ATTRIBUTES = ("s_", "best_params_", "best_index_", "n_candidates_", "cv_results_", "fit_time_")

#: The default grid of ``s``: four decades around SelMixClassifier's default of 10.
DEFAULT_S_VALUES = (0.1, 1.0, 10.0, 100.0, 1000.0)


def tied_with_best(results, scores, confidence):
    """Which candidates the best-scoring one does not beat beyond noise: those on which it is
    better on fewer than ``confidence`` of the paired bootstrap resamples of the feedback
    rows (every candidate draws the same resamples), the best one included. With
    ``confidence`` 0, only exact ties of the score."""
    best = int(np.argmax(scores))
    if confidence <= 0:
        return scores == scores[best]
    values = np.stack([result.selection_values for result in results])  # (candidates, B)
    return np.mean(values[best] > values, axis=1) < confidence


def _is_default(candidate):
    """Whether a candidate's parameters are all SelMixClassifier's defaults."""
    defaults = SelMixClassifier().get_params()
    return all(value == defaults[name] for name, value in candidate.items())


@substitute(
    metric=PARAMETERS["metric"],
    s_values_default=str(DEFAULT_S_VALUES),
    grid_names=", ".join(f"``{name}``" for name in LOOP_ONLY_PARAMETERS if name != "s"),
    parameters=entries(PARAMETERS, without=("metric", "s")),
    attributes=entries(ATTRIBUTES),
)
class SelMixClassifierCV(SelMixClassifier):
    """SelMix with ``s`` (and other loop-only parameters) chosen on the fit's own feedback.

    In the manner of ``LogisticRegressionCV`` and ``RidgeCV``: the expensive part
    of a fit, the warm start (five fold heads fitted by L-BFGS with the default
    cross-fitting), does not depend on ``s`` or any other parameter of the SelMix
    loop, so it is fitted once and every candidate runs its loop from it. Every
    candidate is judged by the same feedback objective that a
    :class:`SelMixClassifier` fit selects its step by (the pooled out-of-fold
    objective with ``cv``, else the validation objective). Candidates that the
    best one does not beat beyond noise (on fewer than ``selection_confidence``
    of the paired bootstrap resamples of the feedback rows that every candidate
    shares) tie with it; among tied candidates the default ``s`` (10) wins, else
    the one that moved least from the warm start, so ``s_`` reports no choice
    the feedback cannot tell apart. The returned candidate is the fitted model:
    ``SelMixClassifier(s=s_, **best_params_, random_state=...)`` fitted with the
    same ``random_state`` on the same data, up to float rounding (each candidate
    draws the random numbers that fit would draw, and its steps are batched with
    the other candidates' into one product, whose sums may run in another order:
    ``coef_`` agreed bit for bit on long-tailed digits and within 5e-7 on a
    user's larger set). ``GridSearchCV(SelMixClassifier(), {"s": ...},
    cv=3)`` instead refits the warm start for every candidate and split, and
    judges on outer test folds.

    Read more in the :ref:`User Guide <searching_s>`.

    Parameters
    ----------
%(metric)s
    s_values : sequence of float, default=%(s_values_default)s
        Candidate values of ``s`` (see :class:`SelMixClassifier`), the
        inverse temperature of the pair distribution. The default spans four
        decades around ``SelMixClassifier``'s default of 10: from nearly
        uniform sampling of the pairs with a positive gain to nearly always
        the best pair.
    param_grid : dict or list of dict, default=None
        Further loop-only parameters to search, as ``GridSearchCV`` takes them
        (lists of values by name); every combination is tried with every
        value of ``s_values``. Allowed names: %(grid_names)s. Parameters that
        change the warm start (``weight_decay``, ``init``, ``class_weight``,
        ``cv``) are refused: search them with ``GridSearchCV`` (and
        ``memory=``).
%(parameters)s

    Attributes
    ----------
%(attributes)s
    s_ : float
        The selected value of ``s``.
    best_params_ : dict
        The loop parameters of the selected candidate (``s`` and those of
        ``param_grid``).
    best_index_ : int
        Index of the selected candidate in ``cv_results_``.
    n_candidates_ : int
        Number of candidates compared.
    cv_results_ : dict of ndarray
        One entry per candidate, in grid order (``s`` varying slowest):
        ``params`` (list of dict), ``param_<name>`` (masked arrays, as in
        ``GridSearchCV``), ``validation_score`` (the candidate's
        ``best_validation_score_``), ``rank_validation_score`` (1 is best;
        candidates the best one does not beat beyond noise share rank 1, the
        others are ranked by score, equal scores equally, as ``GridSearchCV``
        ranks), ``best_step``, ``n_iter`` and ``validation_gain`` (the
        candidate's ``validation_gain_``).
    fit_time_ : float
        Seconds the whole search took (one warm start, every candidate's loop).

    See Also
    --------
    SelMixClassifier : One fit with a given ``s``.
    sklearn.linear_model.LogisticRegressionCV : The same idea for the L2 strength.

    Notes
    -----
    The selection adds one more maximum to the one over steps that every
    SelMix fit takes: ``best_validation_score_`` of the selected candidate is
    an optimistic estimate of its objective on new data, more so the larger
    the grid (the ties above temper, but do not remove, that optimism). Judge
    the model on rows it did not see. When every candidate keeps its warm
    start, a ``FitOutcomeWarning`` says that the search changed nothing.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skselmix import SelMixClassifierCV
    >>> X, y = make_classification(n_samples=300, n_classes=3, n_informative=4,
    ...                            weights=[0.7, 0.2, 0.1], random_state=0)
    >>> clf = SelMixClassifierCV(s_values=[1.0, 10.0], max_iter=200, device="cpu",
    ...                          random_state=0).fit(X, y)
    >>> clf.s_ in (1.0, 10.0)
    True
    >>> len(clf.cv_results_["validation_score"])
    2
    """

    # ``s`` is searched: its values are checked per candidate (LoopSettings), the grid's here.
    _parameter_constraints = {
        **{name: value for name, value in PARAMETER_CONSTRAINTS.items() if name != "s"},
        "s_values": ["array-like", Real],
        "param_grid": [dict, list, None],
    }

    def __init__(
        self,
        metric="min_recall",
        *,
        s_values=DEFAULT_S_VALUES,
        param_grid=None,
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
        self.s_values = s_values
        self.param_grid = param_grid
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

    def _candidate_params(self):
        """The loop parameters of every candidate, ``s`` varying slowest (grid order)."""
        s_values = np.atleast_1d(np.asarray(self.s_values, dtype=object))
        if s_values.ndim != 1 or s_values.size == 0:
            raise ValueError(f"s_values must be a non-empty sequence of numbers, got {self.s_values!r}.")
        grid = [{}] if self.param_grid is None else list(ParameterGrid(self.param_grid))
        if not grid:
            raise ValueError(f"param_grid must give at least one candidate, got {self.param_grid!r}; use None to "
                             "search s_values alone.")
        names = {name for params in grid for name in params}
        if "s" in names:
            raise ValueError("param_grid must not hold 's': give its values as s_values.")
        other = sorted(names - set(LOOP_ONLY_PARAMETERS))
        if other:
            raise ValueError(
                f"param_grid may only hold loop-only parameters, which leave the warm start unchanged "
                f"({', '.join(name for name in LOOP_ONLY_PARAMETERS if name != 's')}); got {other}. Search the others "
                "with GridSearchCV (with memory= to reuse warm starts)."
            )
        return [{"s": s, **params} for s in s_values.tolist() for params in grid]

    def _select(self, results, params):
        """The candidate to return, and the search's fitted attributes: among the candidates
        the best one does not beat beyond noise, the default ``s`` (else the one that moved
        least), so that ``s_`` reports no choice the feedback cannot tell apart (see
        :func:`tied_with_best`)."""
        scores = np.array([result.best_validation_score for result in results])
        tied = tied_with_best(results, scores, self.selection_confidence)
        steps = np.array([result.best_step for result in results])
        default = np.array([_is_default(candidate) for candidate in params])
        # Among the tied: the default s first, then the fewest steps, then grid order.
        best = int(np.lexsort((np.arange(len(params)), steps, ~default, ~tied))[0])
        results_table = {
            "params": params,
            "validation_score": scores,
            "rank_validation_score": rankdata(-np.where(tied, scores.max(), scores), method="min").astype(np.int32),
            "best_step": steps,
            "n_iter": np.array([result.n_iter for result in results]),
            "validation_gain": np.array([result.selection.gain for result in results]),
        }
        # As GridSearchCV: one masked column per parameter any candidate sets (a list of grids
        # may name different parameters), masked where a candidate does not set it.
        for name in dict.fromkeys(name for candidate in params for name in candidate):
            values = np.array([candidate.get(name) for candidate in params], dtype=object)
            missing = np.array([name not in candidate for candidate in params])
            results_table[f"param_{name}"] = np.ma.MaskedArray(values, mask=missing)
        chosen_s = params[best]["s"]
        if len(params) > 1 and not steps.any():
            report(f"Every one of the {len(params)} candidates kept the warm start (best_step_ = 0 for all): the "
                   f"search changed nothing, and s_ = {chosen_s!r} is {'the default' if default[best] else 'the first'}"
                   ". The warning about the returned candidate says why its steps were not kept.", self.verbose)
        return best, {"cv_results_": results_table, "best_index_": best, "best_params_": dict(params[best]),
                      "s_": chosen_s, "n_candidates_": len(params)}

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None, coef_init=None,
            intercept_init=None):
        start = time.perf_counter()
        super().fit(X, y, sample_weight, X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val,
                    coef_init=coef_init, intercept_init=intercept_init)
        self.fit_time_ = time.perf_counter() - start
        return self

    fit.__doc__ = SelMixClassifier.fit.__doc__.replace(
        "Warm-start a linear head, then fine-tune it with SelMix.",
        "Fit the warm start once, then SelMix for every candidate; keep the best.",
    ).replace("        self : SelMixClassifier\n", "        self : SelMixClassifierCV\n")
