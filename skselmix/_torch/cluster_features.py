"""A cross-fitted fit's features on a Dask cluster: the scaled rows stay on the workers.

:class:`ClusterFeatures` stands where a fit's in-memory features (a float32 tensor) stand,
for the linear heads of a cross-fitted fit whose ``X`` is a Dask array. It holds the
scaled float32 rows as a persisted Dask array (on the workers of a ``distributed.Client``
when one is active) and answers the fit's full-data passes as one task per row chunk
(:func:`skselmix._cluster.chunk_results`), each running the arithmetic the in-memory fit
runs on its rows:

* the warm start's loss and gradient at every L-BFGS evaluation
  (:meth:`ClusterFeatures.loss_evaluator`: :func:`~.warm_start.rows_evaluator` on each chunk) and the
  preconditioner's second moment;
* class means (the gains' prototypes) and the out-of-fold predictions that judge each
  refresh;
* the SGD steps' anchor and partner rows, gathered by index (:meth:`ClusterFeatures.index_select`).

The chunks' gradients and sums are added in a tree of tasks on the workers: one K x D
gradient an evaluation, class sums and a chunk's predicted classes reach the client. The
results equal the in-memory fit's up to float summation order (chunks are summed in float64).
"""

import functools
import operator
from dataclasses import replace

import numpy as np
import torch

from .._cluster import add_parts, aligned, chunk_results, gather_rows, whole_rows
from .._limits import LIMITS
from .device import exact_dtype, profile_for
from .features import mapped_block, mapping_dtype
from .feedback import fold_predictions
from .heads import LinearStack
from .warm_start import RowGroup, rows_evaluator


def scaled_chunk(chunk, offset, scale):
    """A chunk of user rows mapped as :func:`~.features.scaled_float32_tensor` maps a block:
    float32, tiny entries zero."""
    chunk = np.asarray(chunk)
    dtype = mapping_dtype(chunk.dtype)
    tensor = functools.partial(torch.as_tensor, dtype=dtype)
    return mapped_block(tensor(chunk), tensor(offset), tensor(scale), torch.device("cpu")).numpy()


class ClusterFeatures:
    """The scaled float32 features of a fit's rows, persisted on a Dask cluster.

    Answers what the fit asks of its features tensor: ``shape``, ``dtype``, ``device`` (the
    client's CPU, where heads and gathered rows live), ``element_size()``, and rows by
    index (``index_select``, ``x[rows]``), plus the map-reduce passes below.

    Parameters
    ----------
    array : dask.array.Array of shape (n, d)
        The user's rows (any row chunks); mapped by ``fmap`` and persisted here.
    fmap : FeatureMap
        The fit's feature map.
    """

    dtype = torch.float32
    device = torch.device("cpu")
    ndim = 2

    def __init__(self, array, fmap):
        array = whole_rows(array)
        self.array = array.map_blocks(scaled_chunk, fmap.offset, fmap.scale, dtype=np.float32).persist()
        self.shape = tuple(int(size) for size in array.shape)
        self._fold = (None, None)  # the fold tensor last asked about, and its persisted copy

    def element_size(self):
        return 4

    def __len__(self):
        return self.shape[0]

    def index_select(self, dim, rows):
        """The rows ``rows`` (a tensor of indices, any order) as a float32 tensor here."""
        if dim != 0:
            raise ValueError("ClusterFeatures selects rows only")
        return torch.from_numpy(gather_rows(self.array, torch.as_tensor(rows).cpu().numpy()))

    def __getitem__(self, rows):
        if isinstance(rows, slice):
            rows = torch.arange(self.shape[0])[rows]
        return self.index_select(0, rows)

    def aligned(self, values):
        """Per-row ``values`` (a tensor or array, rows first) persisted beside the chunks."""
        values = values.cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        return aligned(values, self.array)

    def results(self, kernel, row_args=(), args=(), combine=None):
        """``kernel`` on every chunk, or their ``combine`` (:func:`skselmix._cluster.chunk_results`)."""
        return chunk_results(self.array, kernel, row_args, args, combine)

    def prefetched(self, request, chunks):
        """``request.sources`` with these features replaced by the rows its SGD steps will
        draw (chunks of ``chunks`` steps, as ``heads.linear_sgd_steps`` takes them), gathered
        ahead a window of steps at a time (:class:`PrefetchedRows`) instead of one round trip
        to the cluster per chunk (2,000 of them, 44 ms each, took 88 of a 110 s fit).

        The rows are known ahead because a run's draws depend on its generator alone: the
        steps' draws are replayed here on a copy of it, recording which rows they gather.
        """
        generator = torch.Generator(device=request.draws.generator.device)
        generator.set_state(request.draws.generator.get_state())
        draws = replace(request.draws, generator=generator)
        recorder = _RecordedRows(self.shape)
        sources = request.sources._replace(features=recorder)
        for chunk in chunks:
            draws.mixed_chunk(request.heads.coef.shape[0], request.pairs, sources, chunk, request.heads.coef.dtype)
        return request.sources._replace(features=PrefetchedRows(self, recorder.calls))

    # ---------------------------------------------------------------- passes
    def loss_evaluator(self, y, weights, offset, n_heads, k):
        """``evaluate(coef (H, K * d), intercept (H, K))`` of an L-BFGS run of ``n_heads``
        heads in which every head reads every row with ``weights`` (n, H) (zero for a row of
        the head's own fold; None: all one), as :func:`~.warm_start.rows_evaluator` with one
        group of every row: each evaluation is one task per chunk, summed here."""
        labels = self.aligned(y)
        row_weights = None if weights is None else self.aligned(weights)
        offset = None if offset is None else offset.cpu().numpy()
        profile = profile_for(self.device)
        d = self.shape[1]

        def evaluate(coef, intercept):
            loss, grad_coef, grad_intercept = self.results(
                _chunk_loss_and_gradient, (labels, row_weights),
                (coef.reshape(n_heads * k, d).numpy(), intercept.reshape(-1).numpy(), offset, n_heads, k, profile),
                combine=add_parts)
            grad_coef, grad_intercept = torch.from_numpy(grad_coef), torch.from_numpy(grad_intercept)
            loss = torch.tensor(loss, dtype=exact_dtype(self.device))
            return loss, grad_coef.view(n_heads, k * d), grad_intercept.view(n_heads, k)

        return evaluate

    def second_moment(self, sample_weight=None):
        """The (weighted) mean of ``x x^T`` over the rows (d, d) float64: the preconditioner's ``S``."""
        weights = None if sample_weight is None else sample_weight.double().cpu().numpy()
        total = self.results(_chunk_second_moment, (weights,), combine=operator.add)
        return torch.from_numpy(total / (self.shape[0] if weights is None else float(weights.sum())))

    def class_means(self, y, n_classes, weights=None):
        """What :func:`~.feedback.class_means` returns for these rows."""
        y = y.cpu().numpy()
        weights = None if weights is None else weights.double().cpu().numpy()
        sums = self.results(_chunk_class_sums, (y, weights), (n_classes,), combine=operator.add)
        counts = np.bincount(y, weights=weights, minlength=n_classes)
        means = sums / np.where(counts > 0, counts, 1.0)[:, np.newaxis]
        return torch.from_numpy(means.astype(np.float32)), torch.from_numpy(counts > 0)

    def fold_predictions(self, fold, coef, intercept):
        """Each row's class by the head of its fold: ``argmax x coef[fold]^T + intercept[fold]``
        (``fold`` is persisted beside the chunks once, at the first call with that tensor)."""
        if fold is not self._fold[0]:
            self._fold = (fold, self.aligned(fold))
        parts = self.results(_chunk_fold_predictions, (self._fold[1],), (coef.cpu().numpy(), intercept.cpu().numpy()))
        return torch.from_numpy(np.concatenate(parts))


class _RecordedRows:
    """Features that record which rows are asked for and answer zeros (the draws' replay)."""

    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, shape):
        self.shape, self.calls = shape, []

    def index_select(self, dim, rows):
        self.calls.append(torch.as_tensor(rows).cpu())
        return torch.zeros((rows.shape[0], self.shape[1]), dtype=self.dtype)

    def __getitem__(self, rows):
        return self.index_select(0, rows)


class PrefetchedRows:
    """The rows a run of SGD steps asks for, in the order it asks (``calls``), gathered from
    ``features`` a window of calls at a time (at most ``budget_elements`` values, and at
    least one call): the steps get the very rows a direct gather would give."""

    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, features, calls, budget_elements=LIMITS.prefetch_values):
        self.shape, self._features, self._calls = features.shape, features, calls
        self._budget = max(1, budget_elements // max(self.shape[1], 1))  # rows a window may hold
        self._next, self._window_end, self._rows, self._block = 0, 0, None, None

    def index_select(self, dim, rows):
        rows = torch.as_tensor(rows).cpu()
        if self._next >= self._window_end:
            self._load_window()
        if self._next >= len(self._calls) or not torch.equal(rows, self._calls[self._next]):
            raise RuntimeError("the SGD steps asked for rows their replayed draws did not: a bug in skselmix")
        self._next += 1
        return self._block.index_select(0, torch.searchsorted(self._rows, rows))

    def __getitem__(self, rows):
        return self.index_select(0, rows)

    def _load_window(self):
        """Gather the distinct rows of the next calls, as many as the budget holds."""
        end, held = self._next, 0
        while end < len(self._calls) and (end == self._next or held + self._calls[end].shape[0] <= self._budget):
            held += self._calls[end].shape[0]
            end += 1
        self._rows = torch.unique(torch.cat(self._calls[self._next:end])) if end > self._next else torch.zeros(
            0, dtype=torch.long)
        self._block = self._features.index_select(0, self._rows)
        self._window_end = end


# Tasks: module-level functions, so that a worker process imports them.

def _chunk_loss_and_gradient(chunk, y, weights, coef, intercept, offset, h, k, profile):
    # The in-memory evaluation of one group of every row, on the chunk's rows.
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    weights = None if weights is None else torch.as_tensor(np.asarray(weights), dtype=torch.float32)
    offset = None if offset is None else torch.as_tensor(offset, dtype=torch.float32)
    every_row = RowGroup(None, None, y, weights, offset, h * k, profile)
    evaluate = rows_evaluator(torch.from_numpy(np.asarray(chunk)), [every_row], h, k)
    with torch.no_grad():
        loss, grad_coef, grad_intercept = evaluate(torch.from_numpy(coef).view(h, -1),
                                                   torch.from_numpy(intercept).view(h, k))
    return float(loss), grad_coef.double().numpy(), grad_intercept.double().numpy()


def _chunk_second_moment(chunk, weights):
    x = torch.from_numpy(np.asarray(chunk))
    if weights is None:
        return (x.T @ x).double().numpy()
    return ((x * torch.as_tensor(weights, dtype=torch.float32).unsqueeze(1)).T @ x).double().numpy()


def _chunk_class_sums(chunk, y, weights, n_classes):
    x = torch.from_numpy(np.asarray(chunk)).double()
    sums = torch.zeros((n_classes, x.shape[1]), dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.long)
    sums.index_add_(0, y, x if weights is None else x * torch.as_tensor(weights).unsqueeze(1))
    return sums.numpy()


def _chunk_fold_predictions(chunk, fold, coef, intercept):
    fold = torch.as_tensor(np.asarray(fold))
    fold_rows = [torch.nonzero(fold == f).squeeze(1) for f in range(coef.shape[0])]
    stack = LinearStack(torch.from_numpy(coef), torch.from_numpy(intercept))
    return fold_predictions(torch.from_numpy(np.asarray(chunk)), fold_rows, stack).numpy()
