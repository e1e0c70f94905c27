"""Pieces the benchmarks share: a report's time stamp and stored run, and a fit's peak memory."""

import json
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


class PeakMemory:
    """The largest extra anonymous memory (RssAnon) of this process while in the block."""

    def __enter__(self):
        self.base = self.peak = anon_bytes()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.is_set():
            self.peak = max(self.peak, anon_bytes())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.extra = self.peak - self.base


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

