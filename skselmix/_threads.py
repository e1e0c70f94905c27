"""Torch's intra-op thread count for small tensor operations.

An SGD step is about fifteen tiny operations on a (batch x D) tensor. With several
OpenMP threads each of them ends at a barrier, and on a busy machine a descheduled
thread stalls every barrier. Small problems suffer on a quiet machine too: the warm
start alternates torch products with scipy's L-BFGS-B, and torch's idle OpenMP
workers spin while scipy and numpy run. So small problems run on one thread; the
thresholds are the device profile's (measurements: benchmarks/perf_notes.md).
"""

import threading
from contextlib import contextmanager

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


class _SharedLimit:
    """A process-wide setting held at one thread while any fit needs it.

    Thread counts are process state, and fits may overlap (two threads fitting at
    once). Each limiter saves the setting it found and restores it on exit, so limits
    undone out of order would leave the second fit's saved "1" in place for the rest of
    the process. Here the first fit to enter saves the caller's setting and the last
    to leave restores it, whatever the order.
    """

    def __init__(self, limit, restore):
        self._limit, self._restore = limit, restore
        self._lock = threading.Lock()
        self._holders = 0
        self._saved = None

    @contextmanager
    def held(self):
        with self._lock:
            if self._holders == 0:
                self._saved = self._limit()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    saved, self._saved = self._saved, None
                    self._restore(saved)


def _limit_torch():
    previous = torch.get_num_threads()
    if previous != 1:
        torch.set_num_threads(1)
    return previous


def _restore_torch(previous):
    if torch.get_num_threads() != previous:
        torch.set_num_threads(previous)


def _limit_blas():
    limiter = _blas_controller().limit(limits=1, user_api="blas")
    return limiter


def _restore_blas(limiter):
    limiter.restore_original_limits()


_TORCH = _SharedLimit(_limit_torch, _restore_torch)
_BLAS = _SharedLimit(_limit_blas, _restore_blas)


@contextmanager
def one_thread_below(work, threshold, device, blas=False):
    """Run the body on one CPU thread when ``work < threshold``; restore the caller's settings.

    Torch's intra-op threads are limited, and with ``blas=True`` also the BLAS
    threads of numpy/scipy (which the warm start's L-BFGS-B uses): idle BLAS workers
    slow a small fit on a busy machine. BLAS is limited once per fit, not around every
    block of SGD steps. Devices whose profile does not limit threads run as they are.
    Overlapping fits share the limits (:class:`_SharedLimit`): the caller's settings
    come back when the last of them ends.
    """
    if not profile_for(device).limit_threads or work >= threshold:
        yield
        return
    if blas:
        with _BLAS.held(), _TORCH.held():
            yield
    else:
        with _TORCH.held():
            yield
