"""Torch's intra-op thread count for small tensor operations.

An SGD step is about fifteen tiny operations on a (batch x D) tensor. With several
OpenMP threads each of them ends at a barrier, and on a busy machine a descheduled
thread stalls every barrier. Small problems suffer on a quiet machine too: the warm
start alternates torch products with scipy's L-BFGS-B, and torch's idle OpenMP
workers spin while scipy and numpy run. So small problems run on one thread; the
thresholds are the device profile's (measurements: benchmarks/perf_notes.md).
"""

from contextlib import contextmanager, nullcontext

import torch
from threadpoolctl import ThreadpoolController

from ._device import profile_for

_controller = None


def _blas_controller():
    """The process's loaded thread pools, found once: ``threadpool_limits`` searches the
    loaded libraries on every call (a few percent of a small fit). BLAS is loaded
    with numpy and scipy, before any fit."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def one_thread_below(work, threshold, device, blas=False):
    """Run the body on one CPU thread when ``work < threshold``; restore the caller's settings.

    Torch's intra-op threads are limited, and with ``blas=True`` also the BLAS
    threads of numpy/scipy (which the warm start's L-BFGS-B uses): idle BLAS workers
    slow a small fit on a busy machine. BLAS is limited once per fit, not around every
    block of SGD steps. Devices whose profile does not limit threads run as they are.
    """
    if not profile_for(device).limit_threads or work >= threshold:
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
