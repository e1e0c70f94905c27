"""Objectives: the one home of every target metric, its derivative and multipliers.

An objective ``psi`` is a function of the balanced confusion matrix ``C`` (K x K,
rows summing to ``1/K``). Each objective provides

* ``value(C)``: the exact metric, used for reporting and model selection;
* ``gradient(C, multipliers)``: ``dpsi/dC`` of the surrogate that SelMix ascends
  (for min-type and constrained objectives, the Lagrangian with the current
  multipliers);
* ``init_multipliers`` / ``update_multipliers``: the multiplier state and its
  update from validation feedback (``None`` for objectives without one).

Recall is ``r_i = K * C_ii`` (the balanced matrix holds ``P(yhat=j | y=i) / K``),
so its derivative is ``K`` on the diagonal. Any per-row constant added to a
derivative leaves the SelMix gain unchanged, so a derivative that instead treats
recall as ``C_ii / sum_j C_ij`` (as plain autograd of such a formula does)
gives the same gains.
"""

import inspect
import math
from numbers import Real

import numpy as np

from ._confusion import coverages, recalls
from ._lazy import torch
from ._sklearn_compat import validate_parameter_constraints
from ._validation import Finite

__all__ = [
    "Objective",
    "CallableObjective",
    "MeanRecall",
    "MinRecall",
    "GMean",
    "HMean",
    "MeanRecallMinCoverage",
    "HMeanMinCoverage",
    "MinHeadTailRecall",
    "MinGroupRecall",
    "get_objective",
    "get_objective_names",
]


def _is_numpy(array):
    """Whether an objective's input is numpy (scoring a fitted model) rather than torch (fitting)."""
    return isinstance(array, (np.ndarray, np.generic))


def _clamp_min(array, floor):
    return np.maximum(array, floor) if _is_numpy(array) else array.clamp_min(floor)


def _zero_like(r):
    return np.float64(0.0) if _is_numpy(r) else torch.zeros((), dtype=r.dtype, device=r.device)


def _diagonal_gradient(confusion, recall_weights):
    """``dpsi/dC`` for ``psi = f(recalls)`` with ``recall_weights = df/dr``: ``K w_i`` on the diagonal."""
    return torch.diag(recall_weights * confusion.shape[0])


#: Constraint of a parameter that may be zero or any positive number.
_NON_NEGATIVE = [Finite(Real, 0, None, closed="left")]
#: Constraint of a parameter that must be positive.
_POSITIVE = [Finite(Real, 0, None, closed="neither")]
#: Constraint of a fraction strictly between 0 and 1.
_OPEN_FRACTION = [Finite(Real, 0, 1, closed="neither")]


class Objective:
    """Base class of SelMix objectives.

    Subclasses implement :meth:`value` and :meth:`gradient`; min-type and
    constrained objectives also override the multiplier methods. Objectives are
    plain parameter holders (like sklearn's kernels): they keep no fitted state,
    so one instance can be shared by several estimators.
    """

    #: Short name, as accepted by ``SelMixClassifier(metric=...)``; ``skselmix.metrics``
    #: has ``<name>_score`` and ``objective_scorer(name)`` for every built-in one.
    name = None
    #: How ``classification_report_balanced`` prints it (``{alpha:g}``: the coverage bound).
    label = None
    #: Whether :meth:`value` needs the training ``class_counts`` (to tell head from tail
    #: classes): a scorer must then take them from the fitted model.
    needs_class_counts = False
    #: Whether the objective is a base metric under a per-class coverage bound ``alpha``.
    coverage_constraint = False
    #: Constraints of the ``__init__`` parameters, in scikit-learn's declarative form
    #: (``BaseEstimator._parameter_constraints``); one entry per parameter (tested).
    _parameter_constraints = {}

    @classmethod
    def _parameter_names(cls):
        """The parameters of ``__init__``, as scikit-learn's ``BaseEstimator`` reads them."""
        signature = inspect.signature(cls.__init__)
        return [
            parameter.name for parameter in signature.parameters.values()
            if parameter.name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]

    def validate(self):
        """Check the parameters against the objective's constraints.

        Raises
        ------
        ValueError or TypeError
            When a parameter is out of range or of the wrong type (an
            ``InvalidParameterError``, as scikit-learn's estimators raise).
        """
        validate_parameter_constraints(self._parameter_constraints, self.get_params(), caller_name=type(self).__name__)

    def value(self, confusion, class_counts=None):
        """The exact metric of a balanced confusion matrix.

        Parameters
        ----------
        confusion : torch.Tensor of shape (K, K)
            Balanced confusion matrix, ``C[i, j] = P(yhat = j | y = i) / K``.
        class_counts : torch.Tensor of shape (K,), default=None
            Training rows per class; only objectives that tell head from tail
            classes read it.

        Returns
        -------
        value : torch.Tensor
            A scalar: the metric, greater is better.
        """
        raise NotImplementedError

    def values_from_rates(self, recalls, coverages, class_counts=None):
        """The objective of many balanced confusion matrices at once, from their rates.

        What a fit's step selection evaluates on every bootstrap resample of its
        feedback rows (``_selection``); built-in objectives read only per-class recalls
        and coverages, so they need no K x K matrix per resample.

        Parameters
        ----------
        recalls, coverages : ndarray of shape (n_matrices, K)
            Per-class recall ``K C_ii`` and coverage ``sum_i C_ij`` of each matrix.
        class_counts : ndarray of shape (K,), default=None
            As in :meth:`value`.

        Returns
        -------
        values : ndarray of shape (n_matrices,) or None
            :meth:`value` of each matrix; None (the default) when the objective
            needs the whole matrix, which is then built for each resample.
        """
        return None

    def parts(self, confusion, class_counts=None):
        """The readable numbers an objective built of parts is made of, for reports.

        A penalised or multi-group value (a coverage objective's -107) says little on its
        own; ``history_``, the verbose lines and the fit's warnings show these beside it.

        Parameters
        ----------
        confusion : torch.Tensor of shape (K, K)
            Balanced confusion matrix.
        class_counts : torch.Tensor of shape (K,), default=None
            Training rows per class.

        Returns
        -------
        parts : dict
            Names mapped to floats; empty (the default) for an objective of one piece.
        """
        return {}

    @classmethod
    def rates_give_value(cls):
        """Whether :meth:`values_from_rates` computes this objective's own :meth:`value`: it
        is defined by the class that defines ``value``, or by a subclass of it. A subclass
        of a built-in objective that overrides ``value`` alone is judged by its ``value``
        on whole confusion matrices, not by its parent's rates.

        Returns
        -------
        bool
        """
        def owner(name):
            return next(klass for klass in cls.__mro__ if name in vars(klass))

        return issubclass(owner("values_from_rates"), owner("value"))

    def gradient(self, confusion, multipliers=None, class_counts=None):
        """Derivative of the surrogate objective that SelMix ascends.

        Parameters
        ----------
        confusion : torch.Tensor of shape (K, K)
            Balanced confusion matrix.
        multipliers : torch.Tensor or None, default=None
            Current multipliers (:meth:`~skselmix.Objective.update_multipliers`), for min-type and
            constrained objectives.
        class_counts : torch.Tensor of shape (K,), default=None
            Training rows per class, as in :meth:`~skselmix.Objective.value`.

        Returns
        -------
        gradient : torch.Tensor of shape (K, K)
            ``dpsi / dC`` (for multiplier objectives, of the Lagrangian).
        """
        raise NotImplementedError

    def init_multipliers(self, n_classes, class_counts=None):
        """The multipliers before the first feedback.

        Parameters
        ----------
        n_classes : int
            Number of classes K.
        class_counts : torch.Tensor of shape (K,), default=None
            Training rows per class.

        Returns
        -------
        multipliers : torch.Tensor or None
            ``None`` for objectives without multipliers.
        """
        return None

    def update_multipliers(self, multipliers, confusion, class_counts=None):
        """Multipliers refreshed from a feedback confusion matrix.

        Parameters
        ----------
        multipliers : torch.Tensor or None
            The current multipliers; ``None`` starts from :meth:`~skselmix.Objective.init_multipliers`.
        confusion : torch.Tensor of shape (K, K)
            Balanced confusion matrix of the feedback rows.
        class_counts : torch.Tensor of shape (K,), default=None
            Training rows per class.

        Returns
        -------
        multipliers : torch.Tensor or None
            The updated multipliers (``None`` for objectives without them).
        """
        return multipliers

    def get_params(self, deep=True):
        """The objective's parameters, as scikit-learn's nested estimators give theirs.

        ``SelMixClassifier(metric=MeanRecallMinCoverage()).get_params()`` lists
        them as ``metric__alpha`` and so on, so ``GridSearchCV`` can search them,
        and ``clone`` copies the objective with them.

        Parameters
        ----------
        deep : bool, default=True
            Ignored: objectives hold no nested objects.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params):
        """Set parameters (``metric__<name>`` of a SelMixClassifier lands here).

        Parameters
        ----------
        **params : dict
            Parameter names and their new values (checked when a fit uses the objective).

        Returns
        -------
        self : Objective
        """
        valid = self._parameter_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for objective {type(self).__name__}; valid parameters: {valid}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        params = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._parameter_names())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other):
        if type(self) is not type(other) or vars(self).keys() != vars(other).keys():
            return False
        # Parameters may be arrays (MinGroupRecall's groups), whose == is elementwise.
        return all(
            np.array_equal(mine, theirs) if isinstance(mine, (np.ndarray, list, tuple)) else mine == theirs
            for mine, theirs in zip(vars(self).values(), (vars(other)[name] for name in vars(self)))
        )

    def __hash__(self):
        return hash((type(self), tuple(sorted(map(repr, vars(self).items())))))


class MeanRecall(Objective):
    """Mean of per-class recalls (balanced accuracy): ``(1/K) sum_i r_i``."""

    name = "mean_recall"
    label = "mean recall"

    def value(self, confusion, class_counts=None):
        return recalls(confusion).mean()

    def values_from_rates(self, recalls, coverages, class_counts=None):
        return recalls.mean(axis=1)

    def gradient(self, confusion, multipliers=None, class_counts=None):
        k = confusion.shape[0]
        return _diagonal_gradient(confusion, torch.full((k,), 1.0 / k, dtype=confusion.dtype, device=confusion.device))


class MinRecall(Objective):
    """Worst-class recall ``min_i r_i``, ascended through multipliers.

    The surrogate is ``sum_i l_i r_i`` with ``l`` on the simplex, refreshed from
    validation recalls by the exponentiated-gradient step
    ``l_i <- l_i**beta * exp(-omega * r_i)`` (normalised). With ``beta=0`` (the
    reference) this is ``l = softmax(-omega * r)``.

    Parameters
    ----------
    omega : float, default=50.0
        Step size of the multiplier update: large values focus on the worst class.
    beta : float, default=0.0
        Memory of the previous multipliers, in ``[0, 1]``.
    """

    name = "min_recall"
    label = "min recall"
    _parameter_constraints = {"omega": _NON_NEGATIVE, "beta": [Finite(Real, 0, 1, closed="both")]}

    def __init__(self, omega=50.0, beta=0.0):
        self.omega = omega
        self.beta = beta

    def value(self, confusion, class_counts=None):
        return recalls(confusion).min()

    def values_from_rates(self, recalls, coverages, class_counts=None):
        return recalls.min(axis=1)

    def init_multipliers(self, n_classes, class_counts=None):
        return torch.full((n_classes,), 1.0 / n_classes, dtype=torch.float64)

    def update_multipliers(self, multipliers, confusion, class_counts=None):
        r = recalls(confusion).to(torch.float64)
        if multipliers is None:
            multipliers = self.init_multipliers(r.shape[0])
        log_l = self.beta * torch.log(multipliers.to(r).clamp_min(1e-300)) - self.omega * r
        return torch.softmax(log_l, dim=0)

    def gradient(self, confusion, multipliers=None, class_counts=None):
        if multipliers is None:
            multipliers = self.update_multipliers(None, confusion)
        return _diagonal_gradient(confusion, multipliers.to(confusion))


class _RecallMeanObjective(Objective):
    """Shared machinery of G-mean and H-mean.

    Their derivatives blow up (or vanish, for the unclipped product) when a class
    has zero recall; the gradient therefore uses recalls clipped below at
    ``recall_floor``, while :meth:`value` stays exact.
    """

    _parameter_constraints = {"recall_floor": _OPEN_FRACTION}

    def __init__(self, recall_floor=0.01):
        self.recall_floor = recall_floor

    def _clipped_recalls(self, confusion):
        return recalls(confusion).clamp_min(self.recall_floor)


class GMean(_RecallMeanObjective):
    """Geometric mean of recalls ``(prod_i r_i)**(1/K)``.

    Parameters
    ----------
    recall_floor : float, default=0.01
        Recalls are clipped below at this value in the gradient, so that a class
        with zero recall keeps the largest (not a zero) weight.
    """

    name = "gmean"
    label = "G-mean"

    def value(self, confusion, class_counts=None):
        r = recalls(confusion)
        if bool((r <= 0).any()):
            return _zero_like(r)
        if _is_numpy(r):
            return np.exp(np.log(r).mean())
        return torch.exp(torch.log(r).mean())

    def values_from_rates(self, recalls, coverages, class_counts=None):
        positive = (recalls > 0).all(axis=1)
        return np.where(positive, np.exp(np.log(np.where(positive[:, np.newaxis], recalls, 1.0)).mean(axis=1)), 0.0)

    def gradient(self, confusion, multipliers=None, class_counts=None):
        r = self._clipped_recalls(confusion)
        psi = torch.exp(torch.log(r).mean())
        return _diagonal_gradient(confusion, psi / (r.shape[0] * r))


class HMean(_RecallMeanObjective):
    """Harmonic mean of recalls ``K / sum_i (1 / r_i)`` (zero if any recall is zero).

    Parameters
    ----------
    recall_floor : float, default=0.01
        Recalls are clipped below at this value in the gradient.
    """

    name = "hmean"
    label = "H-mean"

    def value(self, confusion, class_counts=None):
        r = recalls(confusion)
        if bool((r <= 0).any()):
            return _zero_like(r)
        return r.shape[0] / (1.0 / r).sum()

    def values_from_rates(self, recalls, coverages, class_counts=None):
        positive = (recalls > 0).all(axis=1)
        safe = np.where(positive[:, np.newaxis], recalls, 1.0)
        return np.where(positive, recalls.shape[1] / (1.0 / safe).sum(axis=1), 0.0)

    def gradient(self, confusion, multipliers=None, class_counts=None):
        r = self._clipped_recalls(confusion)
        k = r.shape[0]
        psi = k / (1.0 / r).sum()
        return _diagonal_gradient(confusion, psi**2 / (k * r**2))


class _MinCoverageObjective(Objective):
    """A base objective subject to ``cov_j >= alpha / K`` for every class ``j``.

    :meth:`value` is the base metric minus the total relative shortfall,
    ``base - K * sum_j max(0, alpha/K - cov_j)``: it equals the base metric on
    feasible confusion matrices and falls continuously with the violation.

    The surrogate is the Lagrangian ``(base + sum_j l_j cov_j) / (1 + max_j l_j)``
    with ``l_j = max(lambda_max * (1 - exp((cov_j - alpha/K) / tau)), 0)``
    recomputed from each validation confusion matrix (REFERENCE).
    """

    _base_class = None
    coverage_constraint = True
    #: The coverage bound's parameters; a subclass adds its base objective's.
    _coverage_constraints = {
        "alpha": [Finite(Real, 0, 1, closed="right")], "tau": _POSITIVE, "lambda_max": _NON_NEGATIVE,
    }
    _parameter_constraints = _coverage_constraints

    def __init__(self, alpha=0.95, tau=0.01, lambda_max=100.0):
        self.alpha = alpha
        self.tau = tau
        self.lambda_max = lambda_max

    def _base(self):
        base = self._base_class
        return base(**{name: getattr(self, name) for name in base._parameter_names()})

    def value(self, confusion, class_counts=None):
        k = confusion.shape[0]
        shortfall = _clamp_min(self.alpha / k - coverages(confusion), 0).sum()
        return self._base().value(confusion) - k * shortfall

    def parts(self, confusion, class_counts=None):
        """The base metric (unpenalised) and the smallest coverage, times ``K`` (1 is a fair share)."""
        k = confusion.shape[0]
        base = self._base()
        return {base.name: float(base.value(confusion)), "min coverage x K": float(coverages(confusion).min()) * k}

    def values_from_rates(self, recalls, coverages, class_counts=None):
        k = recalls.shape[1]
        shortfall = np.maximum(self.alpha / k - coverages, 0).sum(axis=1)
        return self._base().values_from_rates(recalls, coverages) - k * shortfall

    def init_multipliers(self, n_classes, class_counts=None):
        return torch.zeros(n_classes, dtype=torch.float64)

    def update_multipliers(self, multipliers, confusion, class_counts=None):
        k = confusion.shape[0]
        slack = (coverages(confusion).to(torch.float64) - self.alpha / k) / self.tau
        return (self.lambda_max * (1.0 - torch.exp(slack))).clamp_min(0.0)

    def gradient(self, confusion, multipliers=None, class_counts=None):
        if multipliers is None:
            multipliers = self.update_multipliers(None, confusion)
        lam = multipliers.to(confusion)
        # d(sum_j l_j cov_j)/dC_ij = l_j for every row i.
        grad = self._base().gradient(confusion) + lam.unsqueeze(0).expand_as(confusion)
        return grad / (1.0 + lam.max())


class MeanRecallMinCoverage(_MinCoverageObjective):
    """Mean recall subject to ``cov_j >= alpha / K`` for all classes.

    Parameters
    ----------
    alpha : float, default=0.95
        Coverage target as a fraction of the balanced share ``1/K``.
    tau : float, default=0.01
        Temperature of the multiplier rule: smaller reacts more sharply.
    lambda_max : float, default=100.0
        Largest multiplier.
    """

    name = "mean_recall_min_coverage"
    label = "mean recall, penalised below cov {alpha:g}/K"
    _base_class = MeanRecall
    _parameter_constraints = {**_MinCoverageObjective._coverage_constraints, **MeanRecall._parameter_constraints}


class HMeanMinCoverage(_MinCoverageObjective):
    """H-mean of recalls subject to ``cov_j >= alpha / K`` for all classes.

    Parameters
    ----------
    alpha : float, default=0.95
        Coverage target as a fraction of the balanced share ``1/K``.
    tau : float, default=0.01
        Temperature of the multiplier rule.
    lambda_max : float, default=100.0
        Largest multiplier.
    recall_floor : float, default=0.01
        Recall clipping of the H-mean gradient.
    """

    name = "hmean_min_coverage"
    label = "H-mean, penalised below cov {alpha:g}/K"
    _base_class = HMean
    _parameter_constraints = {**_MinCoverageObjective._coverage_constraints, **HMean._parameter_constraints}

    def __init__(self, alpha=0.95, tau=0.01, lambda_max=100.0, recall_floor=0.01):
        super().__init__(alpha=alpha, tau=tau, lambda_max=lambda_max)
        self.recall_floor = recall_floor


def head_class_mask(class_counts, head_fraction):
    """Boolean mask of head classes: the ``floor(head_fraction * K)`` most frequent.

    Ties are broken by class index (stable sort); at least one class is head and
    at least one is tail.
    """
    numpy = _is_numpy(class_counts)
    counts = np.asarray(class_counts, dtype=np.float64) if numpy else torch.as_tensor(class_counts, dtype=torch.float64)
    k = counts.shape[0]
    if k < 2:
        raise ValueError("min head-tail recall needs at least 2 classes.")
    n_head = min(max(int(math.floor(head_fraction * k)), 1), k - 1)
    if numpy:
        mask = np.zeros(k, dtype=bool)
        mask[np.argsort(-counts, kind="stable")[:n_head]] = True
        return mask
    order = torch.argsort(-counts, stable=True)
    mask = torch.zeros(k, dtype=torch.bool)
    mask[order[:n_head]] = True
    return mask


def _numpy_counts(class_counts):
    """``class_counts`` (numpy or torch) as a float64 numpy array."""
    if class_counts is None or _is_numpy(class_counts) or not isinstance(class_counts, torch.Tensor):
        return np.asarray(class_counts, dtype=np.float64)
    return class_counts.detach().cpu().numpy().astype(np.float64)


class _GroupRecallObjective(Objective):
    """The worst mean recall over groups of classes, ascended through one multiplier per group.

    A subclass says which group each class is in (:meth:`class_groups`); the value, the
    multipliers ``softmax(-omega * group_recall)`` (as :class:`MinRecall` does for
    classes) and the derivative are shared here. Groups without classes are ignored.
    """

    needs_class_counts = True

    def class_groups(self, n_classes, class_counts):
        """``(group index of each class (K,) in [0, G), the G group names)``, every group non-empty."""
        raise NotImplementedError

    def _membership(self, n_classes, class_counts):
        """(G, K) float64 numpy matrix averaging recalls within each group, and the group names."""
        index, names = self.class_groups(n_classes, class_counts)
        membership = np.zeros((len(names), n_classes))
        membership[index, np.arange(n_classes)] = 1.0
        return membership / membership.sum(axis=1, keepdims=True), names

    def group_recalls(self, confusion, class_counts=None):
        """Mean recall of each group (numpy or torch, as ``confusion``) and the group names."""
        r = recalls(confusion)
        membership, names = self._membership(r.shape[0], class_counts)
        if _is_numpy(r):
            return membership @ np.asarray(r, dtype=np.float64), names
        return torch.as_tensor(membership, dtype=r.dtype, device=r.device) @ r, names

    def value(self, confusion, class_counts=None):
        return self.group_recalls(confusion, class_counts)[0].min()

    def parts(self, confusion, class_counts=None):
        """Each group's mean recall."""
        group_recall, names = self.group_recalls(confusion, class_counts)
        return {f"recall of {name}": float(r) for name, r in zip(names, group_recall)}

    def values_from_rates(self, recalls, coverages, class_counts=None):
        membership, _ = self._membership(recalls.shape[1], class_counts)
        return (recalls @ membership.T).min(axis=1)

    def init_multipliers(self, n_classes, class_counts=None):
        n_groups = len(self.class_groups(n_classes, class_counts)[1])
        return torch.full((n_groups,), 1.0 / n_groups, dtype=torch.float64)

    def update_multipliers(self, multipliers, confusion, class_counts=None):
        group_recall = self.group_recalls(confusion, class_counts)[0].to(torch.float64)
        return torch.softmax(-self.omega * group_recall, dim=0)

    def gradient(self, confusion, multipliers=None, class_counts=None):
        if multipliers is None:
            multipliers = self.update_multipliers(None, confusion, class_counts)
        membership, _ = self._membership(confusion.shape[0], class_counts)
        # d/dr_c of sum_g l_g mean_{c in g} r_c: l_g / |g| for the class's group g.
        per_class = torch.as_tensor(membership, dtype=confusion.dtype, device=confusion.device).T @ multipliers.to(
            confusion)
        return _diagonal_gradient(confusion, per_class)


class MinHeadTailRecall(_GroupRecallObjective):
    """``min(mean recall of head classes, mean recall of tail classes)``.

    Head classes are the most frequent ``head_fraction`` of classes by training
    count (``class_counts``, supplied by the estimator from its training labels).
    The surrogate weighs the two group means with multipliers
    ``softmax(-omega * group_recall)``, as :class:`MinRecall` does for classes.

    Parameters
    ----------
    head_fraction : float, default=0.9
        Fraction of classes (the most frequent) that form the head.
    omega : float, default=50.0
        Step size of the multiplier update.
    """

    name = "min_head_tail_recall"
    label = "min head-tail recall"
    _parameter_constraints = {"head_fraction": _OPEN_FRACTION, "omega": _NON_NEGATIVE}

    def __init__(self, head_fraction=0.9, omega=50.0):
        self.head_fraction = head_fraction
        self.omega = omega

    def class_groups(self, n_classes, class_counts):
        """Which classes are head (group 0) and which tail (group 1).

        Parameters
        ----------
        n_classes : int
            Number of classes K.
        class_counts : array-like of shape (K,)
            Training rows per class (numpy or torch).

        Returns
        -------
        index : ndarray of shape (K,)
            0 for the ``floor(head_fraction * K)`` most frequent classes, else 1.
        names : list of str
            ``["head", "tail"]``.
        """
        if class_counts is None:
            raise ValueError("min_head_tail_recall needs class_counts to tell head from tail classes.")
        head = head_class_mask(_numpy_counts(class_counts), self.head_fraction)
        return np.where(head, 0, 1), ["head", "tail"]


#: Training rows per class that bound the default groups of :class:`MinGroupRecall`: the
#: many-shot (more than 100), medium-shot (20 to 100) and few-shot (fewer than 20) classes
#: of the long-tail literature (ImageNet-LT, Liu et al. 2019).
MANY_SHOT, FEW_SHOT = 100, 20


class MinGroupRecall(_GroupRecallObjective):
    """The worst mean recall over groups of classes.

    By default the groups are the long-tail literature's: classes with more than
    ``many_shot`` training rows (many-shot), ``few_shot`` to ``many_shot`` (medium-shot)
    and fewer than ``few_shot`` (few-shot), from the training counts (``class_counts``,
    supplied by the estimator); a group without classes is ignored. ``groups`` gives
    your own: one group label per class, in ``classes_`` order. At K of about 1000 the
    worst class holds a handful of rows and min recall, G-mean and H-mean sit at 0;
    the worst group's mean recall still moves. The surrogate weighs the group means
    with multipliers ``softmax(-omega * group_recall)``, as :class:`MinRecall` does
    for classes; :class:`MinHeadTailRecall` is the two-group case.

    Parameters
    ----------
    groups : array-like of shape (n_classes,), default=None
        The group of each class, in ``classes_`` order (any labels); None groups the
        classes by their training counts.
    many_shot : float, default=100
        Classes with more training rows than this are many-shot.
    few_shot : float, default=20
        Classes with fewer training rows than this are few-shot.
    omega : float, default=50.0
        Step size of the multiplier update.

    Examples
    --------
    >>> import numpy as np
    >>> from skselmix import MinGroupRecall
    >>> confusion = np.diag([0.9, 0.8, 0.3, 0.5]) / 4  # recalls 0.9, 0.8, 0.3, 0.5
    >>> float(MinGroupRecall(groups=["a", "a", "b", "b"]).value(confusion))
    0.4
    >>> float(MinGroupRecall().value(confusion, class_counts=np.array([500, 60, 8, 30])))
    0.3
    """

    name = "min_group_recall"
    label = "min group recall"
    _parameter_constraints = {
        "groups": [None, "array-like"], "many_shot": _NON_NEGATIVE, "few_shot": _NON_NEGATIVE,
        "omega": _NON_NEGATIVE,
    }

    def __init__(self, groups=None, many_shot=MANY_SHOT, few_shot=FEW_SHOT, omega=50.0):
        self.groups = groups
        self.many_shot = many_shot
        self.few_shot = few_shot
        self.omega = omega

    def validate(self):
        super().validate()
        if self.few_shot > self.many_shot:
            raise ValueError(f"few_shot ({self.few_shot}) must not exceed many_shot ({self.many_shot}).")
        if self.groups is not None and np.ndim(self.groups) != 1:
            raise ValueError(f"groups must be one label per class (1-d); got shape {np.shape(self.groups)}.")

    @property
    def needs_class_counts(self):
        """Whether ``value`` needs the training ``class_counts``: only for the default groups."""
        return self.groups is None

    def class_groups(self, n_classes, class_counts):
        """Which group each class is in.

        Parameters
        ----------
        n_classes : int
            Number of classes K.
        class_counts : array-like of shape (K,) or None
            Training rows per class (numpy or torch); read only for the default groups.

        Returns
        -------
        index : ndarray of shape (K,)
            The group of each class, in ``[0, G)``.
        names : list of str
            The ``G`` groups' names (``"many"``, ``"medium"``, ``"few"`` by default, without
            empty ones; the sorted labels of ``groups`` otherwise).
        """
        if self.groups is not None:
            groups = np.asarray(self.groups)
            if groups.shape != (n_classes,):
                raise ValueError(
                    f"groups has {np.size(groups)} entries for {n_classes} classes: give one group per class, "
                    "in classes_ order."
                )
            names, index = np.unique(groups, return_inverse=True)
            return index.reshape(-1), [str(name) for name in names]
        if class_counts is None:
            raise ValueError("min_group_recall needs class_counts (training rows per class) or groups.")
        counts = _numpy_counts(class_counts)
        shot = np.where(counts > self.many_shot, 0, np.where(counts >= self.few_shot, 1, 2))
        present = np.flatnonzero(np.bincount(shot, minlength=3))
        renumber = np.zeros(3, dtype=np.int64)
        renumber[present] = np.arange(present.size)
        return renumber[shot], [("many", "medium", "few")[g] for g in present]


class CallableObjective(Objective):
    """A user-defined objective given as a function of the confusion matrix.

    Parameters
    ----------
    func : callable
        ``func(confusion) -> scalar tensor``, where ``confusion`` is the K x K
        balanced torch confusion matrix (rows sum to ``1/K``). It must be built
        from differentiable torch operations: its derivative comes from autograd.
    name : str, default=None
        Display name; defaults to the function's ``__name__``.
    """

    _parameter_constraints = {"func": [callable], "name": [str]}

    def __init__(self, func, name=None):
        self.func = func
        self.name = name if name is not None else getattr(func, "__name__", "custom")

    def _call(self, confusion):
        out = self.func(confusion)
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            raise TypeError(
                f"custom objective {self.name!r} must return a scalar torch tensor, got {type(out).__name__}."
            )
        return out.reshape(())

    def value(self, confusion, class_counts=None):
        # A custom objective is a torch function: scoring with it needs torch.
        confusion = torch.as_tensor(confusion) if _is_numpy(confusion) else confusion
        with torch.no_grad():
            return self._call(confusion)

    def gradient(self, confusion, multipliers=None, class_counts=None):
        c = confusion.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = self._call(c)
            if not out.requires_grad:
                return torch.zeros_like(confusion)
            (grad,) = torch.autograd.grad(out, c, allow_unused=True)
        return torch.zeros_like(confusion) if grad is None else grad.detach()


#: The registry of built-in objectives, in the order reports list them: the names of
#: ``metric=``, the metric functions and scorers of ``skselmix.metrics``, the report's rows
#: and the persistence allow-list are derived from it (tests/test_objectives.py checks the
#: docs). A new objective is a subclass above and an entry here.
BUILTIN_OBJECTIVES = (
    MeanRecall,
    MinRecall,
    GMean,
    HMean,
    MeanRecallMinCoverage,
    HMeanMinCoverage,
    MinHeadTailRecall,
    MinGroupRecall,
)
_BUILTIN = {cls.name: cls for cls in BUILTIN_OBJECTIVES}


def get_objective_names():
    """Names of the built-in objectives, sorted.

    Returns
    -------
    names : list of str
        The names accepted by ``SelMixClassifier(metric=...)`` and
        :func:`get_objective`.
    """
    return sorted(_BUILTIN)


def get_objective(metric):
    """Resolve ``metric`` (a name, an :class:`Objective` or a callable) to an objective.

    Parameters
    ----------
    metric : str, Objective or callable
        A name from :func:`get_objective_names` (default parameters), an
        :class:`Objective` instance (returned as is, after validation), or a
        callable wrapped in :class:`CallableObjective`.

    Returns
    -------
    objective : Objective
        The validated objective.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    TypeError
        For anything that is neither a string, an Objective nor a callable.
    """
    if isinstance(metric, Objective):
        objective = metric
    elif isinstance(metric, str):
        if metric not in _BUILTIN:
            raise ValueError(f"Unknown metric {metric!r}. Valid names: {', '.join(get_objective_names())}.")
        objective = _BUILTIN[metric]()
    elif callable(metric):
        objective = CallableObjective(metric)
    else:
        raise TypeError(
            "metric must be a name, an skselmix Objective or a callable taking a torch "
            f"confusion matrix; got {type(metric).__name__}."
        )
    objective.validate()
    return objective
