"""Typed records passed between the estimator, its feedback and the training loop.

Everything here is on the scaled float32 features of a fit (see ``_features``);
the estimator maps heads back to the original features.
"""

from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import numpy as np
import torch

from .sampler import ClassIndex


class InitHead(NamedTuple):
    """The one kind of head a fit starts from instead of fitting ``init``: ``coef`` (K, D),
    ``intercept`` (K,), where it came from (``"coef_init"``, ``"warm_start"``) and, for
    ``"warm_start"``, the ``classes`` of the fit it continues. On the original features as
    given; :func:`~skselmix._torch.fit_inputs.mapped_float32_head` maps it to the scaled ones."""

    coef: np.ndarray
    intercept: np.ndarray
    name: str
    classes: Optional[np.ndarray] = None


class RefitRecipe(NamedTuple):
    """How to fit the warm start again on every labelled row (cross-fitting at step 0):
    the warm start's ``kind`` at L2 strength ``l2``."""

    kind: str
    l2: float


class GivenHead(NamedTuple):
    """A user's head (one of ``K`` classes) that stands for the warm start on every row."""

    coef: torch.Tensor
    intercept: torch.Tensor


class AllRowsHead(NamedTuple):
    """The head a cross-fitted linear fit returns: the warm start refitted on every labelled
    row (``stack``, one head), carried through the same SGD steps as the fold heads (the
    same pair distribution at every refresh, its anchors and partners from ``pools``,
    every labelled row by class) and never judged. The fold heads' out-of-fold scores
    judge the procedure "warm start, then t steps"; this is that procedure run on all
    rows, as ``GridSearchCV(refit=True)`` refits its chosen candidate."""

    stack: object  # a LinearStack of one head
    pools: ClassIndex


class UnlabeledRows(NamedTuple):
    """Semi-supervised mode's unlabelled rows: scaled ``features``, the ``hidden`` class
    indices known to benchmarks only (or None), and row ``weights`` (or None).
    ``hidden_partners`` (analysis only) labels the partners by ``hidden`` instead of by
    pseudo-labels: how much better pseudo-labels could help."""

    features: torch.Tensor
    hidden: Optional[torch.Tensor] = None
    weights: Optional[torch.Tensor] = None
    hidden_partners: bool = False


class StepSources(NamedTuple):
    """Rows the SGD steps draw from: labelled ``features`` indexed per head and class by
    ``pools`` (:func:`head_pools`); in semi-supervised mode also ``partners``, a class
    index of pseudo-labelled rows of ``partner_features`` (classes without any fall back
    to labelled rows)."""

    features: torch.Tensor
    pools: ClassIndex
    partners: Optional[ClassIndex] = None
    partner_features: Optional[torch.Tensor] = None


@dataclass(frozen=True)
class WarmStart:
    """What every run of one fit starts from: computed once, shared by a search's candidates.

    ``stack``: the warm start's :class:`~skselmix._torch.heads.LinearStack` or
    :class:`~skselmix._torch.network.NetworkStack`; ``init_used``: its name; ``refit``: a
    :class:`RefitRecipe` to fit it again on all rows, or a user's :class:`GivenHead`;
    ``prototypes`` (K, D); ``l2``: the weight decay used; ``all_rows``: the
    :class:`AllRowsHead` the fit returns when the judged stack is not itself the model
    (cross-fitted linear heads), else None.
    """

    stack: object
    init_used: str
    refit: Union[RefitRecipe, GivenHead]
    prototypes: torch.Tensor
    l2: float
    all_rows: Optional[AllRowsHead] = None


@dataclass(frozen=True)
class LoopResult:
    """What one run fitted, as numpy arrays on the scaled features (the estimator maps the
    model back to the original features and sets its attributes from these fields).

    ``model`` is the fitted model (:class:`~skselmix._predict.LinearModel` or
    :class:`~skselmix._predict.NetworkModel`), which gives the estimator its model's
    fitted attributes; the other fields are the fitted attributes of the same name with
    a trailing underscore. ``selection`` is the
    :class:`~skselmix._selection.Choice` of the step, ``selection_values`` the returned
    step's objective on every bootstrap resample, ``candidate_step`` the best refresh's step
    (returned or not), ``stopped_by_verdict`` whether the early verdict ended the loop and
    ``n_iter_warm_start`` the most solver iterations of any warm-start fit of the fit
    (every run's, the refits on all rows included).
    """

    model: object
    prototypes: np.ndarray
    n_iter: int
    history: list
    gain_matrix: np.ndarray
    sampling_distribution: np.ndarray
    best_validation_score: float
    best_step: int
    init: str
    weight_decay: float
    temperature: float
    selection: object = None
    selection_values: Optional[np.ndarray] = None
    candidate_step: int = 0
    stopped_by_verdict: bool = False
    n_iter_warm_start: int = 0
