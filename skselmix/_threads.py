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

from contextlib import contextmanager, nullcontext

import torch
from threadpoolctl import ThreadpoolController

# Multiply-adds of one SGD step's largest product (heads x batch x D x K) below which the
# step runs on one thread: 2**22 is about a millisecond of single-core GEMM.
SMALL_STEP_WORK = 1 << 22
# Multiply-adds of one pass over the training rows (rows x D x K) below which the whole
# fit runs on one thread: 2**27 is about 50 ms of single-core GEMM per pass. At N = 20k,
# D = 512, K = 10 (1.3 * 2**26) one thread fitted in 2.6 s against 4.4 s with two, and 1.6x
# (not 2.5x) slower while a CPU-bound process spun on each core.
SMALL_FIT_WORK = 1 << 27

_controller = None


def _blas_controller():
    """The process's loaded thread pools, found once: ``threadpool_limits`` searches the
    loaded libraries on every call (1.5 ms, a few percent of a small fit). BLAS is loaded
    with numpy and scipy, before any fit."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def one_thread_below(work, threshold, device, blas=False):
    """Run the body on one CPU thread when ``work < threshold``; restore the caller's settings.

    Torch's intra-op threads are limited, and with ``blas=True`` also the BLAS
    threads of numpy/scipy (which the warm start's L-BFGS-B uses): on a busy machine
    the idle BLAS workers alone made the quickstart fit 3.0x slower instead of 1.5x.
    BLAS is limited once per fit, not around every block of SGD steps.
    """
    if device.type != "cpu" or work >= threshold:
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas") if blas else nullcontext():
        previous = torch.get_num_threads()
        if previous == 1:
            yield
            return
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
