"""Timing and fresh-process measurements the benchmarks share: the machine's description,
median wall time, the gain computation's inputs and call, and a fit's peak memory in a
fresh process. Not a program itself."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

from skselmix import MinRecall

from ._internals import gain_from_sensitivity, objective_logit_sensitivity


def machine_description():
    """CPU model and the cores this process may use (taskset / cgroup affinity)."""
    import os
    import platform

    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{len(os.sched_getaffinity(0))} CPU cores usable ({model})"


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times


def gain_inputs(k, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(k, d, generator=g)
    coef = 0.05 * torch.randn(k, d, generator=g)
    intercept = torch.zeros(k)
    c = torch.rand(k, k, generator=g, dtype=torch.float64) + k * torch.eye(k, dtype=torch.float64)
    c = c / c.sum(dim=1, keepdim=True) / k
    grad = MinRecall().gradient(c)
    return z, coef, intercept, c, grad


def skselmix_gain(z, coef, intercept, c, grad):
    gain = gain_from_sensitivity(z, coef, intercept, objective_logit_sensitivity(c, grad, 0.01).to(z.dtype), 0.8)
    if gain.is_cuda:
        torch.cuda.synchronize()  # time the work, not its launch
    return gain


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np
    from skselmix import SelMixClassifier
    from benchmarks._report import PeakMemory
    from benchmarks._data import long_tailed_gaussians

    n, d, k, mode, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    X, y = long_tailed_gaussians(n, d, k)
    if mode == "memmap":
        np.save(path, X)
        nbytes = X.nbytes
        del X
        X = np.load(path, mmap_mode="r")
    else:
        nbytes = X.nbytes
    with PeakMemory() as memory:
        SelMixClassifier(device="cpu", random_state=0).fit(X, y)
    print(memory.extra / nbytes)
    """
)


def bench_memory(configs):
    """Peak memory of fit in a fresh process per configuration; the memory-mapped input
    lives in a temporary folder that is removed afterwards."""
    import tempfile

    rows = []
    for n, d, k in configs:
        for mode in ("array", "memmap"):
            with tempfile.TemporaryDirectory() as tmp:
                out = subprocess.run(
                    [sys.executable, "-c", MEMORY_SCRIPT, str(n), str(d), str(k), mode, str(Path(tmp) / "X.npy")],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=Path(__file__).resolve().parents[1],
                )
            ratio = float(out.stdout.strip().splitlines()[-1])
            rows.append({"N": n, "D": d, "K": k, "input": mode, "peak_extra_over_input": ratio})
            print(f"memory N={n} D={d} K={k} {mode}: peak extra anonymous memory = {ratio:.2f} x input", flush=True)
    return rows

