"""The SelMix training loop: warm start, refreshes (feedback, gains, pair distribution), SGD steps.

Everything here works on scaled float32 torch tensors on the fit device and returns
numpy fitted state; the estimator (``_classifier.py``) validates inputs and owns
the public attributes.
"""

import math
import time
from dataclasses import dataclass, fields, replace
from typing import NamedTuple, Optional, Union

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .._calibration import balanced_row_weights, calibration_rows, fit_temperature
from .._confusion import coverages, recalls
from .._fit_report import class_list, warn
from .._gain import DEFAULT_CONFUSION_SMOOTHING, objective_logit_sensitivity
from .._limits import LIMITS
from .._memory import release_freed_memory
from .._parameters import check_params
from .._progress import FitProgress
from .._selection import StepSelection
from .architecture import LINEAR
from .device import profile_for
from .draws import RunDraws, StepRequest, cosine_learning_rate
from .heads import float64_numpy
from .records import GivenHead, LoopResult, RefitRecipe, StepSources, WarmStart
from .sampler import ClassIndex, head_pair_distributions, normalize_gain, sampling_distribution
from .threads import fit_threads, one_thread_below


@dataclass(frozen=True)
class LoopSettings:
    """The estimator's parameters that a run reads: the loop's, and the warm start's ``init``,
    ``weight_decay`` and ``verbose``. Built (and checked) by :meth:`from_params`."""

    s: float
    lambda_min: float
    mixup: str
    max_iter: int
    refresh_every: int
    batch_size: int
    learning_rate: Union[float, str]
    average_decay: float
    n_iter_no_change: Optional[int]
    tol: float
    selection_confidence: float
    pseudo_label_threshold: float
    calibrate: bool
    init: str
    weight_decay: Union[float, str]
    verbose: int

    @classmethod
    def from_params(cls, params):
        """The settings in ``params`` (a dict holding at least every field), checked."""
        settings = cls(**{field.name: params[field.name] for field in fields(cls)})
        settings.check()
        return settings

    def resolved(self, architecture=LINEAR):
        """These settings with ``learning_rate="auto"`` made a number: the ``architecture``'s
        (:mod:`~skselmix._torch.architecture`)."""
        if self.learning_rate != "auto":
            return self
        return replace(self, learning_rate=architecture.learning_rate)

    def check(self):
        """``InvalidParameterError`` naming the first parameter outside its constraint."""
        check_params({field.name: getattr(self, field.name) for field in fields(self)}, "SelMixClassifier")


class KeptStep(NamedTuple):
    """A refresh the loop keeps: its feedback ``value``, ``step``, a copy of its evaluated
    ``stack``, its ``index`` among the refreshes (the warm start's, or the best so far) and
    a copy of the stack the fit returns for it (``returned``: the all-rows head at that
    step, or ``stack`` itself)."""

    value: float
    step: int
    stack: object  # a LinearStack or NetworkStack
    index: int
    returned: object


def _copy(stack):
    """A copy of ``stack`` (the adapter's tensors too) that later in-place steps leave alone."""
    return stack.with_tensors([t.clone() for t in stack.tensors()])


class CarriedHead:
    """The head a run returns when it is not the judged stack itself: the all-rows head of a
    cross-fitted linear fit (``head``, a :class:`AllRowsHead`), stepped beside the judged
    heads with the same pair probabilities, its own rows and its own ``draws``, and never
    judged. With ``head`` None (a hold-out head, fold networks) the judged stack is the
    model, and every method passes it through."""

    def __init__(self, head, draws, n_classes):
        self.head, self.draws, self.k = head, draws, n_classes
        self.iterates = self.evaluated = None if head is None else head.stack

    def returned(self, evaluated):
        """The stack the fit would return now, beside the judged ``evaluated``."""
        return evaluated if self.head is None else self.evaluated

    def kept(self, kept):
        """What a kept refresh returns: a copy of the carried head, or the judged copy ``kept``."""
        return kept if self.head is None else _copy(self.evaluated)

    def beside(self, request, probs, partners, unlabeled):
        """``request`` with the carried head's own request beside it: the same steps and pair
        probabilities ``probs``, anchors and partners from every labelled row (and the
        pseudo-labelled ``partners`` in semi-supervised mode), its own draws."""
        if self.head is None:
            return request
        pools = self.head.pools
        sources = (StepSources(request.sources.features, pools) if partners is None
                   else StepSources(request.sources.features, pools, partners, unlabeled.features))
        pairs = head_pair_distributions(probs, pools.counts.reshape(-1, self.k))
        return replace(request, beside=replace(request, heads=self.iterates, evaluated=self.evaluated,
                                               sources=sources, pairs=pairs, draws=self.draws))

    def took(self, stepped):
        """Take the carried head's new iterates from a run of steps' :class:`Stepped`."""
        if self.head is not None:
            self.iterates, self.evaluated = stepped.beside.heads, stepped.beside.evaluated

    def tensors(self):
        """The carried head's tensors (none without one), for the divergence check."""
        return () if self.head is None else self.iterates.tensors() + self.evaluated.tensors()


class SelMixRun:
    """One candidate's fit: its settings, random draws and records, and the warm start and
    loop it runs on the device (:meth:`start`, :meth:`loop`).

    Kept apart from the estimator so that the estimator holds only numpy fitted state and
    is never left half-updated. ``settings`` is a :class:`LoopSettings`, ``seeds`` the
    :class:`~skselmix._torch.seeds.RunSeeds` of the fit, ``architecture`` what it trains
    (:mod:`~skselmix._torch.architecture`).
    """

    def __init__(self, settings, objective, device, seeds, n_classes, architecture=LINEAR, class_labels=None,
                 on_refresh=None):
        self.settings = settings
        # Analysis only (benchmarks/_internals.py): called at every refresh with the step, the
        # evaluated stack, its judged predictions and the stack the fit would return for that
        # refresh; it must not change them.
        self.on_refresh = on_refresh
        self.progress = FitProgress(
            settings.verbose,
            objective.name,
            settings.max_iter,
            list(range(n_classes)) if class_labels is None else np.asarray(class_labels).tolist(),
        )
        self.objective = objective
        self.device = device
        self.architecture = architecture
        self.profile = profile_for(device)  # resolved once: every device-tuned size of this run
        self.k = n_classes
        generator = torch.Generator(device=device)
        generator.manual_seed(seeds.steps)
        self.draws = RunDraws(generator, n_classes, settings.batch_size, settings.lambda_min, settings.mixup)
        self.calibration_rng = np.random.RandomState(seeds.calibration)
        # Every candidate of a search has the same selection seed, so they share the
        # resamples (their comparison is paired).
        self.selection_rng = np.random.RandomState(seeds.selection)
        all_rows_generator = torch.Generator(device=device)
        all_rows_generator.manual_seed(seeds.all_rows)
        self.all_rows_draws = replace(self.draws, generator=all_rows_generator)
        self.start_time = time.perf_counter()

    def _threads(self, feedback):
        """The fit's thread counts (:func:`~skselmix._torch.threads.fit_threads`): all on one
        thread when a pass over the rows is small (its multiply-adds,
        :meth:`~skselmix._torch.architecture.Architecture.pass_work`), else BLAS on one."""
        work = self.architecture.pass_work(feedback.x_train.shape[0], feedback.x_train.shape[1], self.k)
        return fit_threads(work, self.profile.small_fit_work, self.device)

    def start(self, feedback, init_head):
        """The :class:`WarmStart` of the stack of heads (see ``_feedback``).

        ``feedback`` holds the scaled float32 features and says which head trains
        on which rows and how the stack is judged; ``init_head`` is an
        :class:`InitHead` or None.
        """
        with self._threads(feedback):
            return self._start(feedback, init_head)

    def _start(self, feedback, init_head):
        p = self.settings
        class_counts = feedback.class_counts
        l2 = self.architecture.weight_decay(p.weight_decay, feedback.n_train)
        if not feedback.complete:
            names = [self.progress.labels[i] for i in feedback.unjudged_classes()]
            warn(
                f"Class(es) {class_list(names)} have no validation row (or only rows of weight zero); their "
                "confusion rows come from the training data.",
                category=UserWarning,
            )

        heads_note = f", {feedback.n_heads} fold heads" if feedback.n_heads > 1 else ""
        self.progress.warm_start((p.init if init_head is None else init_head.name) + heads_note)
        if init_head is None:
            kinds = ("logit_adjusted", "balanced") if p.init == "auto" else (p.init,)
            candidates = [(kind, feedback.warm_start(kind, l2)) for kind in kinds]
            # "auto": the start with the best feedback objective (first on ties: logit-adjusted).
            scores = (
                [self._objective_value(feedback.confusion(stack), class_counts, 0) for _, stack in candidates]
                if len(candidates) > 1
                else [0.0]
            )
            init_used, stack = candidates[int(np.argmax(scores))]
            refit = RefitRecipe(init_used, l2)
        else:
            coef = torch.as_tensor(init_head.coef, dtype=torch.float32, device=self.device)
            intercept = torch.as_tensor(init_head.intercept, dtype=torch.float32, device=self.device)
            init_used, refit = init_head.name, GivenHead(coef, intercept)
            stack = feedback.given_start(coef, intercept)

        prototypes = feedback.prototypes()
        if init_head is not None and not bool(torch.isfinite(stack.logits(prototypes)).all()):
            raise ValueError(
                f"The initial head ({init_used}) gives non-finite float32 logits on the class prototypes; "
                "its weights are too large for the features."
            )
        all_rows = stack.all_rows_head(feedback, refit)
        self.progress.warm_start_done()
        return WarmStart(stack, init_used, refit, prototypes, l2, all_rows)

    def loop(self, feedback, warm, unlabeled=None):
        """This run's :class:`RunLoop` from ``warm`` (a :class:`WarmStart`); ``unlabeled`` is
        :class:`UnlabeledRows` in semi-supervised mode."""
        return RunLoop(self, feedback, warm, unlabeled)

    def _selection(self, feedback):
        """The :class:`StepSelection` of this run, over the feedback's judging rows."""
        y, weights = feedback.judging_rows()
        return StepSelection(
            y.cpu().numpy(), None if weights is None else weights.cpu().numpy(), self.k, self.objective,
            feedback.class_counts.numpy(), self.selection_rng, self.settings.selection_confidence, self.device,
        )

    def _temperature(self, feedback, stack):
        """Temperature of the selected heads, fitted on their held-out (or out-of-fold) logits."""
        y, weights = feedback.held_out_labels()
        y = y.cpu().numpy()
        weights = balanced_row_weights(y, self.k, None if weights is None else weights.cpu().numpy())
        rows = calibration_rows(y, self.k, self.calibration_rng)
        logits = feedback.held_out_logits(stack, torch.as_tensor(rows, device=stack.coef.device))
        return fit_temperature(logits.cpu().numpy(), y[rows], weights[rows])

    def _objective_value(self, confusion, class_counts, step):
        """The objective's value as a float; a metric that fails or returns NaN is an error.

        Without this check a NaN value never beats the best one, so the fit would
        silently keep the warm start with ``best_validation_score_ = nan``.
        """
        try:
            value = float(self.objective.value(confusion, class_counts))
        except Exception as exc:
            raise ValueError(
                f"metric {self.objective.name!r} failed at step {step}: {type(exc).__name__}: {exc}"
            ) from exc
        if not math.isfinite(value):
            raise ValueError(
                f"metric {self.objective.name!r} returned {value} at step {step}; it must return a finite number "
                "for every confusion matrix."
            )
        return value

    def _judge_resamples(self, selection, predictions, step):
        """:meth:`StepSelection.add`, a metric that fails on a resample being an error that names it."""
        try:
            return selection.add(predictions)
        except Exception as exc:
            raise ValueError(f"metric {self.objective.name!r} failed at step {step}: {exc}") from exc

    def _objective_gradient(self, confusion, multipliers, class_counts, step):
        """dpsi/dC as float32; a non-finite derivative is an error (it would make every gain NaN)."""
        grad = self.objective.gradient(confusion, multipliers, class_counts).to(torch.float32)
        if not bool(torch.isfinite(grad).all()):
            raise ValueError(f"the derivative of metric {self.objective.name!r} is not finite at step {step}.")
        return grad

    def _pseudo_label_pool(self, head, unlabeled):
        """Pseudo-label the unlabelled rows with the current ``head`` (a stack of one head):
        the partner pool and its record."""
        hidden = unlabeled.hidden
        proba = torch.softmax(head.logits(unlabeled.features), dim=1)
        confidence, pseudo = proba.max(dim=1)
        confident = confidence >= self.settings.pseudo_label_threshold
        labels = hidden if unlabeled.hidden_partners else torch.where(confident, pseudo, -1)
        pool = ClassIndex(labels, self.k, weights=unlabeled.weights)
        record = {"unlabeled_counts": pool.counts.cpu().numpy()}
        if hidden is not None:
            hits = (pseudo == hidden) & confident
            record["pseudo_label_accuracy"] = float(hits.sum()) / max(int(confident.sum()), 1)
        return pool, record


class Refresh(NamedTuple):
    """What one refresh measured and decided: the feedback objective ``value``, the
    confusion matrix's per-class ``recalls`` and ``coverages`` and the objective's ``parts``
    (numpy, for the record: the K x K matrix itself is not kept), the objective's
    ``multipliers`` after it, the largest gain ``max_gain`` and the normalised gain matrix
    ``gain_n``, the pair probabilities ``probs`` and each head's ``pairs``, how often the
    step beat the warm start on the resamples (``beats_start``), the pseudo-labelled
    ``partners`` (or None) and their record (``pseudo``), and when it ``began``."""

    value: float
    recalls: np.ndarray
    coverages: np.ndarray
    parts: dict
    multipliers: object
    max_gain: float
    gain_n: torch.Tensor
    probs: torch.Tensor
    pairs: object
    beats_start: object
    partners: object
    pseudo: dict
    began: float


class RunLoop:
    """One run's refresh/SGD loop as an explicit state: :meth:`refresh` measures the
    evaluated stack and returns the :class:`StepRequest` of its next SGD steps (None when
    the loop stops), :meth:`apply` takes the stepped heads, :meth:`result` gives the fitted
    state as numpy arrays on scaled features (a :class:`LoopResult`).
    :func:`loop_together` drives the loops of a fit's runs, batching their steps.

    ``heads`` is the stack of SGD iterates; ``evaluated`` is what feedback and selection
    see: the iterates themselves, or their moving average when ``average_decay`` > 0.
    ``carried`` is the head the fit returns when that is not ``evaluated`` itself (see
    :class:`CarriedHead`).
    """

    def __init__(self, run, feedback, warm, unlabeled=None):
        self.run, self.feedback, self.warm, self.unlabeled = run, feedback, warm, unlabeled
        self.multipliers = run.objective.init_multipliers(run.k, feedback.class_counts)
        self.heads = self.evaluated = warm.stack
        self.carried = CarriedHead(warm.all_rows, run.all_rows_draws, run.k)
        self.history, self.best, self.start, self.step, self.stale = [], None, None, 0, 0
        self.verdict = self.done = False
        self.last, self.n_steps = None, 0  # the latest Refresh, and the steps it asked for
        self.selection = run._selection(feedback)

    def refresh(self):
        """Judge the evaluated stack, keep it when it is the best so far, and return the
        :class:`StepRequest` of the next steps, or None when the loop stops here."""
        run, p, feedback = self.run, self.run.settings, self.feedback
        step, evaluated = self.step, self.evaluated
        # The previous refresh's K x K arrays (gains, pair probabilities) go before this one's
        # are made: at K = 8192 they are a GiB.
        self.last = None
        last = self.last = self._measure()
        release_freed_memory()  # the refresh's K x K temporaries, which glibc would keep (_memory.py)
        self.history.append(self._record(last))
        improved = self.best is None or last.value > self.best.value + p.tol
        if improved:
            # Copies (the adapter's too) that later in-place steps leave alone.
            kept = _copy(evaluated)
            self.best = KeptStep(last.value, step, kept, len(self.history) - 1, self.carried.kept(kept))
            self.stale = 0
        elif step > 0:
            self.stale += 1
        if step == 0:
            self.start = self.best
        record = self.history[-1]
        run.progress.refresh(step, last.value, self.best.value, improved, record["recalls"], record["parts"])
        if step >= p.max_iter or (p.n_iter_no_change is not None and self.stale >= p.n_iter_no_change):
            self.done = True
            return None
        # The early verdict (see _selection): a fit whose steps keep failing to beat the
        # warm start beyond noise stops, unless told to run max_iter.
        self.verdict = p.n_iter_no_change is not None and p.selection_confidence > 0 and self.selection.futile()
        if self.verdict:
            self.done = True
            return None
        n_steps = self.n_steps = min(p.refresh_every, p.max_iter - step)
        pools, partners = feedback.pools, last.partners
        sources = (
            StepSources(feedback.x_train, pools)
            if partners is None
            else StepSources(feedback.x_train, pools, partners, self.unlabeled.features)
        )
        request = StepRequest(
            self.heads, evaluated, sources, last.pairs, run.draws, step, n_steps, p.learning_rate,
            p.max_iter, float(p.average_decay), self.warm.l2, run.device, run.profile,
        )
        return self.carried.beside(request, last.probs, partners, self.unlabeled)

    def _measure(self):
        """The :class:`Refresh` of the evaluated stack at this step."""
        run, p, k, feedback, evaluated, step = self.run, self.run.settings, self.run.k, self.feedback, \
            self.evaluated, self.step
        began = time.perf_counter()
        class_counts = feedback.class_counts
        predictions = feedback.judged_predictions(evaluated)
        confusion = feedback.confusion(evaluated, predictions=predictions)
        if run.on_refresh is not None:
            run.on_refresh(step, evaluated, predictions, self.carried.returned(evaluated))
        value = run._objective_value(confusion, class_counts, step)
        beats_start = run._judge_resamples(self.selection, predictions, step)
        self.multipliers = run.objective.update_multipliers(self.multipliers, confusion, class_counts)
        grad = run._objective_gradient(confusion, self.multipliers, class_counts, step)
        sensitivity = objective_logit_sensitivity(confusion.to(torch.float32), grad, DEFAULT_CONFUSION_SMOOTHING)
        # Each K x K matrix goes once read (at K = 8192 the confusion matrix is 512 MiB): the
        # record keeps what it reads of them.
        del grad
        recalls_, coverages_ = recalls(confusion).cpu().numpy(), coverages(confusion).cpu().numpy()
        parts = run.objective.parts(confusion, class_counts)
        del confusion
        lambda_mean = (p.lambda_min + 1.0) / 2.0
        gain = evaluated.gain(feedback, self.warm.prototypes, sensitivity, lambda_mean)
        del sensitivity
        max_gain = float(gain.max())
        gain_n = normalize_gain(gain, in_place=True)  # gain_n is gain, divided
        del gain
        probs = sampling_distribution(gain_n, p.s)
        pairs = head_pair_distributions(probs, feedback.pools.counts.reshape(-1, k))
        partners, pseudo = None, {}
        if self.unlabeled is not None:
            partners, pseudo = run._pseudo_label_pool(evaluated.mean(), self.unlabeled)
        return Refresh(value, recalls_, coverages_, parts, self.multipliers, max_gain, gain_n, probs, pairs,
                       beats_start, partners, pseudo, began)

    def apply(self, stepped):
        """Take a run of steps' :class:`Stepped` heads; a non-finite head ends the loop."""
        p = self.run.settings
        self.heads, self.evaluated = stepped.heads, stepped.evaluated
        self.carried.took(stepped)
        self.step += self.n_steps
        tensors = self.heads.tensors() + self.evaluated.tensors() + self.carried.tensors()
        if not all(bool(torch.isfinite(t).all()) for t in tensors):
            warn(
                f"SelMix diverged: the head became non-finite by step {self.step} (learning_rate="
                f"{p.learning_rate!r} is too large). Kept the best head so far, from step {self.best.step}.",
                category=ConvergenceWarning,
            )
            self.history.append(self._record(None))
            self.done = True

    def _record(self, refresh):
        """The history record of ``refresh`` (a :class:`Refresh`) at the current step, or with
        None the record of a divergence found there (every measurement None)."""
        if refresh is None:
            return dict.fromkeys(self.history[-1]) | {"step": self.step, "objective": float("nan"), "diverged": True}
        run = self.run
        entropy = pair_entropy(refresh.pairs)
        return {
            "step": self.step,
            "objective": refresh.value,
            "recalls": refresh.recalls,
            "coverages": refresh.coverages,
            "multipliers": None if refresh.multipliers is None else refresh.multipliers.cpu().numpy().copy(),
            "parts": refresh.parts,
            "max_gain": refresh.max_gain,
            "entropy": entropy,
            "lr": cosine_learning_rate(self.step, run.settings.learning_rate, run.settings.max_iter),
            "time": time.perf_counter() - run.start_time,
            "p_beats_start": refresh.beats_start,
            "refresh_time": time.perf_counter() - refresh.began,
            **refresh.pseudo,
        }

    def result(self):
        """The fitted state (a :class:`LoopResult`): the selected refresh's returned model."""
        run, p, best, last = self.run, self.run.settings, self.best, self.last
        choice = self.selection.choose(best.index, [record["objective"]
                                                    for record in self.history[:len(self.selection.values)]])
        returned = best if choice.index else self.start
        chosen = returned.stack
        coef, intercept = returned.returned.model()
        temperature = run._temperature(self.feedback, chosen) if p.calibrate else 1.0
        return LoopResult(
            model=chosen.fitted(coef, intercept),
            prototypes=float64_numpy(self.warm.prototypes),
            n_iter=self.step,
            history=self.history,
            gain_matrix=float64_numpy(last.gain_n),
            sampling_distribution=last.pairs.mean().cpu().numpy(),  # one head's, or the heads' mean
            best_validation_score=returned.value,
            best_step=returned.step,
            selection=choice,
            selection_values=self.selection.values_of(choice.index),
            candidate_step=best.step,
            stopped_by_verdict=self.verdict,
            init=self.warm.init_used,
            weight_decay=self.warm.l2,
            temperature=temperature,
        )


def pair_entropy(pairs, limits=LIMITS):
    """``-sum p log p`` (0 log 0 = 0) of the heads' mean pair distribution of ``pairs`` (a
    :class:`~skselmix._torch.sampler.PairDistribution` or ``MaskedPairDistribution``): in one
    pass, or a block of its rows at a time above ``limits.blocked_refresh_classes`` classes
    (no K x K array: at K = 8192 the mean is 512 MiB)."""
    k = pairs.probs.shape[-1]
    if k <= limits.blocked_refresh_classes:
        return float(torch.special.entr(pairs.mean()).sum())
    step = max(1, limits.refresh_block // k)
    return float(sum(torch.special.entr(pairs.mean_rows(slice(start, start + step))).sum()
                     for start in range(0, k, step)))


def take_steps(requests):
    """The SGD steps of ``requests`` (:class:`StepRequest` of runs with equal keys, hence
    stacks of one kind), taken by that kind of stack."""
    return requests[0].heads.sgd_steps(requests)


def loop_together(runs, feedback, warm, unlabeled=None):
    """Run the loops of ``runs`` (one :class:`SelMixRun` per candidate) from one warm start.

    Every run refreshes on its own (its :class:`RunLoop`: confusion matrix, multipliers,
    gains, early stopping); the SGD steps of runs at the same step with the same step settings are
    taken together, their heads stacked into one batched product, which costs little
    more than one run's steps on small problems. Each run draws from its own generator,
    so its result is the one it would have alone. Returns the runs' fitted states.
    """
    with runs[0]._threads(feedback):
        loops = [run.loop(feedback, warm, unlabeled) for run in runs]
        pending = {index: loop.refresh() for index, loop in enumerate(loops)}
        pending = {index: request for index, request in pending.items() if request is not None}
        while pending:
            groups = {}
            for index, request in pending.items():
                groups.setdefault(request.key, []).append(index)
            answered = {}
            for members in groups.values():
                requests = [pending.pop(index) for index in members]
                first = requests[0]
                work = first.heads.weight_elements * first.draws.batch_size
                with one_thread_below(work, first.profile.small_step_work, first.device):
                    stepped = take_steps(requests)
                del requests, first  # their pair distributions: the refreshes below make new ones
                for index, state in zip(members, stepped):
                    loop = loops[index]
                    loop.apply(state)
                    request = None if loop.done else loop.refresh()
                    if request is not None:
                        answered[index] = request
            pending = answered
        results = [loop.result() for loop in loops]
    # The warm-start fits of every run (their refits on all rows included) are done now.
    return [replace(result, n_iter_warm_start=feedback.fit_heads.n_iter) for result in results]
