"""A fit's problem, prepared once: what every candidate's loop shares.

:func:`prepare_problem` is the middle of ``SelMixClassifier._fit`` (validate, prepare the
problem, run the candidates, select, report, commit): it checks the data against the
estimator, chooses the architecture, draws every seed (:class:`~skselmix._torch.seeds.FitSeeds`),
fits the feature map and puts on the device what it maps (the start head, the unlabelled
rows, the feedback's rows). :func:`run_candidates` runs every candidate's loop from one
warm start.
"""

from typing import NamedTuple, Optional

import numpy as np

from .._fit_report import warn as report
from .features import fit_feature_map, float64_tensor, scaled_float32_tensor, warn_if_on_another_scale
from .feedback_factory import build_feedback, draws_folds, resolved_cv
from .fit_inputs import check_init_head, encode_hidden, mapped_float32_head, validate_fit_data
from .records import UnlabeledRows
from .seeds import FitSeeds
from .training import LoopSettings, SelMixRun, loop_together


class AnalysisHooks(NamedTuple):
    """The analysis-only inputs of a fit, which only benchmarks have (``benchmarks/_internals.py``)
    and the public ``fit`` never takes: ``hidden_labels``, the true labels of the unlabelled
    rows (recorded, never trained on unless ``hidden_partners`` asks for partners labelled by
    them), and ``on_refresh``, an observer of every refresh (see
    :class:`~skselmix._torch.training.SelMixRun`)."""

    hidden_labels: Optional[np.ndarray] = None
    hidden_partners: bool = False
    on_refresh: Optional[object] = None


#: A fit without analysis hooks: every public fit.
NO_HOOKS = AnalysisHooks()


class FitProblem(NamedTuple):
    """What :func:`prepare_problem` prepared: the checked ``data``
    (:class:`~skselmix._torch.fit_inputs.FitData`), the feature map ``fmap``, the
    ``architecture``, the ``objective`` and ``device``, each candidate's ``settings``
    (:class:`~skselmix._torch.training.LoopSettings`), the ``seeds``, the mapped
    ``init_head`` (or None), the ``unlabeled`` rows (or None) and the ``feedback``."""

    data: object
    fmap: object
    architecture: object
    objective: object
    device: object
    settings: list
    seeds: FitSeeds
    init_head: object
    unlabeled: Optional[UnlabeledRows]
    feedback: object

    @property
    def classes(self):
        return self.data.classes


def prepare_problem(estimator, X, y, *, architecture, objective, device, candidates, previous_head,
                    hooks=NO_HOOKS, sample_weight=None, X_val=None, y_val=None, sample_weight_val=None,
                    coef_init=None, intercept_init=None):
    """The :class:`FitProblem` of ``estimator`` fitting ``(X, y)`` with its fit parameters,
    its ``architecture`` (:func:`~skselmix._torch.architecture.architecture_of`), checked
    ``objective`` and ``device``, its ``candidates`` (dicts of loop parameters) and the
    ``previous_head`` a ``warm_start=True`` fit continues (or None)."""
    base = estimator.get_params(deep=False)
    settings = [LoopSettings.from_params({**base, **params}).resolved(architecture) for params in candidates]
    data = validate_fit_data(
        estimator, X, y, sample_weight=sample_weight, X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val
    )
    n_classes, n_features = data.classes.shape[0], data.X.shape[1]
    init_head = check_init_head(coef_init, intercept_init, n_classes, n_features)
    architecture.check_combination(init_head=init_head is not None, warm_start=estimator.warm_start,
                                   semi_supervised=data.X_unlabeled is not None)
    if init_head is None and previous_head is not None:
        if not np.array_equal(previous_head.classes, data.classes) or previous_head.coef.shape[1] != n_features:
            raise ValueError("warm_start=True needs the same classes and number of features as the previous fit.")
        init_head = previous_head
    seeds = _draw_seeds(estimator, data, architecture)
    _warn_if_memory_cannot_hit(estimator.memory, estimator.random_state, seeds)

    fmap = fit_feature_map(data.X, data.sample_weight, estimator.column_scaling)
    if data.X_val is not None:
        warn_if_on_another_scale(data.X_val, fmap)
    if init_head is not None:
        init_head = mapped_float32_head(init_head, fmap)
    unlabeled = _unlabeled_rows(data, fmap, device, hooks)
    feedback = build_feedback(
        data, fmap, device, seeds, cv=estimator.cv, validation_fraction=estimator.validation_fraction,
        memory=estimator.memory, architecture=architecture, verbose=estimator.verbose,
    )
    return FitProblem(data, fmap, architecture, objective, device, settings, seeds, init_head, unlabeled, feedback)


def run_candidates(problem, hooks=NO_HOOKS):
    """Every candidate's :class:`~skselmix._torch.records.LoopResult`, in the order of
    ``problem.settings``: one warm start serves them all, and each candidate's loop draws
    what a fit with its parameters alone would (the same seeds), so the selected candidate
    is bit for bit that fit."""
    n_classes = problem.classes.shape[0]
    runs = [
        SelMixRun(settings, problem.objective, problem.device, problem.seeds.run, n_classes, problem.architecture,
                  problem.classes, on_refresh=hooks.on_refresh)
        for settings in problem.settings
    ]
    warm = runs[0].start(problem.feedback, problem.init_head)
    return loop_together(runs, problem.feedback, warm, problem.unlabeled)


def _draw_seeds(estimator, data, architecture):
    """The fit's :class:`~skselmix._torch.seeds.FitSeeds`: what its architecture and feedback
    draw (the folds of a number of folds, the order of a hold-out's rows), then its loops'."""
    cv = resolved_cv(estimator.cv, data.X_val is not None)
    hold_out = cv is None and data.X_val is None
    return FitSeeds.draw(estimator.random_state, network=architecture.needs_seed, folds=draws_folds(cv),
                         hold_out_rows=data.y.shape[0] if hold_out else None)


def _unlabeled_rows(data, fmap, device, hooks):
    """Semi-supervised mode's :class:`~skselmix._torch.records.UnlabeledRows` on the device,
    or None."""
    if data.X_unlabeled is None or not data.X_unlabeled.shape[0]:
        if hooks.hidden_labels is not None:
            raise ValueError("hidden_labels was given but there are no unlabelled rows (see unlabeled_label).")
        return None
    hidden = encode_hidden(hooks.hidden_labels, data.classes, data.X_unlabeled.shape[0], device)
    if hooks.hidden_partners and hidden is None:
        raise ValueError("hidden_partners=True needs hidden_labels.")
    return UnlabeledRows(
        scaled_float32_tensor(data.X_unlabeled, fmap, device),
        hidden,
        float64_tensor(data.unlabeled_weight, device),
        hidden_partners=hooks.hidden_partners,
    )


def _warn_if_memory_cannot_hit(memory, random_state, seeds):
    """A cache keyed by folds (or a hold-out, or networks' seeds) drawn from fresh entropy never
    hits: say so rather than cache silently in vain."""
    if memory is None or random_state is not None:
        return
    if seeds.draws_rows or seeds.network is not None:
        report(
            "memory= is set but random_state=None: every fit draws its own "
            + ("networks' seeds" if seeds.network is not None and not seeds.draws_rows else "folds (or hold-out)")
            + ", so the cache of warm starts can never hit. Pass an int random_state.",
            category=UserWarning,
        )
