"""Torch's intra-op thread count for small tensor operations.

An SGD step is about fifteen tiny operations on a (batch x D) tensor. With several
OpenMP threads each of them ends at a barrier, and on a busy machine a descheduled
thread stalls every barrier. Small problems suffer on a quiet machine too: the warm
start alternates torch products with scipy's L-BFGS-B, and torch's idle OpenMP
workers spin while scipy and numpy run. So small problems run on one thread; the
thresholds are the device profile's (measurements: benchmarks/perf_notes.md).
"""

import threading
import time
from contextlib import contextmanager

import torch
from threadpoolctl import ThreadpoolController

from .device import profile_for

_controller = None
#: How long, and how often, an ignored restore of a thread count is retried (seconds).
RESTORE_PATIENCE = 60.0
RESTORE_INTERVAL = 0.005


def _blas_controller():
    """The process's loaded thread pools, found once: ``threadpool_limits`` searches the
    loaded libraries on every call (a few percent of a small fit). BLAS is loaded
    with numpy and scipy, before any fit."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


class _SharedLimit:
    """A process-wide thread count held at one while any fit needs it.

    Thread counts are process state, and fits may overlap (two threads fitting at
    once). Each limiter saves the setting it found and restores it on exit, so limits
    undone out of order would leave the second fit's saved "1" in place for the rest of
    the process. Here the first fit to enter saves the caller's setting and the last
    to leave restores it, whatever the order.

    A restore can also be ignored: OpenBLAS drops a change of its thread count made
    while another thread's BLAS call runs (issue 32, M9: a thread's matrix product after
    its fit). So the restore is read back; if it did not take, a daemon thread retries it
    every few milliseconds until it does (the other call has ended), for at most
    :data:`RESTORE_PATIENCE` seconds, and a fit that enters meanwhile takes the setting
    meant, not the stale one, as the caller's.
    """

    def __init__(self, read, write):
        self._read, self._write = read, write
        self._lock = threading.Lock()
        self._holders = 0
        self._saved = None
        self._intended = None  # a restore that did not take: the caller's setting
        self._generation = 0  # which last exit a pending retry belongs to

    @contextmanager
    def held(self):
        with self._lock:
            if self._holders == 0:
                found = self._read()
                self._saved = self._intended if self._intended is not None and found == _ONE(found) else found
                self._intended = None
                if found != _ONE(found):
                    self._write(1)
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    saved, self._saved = self._saved, None
                    self._generation += 1
                    self._intended = None if self._restore(saved) else saved
                    if self._intended is not None:
                        threading.Thread(target=self._retry, args=(saved, self._generation), daemon=True,
                                         name="skselmix-restore-threads").start()

    def _restore(self, saved):
        """Write ``saved`` unless it is already the setting: whether it took."""
        if self._read() != saved:
            self._write(saved)
        return self._read() == saved

    def _retry(self, saved, generation):
        """Retry an ignored restore until it takes, a fit enters, or the patience runs out."""
        deadline = time.monotonic() + RESTORE_PATIENCE
        while time.monotonic() < deadline:
            time.sleep(RESTORE_INTERVAL)
            with self._lock:
                if self._holders or self._generation != generation:
                    return  # a fit holds the limit: it took the setting meant as the caller's
                if self._restore(saved):
                    self._intended = None
                    return


def _ONE(found):
    """The reading of a count held at one thread, in ``found``'s shape (an int, or a tuple
    of one per BLAS library)."""
    return tuple(1 for _ in found) if isinstance(found, tuple) else 1


def _torch_threads():
    return torch.get_num_threads()


def _set_torch_threads(count):
    torch.set_num_threads(count)


def _blas_threads():
    """The thread count of each BLAS library the process loaded (a tuple)."""
    return tuple(library.num_threads for library in _blas_controller().select(user_api="blas").lib_controllers)


def _set_blas_threads(counts):
    libraries = _blas_controller().select(user_api="blas").lib_controllers
    if not isinstance(counts, tuple):
        counts = (counts,) * len(libraries)
    for library, count in zip(libraries, counts):
        library.set_num_threads(count)


_TORCH = _SharedLimit(_torch_threads, _set_torch_threads)
_BLAS = _SharedLimit(_blas_threads, _set_blas_threads)


@contextmanager
def fit_threads(work, threshold, device):
    """The thread counts of a whole fit on ``device``; the caller's come back when it ends.

    A small fit (``work < threshold``: a pass over the rows, in multiply-adds) runs on one
    torch thread as well. A larger one keeps torch's threads, which run its products.
    Either way numpy's and scipy's BLAS run on one thread: what a fit asks of them
    (L-BFGS-B's vector updates, the selection's sums) is small, and their idle OpenBLAS
    threads spin against torch's OpenMP threads on the same cores. On 2 cores a fit of
    12,000 x 256 rows at K = 300 took 6.3 s instead of 9.5 s, the same head bit for bit
    (benchmarks/perf_notes.md). BLAS is limited once per fit, not around every block of
    SGD steps. Devices whose profile does not limit threads run as they are. Overlapping
    fits share the limits (:class:`_SharedLimit`).
    """
    if not profile_for(device).limit_threads:
        yield
        return
    with _BLAS.held(), one_thread_below(work, threshold, device):
        yield


@contextmanager
def one_thread_below(work, threshold, device):
    """Run the body on one torch intra-op thread when ``work < threshold`` (the SGD steps'
    rule; :func:`fit_threads` for a whole fit); restore the caller's setting.

    Devices whose profile does not limit threads run as they are. Overlapping fits share
    the limit (:class:`_SharedLimit`): the caller's setting comes back when the last of
    them ends.
    """
    if not profile_for(device).limit_threads or work >= threshold:
        yield
        return
    with _TORCH.held():
        yield
