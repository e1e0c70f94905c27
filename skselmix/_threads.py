"""Torch's intra-op thread count for small tensor operations.

An SGD step is about fifteen tiny operations on a (batch x D) tensor. With several
OpenMP threads each of them ends at a barrier, and on a busy machine a descheduled
thread stalls every barrier: a default fit on long-tailed digits took 3.6 to 14.3 s
with 2 threads against 0.8 to 1.1 s with one while other processes kept the cores
busy. Small problems suffer on a quiet machine too: the warm start alternates torch
products with scipy's L-BFGS-B, and torch's idle OpenMP workers spin while scipy and
numpy run; on the quickstart split (273 x 64, K = 10) the warm start took 0.76 s with
2 threads and 0.02 s with one.
"""

from contextlib import contextmanager

import torch

# Multiply-adds of one SGD step's largest product (heads x batch x D x K) below which the
# step runs on one thread: 2**22 is about a millisecond of single-core GEMM.
SMALL_STEP_WORK = 1 << 22
# Multiply-adds of one pass over the training rows (rows x D x K) below which the whole
# fit runs on one thread: 2**24 is a few milliseconds of single-core GEMM per pass.
SMALL_FIT_WORK = 1 << 24


@contextmanager
def one_thread_below(work, threshold, device):
    """Run the body on one CPU thread when ``work < threshold``; restore the caller's setting."""
    previous = torch.get_num_threads()
    if device.type != "cpu" or work >= threshold or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
