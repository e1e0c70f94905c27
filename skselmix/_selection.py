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

#: Resamples of the judging rows (fewer when the rows are many: :func:`n_resamples`).
N_RESAMPLES = 200
#: Bytes the resample counts (uint8, resamples x rows) may take.
RESAMPLE_BYTES = 40_000_000
#: Fewest resamples, whatever the rows.
MIN_RESAMPLES = 50
#: The early verdict is for feedback that judges some class on fewer rows than this...
VERDICT_ROWS = 10
#: ...is taken after this many refreshes past the warm start (3 and 4 took the same decisions
#: on the coarse tuning problems; 3 costs less)...
VERDICT_REFRESHES = 3
#: ...and stops a fit none of whose refreshes beat the warm start on this share of resamples.
VERDICT_PROBABILITY = 0.5
#: Elements of the (resamples x confusion cells) count matrix built at once.
_CHUNK_ELEMENTS = 1 << 22


def n_resamples(n_rows):
    """Resamples for ``n_rows`` judging rows: :data:`N_RESAMPLES`, fewer when their counts
    would take more than :data:`RESAMPLE_BYTES` (at least :data:`MIN_RESAMPLES`)."""
    return int(min(N_RESAMPLES, max(MIN_RESAMPLES, RESAMPLE_BYTES // max(n_rows, 1))))


def stratified_resample_counts(y, weights, n_classes, n_draws, rng):
    """How often each row is drawn in each of ``n_draws`` stratified bootstrap resamples:
    (n_draws, n) uint8 counts.

    Within each class, as many rows are drawn (with replacement) as the class has rows of
    positive weight, each in proportion to its weight (``weights`` None: uniformly), so
    every resample judges the classes the rows judge. Vectorised: each draw picks a
    point uniformly in its class's stretch of the rows' cumulative weight.
    """
    n = y.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(y, kind="stable")  # rows grouped by class
    cum = np.cumsum(w[order])
    totals = np.bincount(y, weights=w, minlength=n_classes)
    ends = np.cumsum(totals)
    starts = ends - totals
    slot_class = y[w > 0]  # one draw per row of positive weight, from its class
    counts = np.zeros((n_draws, n), dtype=np.uint8)
    per_chunk = max(1, _CHUNK_ELEMENTS // max(slot_class.size, 1))
    for first in range(0, n_draws, per_chunk):
        size = min(per_chunk, n_draws - first)
        u = rng.random_sample((size, slot_class.size))
        targets = starts[slot_class] + u * totals[slot_class]
        picked = order[np.minimum(np.searchsorted(cum, targets, side="right"), n - 1)]
        flat = (np.arange(size)[:, np.newaxis] * n + picked).ravel()
        drawn = np.bincount(flat, minlength=size * n).reshape(size, n)
        counts[first:first + size] = np.minimum(drawn, np.iinfo(np.uint8).max)
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
        Evaluated on numpy confusion matrices.
    class_counts : ndarray of shape (K,)
        What the objective reads of the training counts.
    rng : numpy.random.RandomState
        Draws the resamples.
    confidence : float
        Share of resamples on which the best refresh must beat the warm start.
    """

    def __init__(self, y, weights, n_classes, objective, class_counts, rng, confidence):
        self.y = np.asarray(y, dtype=np.int64)
        self.k = n_classes
        self.objective, self.class_counts = objective, class_counts
        self.confidence = float(confidence)
        self.counts = stratified_resample_counts(self.y, weights, n_classes, n_resamples(self.y.shape[0]), rng)
        # Rows drawn from each class in every resample (its rows of positive weight): the
        # denominators of its recall; at least 1, so a class without rows reads 0.
        positive = np.ones(self.y.shape[0], dtype=bool) if weights is None else np.asarray(weights) > 0
        judged = np.bincount(self.y[positive], minlength=n_classes)
        self.drawn_per_class = np.maximum(judged, 1).astype(np.float64)
        self.coarse = bool(judged[judged > 0].min(initial=VERDICT_ROWS) < VERDICT_ROWS)
        self.values = []  # per refresh: the objective on every resample, (B,)

    def add(self, predictions):
        """Record a refresh's judged predictions; the share of resamples on which it beats
        the warm start (the first refresh recorded), NaN for the warm start itself."""
        predictions = np.asarray(predictions, dtype=np.int64)
        values = self._values_from_rates(predictions)
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
        two sparse products of the resample counts, no K x K matrix per resample."""
        n, k = self.y.shape[0], self.k
        rows = np.arange(n)
        correct = (predictions == self.y) / self.drawn_per_class[self.y]
        recall_rows = _sparse(rows, self.y, correct, (n, k))
        coverage_rows = _sparse(rows, predictions, 1.0 / (k * self.drawn_per_class[self.y]), (n, k))
        recalls, coverages = self._chunked(lambda counts: (_times(counts, recall_rows), _times(counts, coverage_rows)),
                                           k)
        return self.objective.values_from_rates(recalls, coverages, self.class_counts)

    def _values_from_matrices(self, predictions):
        """Every resample's objective from its balanced confusion matrix (custom objectives)."""
        n, k = self.y.shape[0], self.k
        cells = _sparse(np.arange(n), self.y * k + predictions, np.ones(n), (n, k * k))
        by_cell = self._chunked(lambda counts: (_times(counts, cells),), k * k)[0]
        confusions = by_cell.reshape(-1, k, k) / (self.drawn_per_class[:, np.newaxis] * k)
        return [float(self.objective.value(confusion, self.class_counts)) for confusion in confusions]

    def _chunked(self, products, width):
        """``products`` of the resample counts, a block of resamples at a time (each block's
        results at most ``_CHUNK_ELEMENTS`` wide), concatenated."""
        per_chunk = max(1, _CHUNK_ELEMENTS // max(width, 1))
        parts = [products(self.counts[first:first + per_chunk].astype(np.float64))
                 for first in range(0, self.counts.shape[0], per_chunk)]
        return [np.concatenate(part) for part in zip(*parts)]

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
        best_gain = float(full[best_index] - full[0]) - optimism
        probability = self.probability(best_index)
        if self.confidence > 0 and (probability < self.confidence or best_gain <= 0):
            return Choice(0, best_index, probability, 0.0, 0.0, best_gain)
        return Choice(best_index, best_index, probability, best_gain, float(diff.std()), best_gain)

    def values_of(self, index):
        """The objective of refresh ``index`` on every resample (paired across runs that share
        the resamples: the candidates of a search)."""
        return self.values[index]


def _sparse(rows, columns, values, shape):
    """A (rows x columns) sparse matrix holding ``values``."""
    from scipy.sparse import csr_matrix

    return csr_matrix((values, (rows, columns)), shape=shape)


def _times(counts, matrix):
    """``counts @ matrix`` for dense resample counts (b, n) and a sparse (n, m) matrix."""
    return np.asarray((matrix.T @ counts.T).T)

