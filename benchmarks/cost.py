"""What a default fit and a search over ``s`` cost, against LogisticRegression on the same rows.

    python -m benchmarks.cost                         # every case (about 10 minutes on 2 cores)
    python -m benchmarks.cost --baseline-commit 3dd584d   # also time that commit's default fit
    python -m benchmarks.cost --quick                 # small cases only, a smoke test

Side by side in one process, quiet machine, torch's default thread count:
``LogisticRegression(max_iter=1000)`` at its default C=1, ``SelMixClassifier(cv=None)``
(hold-out), the default ``SelMixClassifier()`` (5-fold cross-fitting) and the default
``SelMixClassifierCV()`` (five values of ``s`` from one warm start). Cases:

* embedding-like: N = 11,027, D = 1280, K = 108, classes of 408 down to 8 rows, rows
  with a 48-dimensional class structure plus anisotropic noise through a ReLU, the
  shape of EfficientNet embeddings of a many-class set; LogisticRegression needs over a
  hundred L-BFGS iterations on it, not the handful of a separable toy;
* Gaussian: N = 100k, D = 512, K = 100 (benchmarks.perf's long-tailed Gaussians), on
  which LogisticRegression converges in 8 iterations;
* quickstart: the long-tailed digits of examples/quickstart.py (273 training rows).

With ``--baseline-commit`` the default fit of that commit runs in a subprocess on the
same rows (from a temporary git worktree), for a before/after in the same run. Peak
memory of the default fit at N = 100k comes from benchmarks._timing's fresh-process probe.
Writes ``benchmarks/results/perf_cost.md`` and ``perf_cost.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from skselmix import SelMixClassifier, SelMixClassifierCV
from skselmix.datasets import long_tailed_split

from ._data import long_tailed_gaussians
from ._report import md_table, utc_now
from ._timing import bench_memory, machine_description

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def embedding_like(n=11027, d=1280, k=108, latent=48, smallest=8, seed=0):
    """Long-tailed rows shaped like pretrained-network embeddings (see the module docstring)."""
    rng = np.random.default_rng(seed)
    raw = 50.0 ** (1 - np.arange(k) / (k - 1))
    sizes = np.maximum(smallest, np.round(raw / raw.sum() * n)).astype(int)
    sizes[0] += n - sizes.sum()
    y = np.repeat(np.arange(k), sizes)
    means = rng.normal(size=(k, latent))
    spectrum = 1.0 / np.sqrt(1 + np.arange(d))
    basis = np.linalg.qr(rng.normal(size=(d, d)))[0]
    mix = rng.normal(size=(latent, d)) / np.sqrt(latent)
    z = means[y] + 2.0 * rng.normal(size=(n, latent))
    X = 0.6 * z @ mix + 3.0 * (rng.normal(size=(n, d)) * spectrum) @ basis.T
    return np.maximum(X + 0.5, 0).astype(np.float32), y


def quickstart_rows():
    X, y = load_digits(return_X_y=True)
    X_tr, y_tr, X_val, y_val, _, _ = long_tailed_split(
        X, y, rho=50, n_val_per_class=25, n_test_per_class=50, random_state=0
    )
    return np.r_[X_tr, X_val], np.r_[y_tr, y_val]


CASES = {
    "embedding-like, N=11,027, D=1280, K=108": embedding_like,
    "Gaussian, N=100k, D=512, K=100": lambda: long_tailed_gaussians(100_000, 512, 100),
    "quickstart (long-tailed digits)": quickstart_rows,
}
QUICK = ("quickstart (long-tailed digits)",)

BASELINE_SCRIPT = textwrap.dedent(
    """
    import sys, time, numpy as np
    sys.path.insert(0, sys.argv[1])
    from skselmix import SelMixClassifier
    data = np.load(sys.argv[2])
    X, y = data["X"], data["y"]
    times = []
    for _ in range(int(sys.argv[3])):
        start = time.perf_counter()
        SelMixClassifier(random_state=0).fit(X, y)
        times.append(time.perf_counter() - start)
    print(float(np.median(times)))
    """
)


def timed(make, repeats):
    """Median seconds of ``make()`` over ``repeats`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = make()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def baseline_seconds(commit, X, y, repeats):
    """The default fit of ``commit`` on ``(X, y)``, in a subprocess importing that commit's package."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True, capture_output=True
        )
        try:
            np.savez(Path(tmp) / "rows.npz", X=X, y=y)
            out = subprocess.run(
                [sys.executable, "-c", BASELINE_SCRIPT, str(tree), str(Path(tmp) / "rows.npz"), str(repeats)],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True, capture_output=True
            )
    return float(out.stdout.strip().splitlines()[-1])


def bench_case(name, X, y, baseline_commit=None):
    repeats = 5 if X.shape[0] < 2000 else 1
    t_lr, lr = timed(lambda: LogisticRegression(max_iter=1000).fit(X, y), repeats)
    t_hold, hold = timed(lambda: SelMixClassifier(cv=None, random_state=0).fit(X, y), repeats)
    t_default, default = timed(lambda: SelMixClassifier(random_state=0).fit(X, y), repeats)
    t_cv, search = timed(lambda: SelMixClassifierCV(random_state=0).fit(X, y), repeats)
    row = {
        "case": name,
        "N": int(X.shape[0]),
        "D": int(X.shape[1]),
        "K": int(np.unique(y).size),
        "repeats": repeats,
        "logreg_s": t_lr,
        "logreg_iterations": int(np.max(lr.n_iter_)),
        "holdout_s": t_hold,
        "default_s": t_default,
        "cv_search_s": t_cv,
        "default_best_step": int(default.best_step_),
        "holdout_best_step": int(hold.best_step_),
        "cv_search_s_": float(search.s_),
        "cv_search_best_step": int(search.best_step_),
        "ratio_holdout": t_hold / t_lr,
        "ratio_default": t_default / t_lr,
        "ratio_cv_search": t_cv / t_lr,
        "cv_search_over_default": t_cv / t_default,
    }
    if baseline_commit:
        row["baseline_default_s"] = baseline_seconds(baseline_commit, X, y, repeats)
        row["baseline_ratio_default"] = row["baseline_default_s"] / t_lr
    print(json.dumps(row), flush=True)
    return row


def report(rows, memory, started, baseline_commit, threads):
    cols = [
        "case",
        "logreg_s",
        "logreg_iterations",
        "holdout_s",
        "default_s",
        "cv_search_s",
        "ratio_default",
        "ratio_cv_search",
        "cv_search_over_default",
        "default_best_step",
        "cv_search_s_",
    ]
    if baseline_commit:
        cols += ["baseline_default_s", "baseline_ratio_default"]
    lines = [
        "# Cost of a default fit and of a search over s",
        "",
        f"Run started {started} on {machine_description()}, torch {torch.__version__}, {threads} torch threads, "
        "one heavy job at a time (nothing else running). Written by `python -m benchmarks.cost"
        + (f" --baseline-commit {baseline_commit}" if baseline_commit else "")
        + "`. Seconds are medians over "
        "`repeats` runs (5 for the quickstart, 1 otherwise); ratios are to `LogisticRegression(max_iter=1000)` "
        "at C=1 on the same rows, in the same process.",
        "",
        "Columns: `holdout_s` is `SelMixClassifier(cv=None)`, `default_s` the default `SelMixClassifier()` "
        "(5-fold cross-fitting), `cv_search_s` the default `SelMixClassifierCV()` (s in 0.1, 1, 10, 100, 1000, "
        "one warm start)"
        + (
            f", `baseline_default_s` the default fit of commit {baseline_commit} on the same rows"
            if baseline_commit
            else ""
        )
        + ".",
        "",
        md_table(rows, cols),
        "",
    ]
    if memory:
        lines += [
            "Peak extra anonymous memory of the default fit, fresh process, as a multiple of the input:",
            "",
            md_table(memory, ["N", "D", "K", "input", "peak_extra_over_input"]),
            "",
        ]
    (RESULTS / "perf_cost.md").write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--baseline-commit", default=None)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args(argv)
    started = utc_now()
    rows = []
    for name, make in CASES.items():
        if args.quick and name not in QUICK:
            continue
        X, y = make()
        rows.append(bench_case(name, X, y, args.baseline_commit))
    memory = [] if (args.quick or args.no_memory) else bench_memory([(100_000, 512, 100)])
    RESULTS.mkdir(exist_ok=True)
    record = {
        "started": started,
        "machine": machine_description(),
        "torch_threads": torch.get_num_threads(),
        "baseline_commit": args.baseline_commit,
        "rows": rows,
        "memory": memory,
        "load_average_at_end": os.getloadavg()[0],
    }
    if not args.quick:
        (RESULTS / "perf_cost.json").write_text(json.dumps(record, indent=1))
        report(rows, memory, started, args.baseline_commit, torch.get_num_threads())
    return record


if __name__ == "__main__":
    main()
