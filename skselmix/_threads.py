"""Torch's intra-op thread count for the small tensor operations of the SGD loop.

An SGD step is about fifteen tiny operations on a (batch x D) tensor. With several
OpenMP threads each of them ends at a barrier, and on a busy machine a descheduled
thread stalls every barrier: a default fit on long-tailed digits took 3.6 to 14.3 s
with 2 threads against 0.8 to 1.1 s with one while other processes kept the cores
busy. Steps this small gain nothing from a second thread on a quiet machine either.
"""

from contextlib import contextmanager

import torch

# Multiply-adds of one step's largest product (heads x batch x D x K) below which the
# step runs on one thread: 2**22 is about a millisecond of single-core GEMM.
SMALL_STEP_WORK = 1 << 22


@contextmanager
def step_threads(work, device):
    """Run the body on one CPU thread when ``work`` is small; restore the caller's setting."""
    previous = torch.get_num_threads()
    if device.type != "cpu" or work >= SMALL_STEP_WORK or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
