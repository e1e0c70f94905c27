"""Rows read a block at a time: the one home of input that is not one in-memory array.

A memory map (``np.memmap``, ``np.load(path, mmap_mode="r")``), an ``h5py`` dataset, a
Zarr array or a Dask array (anything with ``shape``, ``dtype`` and row slicing) is read
where it lies, a block of rows at a time, instead of being converted to one numpy array
(a copy the size of the input, or a Dask array computed into this process). Fitting
and prediction bound their extra memory by the block, not by the input.

Nothing here imports h5py, zarr or dask: a Dask array is recognised only when
``dask.array`` is already imported (it must be, for the user to hold one).
"""

import sys

import numpy as np
import scipy.sparse
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import validate_data

from ._limits import LIMITS


def row_blocks(n_rows, width, block_elements):
    """``(start, stop)`` of consecutive row blocks holding at most ``block_elements`` values
    of a ``width``-wide array (at least one row each)."""
    step = max(1, block_elements // max(width, 1))
    return ((start, min(start + step, n_rows)) for start in range(0, n_rows, step))


def is_dask_array(X):
    """Whether ``X`` is a Dask array (without importing dask)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def is_out_of_core(X):
    """Whether ``X`` is read in row blocks where it lies (see the module) rather than
    converted to one numpy array: a memory map, or an array-like with ``shape``,
    ``dtype`` and row slicing that is not numpy, torch, sparse or pandas."""
    if isinstance(X, np.memmap):
        return True
    if isinstance(X, np.ndarray) or scipy.sparse.issparse(X) or hasattr(X, "iloc"):
        return False
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(X, torch.Tensor):
        return False
    return all(hasattr(X, name) for name in ("shape", "dtype", "__getitem__"))


def _positions(which):
    """Row numbers of a boolean mask, or integer row numbers as ``intp``."""
    which = np.asarray(which)
    return np.flatnonzero(which) if which.dtype == bool else which.astype(np.intp)


class RowSource:
    """A 2-D out-of-core array (or a subset of its rows) that answers numpy blocks of rows.

    Indexing answers numpy arrays, as an in-memory ``X`` would: ``source[a:b]`` reads
    those rows, ``source[rows]`` gathers rows by index (reading, in increasing order, only
    the spans that hold them), ``source[i]`` one row. Every block read is checked finite.
    Integer and boolean inputs read as float64; float32 and float64 keep their dtype.

    Parameters
    ----------
    array : array-like with ``shape``, ``dtype`` and row slicing
    rows : ndarray of int, default=None
        Increasing row numbers of ``array`` this source holds; None: every row.
    name : str, default="X"
        What messages call it.
    """

    ndim = 2

    def __init__(self, array, rows=None, name="X"):
        shape = tuple(int(size) if size == size else -1 for size in array.shape)  # a Dask shape may hold NaN
        if len(shape) != 2:
            raise ValueError(
                f"Expected a 2D array for {name}, got a {len(shape)}D {type(array).__name__} of shape {shape}: "
                "reshape it to (n_samples, n_features)."
            )
        if shape[0] < 0:
            raise ValueError(f"{name} is a Dask array of unknown row count: call {name}.compute_chunk_sizes() first.")
        dtype = np.dtype(array.dtype)
        if dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers (int, bool or float); its dtype is {dtype}.")
        self._array, self._rows, self.name = array, rows, name
        self.shape = (shape[0] if rows is None else int(rows.shape[0]), shape[1])
        self.dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)

    def __len__(self):
        return self.shape[0]

    def subset(self, which):
        """The rows ``which`` (a boolean mask or increasing row numbers) as a source, read lazily."""
        return RowSource(self._array, self._base(_positions(which)), self.name)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step == 1 and self._rows is None:
                return self._read(start, max(start, stop))
            return self._gather(self._base(np.arange(start, stop, step)))
        if isinstance(key, (int, np.integer)):
            index = int(key) + (self.shape[0] if key < 0 else 0)
            if not 0 <= index < self.shape[0]:
                raise IndexError(f"row {int(key)} is out of bounds for {self.name} with {self.shape[0]} rows")
            return self._gather(self._base(np.array([index])))[0]
        positions = _positions(key)
        positions = np.where(positions < 0, positions + self.shape[0], positions)
        if positions.size and not (0 <= positions.min() and positions.max() < self.shape[0]):
            raise IndexError(f"row indices must lie in [-{self.shape[0]}, {self.shape[0]}) for {self.name}")
        return self._gather(self._base(positions))

    def __array__(self, dtype=None, copy=None):
        # What a caller converting the whole source asks for (a user's cv splitter): it reads every row.
        return np.asarray(self[:], dtype=dtype)

    def dask_array(self):
        """The source's rows as a lazy Dask array when it reads one (a subset indexes it
        lazily), else None: what :mod:`skselmix._cluster` runs its passes on."""
        if not is_dask_array(self._array):
            return None
        return self._array if self._rows is None else self._array[self._rows]

    def _base(self, positions):
        return positions if self._rows is None else self._rows[positions]

    def _read(self, start, stop):
        """Rows ``start:stop`` of the underlying array, as a checked numpy block."""
        block = self._array[start:stop]
        if is_dask_array(block):
            block = block.compute()
        block = np.asarray(block, dtype=self.dtype)
        assert_all_finite(block, input_name=self.name)
        return block

    def _gather(self, base_rows):
        """Rows ``base_rows`` (any order) of the underlying array: the spans holding them are
        read in increasing order, each at most a block long."""
        out = np.empty((base_rows.shape[0], self.shape[1]), dtype=self.dtype)
        order = np.argsort(base_rows, kind="stable")
        ordered = base_rows[order]
        step = max(1, LIMITS.prediction_block // max(self.shape[1], 1))
        i = 0
        while i < ordered.shape[0]:
            low = int(ordered[i])
            high = min(low + step, int(ordered[-1]) + 1)
            j = int(np.searchsorted(ordered, high, side="left"))
            out[order[i:j]] = self._read(low, high)[ordered[i:j] - low]
            i = j
        return out


def blocks_of(X, rows=None, width=None, block_elements=None):
    """``(positions, block)`` pairs covering ``X[rows]`` (every row for None): ``block`` is a
    numpy array of rows of ``X`` and ``positions`` where they go in the result (a slice,
    or row numbers when an out-of-core source is gathered in its own order).

    ``width`` (default ``X``'s) sizes the blocks: the widest array computed per row;
    ``block_elements`` (default ``LIMITS.prediction_block``, :mod:`skselmix._limits`) bounds a
    block's values.
    """
    block_elements = LIMITS.prediction_block if block_elements is None else block_elements
    n_rows = X.shape[0] if rows is None else len(rows)
    width = X.shape[1] if width is None else width
    if rows is None:
        for start, stop in row_blocks(n_rows, width, block_elements):
            yield slice(start, stop), X[start:stop]
        return
    if isinstance(X, RowSource):
        # Gathered in increasing row order, so that each block reads nearby spans once.
        order = np.argsort(rows, kind="stable")
        for start, stop in row_blocks(n_rows, width, block_elements):
            yield order[start:stop], X[rows[order[start:stop]]]
        return
    for start, stop in row_blocks(n_rows, width, block_elements):
        yield slice(start, stop), X[rows[start:stop]]


def validated_source(estimator, X, *, reset, name="X"):
    """An out-of-core ``X`` as a :class:`RowSource`, with ``estimator``'s feature checks
    (``n_features_in_``, set when ``reset``) and no read of its rows."""
    source = RowSource(X, name=name)
    for count, what in zip(source.shape, ("sample", "feature")):
        if count < 1:
            raise ValueError(
                f"Found array with {count} {what}(s) (shape={source.shape}) while a minimum of 1 is required by "
                f"{type(estimator).__name__}."
            )
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    return source


def take_rows(X, which):
    """The rows ``which`` (a boolean mask, or a slice) of an in-memory array or a :class:`RowSource`
    (lazily, as a source)."""
    if isinstance(X, RowSource) and not isinstance(which, slice):
        return X.subset(which)
    return X[which]
