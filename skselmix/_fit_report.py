"""Warnings that say what a fit did when it could not do what was asked.

Silent outcomes surprised users: a class that feedback can never judge (one labelled
row under cross-fitting is always predicted by a head that never saw its class), and a
fit that returns its warm start (the objective never left a floor, collapsed after the
warm start, or no step beat it beyond noise). They are legitimate results; the user
must hear about them. ``verbose`` prints the same words.
"""

import os
import sys
import warnings

import numpy as np

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class FitOutcomeWarning(UserWarning):
    """A fit ran, but its feedback could not judge some classes, it returned its warm start,
    or its model is degenerate; the message says which and why.

    Raised by :meth:`SelMixClassifier.fit <skselmix.SelMixClassifier.fit>`: when all of a
    class's labelled rows sit in one test fold (typically one row with cross-fitting),
    when a class has a single row on the internal hold-out, whenever a fit that ran SGD
    steps returns its warm start (the objective held at a floor by classes at recall 0, a
    collapse after the warm start, the early verdict of coarse feedback, a best step whose
    gain was within noise, or no step above the warm start: see :ref:`the user guide
    <honest_selection>`), when the fit see-sawed (two classes taking turns at the bottom, or
    the objective swinging up and down, refresh after refresh), when the model predicts
    one class for every feedback row, and
    from :class:`SelMixClassifierCV` when every candidate kept its warm start. Silence it
    like any warning, for example
    ``warnings.filterwarnings("ignore", category=FitOutcomeWarning)``.
    """


def warn(message, verbose=0, category=FitOutcomeWarning):
    """Raise ``message`` as a ``category`` warning (a :class:`FitOutcomeWarning` by default)
    at the user's call (the first frame outside skselmix); with ``verbose``, print it too.
    The one way the package warns."""
    if verbose:
        print(f"[SelMix] note: {message}", flush=True)
    warnings.warn(message, category, stacklevel=_outside_the_package())


def _outside_the_package():
    """The ``stacklevel`` of the first caller outside skselmix (``fit``'s caller)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def unjudged_by_folds(y_enc, fold, n_folds, n_classes, weights=None):
    """Classes every row of which is predicted by a fold head that trained on none of the
    class's rows (all its rows, often the only one, in one test fold)."""
    positive = np.ones(y_enc.shape[0], dtype=bool) if weights is None else weights > 0
    per_fold = np.zeros((n_classes, n_folds))
    np.add.at(per_fold, (y_enc[positive], fold[positive]), 1)
    seen_by_predicting_head = per_fold.sum(axis=1, keepdims=True) - per_fold  # rows the fold's head trains on
    return np.flatnonzero(((per_fold > 0) & (seen_by_predicting_head > 0)).sum(axis=1) == 0)


#: Class names a message lists before it counts the rest (a K = 8192 fit named 1,500 of them).
SHOWN_CLASSES = 10


def class_list(names):
    """``names`` as a message shows them: all of a few, else the first ``SHOWN_CLASSES`` and a count."""
    names = list(names)
    if len(names) <= SHOWN_CLASSES:
        return str(names)
    return f"{names[:SHOWN_CLASSES]} and {len(names) - SHOWN_CLASSES:,} more ({len(names):,} in all)"


def unjudged_message(class_names, how):
    worst = "min_recall, min_head_tail_recall, gmean, hmean and the coverage objectives' recalls"
    return (
        f"Class(es) {class_list(class_names)} have too few labelled rows to be judged {how}: their recall is 0 at "
        f"every refresh whatever the head does. Objectives that take the worst class ({worst}) then sit at a floor "
        "that SelMix cannot move, and the fit will likely keep its warm start. Give such classes more rows, "
        "merge or drop them, or pass X_val with cv=None."
    )


def single_row_hold_out_message(class_names):
    return (
        f"Class(es) {class_list(class_names)} have a single labelled row, which the hold-out uses both to train and to "
        "judge: their validation recall measures memorisation, not generalisation. Give such classes more "
        "rows, or pass X_val."
    )


def kept_warm_start_message(result, class_labels, objective_name, learning_rate, confidence):
    """Why a fit that ran SGD steps returned its warm start, in one sentence; None when it
    moved or ran no step. ``result`` is the run's :class:`~skselmix._torch.records.LoopResult`.

    The specific causes first (the objective held at a floor by classes at recall 0, a
    collapse after the warm start), then the step selection's verdicts (see ``_selection``):
    the early verdict, a best step within noise, or no step above the warm start at all."""
    records = [record for record in result.history if not record.get("diverged")]
    diverged = next((record for record in result.history if record.get("diverged")), None)
    if result.best_step == 0 and diverged is not None and len(records) < 2:
        return (
            f"SelMix kept its warm start (best_step_ = 0): the head diverged by step {diverged['step']}, before a "
            f"refresh could judge any step (learning_rate={learning_rate!r} is too large for these features)."
        )
    if result.best_step != 0 or len(records) < 2:
        return None
    specific = _held_or_collapsed(records, class_labels, objective_name, learning_rate)
    if specific is not None:
        return specific
    choice, first = result.selection, _valued(records[0])
    if result.stopped_by_verdict:
        return (
            f"SelMix kept its warm start (best_step_ = 0) and stopped early, at step {records[-1]['step']}: no step "
            f"beat the warm start's feedback {objective_name} ({first}) on half of the bootstrap resamples of "
            "the feedback rows, which judge some class on fewer than 10 rows: they cannot show a gain. The warm "
            "start is the model; n_iter_no_change=None runs every step regardless."
        )
    if result.candidate_step > 0:
        best = next(record for record in records if record["step"] == result.candidate_step)
        return (
            f"SelMix kept its warm start (best_step_ = 0): its best step ({result.candidate_step}) raised the "
            f"feedback {objective_name} from {first} to {_valued(best)}, a gain within noise: it beat the "
            f"warm start on {choice.probability:.0%} of the bootstrap resamples of the feedback rows "
            f"({confidence:.0%} needed, selection_confidence), and corrected for the selection over steps the gain "
            f"is {choice.best_gain:+.3g} (a positive one needed)."
        )
    return (
        f"SelMix kept its warm start (best_step_ = 0): no step raised the feedback {objective_name} above the warm "
        f"start's {first}."
    )


def _valued(record):
    """A refresh's objective as a sentence shows it: the value, and the parts of an objective
    built of several (mean recall and the worst coverage beside a coverage objective's
    penalised value; each group's recall)."""
    parts = record.get("parts") or {}
    shown = ", ".join(f"{name} {part:.4g}" for name, part in parts.items())
    return f"{record['objective']:.4g}" + (f" ({shown})" if shown else "")


def _held_or_collapsed(records, class_labels, objective_name, learning_rate):
    """The floor or collapse sentence of :func:`kept_warm_start_message`, or None."""
    values = np.array([record["objective"] for record in records])
    recalls = np.stack([record["recalls"] for record in records])
    at_zero = np.flatnonzero((recalls == 0).all(axis=0))
    if at_zero.size and np.ptp(values) == 0:
        names = [class_labels[i] for i in at_zero.tolist()]
        return (
            f"SelMix kept its warm start (best_step_ = 0): the validation {objective_name} stayed at {values[0]:.4g} "
            f"at every refresh, with class(es) {class_list(names)} at recall 0 throughout. The objective is held at a "
            "floor "
            "by classes the feedback never sees predicted right; see the warning about classes with too few "
            "rows, or check the labels of those classes."
        )
    if np.ptp(values) == 0 and (recalls == 0).any(axis=1).all():
        # At recall 0 at every refresh, but not the same classes throughout (issue 32, M17).
        names = [class_labels[i] for i in np.flatnonzero((recalls == 0).any(axis=0)).tolist()]
        return (
            f"SelMix kept its warm start (best_step_ = 0): the validation {objective_name} stayed at {values[0]:.4g} "
            f"at every refresh, held there by a class at recall 0 at each refresh, not always the same one (among "
            f"{class_list(names)}): each step fixed one class and lost another. The head cannot serve every class "
            "at once on these features; a larger learning rate does not help, an adapter (hidden_layer_sizes) or "
            "better features may."
        )
    later = values[1:]
    # Collapsed: most refreshes after the warm start sit below half its value (a dip that
    # recovers is SGD noise, not a collapse).
    if values[0] > 0 and np.median(later) < 0.5 * values[0]:
        fell_at = records[1 + int(np.argmin(later))]["step"]
        return (
            f"SelMix kept its warm start (best_step_ = 0): the validation {objective_name} collapsed after it, from "
            f"{values[0]:.4g} to {later.min():.4g} by step {fell_at}, and stayed low. A learning_rate too large for "
            f"these features does this (learning_rate={learning_rate!r}); try a smaller one."
        )
    return None


#: Refreshes a see-saw must last to be reported: three full periods (up, down, up, down, ...).
SEE_SAW_REFRESHES = 6
#: A swing counts when the objective moves by at least this share of its largest value.
SEE_SAW_SWING = 0.25


def see_saw_message(history, class_labels, objective_name):
    """When the fit see-sawed (issue 33), the sentence that says so; else None.

    A see-saw: over at least ``SEE_SAW_REFRESHES`` consecutive refreshes after the warm
    start, the feedback objective moves up and down by at least ``SEE_SAW_SWING`` of its
    largest value at every refresh. Each refresh's steps overshoot and the next reverse
    them; with a min-type objective the multipliers then hand the lead back and forth
    between two classes (named when they do). A small swing between two classes is how
    a fit sits at a balance of min recall, and is not reported."""
    records = [record for record in history if not record.get("diverged")][1:]  # the steps' refreshes
    if len(records) < SEE_SAW_REFRESHES:
        return None
    values = np.array([record["objective"] for record in records])
    swings = np.diff(values)
    big = np.abs(swings) >= SEE_SAW_SWING * max(float(np.max(np.abs(values))), 1e-12)
    zigzag = big[1:] & big[:-1] & (np.sign(swings[1:]) == -np.sign(swings[:-1]))
    start, length = _longest_run(zigzag)  # a run of n flags spans n + 2 refreshes
    if length + 2 < SEE_SAW_REFRESHES:
        return None
    window = slice(start, start + length + 2)
    seen = f"the feedback {objective_name} swung between {values[window].min():.4g} and {values[window].max():.4g}"
    if records[0]["multipliers"] is not None:
        leaders = np.array([np.argmax(record["multipliers"]) for record in records[window]])
        if np.unique(leaders).size == 2 and (leaders[1:] != leaders[:-1]).all():
            seen += (f", and the largest multiplier passed between classes {class_labels[int(leaders[0])]!r} and "
                     f"{class_labels[int(leaders[1])]!r}")
    return (
        f"SelMix see-sawed from step {records[window.start]['step']} to step {records[window.stop - 1]['step']}: "
        f"{seen} at every refresh. Each refresh's steps overshoot, fixing one class by breaking another, and the "
        f"next refresh reverses them. A smaller learning_rate (the steps ran at {records[0]['lr']:.3g}) shrinks "
        "the swing."
    )


def _longest_run(flags):
    """Start and length of the longest run of True in ``flags`` (length 0 when none)."""
    edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(flags, dtype=int), 0]))
    starts, lengths = edges[::2], edges[1::2] - edges[::2]
    if not starts.size:
        return 0, 0
    longest = int(np.argmax(lengths))
    return int(starts[longest]), int(lengths[longest])


def one_class_message(history, best_step, class_labels):
    """When the returned model predicts one class for every feedback row (a degenerate fit:
    dead ReLU units of an adapter, a learning rate far too large), the sentence that says
    so; else None. Such a fit keeps min recall at 0 whatever the refresh, unnoticed before."""
    record = next((r for r in history if r["step"] == best_step and not r.get("diverged")), None)
    if record is None:
        return None
    coverages = np.asarray(record["coverages"])
    only = np.flatnonzero(coverages >= 1 - 1e-9)
    if not only.size:
        return None
    return (
        f"The fitted model predicts class {class_labels[int(only[0])]!r} for every feedback row: a degenerate fit "
        "(an adapter whose ReLU units died, or a learning rate far too large). Try another random_state, a smaller "
        "learning_rate, or the linear head (hidden_layer_sizes=())."
    )

