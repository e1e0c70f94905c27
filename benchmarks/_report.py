"""Pieces the benchmarks share: a report's time stamp and stored run, a fit's peak memory and
where its time went."""

import json
import os
import sys
import threading
import time


def utc_now():
    """The time stamp of a benchmark run, as the reports print it."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def stored_run(parser, path, required):
    """The run stored as JSON at ``path``, or ``{}`` when there is none.

    ``required`` (``--report-only``) makes a missing store an error of ``parser``,
    instead of a traceback or an empty report.
    """
    if not path.exists():
        if required:
            parser.error(f"--report-only needs a stored run, and {path} does not exist; run without it first.")
        return {}
    return json.loads(path.read_text())


class _SamplingThread:
    """A thread that calls ``self._tick()`` every ``interval`` seconds while in the block
    (after ``self._start()`` on entry): what PeakMemory and PhaseSampler share."""

    interval = 0.005

    def __enter__(self):
        self._start()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._done.wait(self.interval):
            self._tick()

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


class PeakMemory(_SamplingThread):
    """The largest extra anonymous memory (RssAnon) of this process while in the block."""

    def _start(self):
        self.base = self.peak = anon_bytes()

    def _tick(self):
        self.peak = max(self.peak, anon_bytes())

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.extra = self.peak - self.base


class PhaseSampler(_SamplingThread):
    """Where the main thread's time and memory went while in the block, by sampling.

    Every ``interval`` seconds a thread reads the main thread's stack and RssAnon; a sample
    belongs to the first phase of ``phases`` (``(label, ("module.py:function", ...))``,
    in order of precedence) with a frame in the stack, else to ``"other"``. The library is
    not wrapped or patched: a phase is what its code was doing when sampled, so shares are
    good to about ``interval`` times the number of phase changes.

    Attributes (after the block): ``seconds`` and ``peak_extra`` (bytes of RssAnon over the
    value at entry) per phase label, and ``phase_order`` (labels in order of first sample).
    """

    def __init__(self, phases, interval=0.05):
        self.phases, self.interval = phases, interval

    def _start(self):
        self.seconds, self.peak_extra, self.phase_order = {}, {}, []
        self._main = threading.main_thread().ident
        self.base = anon_bytes()
        self._last = time.perf_counter()

    def _phase(self):
        frame, seen = sys._current_frames().get(self._main), set()
        while frame is not None:
            seen.add(f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_code.co_name}")
            frame = frame.f_back
        return next((label for label, names in self.phases if seen.intersection(names)), "other")

    def _tick(self):
        now, phase, extra = time.perf_counter(), self._phase(), anon_bytes() - self.base
        if phase not in self.seconds:
            self.phase_order.append(phase)
            self.seconds[phase], self.peak_extra[phase] = 0.0, extra
        self.seconds[phase] += now - self._last
        self.peak_extra[phase] = max(self.peak_extra[phase], extra)
        self._last = now


def anon_bytes():
    """Resident anonymous memory of this process in bytes (0 where /proc does not say)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def md_table(rows, cols):
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    return "\n".join(lines)

