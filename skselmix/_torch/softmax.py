"""Softmax over the class axis, written out where torch's kernel is slow.

torch's CPU softmax and log-softmax over a last axis shorter than one vector
register run a scalar loop; three vectorised passes (max, exp, sum) are then
several times faster. The class count below which they are used is the device
profile's ``written_out_softmax_below`` (measurements: benchmarks/perf_notes.md).
"""

import torch

from .device import profile_for


def _written_out(logits):
    return logits.shape[-1] < profile_for(logits.device).written_out_softmax_below


def softmax_(logits):
    """Softmax over the last axis; overwrites ``logits`` (a temporary) when written out."""
    if not _written_out(logits):
        return torch.softmax(logits, dim=-1)
    logits -= logits.amax(dim=-1, keepdim=True)
    logits.exp_()
    logits /= logits.sum(dim=-1, keepdim=True)
    return logits


def picked_log_proba_and_proba_(logits, index):
    """Log-probability of class ``index`` and all probabilities, from ``logits`` (..., K).

    ``index`` has the shape of ``logits`` with a last axis of length 1; returns
    ``(log_proba.gather(-1, index).squeeze(-1), proba)``. ``logits`` is a
    temporary: it is overwritten (or freed) to hold the probabilities.
    """
    if not _written_out(logits):
        log_proba = torch.log_softmax(logits, dim=-1)
        del logits
        picked = log_proba.gather(-1, index).squeeze(-1)
        return picked, log_proba.exp_()
    logits -= logits.amax(dim=-1, keepdim=True)
    picked = logits.gather(-1, index).squeeze(-1)
    logits.exp_()
    total = logits.sum(dim=-1, keepdim=True)
    picked -= total.log().squeeze(-1)
    logits /= total
    return picked, logits
