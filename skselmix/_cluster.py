"""Passes over a Dask array's row chunks where they live: the map-reduce of a fit on a cluster.

A fit whose ``X`` is a Dask array runs its full-data passes (column statistics, the warm
start's loss and gradient at each L-BFGS evaluation, out-of-fold predictions, class means)
as one task per row chunk on the Dask scheduler in use: the workers of a
``distributed.Client`` when one is active (the chunks stay on the workers that hold them),
else Dask's local threads. Only what the chunks sum to (a K x D gradient, class sums, added
in a tree of tasks there) or a chunk's predicted classes come back to the client.

Nothing here imports dask unless a Dask array is passed (``is_dask_array`` needs
``dask.array`` to be imported already, which it is when the user holds one).
"""

import functools
import uuid

import numpy as np
from sklearn.utils import assert_all_finite

from ._limits import LIMITS
from ._rows import RowSource, is_dask_array, row_blocks


def block_results(X, kernel, row_args=(), args=(), block_elements=LIMITS.prediction_block, combine=None):
    """``kernel(block, *row_parts, *args)`` for each block of rows of ``X``, in row order, or,
    with ``combine`` (a picklable function of two results), the results combined into one.

    The one form of a fit's passes over its rows: for a source that reads a Dask array
    (:meth:`~skselmix._rows.RowSource.dask_array`) a block is a row chunk and its kernel a
    task where the chunk lives (:func:`chunk_results`; its rows checked finite there, as
    :class:`~skselmix._rows.RowSource` checks the rows it reads); otherwise a block is
    ``X[start:stop]`` of at most ``block_elements`` values, computed here. ``row_args`` are
    None or arrays with one entry per row of ``X``, sliced like the rows. Here the results
    are combined left to right; on a cluster, in a tree of tasks on the workers.
    """
    array = X.dask_array() if isinstance(X, RowSource) else None
    if array is not None:
        return chunk_results(whole_rows(array), CheckedRows(kernel, X.dtype, X.name), row_args, args, combine)
    n_rows, width = X.shape
    results = (kernel(X[start:stop], *(None if arg is None else arg[start:stop] for arg in row_args), *args)
               for start, stop in row_blocks(n_rows, width, block_elements))
    return list(results) if combine is None else functools.reduce(combine, results)


class CheckedRows:
    """``kernel`` on a chunk of a user's rows, first made ``dtype`` and checked finite (the
    ``ValueError`` of an in-memory ``X``, raised on the worker and re-raised by Dask here)."""

    def __init__(self, kernel, dtype, name):
        self.kernel, self.dtype, self.name = kernel, dtype, name
        self.__name__ = kernel.__name__

    def __call__(self, chunk, *rest):
        chunk = np.asarray(chunk, dtype=self.dtype)
        assert_all_finite(chunk, input_name=self.name)
        return self.kernel(chunk, *rest)


def whole_rows(array):
    """``array`` (a 2-D Dask array) with every row chunk holding whole rows (one column chunk)."""
    return array if len(array.chunks[1]) == 1 else array.rechunk({1: -1})


def row_chunk_bounds(array):
    """``(start, stop)`` of each row chunk of ``array``, in row order."""
    stops = np.cumsum(array.chunks[0])
    return list(zip((stops - np.asarray(array.chunks[0])).tolist(), stops.tolist()))


def aligned(values, like):
    """``values`` (a numpy array with ``like``'s rows first) as a Dask array chunked like
    ``like``'s rows and persisted, so that each chunk's task finds its rows' labels or weights
    beside its features instead of receiving them from the client at every pass."""
    import dask.array as da

    values = np.asarray(values)
    return da.from_array(values, chunks=(like.chunks[0],) + values.shape[1:]).persist()


def chunk_results(array, kernel, row_args=(), args=(), combine=None):
    """``[kernel(chunk, *row_parts, *args) for each row chunk]``, computed as one task per chunk;
    with ``combine`` (a picklable function of two results), their combination, computed in a
    tree of tasks on the workers, so that the client receives one result (a K x D gradient)
    instead of one a chunk.

    ``array`` is a 2-D Dask array of whole rows (:func:`whole_rows`); each of ``row_args`` is
    None (passed as None), a Dask array aligned with ``array``'s rows (:func:`aligned`) or a
    numpy array with one entry per row (sliced at the chunk bounds here; for small arrays);
    ``args`` are passed to every task once (one key in the graph, not a copy per task).
    ``kernel`` must be a picklable module-level function (workers import it).
    """
    import dask

    chunks = array.to_delayed().ravel()
    bounds = row_chunk_bounds(array)
    parts = []
    for arg in row_args:
        if arg is None:
            parts.append([None] * len(chunks))
        elif is_dask_array(arg):
            parts.append(list(arg.to_delayed().ravel()))
        else:
            arg = np.asarray(arg)
            parts.append([arg[start:stop] for start, stop in bounds])
    shared = [dask.delayed(arg, pure=True) if isinstance(arg, np.ndarray) else arg for arg in args]
    # Keys named after the kernel (what a dashboard or task stream shows), unique to this pass.
    name = f"{getattr(kernel, '__name__', type(kernel).__name__)}-{uuid.uuid4().hex}"
    call = dask.delayed(kernel, pure=True)
    tasks = [call(chunk, *(part[i] for part in parts), *shared, dask_key_name=f"{name}-{i}")
             for i, chunk in enumerate(chunks)]
    if combine is None:
        return list(dask.compute(*tasks))
    join, level = dask.delayed(combine, pure=True), 0
    while len(tasks) > 1:  # pairs of neighbours, level by level
        level += 1
        tasks = [join(tasks[i], tasks[i + 1], dask_key_name=f"{name}-combine-{level}-{i}") if i + 1 < len(tasks)
                 else tasks[i] for i in range(0, len(tasks), 2)]
    return dask.compute(tasks[0])[0]


def add_parts(a, b):
    """Entry by entry sum of two equal tuples of numbers or arrays (a ``combine`` of sums)."""
    return tuple(x + y for x, y in zip(a, b))


def gather_rows(array, rows):
    """The rows ``rows`` (any order, repeats allowed) of a Dask array, as one numpy array: each
    distinct row is read once, from the chunk that holds it."""
    rows = np.asarray(rows, dtype=np.intp)
    unique, inverse = np.unique(rows, return_inverse=True)
    return np.asarray(array[unique].compute())[inverse]
