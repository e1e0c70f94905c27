"""Input that is not one in-memory array (issue 42): a fit read from a memory-mapped file
against the same fit in memory, and prediction in blocks of rows against one product.

    python -m benchmarks.out_of_core                       # both parts
    python -m benchmarks.out_of_core --part fit            # fit: about 1 GB float32, K = 100
    python -m benchmarks.out_of_core --part predict        # predict: 100,000 rows, K = 1000
    python -m benchmarks.out_of_core --part beyond         # 4 GB on disk, a 2 GiB memory cgroup (root)
    python -m benchmarks.out_of_core --part dask           # the fit's rows as a Dask array on a 2-worker cluster
    python -m benchmarks.out_of_core --report-only         # rewrite out_of_core.md from its JSON

Every measurement runs in a fresh process (its memory is its own), one at a time, with
torch's default threads. Peak memory is the largest extra anonymous memory (``RssAnon``,
sampled every 5 ms) during the call over its value just before, as a share of the input's
bytes: a memory map's pages are file-backed (the page cache, which the kernel can drop),
not anonymous.

* ``fit``: Gaussian classes (K = 100, D = 256, class sizes falling geometrically by 20x),
  as many rows as make about 1 GB of float32, written once to an ``.npy`` file under
  ``~/skselmix_data`` with a balanced test set (50 rows a class).
  ``SelMixClassifier(random_state=0)`` (defaults) fitted on the rows loaded into memory,
  and on the same file opened with ``mmap_mode="r"``: time, peak extra memory,
  ``best_step_``, and the share of test rows both models predict alike.
* ``beyond`` (needs a writable memory cgroup: root): the fit part's problem written at
  about 4 GB and fitted from its memory map in a process whose memory cgroup allows
  2 GiB, page cache included (no swap): the kernel must drop the input's and the fit's
  file-backed pages as it goes. Its time beside the in-memory fit's, scaled in the rows.
* ``dask``: the fit part's problem as a Dask array held by the workers of a 2-worker
  ``distributed.LocalCluster`` (they read the ``.npy`` file in 50,000-row chunks), fitted
  with the defaults beside the same rows fitted in memory: time, the client's peak extra
  memory, the workers' memory, ``best_step_`` and the share of test rows predicted alike.
* ``predict``: a warm-start model (``max_iter=0``) at K = 1000, D = 512, predicting 100,000
  float32 rows in memory: ``predict`` and ``predict_proba`` in the default blocks against
  one block of every row (what 0.11 computed: the whole input as float64, then one
  product); time and peak extra memory (``predict_proba``'s result, 100,000 x 1000 float64,
  is 763 MiB of it).

Writes ``benchmarks/results/out_of_core.md`` and ``out_of_core.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from ._report import PeakMemory, stored_run, utc_now
from ._timing import machine_description

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path.home() / "skselmix_data"
FIT_SHAPE = {"d": 256, "k": 100, "target_bytes": 1_000_000_000}
PREDICT_SHAPE = {"n": 100_000, "d": 512, "k": 1000}


def long_tailed_counts(k, total):
    """Rows per class falling geometrically by 20x from the first class to the last, ``total`` in all."""
    shape = np.geomspace(20.0, 1.0, k)
    return np.maximum(1, np.round(shape / shape.sum() * total)).astype(int)


def write_fit_data(d, k, target_bytes, seed=0):
    """Training rows (``.npy``, float32, written a block at a time) and labels of the fit part,
    and a balanced test set (50 rows a class); cached under ``DATA``."""
    n = target_bytes // (4 * d)
    stem = DATA / f"out_of_core_{n}x{d}_k{k}_seed{seed}"
    paths = {part: Path(f"{stem}_{part}.npy") for part in ("X", "y", "X_test", "y_test")}
    if all(path.exists() for path in paths.values()):
        return {part: str(path) for part, path in paths.items()}
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    means = rng.normal(scale=0.35, size=(k, d)).astype(np.float32)
    y = np.repeat(np.arange(k), long_tailed_counts(k, n))[:n]
    y = np.concatenate([y, np.full(n - y.size, k - 1)])
    rng.shuffle(y)
    X = np.lib.format.open_memmap(paths["X"], mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, 50_000):
        stop = min(start + 50_000, n)
        X[start:stop] = means[y[start:stop]] + rng.normal(size=(stop - start, d)).astype(np.float32)
    X.flush()
    del X
    y_test = np.repeat(np.arange(k), 50)
    np.save(paths["X_test"], means[y_test] + rng.normal(size=(y_test.size, d)).astype(np.float32))
    np.save(paths["y"], y)
    np.save(paths["y_test"], y_test)
    return {part: str(path) for part, path in paths.items()}


def child_fit(spec):
    """In a fresh process: one default fit on the rows in memory or memory-mapped."""
    import torch

    from skselmix import SelMixClassifier

    mmap = "r" if spec["mode"] == "memmap" else None
    X = np.load(spec["X"], mmap_mode=mmap)
    y = np.load(spec["y"])
    model = SelMixClassifier(random_state=0)
    start = time.perf_counter()
    with PeakMemory() as peak:
        model.fit(X, y)
    seconds = time.perf_counter() - start
    np.save(spec["predictions"], model.predict(np.load(spec["X_test"])))
    return {"seconds": seconds, "peak_extra_bytes": peak.extra, "input_bytes": int(X.nbytes),
            "best_step": int(model.best_step_), "validation_gain": float(model.validation_gain_),
            "threads": torch.get_num_threads()}


def _read_rows(path, start, stop):
    """Rows ``start:stop`` of a ``.npy`` file, read on the worker that runs the task."""
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def _worker_anon_bytes():
    from benchmarks._report import anon_bytes

    return anon_bytes()


def child_dask_fit(spec):
    """In a fresh process: a 2-worker ``distributed.LocalCluster`` (one thread each) whose
    workers read the rows from the ``.npy`` file in 50,000-row chunks and keep them; one
    default fit on that Dask array. Peak extra memory is this (the client) process's; the
    workers' resident anonymous memory (summed) is sampled every second during the fit."""
    import dask
    import dask.array as da
    import torch
    from distributed import Client, LocalCluster, wait

    from skselmix import SelMixClassifier

    n, d = np.load(spec["X"], mmap_mode="r").shape
    y = np.load(spec["y"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(torch.set_num_threads, 1)  # one thread a worker: two workers on two cores
        chunks = [da.from_delayed(dask.delayed(_read_rows)(spec["X"], start, min(start + 50_000, n)),
                                  shape=(min(start + 50_000, n) - start, d), dtype=np.float32)
                  for start in range(0, n, 50_000)]
        X = da.concatenate(chunks).persist()
        wait(X)
        workers_before = sum(client.run(_worker_anon_bytes).values())
        model = SelMixClassifier(random_state=0)
        workers_peak, done = [workers_before], threading.Event()

        def sample_workers():  # the workers' memory, every second (a round trip each)
            while not done.wait(1.0):
                workers_peak[0] = max(workers_peak[0], sum(client.run(_worker_anon_bytes).values()))

        sampler = threading.Thread(target=sample_workers, daemon=True)
        sampler.start()
        start = time.perf_counter()
        with PeakMemory() as peak:
            model.fit(X, y)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    np.save(spec["predictions"], model.predict(np.load(spec["X_test"])))
    return {"seconds": seconds, "peak_extra_bytes": peak.extra, "input_bytes": int(n * d * 4),
            "best_step": int(model.best_step_), "validation_gain": float(model.validation_gain_),
            "threads": torch.get_num_threads(), "workers_anon_before": int(workers_before),
            "workers_anon_peak": int(workers_peak[0])}


def as_in_0_11(model, method, X):
    """``method`` of ``model`` as 0.11 computed it, from the fitted attributes: the whole input as
    float64, then one product (the logits of every row at once)."""
    from scipy.special import softmax

    logits = np.asarray(X, dtype=np.float64) @ model.coef_.T + model.intercept_
    if method == "predict":
        return model.classes_[np.argmax(logits, axis=1)]
    return softmax(logits / model.temperature_, axis=1)


def child_predict(spec):
    """In a fresh process: ``predict`` and ``predict_proba`` of a K = 1000 warm start, in the
    default blocks or as 0.11 computed them (one product of every row)."""
    import torch

    from skselmix import SelMixClassifier

    n, d, k = spec["n"], spec["d"], spec["k"]
    rng = np.random.RandomState(0)
    means = rng.normal(scale=0.3, size=(k, d)).astype(np.float32)
    y_train = np.repeat(np.arange(k), 10)
    X_train = means[y_train] + rng.normal(size=(y_train.size, d)).astype(np.float32)
    model = SelMixClassifier(max_iter=0, cv=None, random_state=0).fit(X_train, y_train)
    X = means[rng.randint(k, size=n)] + rng.normal(size=(n, d)).astype(np.float32)
    out = {"threads": torch.get_num_threads(), "input_bytes": int(X.nbytes)}
    for method in ("predict", "predict_proba"):
        call = (lambda rows: as_in_0_11(model, method, rows)) if spec["blocks"] == "one" else getattr(model, method)
        np.testing.assert_allclose(call(X[:2000]), getattr(model, method)(X[:2000]), rtol=0, atol=1e-12)
        times, peaks = [], []
        for _ in range(3):
            start = time.perf_counter()
            with PeakMemory() as peak:
                result = call(X)
            times.append(time.perf_counter() - start)
            peaks.append(peak.extra)
            del result
        out[method] = {"seconds": float(np.median(times)), "peak_extra_bytes": int(max(peaks))}
    return out


def in_fresh_process(kind, spec, prefix=()):
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "benchmarks.out_of_core", "--child", kind, json.dumps(spec)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def fit_part(target_bytes):
    paths = write_fit_data(FIT_SHAPE["d"], FIT_SHAPE["k"], target_bytes)
    runs = {}
    for mode in ("memory", "memmap"):
        spec = dict(paths, mode=mode, predictions=str(DATA / f"out_of_core_pred_{mode}.npy"))
        runs[mode] = in_fresh_process("fit", spec)
        print(f"  fit, {mode}: {runs[mode]['seconds']:.1f} s, peak extra "
              f"{runs[mode]['peak_extra_bytes'] / runs[mode]['input_bytes']:.2f}x the input", flush=True)
    same = np.load(DATA / "out_of_core_pred_memory.npy") == np.load(DATA / "out_of_core_pred_memmap.npy")
    X = np.load(paths["X"], mmap_mode="r")
    return {"N": int(X.shape[0]), "D": int(X.shape[1]), "K": FIT_SHAPE["k"], "runs": runs,
            "test_agreement": float(same.mean()), "n_test": int(same.size)}


def dask_part(target_bytes):
    """The fit part's problem as a Dask array on a 2-worker LocalCluster, beside the in-memory fit."""
    import dask.distributed  # noqa: F401  (fails early where distributed is not installed)

    paths = write_fit_data(FIT_SHAPE["d"], FIT_SHAPE["k"], target_bytes)
    runs = {}
    for mode, kind in (("memory", "fit"), ("dask", "dask_fit")):
        spec = dict(paths, mode=mode, predictions=str(DATA / f"out_of_core_pred_{mode}_{target_bytes}.npy"))
        runs[mode] = in_fresh_process(kind, spec)
        print(f"  {mode}: {runs[mode]}", flush=True)
    same = (np.load(DATA / f"out_of_core_pred_memory_{target_bytes}.npy")
            == np.load(DATA / f"out_of_core_pred_dask_{target_bytes}.npy"))
    X = np.load(paths["X"], mmap_mode="r")
    return {"N": int(X.shape[0]), "D": int(X.shape[1]), "K": FIT_SHAPE["k"], "runs": runs,
            "test_agreement": float(same.mean()), "n_test": int(same.size)}


class MemoryLimit:
    """A fresh memory cgroup (v1 or v2) limited to ``limit_bytes``, which a child joins through
    :attr:`prefix`; page cache counts against the limit, so the kernel must drop pages of
    the memory-mapped input and of the fit's file-backed features to stay under it. There
    is no swap on the benchmark machine: anonymous memory past the limit is killed."""

    def __init__(self, limit_bytes):
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        root = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/memory")
        self.files = ("memory.max", "memory.peak", "memory.events") if v2 else (
            "memory.limit_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt")
        self.group = root / f"skselmix_out_of_core_{os.getpid()}"
        self.limit_bytes = limit_bytes

    def __enter__(self):
        self.group.mkdir()
        (self.group / self.files[0]).write_text(str(self.limit_bytes))
        self.prefix = ("sh", "-c", f'echo $$ > {self.group}/cgroup.procs && exec "$0" "$@"')
        return self

    def usage(self):
        return {"peak_bytes": int((self.group / self.files[1]).read_text().split()[0]),
                "limit_hits": (self.group / self.files[2]).read_text().strip()}

    def __exit__(self, *exc):
        self.group.rmdir()


def beyond_part(target_bytes, limit_bytes, in_memory_fit):
    """A fit whose memory-mapped input is larger than the memory its process may use."""
    paths = write_fit_data(FIT_SHAPE["d"], FIT_SHAPE["k"], target_bytes)
    spec = dict(paths, mode="memmap", predictions=str(DATA / "out_of_core_pred_beyond.npy"))
    # Pages of the input already cached (written or read by this process) are charged to this
    # process's cgroup, not the child's: drop them, so the child reads every page it uses
    # under its own limit.
    os.sync()
    for path in paths.values():
        with open(path, "rb") as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    with MemoryLimit(limit_bytes) as limit:
        run = in_fresh_process("fit", spec, prefix=limit.prefix)
        run.update(limit.usage(), limit_bytes=limit_bytes)
    X = np.load(paths["X"], mmap_mode="r")
    out = {"N": int(X.shape[0]), "D": int(X.shape[1]), "K": FIT_SHAPE["k"], "run": run}
    if in_memory_fit:
        # The in-memory fit's time, scaled linearly in the rows (each L-BFGS evaluation and
        # each pass is linear in N; the SGD steps are not, so this is an upper estimate).
        out["in_memory_extrapolated_s"] = in_memory_fit["runs"]["memory"]["seconds"] * X.shape[0] / in_memory_fit["N"]
    print(f"  beyond: {run}", flush=True)
    return out


def predict_part():
    runs = {}
    for blocks in ("one", "default"):
        runs[blocks] = in_fresh_process("predict", dict(PREDICT_SHAPE, blocks=blocks))
        print(f"  predict, {blocks} block(s): {runs[blocks]}", flush=True)
    return dict(PREDICT_SHAPE, runs=runs)


def heading(title, part, description):
    """A report section's title (with when and where its part ran) and what it measured."""
    return [f"## {title} ({part['when']}; {part['machine']})", "", description, ""]


MIB = 2.0**20


def fit_section(fit):
    lines = heading("Fit from a memory-mapped file", fit,
                    f"N = {fit['N']:,}, D = {fit['D']}, K = {fit['K']}, float32 "
                    f"({fit['runs']['memmap']['input_bytes'] / 1e9:.2f} GB), `SelMixClassifier(random_state=0)`, "
                    f"{fit['runs']['memory']['threads']} torch threads.")
    lines += ["| input | fit (s) | peak extra memory | x input | best_step_ | validation_gain_ |",
              "| --- | --- | --- | --- | --- | --- |"]
    for mode, label in (("memory", "loaded into memory"), ("memmap", "`np.load(..., mmap_mode='r')`")):
        run = fit["runs"][mode]
        lines.append(f"| {label} | {run['seconds']:.1f} | {run['peak_extra_bytes'] / MIB:.0f} MiB | "
                     f"{run['peak_extra_bytes'] / run['input_bytes']:.2f} | {run['best_step']} | "
                     f"{run['validation_gain']:+.4f} |")
    ratio = fit["runs"]["memmap"]["seconds"] / fit["runs"]["memory"]["seconds"]
    return lines + ["", f"Memory-mapped fit / in-memory fit: {ratio:.2f}x the time. Test predictions alike: "
                    f"{fit['test_agreement']:.4f} of {fit['n_test']:,} rows.", ""]


def beyond_section(beyond):
    run = beyond["run"]
    lines = heading("Larger than the memory it may use", beyond,
                    f"N = {beyond['N']:,}, D = {beyond['D']}, K = {beyond['K']}: a "
                    f"{run['input_bytes'] / 2**30:.2f} GiB float32 `.npy` opened with `mmap_mode='r'`, fitted by "
                    f"`SelMixClassifier(random_state=0)` in a process whose memory cgroup allows "
                    f"{run['limit_bytes'] / 2**30:.2f} GiB (page cache included; no swap).")
    return lines + [
        "| fit (s) | in memory, extrapolated (s) | peak extra RssAnon | cgroup peak | limit reached | best_step_ "
        "| validation_gain_ |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {run['seconds']:.0f} | {beyond.get('in_memory_extrapolated_s', float('nan')):.0f} | "
        f"{run['peak_extra_bytes'] / MIB:.0f} MiB ({run['peak_extra_bytes'] / run['input_bytes']:.2f}x) | "
        f"{run['peak_bytes'] / MIB:.0f} MiB | {run['limit_hits']} times | {run['best_step']} | "
        f"{run['validation_gain']:+.4f} |",
        "", "The extrapolation scales the in-memory 1 GB fit's time linearly in the rows.", ""]


def predict_section(predict):
    lines = heading("Prediction in blocks", predict,
                    f"{predict['n']:,} float32 rows in memory, D = {predict['d']}, K = {predict['k']}, a "
                    f"warm-start model; median of 3 calls, {predict['runs']['default']['threads']} torch threads. "
                    "'One' is every row in one product, as 0.11 computed (from the fitted attributes); "
                    "'default' is `predict` / `predict_proba` now, in blocks of rows.")
    lines += ["| method | blocks | time (s) | peak extra memory |", "| --- | --- | --- | --- |"]
    for method in ("predict", "predict_proba"):
        for blocks in ("one", "default"):
            run = predict["runs"][blocks]
            lines.append(f"| `{method}` | {'one (0.11)' if blocks == 'one' else 'default'} | "
                         f"{run[method]['seconds']:.2f} | {run[method]['peak_extra_bytes'] / MIB:.0f} MiB |")
    return lines + [""]


def dask_section(part):
    memory, dask_run = part["runs"]["memory"], part["runs"]["dask"]
    lines = heading("Fit from a Dask array on a cluster", part,
                    f"N = {part['N']:,}, D = {part['D']}, K = {part['K']}, float32 "
                    f"({dask_run['input_bytes'] / 1e9:.2f} GB), `SelMixClassifier(random_state=0)`. The Dask array "
                    "lives on a `distributed.LocalCluster` of 2 worker processes (one thread each; the workers "
                    "read the rows from the `.npy` file in 50,000-row chunks and keep them): the column statistics, "
                    "every L-BFGS evaluation, the class means and the out-of-fold predictions run as tasks on the "
                    "chunks; the SGD steps gather their rows from them. The client is the process that calls "
                    "`fit`; the in-memory fit runs alone in its own process with "
                    f"{memory['threads']} torch threads.")
    lines += ["| input | fit (s) | client's peak extra memory | x input | workers' memory (peak; before) "
              "| best_step_ | validation_gain_ |", "| --- | --- | --- | --- | --- | --- | --- |"]
    lines.append(f"| in memory | {memory['seconds']:.1f} | {memory['peak_extra_bytes'] / MIB:.0f} MiB | "
                 f"{memory['peak_extra_bytes'] / memory['input_bytes']:.2f} | - | {memory['best_step']} | "
                 f"{memory['validation_gain']:+.4f} |")
    lines.append(f"| Dask array, 2 workers | {dask_run['seconds']:.1f} | "
                 f"{dask_run['peak_extra_bytes'] / MIB:.0f} MiB | "
                 f"{dask_run['peak_extra_bytes'] / dask_run['input_bytes']:.2f} | "
                 f"{dask_run['workers_anon_peak'] / MIB:.0f} MiB; {dask_run['workers_anon_before'] / MIB:.0f} MiB "
                 f"| {dask_run['best_step']} | {dask_run['validation_gain']:+.4f} |")
    ratio = dask_run["seconds"] / memory["seconds"]
    return lines + ["", f"Dask fit / in-memory fit: {ratio:.2f}x the time. Test predictions alike: "
                    f"{part['test_agreement']:.4f} of {part['n_test']:,} rows.", ""]


SECTIONS = {"fit": fit_section, "beyond": beyond_section, "predict": predict_section, "dask": dask_section}


def report(results):
    lines = ["# Out-of-core input and prediction in blocks (issue 42)", "",
             "Written by `python -m benchmarks.out_of_core`; each measurement in a fresh process, one at a time, "
             "torch's default threads. Peak extra = largest RssAnon during the call minus its value before.", ""]
    for part, section in SECTIONS.items():
        if part in results:
            lines += section(results[part])
    return "\n".join(lines)


def machine():
    """The machine's description (:func:`_timing.machine_description`) and its load when the part ran."""
    with open("/proc/loadavg") as load:
        return f"{machine_description()}, load {load.read().split()[0]}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", choices=("fit", "predict", "beyond", "dask"),
                        default=("fit", "predict"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--fit-bytes", type=int, default=FIT_SHAPE["target_bytes"],
                        help="bytes of the fit part's float32 training rows (default about 1 GB)")
    parser.add_argument("--beyond-bytes", type=int, default=4_000_000_000,
                        help="bytes of the beyond part's float32 training rows (default about 4 GB)")
    parser.add_argument("--limit-bytes", type=int, default=2 << 30,
                        help="the beyond part's memory limit (default 2 GiB)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, spec = args.child
        children = {"fit": child_fit, "predict": child_predict, "dask_fit": child_dask_fit}
        print(json.dumps(children[kind](json.loads(spec))))
        return
    store = RESULTS / "out_of_core.json"
    results = stored_run(parser, store, args.report_only)
    if not args.report_only:
        for part in args.part:
            print(f"{part}:", flush=True)
            if part == "beyond":
                results[part] = beyond_part(args.beyond_bytes, args.limit_bytes, results.get("fit"))
            elif part == "dask":
                results[part] = dask_part(args.fit_bytes)
            else:
                results[part] = fit_part(args.fit_bytes) if part == "fit" else predict_part()
            results[part].update(when=utc_now(), machine=machine())
            store.write_text(json.dumps(results, indent=1))
    (RESULTS / "out_of_core.md").write_text(report(results))
    print((RESULTS / "out_of_core.md").read_text())


if __name__ == "__main__":
    main()
