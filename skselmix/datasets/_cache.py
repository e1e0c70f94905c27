"""Where embeddings are cached, and the shared compute-once-then-load logic."""

import os
import sys
import time
from pathlib import Path

import numpy as np

from .._lazy import require  # noqa: F401 (the loaders import it from here)

DATA_HOME_ENV = "SKSELMIX_DATA"


def get_data_home(data_home=None):
    """Folder for cached embeddings, created if needed.

    Order: the ``data_home`` argument, the ``SKSELMIX_DATA`` environment
    variable, then ``~/skselmix_data`` (like scikit-learn's ``~/scikit_learn_data``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use; ``None`` follows the order above.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(data_home or os.environ.get(DATA_HOME_ENV) or Path.home() / "skselmix_data").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


class Progress:
    """A one-line progress report on stderr (silent when ``verbose`` is false)."""

    def __init__(self, total, label, verbose):
        self.total, self.label, self.verbose = total, label, verbose
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done):
        if not self.verbose:
            return
        now = time.perf_counter()
        if done < self.total and now - self.last < 2.0:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / max(rate, 1e-9)
        end = "\n" if done >= self.total else ""
        print(
            f"\r{self.label}: {done}/{self.total} ({rate:.0f}/s, {eta:.0f}s left)", end=end, file=sys.stderr, flush=True
        )


def cached_arrays(path, compute):
    """Load the arrays saved at ``path`` (.npz), or ``compute()`` them and save them atomically."""
    path = Path(path)
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    arrays = compute()
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays
