"""Moving user features onto the training device: rescaled, float32, in row blocks.

Working in blocks keeps peak memory at one float32 copy of ``X`` plus a block
(no float64 temporaries of the whole array), works on read-only and memory-mapped
input, and avoids overflow for extreme magnitudes (squares of 1e200 overflow
float64; rows are divided by the largest absolute value before squaring).
"""

import math

import numpy as np
import torch

# Elements per block: 2**22 float64 values is a 32 MiB temporary whatever the width of X
# (blocks of 2**26 elements made fit's peak memory 3.9x the input at N=100k, D=512).
_BLOCK_ELEMENTS = 1 << 22


def row_blocks(n_rows, width, block_elements=_BLOCK_ELEMENTS):
    """``(start, stop)`` of consecutive row blocks holding at most ``block_elements`` values
    of a ``width``-wide array (at least one row each)."""
    step = max(1, block_elements // max(width, 1))
    return ((start, min(start + step, n_rows)) for start in range(0, n_rows, step))


def rms_row_norm(X):
    """Root-mean-square Euclidean norm of the rows of ``X`` (1.0 if ``X`` is all zeros).

    The result does not depend on the memory layout of ``X`` (C or Fortran
    order, a DataFrame): every block is summed in C order.

    Raises
    ------
    ValueError
        When the norm is not a normal float64 number: subnormal (entries near
        1e-320 have lost their precision, and ``1 / norm`` overflows) or
        overflowing (entries near 1e307 in thousands of columns).
    """
    n, d = X.shape
    peak = 0.0
    for start, stop in row_blocks(n, d):
        peak = max(peak, float(np.max(np.abs(X[start:stop]), initial=0.0)))
    if peak == 0:
        return 1.0
    total = 0.0
    for start, stop in row_blocks(n, d):
        block = np.ascontiguousarray(X[start:stop], dtype=np.float64) / peak
        total += float(np.einsum("ij,ij->", block, block))
    with np.errstate(over="ignore"):
        rms = peak * math.sqrt(total / n)
    if not (math.isfinite(rms) and rms >= np.finfo(np.float64).tiny):
        raise ValueError(
            f"X is outside the magnitudes skselmix can fit: the root-mean-square norm of its rows "
            f"({'overflows float64' if not math.isfinite(rms) else f'{rms:g} is subnormal'}; largest |X| = {peak:g}). "
            "Rescale X (e.g. StandardScaler) first."
        )
    return rms


def scaled_float32_tensor(X, scale, device, rows=None):
    """``X[rows] / scale`` as a float32 torch tensor on ``device``, filled block by block.

    ``rows=None`` takes every row. Gathering the rows here, a block at a time,
    means a train/validation split never holds a full copy of ``X`` besides the
    two float32 tensors.
    """
    n_rows = X.shape[0] if rows is None else len(rows)
    d = X.shape[1]
    out = torch.empty((n_rows, d), dtype=torch.float32, device=device)
    for start, stop in row_blocks(n_rows, d):
        source = X[start:stop] if rows is None else X[rows[start:stop]]
        block = np.asarray(source, dtype=np.float64) / scale
        out[start:stop] = torch.from_numpy(block.astype(np.float32))
    return out
