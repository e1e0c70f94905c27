"""Which step a fit returns: the best refresh, kept only when it beats the warm start beyond noise.

The feedback objective of a refresh is an estimate from a finite set of judging rows
(the out-of-fold rows, or the validation rows). With a tail class of ``k`` rows its
recall moves in steps of ``1 / k``, and the arg max over twenty refreshes of such
estimates is mostly luck (the winner's curse): it lost test min recall against the
warm start on long-tailed digits with tails of 2 to 4 rows (issue 31). So the fit
measures its uncertainty with a paired bootstrap over the judging rows:

* ``B`` resamples are drawn once per fit, within each class (a class keeps its number
  of judging rows; rows are drawn in proportion to their weight), so every resample
  judges every class the full feedback judges;
* at each refresh, the objective of that refresh's predictions is computed on every
  resample (the same resamples for every refresh: the comparisons are paired);
* the gain of the best refresh (the arg max of the full-data objective, as before) over
  the warm start is estimated less the bootstrap estimate of the selection's optimism
  (Efron's optimism correction: each resample's arg max over refreshes, judged on the
  resample, against the same refresh judged on the full feedback), with the bootstrap
  standard deviation of the paired difference;
* the best refresh is returned only if it beats the warm start (step 0) on at least
  ``confidence`` of the resamples and its corrected gain is positive; otherwise the
  warm start is returned (``confidence`` 0: the best refresh, whatever the noise);
* early verdict, where some class is judged on fewer than :data:`VERDICT_ROWS` rows (the
  feedback's recall of it moves in steps of more than a tenth): when after
  :data:`VERDICT_REFRESHES` refreshes no refresh has beaten the warm start on half of the
  resamples, the loop can stop (the fit then returns its warm start at a fraction of a
  full loop's cost). Larger classes are left alone: with 25 validation rows a class,
  gains that showed only after 5 refreshes were real (the quickstart's split).

The constants were chosen on traces of seeds 100 to 119 (``benchmarks/selection_traces.py``,
``benchmarks/selection_notes.md``), which no reported table uses.
"""

from dataclasses import dataclass

import numpy as np

from ._lazy import torch
from ._limits import LIMITS
from ._memory import release_freed_memory

#: Resamples of the judging rows (fewer when the rows are many: :func:`n_resamples`).
N_RESAMPLES = 200
#: Fewest resamples, whatever the rows.
MIN_RESAMPLES = 50
#: The early verdict is for feedback that judges some class on fewer rows than this...
VERDICT_ROWS = 10
#: ...is taken after this many refreshes past the warm start (3 and 4 took the same decisions
#: on the coarse tuning problems; 3 costs less)...
VERDICT_REFRESHES = 3
#: ...and stops a fit none of whose refreshes beat the warm start on this share of resamples.
VERDICT_PROBABILITY = 0.5


def n_resamples(n_rows, limits=LIMITS):
    """Resamples for ``n_rows`` judging rows: :data:`N_RESAMPLES`, fewer when their counts
    would hold more than ``limits.resample_values`` (at least :data:`MIN_RESAMPLES`)."""
    return int(min(N_RESAMPLES, max(MIN_RESAMPLES, limits.resample_values // max(n_rows, 1))))


def _signed_unless_bytes(dtype):
    """A dtype every torch release holds for counts of ``dtype`` (unsigned): uint8, or the signed
    type twice as wide (torch before 2.3 has no uint16 or uint32)."""
    return dtype if dtype == np.uint8 else np.dtype(f"int{2 * 8 * dtype.itemsize}")


def stratified_resample_counts(y, weights, n_classes, n_draws, rng, limits=LIMITS):
    """How often each row is drawn in each of ``n_draws`` stratified bootstrap resamples:
    (n_draws, n) counts, in the smallest unsigned integer type that holds the largest
    class's size (a row is drawn at most that often: nothing clips; uint8 clipped a heavy
    row of a large class at 255 draws).

    Within each class, as many rows are drawn (with replacement) as the class has rows of
    positive weight, each in proportion to its weight (``weights`` None: uniformly), so
    every resample judges the classes the rows judge. Vectorised: each draw picks a
    uniform position among its class's rows, or with unequal weights a uniform point of
    its class's stretch of the rows' cumulative weight.
    """
    n = y.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    positive = w > 0
    order = np.flatnonzero(positive)[np.argsort(y[positive], kind="stable")]  # drawable rows, by class
    uniform = weights is None or bool((w[positive] == w[positive][0]).all())
    sizes = np.bincount(y[positive], minlength=n_classes)
    firsts = np.cumsum(sizes) - sizes
    cum = np.cumsum(w[order])
    totals = np.bincount(y[order], weights=w[order], minlength=n_classes)
    starts = np.cumsum(totals) - totals
    slot_class = y[positive]  # one draw per row of positive weight, from its class
    counts = np.zeros((n_draws, n), dtype=np.min_scalar_type(int(sizes.max(initial=0))))

    def draw(size):  # the counts of ``size`` resamples; its temporaries go when it returns
        u = rng.random_sample((size, slot_class.size))
        if uniform:  # equal weights: a uniform position within the class
            position = firsts[slot_class] + (u * sizes[slot_class]).astype(np.int64)
        else:  # a uniform point of the class's stretch of the cumulative weight
            position = np.searchsorted(cum, starts[slot_class] + u * totals[slot_class], side="right")
        picked = order[np.minimum(position, order.size - 1)]
        flat = (np.arange(size)[:, np.newaxis] * n + picked).ravel()
        return np.bincount(flat, minlength=size * n).reshape(size, n)

    per_chunk = max(1, limits.resample_draw_chunk // max(slot_class.size, 1))
    for first in range(0, n_draws, per_chunk):
        size = min(per_chunk, n_draws - first)
        counts[first:first + size] = draw(size)
    release_freed_memory()  # the chunks' temporaries, which glibc would keep (_memory.py)
    return counts


@dataclass(frozen=True)
class Choice:
    """The selection's verdict: the refresh returned (an index into the refreshes, 0 for
    the warm start), the best refresh and the share of resamples on which it beat the
    warm start, and the estimated gain of the returned model over the warm start with
    its bootstrap standard deviation (0 and 0 when the warm start is returned)."""

    index: int
    best_index: int
    probability: float
    gain: float
    gain_std: float
    best_gain: float


class StepSelection:
    """The paired bootstrap behind a fit's choice of step (see the module docstring).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Encoded labels of the judging rows.
    weights : ndarray of shape (n,) or None
        Their weights.
    n_classes : int
    objective : Objective
        Evaluated on every resample: from its rates where the objective's
        ``values_from_rates`` computes its own ``value`` (see
        :meth:`~skselmix.Objective.rates_give_value`), else on each resample's
        confusion matrix, a float64 torch tensor as in the fit.
    class_counts : ndarray of shape (K,)
        What the objective reads of the training counts.
    rng : numpy.random.RandomState
        Draws the resamples.
    confidence : float
        Share of resamples on which the best refresh must beat the warm start.
    device : str or torch.device, default="cpu"
        Where the counts are held and multiplied (the fit's device).
    limits : Limits, default=LIMITS
        The memory budgets (:mod:`skselmix._limits`): resamples, dense product, blocks.
    """

    def __init__(self, y, weights, n_classes, objective, class_counts, rng, confidence, device="cpu", limits=LIMITS):
        self.y = np.asarray(y, dtype=np.int64)
        self.k = n_classes
        self.objective, self.class_counts = objective, class_counts
        self._from_rates = objective.rates_give_value()
        self.confidence = float(confidence)
        # Tensors on the fit's device, once: every refresh multiplies them (a torch product, so
        # numpy's BLAS threads never wake between torch's steps). The counts stay in their small
        # integer type (a quarter of float32's bytes: 49 MB against 195 MB at a million rows)
        # and become float32 a block at a time where they are multiplied.
        self.limits = limits
        counts = stratified_resample_counts(self.y, weights, n_classes, n_resamples(self.y.shape[0], limits), rng,
                                            limits)
        self.counts = torch.as_tensor(counts.astype(_signed_unless_bytes(counts.dtype), copy=False), device=device)
        self._y = torch.as_tensor(self.y, device=device)
        # Rows drawn from each class in every resample (its rows of positive weight): the
        # denominators of its recall; at least 1, so a class without rows reads 0.
        positive = np.ones(self.y.shape[0], dtype=bool) if weights is None else np.asarray(weights) > 0
        judged = np.bincount(self.y[positive], minlength=n_classes)
        self.drawn_per_class = np.maximum(judged, 1).astype(np.float64)
        self._share = torch.as_tensor(1.0 / self.drawn_per_class[self.y], device=device, dtype=torch.float32)
        self.coarse = bool(judged[judged > 0].min(initial=VERDICT_ROWS) < VERDICT_ROWS)
        self.values = []  # per refresh: the objective on every resample, (B,)

    def add(self, predictions):
        """Record a refresh's judged predictions (a tensor of class indices on the fit's
        device, or an array); the share of resamples on which it beats the warm start (the
        first refresh recorded), NaN for the warm start itself."""
        predictions = torch.as_tensor(predictions, device=self.counts.device).long()
        values = self._values_from_rates(predictions) if self._from_rates else None
        if values is None:
            values = self._values_from_matrices(predictions)
        values = np.asarray(values, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"it returned {values[~np.isfinite(values)][0]} on a bootstrap resample of the feedback "
                             "rows; it must return a finite number for every confusion matrix")
        self.values.append(values)
        return float("nan") if len(self.values) == 1 else self.probability(len(self.values) - 1)

    def _values_from_rates(self, predictions):
        """Every resample's objective from its recalls and coverages (built-in objectives):
        one product of the resample counts with a (rows x 2K) matrix whose row holds the
        row's share of its class's recall and of its prediction's coverage; no K x K matrix
        per resample."""
        k = self.k
        correct = (predictions == self._y).to(torch.float32) * self._share
        rates = self._per_resample(torch.cat([self._y, k + predictions]), torch.cat([correct, self._share / k]), 2 * k)
        return self.objective.values_from_rates(rates[:, :k], rates[:, k:], self.class_counts)

    def _values_from_matrices(self, predictions):
        """Every resample's objective from its balanced confusion matrix (custom objectives),
        handed to ``value`` as the fit hands it: float64 torch tensors, the training counts too."""
        k = self.k
        cells = self._per_resample(self._y * k + predictions, torch.ones_like(self._share), k * k)
        confusions = torch.as_tensor(cells.reshape(-1, k, k) / (self.drawn_per_class[:, np.newaxis] * k))
        counts = None if self.class_counts is None else torch.as_tensor(self.class_counts, dtype=torch.float64)
        return [float(self.objective.value(confusion, counts)) for confusion in confusions]

    def _per_resample(self, columns, values, width):
        """(B, width) float64 numpy: for each resample, the drawn rows' ``values`` summed by
        column (``columns`` and ``values`` list one or two entries per row: a row's entries are
        the first, then the second, ``n`` of them). Dense up to ``limits.dense_resample_product``
        entries (a matrix product), else a sparse product."""
        n = self._y.shape[0]
        if n * width <= self.limits.dense_resample_product:
            rows = torch.arange(columns.shape[0], device=columns.device) % n
            matrix = torch.zeros((n, width), dtype=torch.float32, device=columns.device)
            matrix.index_put_((rows, columns), values, accumulate=True)
            return (self.counts.to(torch.float32) @ matrix).cpu().numpy().astype(np.float64)
        product = torch.zeros((width, self.counts.shape[0]), dtype=torch.float32, device=columns.device)
        # Each row's entries sit at r, n + r, ...: a block of rows is the same slice of each part.
        parts = columns.shape[0] // n
        columns, values = columns.view(parts, n), values.view(parts, n)
        step = max(1, self.limits.resample_chunk // self.counts.shape[0])
        for start in range(0, n, step):  # the rows a block at a time: float32 counts of a block only
            stop = min(start + step, n)
            block_rows = torch.arange(stop - start, device=columns.device).repeat(parts)
            # Indices in range by construction (classes below K, rows of the block): say so,
            # rather than leave torch to warn that it skipped the check.
            matrix = torch.sparse_coo_tensor(
                torch.stack([columns[:, start:stop].reshape(-1), block_rows]), values[:, start:stop].reshape(-1),
                (width, stop - start), check_invariants=False,
            )
            product += torch.sparse.mm(matrix, self.counts[:, start:stop].T.to(torch.float32))
        return product.T.cpu().numpy().astype(np.float64)

    def probability(self, index):
        """Share of resamples on which refresh ``index`` beats the warm start."""
        return float(np.mean(self.values[index] > self.values[0]))

    def futile(self):
        """The early verdict: some class judged on fewer than :data:`VERDICT_ROWS` rows,
        :data:`VERDICT_REFRESHES` refreshes past the warm start, and none of them beat it on
        :data:`VERDICT_PROBABILITY` of the resamples."""
        done = len(self.values) - 1
        if not self.coarse or done < VERDICT_REFRESHES:
            return False
        return max(self.probability(i) for i in range(1, done + 1)) < VERDICT_PROBABILITY

    def choose(self, best_index, full_values):
        """The :class:`Choice` given the best refresh ``best_index`` (the arg max of the
        full-data objective, ``full_values`` per refresh)."""
        if best_index == 0:
            return Choice(0, 0, float("nan"), 0.0, 0.0, 0.0)
        values = np.stack(self.values)  # (R, B)
        full = np.asarray(full_values, dtype=np.float64)
        diff = values[best_index] - values[0]
        # Efron's optimism of the arg max: each resample picks its own best refresh and
        # judges it on itself; the full feedback judges the same refresh.
        picked = np.argmax(values, axis=0)
        optimism = float(np.mean((values[picked, np.arange(values.shape[1])] - values[0]) - (full[picked] - full[0])))
        # The optimism of a maximum is never negative; a negative bootstrap estimate (a skewed
        # objective: a coverage penalty) would report more than the fit's own history shows
        # (+3.005 against a best-minus-start of +2.43 on a user's K = 500 set).
        best_gain = float(full[best_index] - full[0]) - max(optimism, 0.0)
        probability = self.probability(best_index)
        if self.confidence > 0 and (probability < self.confidence or best_gain <= 0):
            return Choice(0, best_index, probability, 0.0, 0.0, best_gain)
        return Choice(best_index, best_index, probability, best_gain, float(diff.std()), best_gain)

    def values_of(self, index):
        """The objective of refresh ``index`` on every resample (paired across runs that share
        the resamples: the candidates of a search)."""
        return self.values[index]
