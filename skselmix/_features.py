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
    """Root-mean-square Euclidean norm of the rows of ``X`` (1.0 if it is zero or not finite)."""
    n, d = X.shape
    peak = 0.0
    for start, stop in row_blocks(n, d):
        peak = max(peak, float(np.max(np.abs(X[start:stop]), initial=0.0)))
    if not (peak > 0 and math.isfinite(peak)):
        return 1.0
    total = 0.0
    for start, stop in row_blocks(n, d):
        block = np.asarray(X[start:stop], dtype=np.float64) / peak
        total += float(np.einsum("ij,ij->", block, block))
    rms = peak * math.sqrt(total / n)
    return rms if rms > 0 and math.isfinite(rms) else 1.0


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
