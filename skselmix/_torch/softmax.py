"""Softmax over the class axis, written out where torch's kernel is slow.

torch's CPU softmax and log-softmax over a last axis shorter than one vector
register run a scalar loop; three vectorised passes (max, exp, sum) are then
several times faster. The class count below which they are used is the device
profile's ``written_out_softmax_below`` (measurements: benchmarks/perf_notes.md).

The probabilities feed matrix products (the warm start's and the SGD steps'
gradients). Where the device profile says so (the CPU), those below
:data:`TINY_PROBABILITY` are set to zero: a product of two float32 numbers that
underflows to a subnormal one makes a CPU GEMM 10 to 180 times slower, and a
probability of 1e-30 times a feature of 1e-10 does (on WordNet embeddings at K = 1052
the warm start's gradient products ran 10 to 25 times slower than on random rows).
With the features zero below 1e-15 (``features.FEATURE_FLOOR``), no product of a kept
probability and a kept feature underflows; the flushed terms change no gradient entry
by more than 1e-20 of a row's weight.
"""

import torch

from .device import profile_for, zero_tiny_


def _written_out(logits):
    return logits.shape[-1] < profile_for(logits.device).written_out_softmax_below


#: Probabilities (and weighted residuals) below this are zero before a matrix product (CPU).
TINY_PROBABILITY = 1e-20


def flush_tiny_(values, signed=False):
    """``values`` with the entries of magnitude below :data:`TINY_PROBABILITY` zero, where
    the device profile asks for it; in place. ``signed=False``: ``values`` are
    non-negative (probabilities), which saves a pass."""
    return zero_tiny_(values, TINY_PROBABILITY, signed)


def softmax_(logits):
    """Softmax over the last axis; overwrites ``logits`` (a temporary) when written out."""
    if not _written_out(logits):
        return flush_tiny_(torch.softmax(logits, dim=-1))
    logits -= logits.amax(dim=-1, keepdim=True)
    logits.exp_()
    logits /= logits.sum(dim=-1, keepdim=True)
    return flush_tiny_(logits)


def picked_log_proba_and_proba_(logits, index, flush=True):
    """Log-probability of class ``index`` and all probabilities, from ``logits`` (..., K).

    ``index`` has the shape of ``logits`` with a last axis of length 1; returns
    ``(log_proba.gather(-1, index).squeeze(-1), proba)``. ``logits`` is a
    temporary: it is overwritten (or freed) to hold the probabilities. ``flush=False``
    leaves the tiny probabilities (:func:`flush_tiny_`) to the caller, who weighs them first.
    """
    if not _written_out(logits):
        log_proba = torch.log_softmax(logits, dim=-1)
        del logits
        picked = log_proba.gather(-1, index).squeeze(-1)
        proba = log_proba.exp_()
        return picked, flush_tiny_(proba) if flush else proba
    logits -= logits.amax(dim=-1, keepdim=True)
    picked = logits.gather(-1, index).squeeze(-1)
    logits.exp_()
    total = logits.sum(dim=-1, keepdim=True)
    picked -= total.log().squeeze(-1)
    logits /= total
    return picked, flush_tiny_(logits) if flush else logits
