"""Long-tailed tabular problems: SelMix with and without an adapter, gradient boosting, an MLP.

Issue 26 (a trainable adapter under the head, ``hidden_layer_sizes``): SelMix with a
one-layer adapter against its own warm start, linear SelMix, gradient boosting and an
MLP on offline tabular data, paired split by split.

Datasets (offline): scikit-learn's digits as raw pixel counts (64 integer columns,
10 classes) and a nonlinear synthetic problem (``make_classification`` with three
clusters per class, 16 columns, 20 classes). Each split draws a long-tailed training
set (imbalance ratio 50) and a balanced test set (``long_tailed_split``).

Methods: SelMix [min_recall] with an adapter of 256 units and otherwise its defaults
(``cv=5``: five fold networks), that adapter's own warm start (``max_iter=0``: the five
fold networks as fitted), SelMix with its defaults (linear head) and its warm start,
``HistGradientBoostingClassifier(class_weight="balanced")``, and ``MLPClassifier((256,))``
and ``LogisticRegression(C=1)`` (the cost yardstick of ``perf_cost.md``) on standardised
columns. The reported splits are seeds 0 to 9. The adapter's weight decay
and learning rate were tuned on seeds 100 to 103; its Adam schedule was fixed by a first
probe on splits 0 and 1 (``benchmarks/perf_notes.md``, "Adapter warm start").

Run from the repository root, alone (two cores are easy to oversubscribe):
``python -m benchmarks.tabular [--splits 10]``; writes ``benchmarks/results/tabular.md``
and ``tabular.json``.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skselmix import FitOutcomeWarning, SelMixClassifier
from skselmix.datasets import long_tailed_split
from skselmix.metrics import mean_recall_score, min_recall_score

from ._report import utc_now

RESULTS = Path(__file__).parent / "results"


def digits_raw():
    return load_digits(return_X_y=True)


def synthetic_nonlinear():
    return make_classification(n_samples=30_000, n_features=16, n_informative=12, n_redundant=2, n_classes=20,
                               n_clusters_per_class=3, class_sep=1.5, random_state=0)


DATASETS = {
    "digits (raw pixels, K=10)": (digits_raw, dict(rho=50, n_val_per_class=0, n_test_per_class=50)),
    "synthetic nonlinear (K=20)": (synthetic_nonlinear, dict(rho=50, n_val_per_class=0, n_test_per_class=200)),
}

ADAPTER = "SelMix [min_recall], adapter (256,), cv=5"
ADAPTER_START = "its warm start (adapter, max_iter=0)"
LINEAR = "SelMix [min_recall], linear, cv=5"

METHODS = {
    ADAPTER: lambda seed: SelMixClassifier("min_recall", hidden_layer_sizes=(256,), device="cpu", random_state=seed),
    ADAPTER_START: lambda seed: SelMixClassifier("min_recall", hidden_layer_sizes=(256,), max_iter=0, device="cpu",
                                                 random_state=seed),
    LINEAR: lambda seed: SelMixClassifier("min_recall", device="cpu", random_state=seed),
    "linear warm start (max_iter=0)": lambda seed: SelMixClassifier("min_recall", max_iter=0, device="cpu",
                                                                 random_state=seed),
    "HistGradientBoosting (balanced)": lambda seed: HistGradientBoostingClassifier(class_weight="balanced",
                                                                                   random_state=seed),
    "MLPClassifier((256,)), standardised": lambda seed: make_pipeline(
        StandardScaler(), MLPClassifier((256,), max_iter=300, random_state=seed)),
    # The cost yardstick of benchmarks/results/perf_cost.md, on the same rows.
    "LogisticRegression(C=1), standardised": lambda seed: make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)),
}
#: The paired comparisons reported: (method, minus method).
COMPARISONS = [(ADAPTER, other) for other in METHODS if other != ADAPTER] + [
    (LINEAR, "linear warm start (max_iter=0)")]


def run_split(X, y, split_params, seed, methods=None):
    methods = METHODS if methods is None else methods
    X_tr, y_tr, _, _, X_te, y_te = long_tailed_split(X, y, random_state=seed, **split_params)
    out = {"train sizes": np.bincount(y_tr).tolist()}
    for name, make in methods.items():
        model = make(seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (ConvergenceWarning, FitOutcomeWarning))
            model.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
        pred = model.predict(X_te)
        out[name] = {"min recall": min_recall_score(y_te, pred), "mean recall": mean_recall_score(y_te, pred),
                     "seconds": seconds, "best_step": getattr(model, "best_step_", None)}
    return out


def paired(runs, a, b, key):
    d = np.array([run[a][key] - run[b][key] for run in runs])
    t = d.mean() / (d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 and d.std(ddof=1) > 0 else float("nan")
    return d.mean(), t, int((d > 0).sum()), int((d < 0).sum())


def report(results, started):
    lines = [
        "# Long-tailed tabular problems: SelMix with an adapter and linear, their warm starts, gradient boosting, "
        "an MLP",
        "",
        f"Generated by `python -m benchmarks.tabular` (started {started}; 2 CPU cores, torch "
        f"{torch.__version__} with {torch.get_num_threads()} threads, one process, nothing else running). "
        "Training sets long-tailed (imbalance ratio 50), test sets balanced; mean over splits, "
        "then paired differences split by split (t: paired t statistic; wins / losses).",
    ]
    for dataset, runs in results.items():
        first = runs[0]
        lines += ["", f"## {dataset}", "", f"{len(runs)} splits; training class sizes of split 0: "
                  f"{sorted(first['train sizes'], reverse=True)}.", "",
                  "| method | test min recall | test mean recall | fit seconds | SelMix best_step_ |",
                  "| --- | --- | --- | --- | --- |"]
        for name in (name for name in METHODS if name in first):
            mins = [run[name]["min recall"] for run in runs]
            means = [run[name]["mean recall"] for run in runs]
            secs = [run[name]["seconds"] for run in runs]
            steps = [run[name]["best_step"] for run in runs if run[name]["best_step"] is not None]
            lines.append(f"| {name} | {np.mean(mins):.3f} ± {np.std(mins, ddof=1):.3f} | "
                         f"{np.mean(means):.3f} ± {np.std(means, ddof=1):.3f} | {np.median(secs):.2f} | "
                         f"{(min(steps), max(steps)) if steps and name.startswith('SelMix') else ''} |")
        lines += ["", "| paired | min recall | t | wins / losses | mean recall | t |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for method, other in COMPARISONS:
            if method not in first or other not in first:
                continue
            dm, tm, win, lose = paired(runs, method, other, "min recall")
            da, ta, _, _ = paired(runs, method, other, "mean recall")
            lines.append(f"| {method} minus {other} | {dm:+.3f} | {tm:+.2f} | {win} / {lose} | {da:+.3f} | "
                         f"{ta:+.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--only", nargs="+", choices=list(METHODS), metavar="METHOD",
                        help="rerun these methods only; the stored run (tabular.json) keeps the others' rows")
    args = parser.parse_args(argv)
    started = utc_now()
    stored = json.loads((RESULTS / "tabular.json").read_text()) if args.only else {}
    methods = {name: METHODS[name] for name in args.only} if args.only else None
    results = {}
    for dataset, (load, split_params) in DATASETS.items():
        X, y = load()
        results[dataset] = []
        for seed in range(args.splits):
            row = run_split(X, y, split_params, seed, methods)
            if args.only:  # the stored split, with the rerun methods replaced
                row = {**stored["results"][dataset][seed], **row}
            results[dataset].append(row)
            print(dataset, seed, {k: round(v["min recall"], 3) for k, v in results[dataset][-1].items()
                                  if isinstance(v, dict)}, flush=True)
    RESULTS.mkdir(exist_ok=True)
    if args.only:
        started = f"{stored['started']}; {', '.join(args.only)} rerun {started}"
    (RESULTS / "tabular.json").write_text(json.dumps({"started": started, "results": results}, indent=1))
    text = report(results, started)
    (RESULTS / "tabular.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
