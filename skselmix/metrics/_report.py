"""A per-class text report of the balanced metrics (recall, coverage, support, objectives)."""

from .._confusion import coverages, recalls
from .._objectives import BUILTIN_OBJECTIVES, MinGroupRecall
from ._classification import _confusion_tensor, _group_labels, _head_tail_recall


def classification_report_balanced(
    y_true, y_pred, *, labels=None, target_names=None, sample_weight=None, alpha=0.95, head_labels=None, groups=None,
    digits=3, output_dict=False,
):
    """Per-class recall, coverage and support, and every objective, on the balanced distribution.

    Like ``sklearn.metrics.classification_report`` (and imbalanced-learn's
    ``classification_report_imbalanced``), but with the quantities the skselmix
    objectives are made of: each class's recall, its coverage (the share of
    predictions that go to it when every true class weighs ``1/K``, shown
    times ``K`` so that 1.0 is its fair share), its support, then the value of
    every objective.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,), default=None
        Classes to report, in this order; by default the sorted classes of
        ``y_true``.
    target_names : list of str, default=None
        Display names of ``labels``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (support is then the total weight).
    alpha : float, default=0.95
        Coverage target of the constrained objectives (``cov_j >= alpha / K``).
    head_labels : array-like, default=None
        Head classes; when given, the min head-tail recall is reported too.
    groups : dict or array-like, default=None
        The group of each class (``{label: group}``, or one per class of
        ``labels`` in its order); when given, each group's mean recall
        (``recall of group <name>``) and the min group recall are reported too.
    digits : int, default=3
        Decimals in the text report.
    output_dict : bool, default=False
        Return a dict instead of text.

    Returns
    -------
    report : str or dict
        The text table, or ``{name: {"recall", "coverage x K", "support"}, ...,
        "objectives": {objective name: value}}``. The constrained objectives
        are *penalised*: the base metric minus ``K`` times the total shortfall
        of coverage below ``alpha / K`` (the base metric itself when every class
        meets it), so they can be negative; the text report says so under them.

    Examples
    --------
    >>> from skselmix.metrics import classification_report_balanced
    >>> print(classification_report_balanced([0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 2, 0]))
                                                 recall  coverage x K   support
    <BLANKLINE>
                                          0       0.667         1.167         3
                                          1       1.000         1.333         1
                                          2       0.500         0.500         2
    <BLANKLINE>
                                mean recall       0.722
                                 min recall       0.500
                                     G-mean       0.693
                                     H-mean       0.667
                           min coverage x K       0.500
    mean recall, penalised below cov 0.95/K       0.272
         H-mean, penalised below cov 0.95/K       0.217
    <BLANKLINE>
    penalised: the metric minus K x the shortfall of coverage below alpha/K
    """
    confusion, labels, totals = _confusion_tensor(y_true, y_pred, labels, sample_weight)
    k = labels.size
    names = [str(label) for label in labels] if target_names is None else [str(name) for name in target_names]
    if len(names) != k:
        raise ValueError(f"target_names has {len(names)} names for {k} labels.")
    per_class_recall = recalls(confusion)
    per_class_coverage = k * coverages(confusion)
    values = {}
    for cls in BUILTIN_OBJECTIVES:  # the registry's order
        if cls is MinGroupRecall:  # needs to know the groups: only with groups
            if groups is not None:
                objective = MinGroupRecall(groups=_group_labels(groups, labels))
                group_recall, group_names = objective.group_recalls(confusion)
                values.update({f"recall of group {name}": float(r) for name, r in zip(group_names, group_recall)})
                values[cls.label] = float(objective.value(confusion))
        elif cls.needs_class_counts:  # needs to know the head: only with head_labels
            if head_labels is not None:
                values[cls.label] = _head_tail_recall(confusion, labels, totals, head_labels)
        elif cls.coverage_constraint:
            if "min coverage x K" not in values:  # the constraint's measure, before its objectives
                values["min coverage x K"] = float(per_class_coverage.min())
            values[cls.label.format(alpha=alpha)] = float(cls(alpha=alpha).value(confusion))
        else:
            values[cls.label] = float(cls().value(confusion))
    if output_dict:
        report = {
            name: {"recall": float(r), "coverage x K": float(c), "support": float(s)}
            for name, r, c, s in zip(names, per_class_recall, per_class_coverage, totals)
        }
        report["objectives"] = values
        return report
    width = max(len(name) for name in names + list(values))
    integral = sample_weight is None
    lines = [f"{'':>{width}}  {'recall':>10}  {'coverage x K':>12}  {'support':>8}", ""]
    for name, r, c, s in zip(names, per_class_recall, per_class_coverage, totals):
        support = f"{int(s)}" if integral else f"{s:.{digits}f}"
        lines.append(f"{name:>{width}}  {r:>10.{digits}f}  {c:>12.{digits}f}  {support:>8}")
    lines.append("")
    for name, value in values.items():
        lines.append(f"{name:>{width}}  {value:>10.{digits}f}")
    if any("penalised" in name for name in values):
        lines += ["", "penalised: the metric minus K x the shortfall of coverage below alpha/K"]
    return "\n".join(lines)
