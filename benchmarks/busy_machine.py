"""A default fit on a busy machine against LogisticRegression (issue 42, goal 6).

    python -m benchmarks.busy_machine                  # quiet and busy, two rounds
    python -m benchmarks.busy_machine --report-only    # rewrite busy_machine.md from its JSON

Long-tailed Gaussian classes (N = 12,000, D = 256, K = 300: the shape of a new user's
K = 500 set, smaller), float32. Each fit runs in a fresh process, torch's default threads:
``LogisticRegression(max_iter=1000)`` (C = 1); ``SelMixClassifier(random_state=0)`` in a
process where skselmix loads torch (as in a script that imports skselmix and fits: OpenMP
threads that wait then sleep, ``OMP_WAIT_POLICY=PASSIVE``, set by skselmix before torch
loads); and the same fit in a process that imported torch first (libgomp's default
policy: a waiting thread spins first, as every fit did up to 0.12). Quiet: nothing else
running. Busy: four processes spinning on the CPU beside the fit (a load of about 5 on
the benchmark's 2 cores). Both methods also run on one thread (torch's and BLAS's), and
each fit records its CPU seconds: how many cores it keeps busy when alone sets how much a
busy machine slows it. Rounds alternate the methods; the table gives each run and the
ratio busy / quiet of the medians.

Writes ``benchmarks/results/busy_machine.md`` and ``busy_machine.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ._report import md_table, stored_run, utc_now

# Nothing here imports torch at module level (_timing does): the children must load it
# themselves, after or before skselmix as their method says.

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE = {"n": 12_000, "d": 256, "k": 300}
METHODS = ("LogisticRegression", "SelMix", "SelMix, torch imported first", "LogisticRegression, one thread",
           "SelMix, one thread")
ONE_THREAD = ", one thread"  # the method's threads limited to one: torch's and BLAS's (threadpoolctl)
SPINNERS = 4
SPIN_UP_S = 5.0  # the spinners start before the fit, so that the scheduler sees them
QUIET_PAUSE_S = 10.0  # before a quiet fit: the spinners' load fades


def child(method, shape):
    """In a fresh process: one fit; its seconds, the CPU seconds of its threads, the load when it
    ended and the OpenMP wait policy."""
    if "torch" in sys.modules:
        raise RuntimeError("torch was imported before the child chose when to import it")
    one_thread = method.endswith(ONE_THREAD)
    method = method.removesuffix(ONE_THREAD)
    if method == "SelMix":
        import skselmix._torch  # noqa: F401  (what fit imports first: before torch, as in a user's script)
    elif method == "SelMix, torch imported first":
        import torch  # noqa: F401
    from threadpoolctl import threadpool_limits

    from ._data import long_tailed_gaussians

    X, y = long_tailed_gaussians(shape["n"], shape["d"], shape["k"])
    if method == "LogisticRegression":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=1000)
    else:
        import torch

        from skselmix import SelMixClassifier

        model = SelMixClassifier(random_state=0)
        if one_thread:
            torch.set_num_threads(1)
    with threadpool_limits(1 if one_thread else None):
        # process_time: user and system time of all the process's threads, to the nanosecond
        # (os.times counts 10 ms ticks, which a tiny fit does not reach).
        cpu, start = time.process_time(), time.perf_counter()
        model.fit(X, y)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "load": os.getloadavg()[0],
            "policy": os.environ.get("OMP_WAIT_POLICY", "unset")}


def run_child(method, shape):
    env = {name: value for name, value in os.environ.items() if name != "OMP_WAIT_POLICY"}
    result = subprocess.run([sys.executable, "-m", "benchmarks.busy_machine", "--child", method, json.dumps(shape)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Spinners:
    """``count`` processes that keep a CPU busy each, while in the block."""

    def __init__(self, count):
        self.count = count

    def __enter__(self):
        self.processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.count)]
        time.sleep(SPIN_UP_S)
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
            process.wait()


def measure(shape, rounds):
    runs = []
    for condition in ("quiet", "busy"):
        for round_ in range(rounds):
            for method in METHODS:
                if condition == "busy":
                    with Spinners(SPINNERS):
                        out = run_child(method, shape)
                else:
                    time.sleep(QUIET_PAUSE_S)
                    out = run_child(method, shape)
                runs.append({"condition": condition, "round": round_, "method": method, **out})
                print(f"  {condition} {method}: {out['seconds']:.1f} s (load {out['load']:.1f})", flush=True)
    return runs


def summary(runs):
    rows = []
    for method in METHODS:
        quiet = [r["seconds"] for r in runs if r["method"] == method and r["condition"] == "quiet"]
        busy = [r["seconds"] for r in runs if r["method"] == method and r["condition"] == "busy"]
        if not quiet:  # a method added after the stored run
            continue
        # Cores the fit kept busy when alone (CPU seconds of its threads / wall seconds): a
        # process of c runnable threads beside SPINNERS spinners on the machine's cores gets
        # about cores * c / (SPINNERS + c) of them, so the more cores a fit uses when alone,
        # the more a busy machine slows it.
        cores = [r["cpu_seconds"] / r["seconds"] for r in runs
                 if r["method"] == method and r["condition"] == "quiet" and "cpu_seconds" in r]
        rows.append({"method": method, "quiet (s)": ", ".join(f"{s:.1f}" for s in quiet),
                     "busy (s)": ", ".join(f"{s:.1f}" for s in busy),
                     "busy / quiet": float(np.median(busy) / np.median(quiet)),
                     "cores used, quiet": float(np.median(cores)) if cores else float("nan")})
    return rows


COLUMNS = ["method", "quiet (s)", "busy (s)", "busy / quiet", "cores used, quiet"]


def report(results):
    lines = ["# A default fit on a busy machine (issue 42, goal 6)", "",
             f"Written by `python -m benchmarks.busy_machine` ({results['when']}; {results['machine']}). "
             f"N = {results['shape']['n']:,}, D = {results['shape']['d']}, K = {results['shape']['k']}, long-tailed "
             "Gaussians, float32; each fit in a fresh process, torch's default threads. "
             f"Busy: {results.get('spinners', SPINNERS)} processes spinning beside the fit. "
             "'SelMix': skselmix loads torch (it sets "
             "`OMP_WAIT_POLICY=PASSIVE` first: waiting OpenMP threads sleep); 'SelMix, torch imported first': the "
             "process imported torch before skselmix, so libgomp kept its default (waiting threads spin first), "
             "as every fit did up to 0.12. ', one thread': torch's and the BLAS libraries' threads limited to "
             "one (`torch.set_num_threads(1)`, threadpoolctl). 'cores used, quiet': the fit's CPU seconds (all "
             "its threads) over its wall seconds, median of the quiet runs. A process of c busy threads beside "
             f"{results.get('spinners', SPINNERS)} spinners on 2 cores gets about 2c / "
             f"({results.get('spinners', SPINNERS)} + c) cores: a one-thread fit slows about "
             f"{(results.get('spinners', SPINNERS) + 1) / 2:g}x, one that keeps two cores busy when alone about "
             f"{(results.get('spinners', SPINNERS) + 2) / 2:g}x.", "",
             md_table(summary(results["runs"]), COLUMNS), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SHAPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], json.loads(args.child[1]))))
        return
    store = RESULTS / "busy_machine.json"
    results = stored_run(parser, store, args.report_only)
    if not args.report_only:
        from ._timing import machine_description

        with open("/proc/loadavg") as load:
            machine = f"{machine_description()}, load {load.read().split()[0]} at the start"
        results = {"when": utc_now(), "machine": machine, "shape": SHAPE, "spinners": SPINNERS,
                   "runs": measure(SHAPE, args.rounds)}
        store.write_text(json.dumps(results, indent=1))
    (RESULTS / "busy_machine.md").write_text(report(results))
    print((RESULTS / "busy_machine.md").read_text())


if __name__ == "__main__":
    main()
