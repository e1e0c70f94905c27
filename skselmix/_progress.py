"""What ``verbose`` prints during a fit: the warm start, then one line per refresh."""

import time

import numpy as np


class FitProgress:
    """Progress lines of one fit (nothing when ``verbose`` is 0).

    ``verbose=1``: the warm start's start and end (with its time), then per refresh
    ``step/max_iter``, the objective, the best so far (``*`` when it improved),
    elapsed and estimated remaining time. ``verbose=2`` adds the recalls of the
    three worst classes.
    """

    def __init__(self, verbose, objective_name, max_iter, class_labels):
        self.verbose = int(verbose)
        self.name = objective_name
        self.max_iter = max_iter
        self.labels = class_labels
        self.start = time.perf_counter()
        self.loop_start = None

    def _print(self, text):
        if self.verbose:
            print(f"[SelMix] {text}", flush=True)

    def warm_start(self, description):
        self._print(f"warm start: {description} ...")
        self._warm_start_began = time.perf_counter()

    def warm_start_done(self):
        if self.verbose:
            self._print(f"warm start done in {time.perf_counter() - self._warm_start_began:.2f} s")

    def refresh(self, step, value, best_value, improved, recalls, parts=None):
        if not self.verbose:
            return
        now = time.perf_counter()
        if self.loop_start is None:
            # The loop's clock starts at its own first refresh: the candidates of a search share
            # one warm start, which only the first of them runs (and times).
            self.loop_start = now
        elapsed = now - self.start
        # Time per SGD step so far (refreshes included); unknown before the first step, so
        # step 0 says nothing about it.
        remaining = f"  remaining <= {(now - self.loop_start) / step * (self.max_iter - step):.1f} s" if step else ""
        width = len(str(self.max_iter))
        line = (
            f"step {step:>{width}}/{self.max_iter}  {self.name} {value:.4f}  "
            f"best {best_value:.4f}{' *' if improved else '  '}"
            f"  elapsed {elapsed:.1f} s{remaining}"
        )
        if parts:  # what an objective of several pieces is made of
            line += "  (" + ", ".join(f"{name} {part:.4f}" for name, part in parts.items()) + ")"
        if self.verbose >= 2:
            worst = np.argsort(recalls, kind="stable")[:3]
            line += "  worst classes: " + ", ".join(f"{self.labels[i]!r} {recalls[i]:.3f}" for i in worst)
        self._print(line)


#: Seconds between two lines of a long phase (a phase shorter than this prints one line).
PHASE_INTERVAL_S = 5.0


class PhaseProgress:
    """Lines of one long phase of a fit (the warm start's L-BFGS iterations, reading an
    out-of-core input), at most one every :data:`PHASE_INTERVAL_S` seconds; nothing when
    ``verbose`` is 0. Call it with what has been done so far."""

    def __init__(self, verbose, phase):
        self.verbose = int(verbose)
        self.phase = phase
        self.start = time.perf_counter()
        self.last = None

    def __call__(self, done):
        if not self.verbose:
            return
        now = time.perf_counter()
        if self.last is None or now - self.last >= PHASE_INTERVAL_S:
            self.last = now
            print(f"[SelMix] {self.phase}: {done}, {now - self.start:.1f} s", flush=True)
