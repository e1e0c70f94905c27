"""Softmax over the class axis, written out where torch's kernel is slow.

torch's CPU softmax and log-softmax over a last axis shorter than one vector
register (16 float32 lanes with AVX-512) run a scalar loop. On a 2-core AMD EPYC
with AVX-512, one thread, torch 2.13: on 20,000 rows of
K = 10 logits ``torch.softmax`` took 3.5 ms against 0.6 ms for the same maths as
three vectorised passes (max, exp, sum), and on an SGD step's 5 x 64 x 10 logits
58 us against 17 us. From K = 16 on torch's fused kernel is the faster (0.4 against
1.0 ms at K = 16, 1.2 against 2.4 ms at K = 1000), so it is used there.
"""

import torch

#: Class counts below which the softmax is written out (one AVX-512 register of float32).
WRITTEN_OUT_BELOW = 16


def softmax_(logits):
    """Softmax over the last axis; overwrites ``logits`` (a temporary) when written out."""
    if logits.shape[-1] >= WRITTEN_OUT_BELOW or logits.device.type != "cpu":
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
    if logits.shape[-1] >= WRITTEN_OUT_BELOW or logits.device.type != "cpu":
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
