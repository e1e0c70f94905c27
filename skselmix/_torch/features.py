"""Moving user features onto the training device: rescaled, float32, in row blocks.

Working in blocks keeps peak memory at one float32 copy of ``X`` plus a block
(no float64 temporaries of the whole array), works on read-only and memory-mapped
input, and avoids overflow for extreme magnitudes (squares of 1e200 overflow
float64; rows are divided by the largest absolute value before squaring).
"""

import math
import tempfile

import numpy as np
import torch

from .._cluster import block_results
from .._fit_report import warn
from .._limits import LIMITS
from .._progress import PhaseProgress
from .._rows import RowSource, blocks_of
from .._rows import row_blocks as _row_blocks
from .device import exact_dtype, profile_for, zero_tiny_


def row_blocks(n_rows, width, block_elements=None):
    """``(start, stop)`` of consecutive row blocks holding at most ``block_elements`` values
    (default ``LIMITS.feature_block``) of a ``width``-wide array (at least one row each;
    :func:`skselmix._rows.row_blocks`)."""
    return _row_blocks(n_rows, width, LIMITS.feature_block if block_elements is None else block_elements)


class FeatureMap:
    """The affine map ``x -> (x - offset) / scale`` that training works in.

    ``offset`` (D,) and ``scale`` (D,) are per column; :func:`fit_feature_map`
    centres every column and divides all of them by one number, or, where the columns
    are in different units, each by its own spread (``per_column``).
    """

    def __init__(self, offset, scale, per_column=False):
        self.offset = offset
        self.scale = scale
        self.per_column = per_column

    def transform(self, block):
        """Map a block of rows (any float dtype) to float64."""
        return (np.asarray(block, dtype=np.float64) - self.offset) / self.scale

    def head_to_original(self, coef, intercept):
        """A head on mapped features as the same logits on original features (float64).

        ``coef`` may be a stack (..., K, D) with ``intercept`` (..., K).
        """
        coef = np.asarray(coef, dtype=np.float64) / self.scale
        return coef, np.asarray(intercept, dtype=np.float64) - coef @ self.offset

    def head_from_original(self, coef, intercept):
        """A head on original features as the same logits on mapped features (float64)."""
        coef = np.asarray(coef, dtype=np.float64)
        return coef * self.scale, np.asarray(intercept, dtype=np.float64) + coef @ self.offset


#: ``column_scaling="auto"`` sees a column in another unit when its range (largest minus
#: smallest value) lies more than this many times off the median of the other non-constant
#: columns' ranges (the others', so that two columns compare with each other)...
AUTO_STANDARDIZE_RATIO = 100.0
#: ...and standardises when at least this share of the non-constant columns are in another
#: unit. Measured (benchmarks/results/scaling.md): mixed-unit tabular sets have 7.7 % (wine:
#: proline) to 100 % (income beside age; two columns), one small- or large-unit column among
#: 21 has 4.8 %; pixels, principal components and synthetic features have none; real
#: embeddings have a few units that are rarely active or numerically dead, and look like
#: another unit at 0.16 % (Fashion-MNIST EfficientNet, 2 of 1279) and 0.78 % (MiniLM, 3 of
#: 384). A threshold of 2 % lies 2.4 times from either side: a single small-unit column among
#: more than 50 is not seen. The largest range over the median one (0.9) never standardised
#: two columns or a few small-unit ones; the largest over the smallest would standardise
#: every embedding.
AUTO_STANDARDIZE_SHARE = 0.02


def fit_feature_map(X, sample_weight=None, column_scaling="keep", limits=LIMITS):
    """Centre the columns of ``X`` and divide by the RMS norm of the centred rows.

    The mapped rows have unit root-mean-square norm whatever the offsets of the
    columns or the overall scale of ``X``, so the fit (L2 penalty, learning
    rate, ``s``) is invariant to both: a column of values 1000 + x fits as x
    does, and L-BFGS is not slowed by an intercept that must cancel large
    offsets (raw tabular columns in 0..15 left it far from its optimum).
    The relative scales of the columns are kept: per-column standardisation
    amplified near-constant pixels of long-tailed digits and lowered SelMix's
    test min recall there (benchmarks/paired_notes.md).

    ``column_scaling="standardize"`` divides each column by its own standard
    deviation times the square root of the number of non-constant columns (rows
    again of unit RMS norm; a constant column takes the shared divisor). Columns
    in different units otherwise let the largest-unit ones dominate the L2
    penalty and the mixup distances (raw breast-cancer columns lost 0.086 test min
    recall). ``"auto"`` standardises when at least :data:`AUTO_STANDARDIZE_SHARE` of the
    non-constant columns have a range :data:`AUTO_STANDARDIZE_RATIO` times off the median
    of the others' ranges, else keeps the scales. A column is constant
    when its spread is within float rounding of its own mean (scikit-learn's
    ``StandardScaler`` rule), whatever the other columns' magnitudes: a column in
    units of 1e-9 beside one in units of 1e4 keeps its signal.

    Column moments are accumulated on ``(X - X[0]) / peak`` (``peak`` the largest
    ``|X|``): shifting by a row keeps large offsets from cancelling the variance,
    dividing by ``peak`` keeps squares of 1e200 finite. Blocks are summed in C
    order, so the result does not depend on the memory layout of ``X``.
    ``sample_weight`` (positive, or None) weighs the rows' moments, so an
    integer weight counts a row as that many copies.

    Raises
    ------
    ValueError
        When the RMS norm of the rows of ``X`` or of the centred rows is not a
        normal float64 number (entries near 1e-320, or near 1e307 in thousands
        of columns): a head for such features does not fit in float64.
    """
    n, d = X.shape
    peak = block_results(X, _largest_magnitude, block_elements=limits.feature_block, combine=max)
    if peak == 0:
        return FeatureMap(np.zeros(d), np.ones(d))
    shift = np.asarray(X[0], dtype=np.float64)
    sums, squares, highest, lowest = block_results(X, _column_moments, row_args=(sample_weight,), args=(shift, peak),
                                                   block_elements=limits.feature_block, combine=_combined_moments)
    total = n if sample_weight is None else float(np.sum(sample_weight))
    mean_shift = sums / total  # (mean - shift) / peak
    variance = np.maximum(squares / total - mean_shift**2, 0.0)  # (std / peak) ** 2
    scaled_mean = shift / peak + mean_shift
    with np.errstate(over="ignore"):
        rms = peak * math.sqrt(float(np.sum(variance + scaled_mean**2)))
        centred_rms = peak * math.sqrt(float(np.sum(variance)))
    for norm in (rms, centred_rms if centred_rms > 0 else rms):
        if not (math.isfinite(norm) and norm >= np.finfo(np.float64).tiny):
            raise ValueError(
                f"X is outside the magnitudes skselmix can fit: the root-mean-square norm of its rows "
                f"({'overflows float64' if not math.isfinite(norm) else f'{norm:g} is subnormal'}; "
                f"largest |X| = {peak:g}). Rescale X (e.g. StandardScaler) first."
            )
    # Rows that are all equal (no variance at all) carry no information: map them to zero.
    shared = centred_rms if centred_rms > 0 else 1.0
    spread = np.sqrt(variance)  # each column's standard deviation / peak
    live = _varies(variance, scaled_mean, n)
    if column_scaling == "auto":
        column_scaling = "standardize" if _mixed_units((highest - lowest)[live]) else "keep"
    if column_scaling == "keep" or not live.any():
        return FeatureMap(peak * scaled_mean, np.full(d, shared))
    scale = np.where(live, peak * spread * math.sqrt(int(live.sum())), shared)
    return FeatureMap(peak * scaled_mean, scale, per_column=True)


def _largest_magnitude(block):
    """The largest ``|x|`` of a block of rows (0 for none): the first pass of :func:`fit_feature_map`."""
    return float(np.max(np.abs(block), initial=0.0))


def _column_moments(block, sample_weight, shift, peak):
    """A block's (weighted) column sums, sums of squares, largest and smallest values of
    ``(block - shift) / peak``: the second pass of :func:`fit_feature_map`."""
    block = (np.ascontiguousarray(block, dtype=np.float64) - shift) / peak
    if sample_weight is None:
        return block.sum(axis=0), np.einsum("ij,ij->j", block, block), block.max(axis=0), block.min(axis=0)
    return (sample_weight @ block, np.einsum("i,ij,ij->j", sample_weight, block, block), block.max(axis=0),
            block.min(axis=0))


def _combined_moments(a, b):
    """Two blocks' :func:`_column_moments` as one's: sums added, extremes kept."""
    return a[0] + b[0], a[1] + b[1], np.maximum(a[2], b[2]), np.minimum(a[3], b[3])


def _varies(variance, mean, n):
    """Which columns are not constant: a variance beyond the float rounding of ``n`` values
    around the column's own ``mean`` (both in any one unit; scikit-learn's
    ``_is_constant_feature`` bound), not beyond a share of the widest column's."""
    eps = np.finfo(np.float64).eps
    return variance > n * eps * variance + (n * mean * eps) ** 2


def _mixed_units(ranges):
    """Whether the ranges of the non-constant columns span units, not one kind of value: at
    least :data:`AUTO_STANDARDIZE_SHARE` of them lie :data:`AUTO_STANDARDIZE_RATIO` times off the
    median range of the other columns."""
    return share_in_another_unit(ranges) >= AUTO_STANDARDIZE_SHARE


def share_in_another_unit(ranges):
    """Share of the columns of ``ranges`` (positive: the non-constant columns' largest minus
    smallest value) that lie :data:`AUTO_STANDARDIZE_RATIO` times off the others' median range."""
    if ranges.size < 2:
        return 0.0
    log_ranges = np.log10(ranges)
    off = np.abs(log_ranges - _median_of_the_others(log_ranges)) > math.log10(AUTO_STANDARDIZE_RATIO)
    return float(off.mean())


def _median_of_the_others(values):
    """For each entry, the median of the other entries (n >= 2), from one sort."""
    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)

    def without_own(t):  # entry t of the sorted values without the column's own
        return ordered[np.where(t < rank, t, np.minimum(t + 1, n - 1))]

    return 0.5 * (without_own((n - 2) // 2) + without_own((n - 1) // 2))


def float64_tensor(array, device):
    """A float64 numpy array (weights) as a tensor on ``device``, in its exact dtype (float64
    where the device has it: see ``DeviceProfile.exact_dtype``); None stays None."""
    return None if array is None else torch.as_tensor(torch_ready(array), dtype=exact_dtype(device), device=device)


def torch_ready(array):
    """``array``, copied when torch cannot wrap it: read-only (a memory map) or with a negative
    stride (``X[::-1]``, ``X[:, ::-1]``: valid numpy views)."""
    array = np.asarray(array)
    if not array.flags.writeable or any(stride < 0 for stride in array.strides):
        return np.array(array)
    return array


def scaled_float32_tensor(X, fmap, device, rows=None, verbose=0, limits=LIMITS):
    """``fmap.transform(X[rows])`` as a float32 torch tensor on ``device``, filled block by block.

    ``rows=None`` takes every row. Gathering the rows here, a block at a time,
    means a train/validation split never holds a full copy of ``X`` besides the
    two float32 tensors. An out-of-core ``X`` (a :class:`~skselmix._rows.RowSource`)
    fills a tensor backed by a temporary file on the CPU (:func:`feature_buffer`), and
    with ``verbose`` says how many of its rows are read.
    """
    n_rows = X.shape[0] if rows is None else len(rows)
    d = X.shape[1]
    out = feature_buffer(n_rows, d, device, on_disk=isinstance(X, RowSource))
    # float32 input is mapped in float32 (within an ulp of the float64 map), by torch's
    # multi-threaded kernels in two passes: numpy's float64 round trip (copy, subtract,
    # divide, cast) cost a noticeable share of large fits (benchmarks/perf_notes.md).
    dtype = mapping_dtype(X.dtype)
    offset, scale = torch.as_tensor(fmap.offset, dtype=dtype), torch.as_tensor(fmap.scale, dtype=dtype)
    profile = profile_for(device)
    streamed = isinstance(X, RowSource)
    progress, done = PhaseProgress(verbose if streamed else 0, f"reading {X.name}" if streamed else ""), 0
    for positions, source in blocks_of(X, rows, block_elements=limits.feature_block):
        done += source.shape[0]
        progress(f"{done:,} of {n_rows:,} rows")
        block = torch.as_tensor(torch_ready(source), dtype=dtype)
        if isinstance(positions, slice):
            target = out[positions]
            if dtype == torch.float32 and profile.map_in_place:
                zero_tiny_(torch.sub(block, offset, out=target).div_(scale), FEATURE_FLOOR)
            else:
                target[...] = mapped_block(block, offset, scale, device)
        else:  # rows of an out-of-core source, gathered in their own order
            out[torch.as_tensor(positions, device=device)] = mapped_block(block, offset, scale, device)
    return out


def mapping_dtype(dtype):
    """The dtype rows of numpy ``dtype`` are mapped in: float32 input in float32 (within an ulp
    of the float64 map), anything else in float64."""
    return torch.float32 if dtype == np.float32 else torch.float64


def mapped_block(block, offset, scale, device):
    """``(block - offset) / scale`` (tensors of :func:`mapping_dtype`) as float32 on ``device``,
    entries below :data:`FEATURE_FLOOR` zero: one block of :func:`scaled_float32_tensor`, or a
    Dask chunk's (``cluster_features.scaled_chunk``)."""
    return zero_tiny_(((block - offset) / scale).to(device=device, dtype=torch.float32), FEATURE_FLOOR)


def feature_buffer(n_rows, d, device, on_disk=False):
    """An uninitialised float32 (n_rows, d) tensor on ``device``; ``on_disk`` (CPU only) backs
    it by an unnamed temporary file (in ``tempfile.gettempdir()``, which ``TMPDIR`` sets)
    instead of anonymous memory, so that the fit's features of an input larger than
    memory live in the page cache, which the kernel can write out, rather than in swap.
    The file has no name and is gone when the tensor is.
    """
    if not on_disk or torch.device(device).type != "cpu" or n_rows * d == 0:
        return torch.empty((n_rows, d), dtype=torch.float32, device=device)
    with tempfile.TemporaryFile(prefix="skselmix-features-") as backing:
        # The map holds its own handle of the file: closing ours leaves it in place.
        return torch.from_numpy(np.memmap(backing, dtype=np.float32, mode="w+", shape=(n_rows, d)))


#: Mapped features (rows of unit RMS norm) below this are zero on the CPU: a product of
#: such an entry and a small probability underflows to a subnormal float, which slows a
#: CPU GEMM 10 to 180 times (softmax.py). MiniLM embeddings of WordNet definitions have
#: 0.5 % of their entries below 1e-30.
FEATURE_FLOOR = 1e-15


# A validation set from the training distribution has, on the mapped features, rows at an
# RMS distance of about 1 from the training mean and a spread (centred RMS norm) of about 1.
# One off by this factor or more is on another scale: typically X_val that skipped the
# scaler of a Pipeline (unscaled digits vs standardised ones: 8x the distance, 4.5x the
# spread; standardised rows vs raw ones: 0.22x to 0.29x the spread; matching rows: 1.0x to 1.33x,
# and 1.0x to 1.28x for Fashion-MNIST-LT embeddings against their balanced validation or test set).
SCALE_MISMATCH_FACTOR = 3.0
MIN_ROWS_FOR_SPREAD = 10


def warn_if_on_another_scale(X_val, fmap):
    """Warn when ``X_val`` is clearly not on the scale of the training rows (see the constants)."""
    n, d = X_val.shape
    if n == 0:
        return
    distance_sq, sums = 0.0, np.zeros(d)
    for start, stop in row_blocks(n, d):
        block = fmap.transform(X_val[start:stop])
        distance_sq += float(np.einsum("ij,ij->", block, block))
        sums += block.sum(axis=0)
    distance = math.sqrt(distance_sq / n)
    ratios = {"RMS distance of its rows from the training mean": distance}
    if n >= MIN_ROWS_FOR_SPREAD:
        spread_sq = (distance_sq - float(sums @ sums) / n) / (n - 1)
        ratios["spread (RMS norm of its centred rows)"] = math.sqrt(max(spread_sq, 0.0))
    for what, ratio in ratios.items():
        if not (1.0 / SCALE_MISMATCH_FACTOR <= ratio <= SCALE_MISMATCH_FACTOR):
            warn(
                f"X_val looks like it is on another scale than X: its {what} is {ratio:.3g} times that of "
                "the training rows. If SelMixClassifier is the last step of a Pipeline, selmix__X_val reaches it "
                "untransformed (a warning about feature names may come with this one, from the same cause). "
                "Let the pipeline transform it: sklearn.set_config(enable_metadata_routing=True), "
                "Pipeline(steps, transform_input=['X_val']) and SelMixClassifier().set_fit_request(X_val=True, "
                "y_val=True), then fit(X, y, X_val=X_val, y_val=y_val) (user guide: 'Pipelines and a validation "
                "set'); or pass the earlier steps' output as X_val.",
                category=UserWarning,
            )
            return
