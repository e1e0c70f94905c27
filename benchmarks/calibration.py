"""Calibration of predict_proba: SelMix with and without its temperature, against the alternatives.

    python -m benchmarks.calibration                       # digits-LT seeds 0-9, Fashion-MNIST-LT seeds 10-14
    python -m benchmarks.calibration --datasets digits     # no embedding cache needed
    python -m benchmarks.calibration --report-only

For each split, on the balanced test set: expected calibration error (ECE, top label,
15 equal-width bins), log loss, and test min recall of

* SelMix with ``calibrate=False`` (``softmax(logits)``, as before version 0.3);
* SelMix with ``calibrate=True`` (the default; same head, ``softmax(logits / temperature_)``);
* ``CalibratedClassifierCV(SelMix(calibrate=False), cv=3, method="sigmoid")``, which refits
  SelMix on long-tailed folds, what a user would otherwise reach for (cv=5 rows only: on
  the training rows alone, a digits tail class has fewer rows than folds);
* ``LogisticRegression`` (C=1, lbfgs) on the same labelled rows.

Digits-LT: the quickstart split (rho 50; 25 validation and 50 test images per class),
hold-out feedback from the validation rows (``X_val``) and cross-fitted feedback on the
training + validation rows (``cv=5``). Fashion-MNIST-LT: the split of benchmarks/quality.py,
cross-fitted feedback only (the default). Writes benchmarks/results/calibration.md and
calibration.json.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from skselmix import SelMixClassifier
from skselmix.datasets import long_tailed_split
from skselmix.metrics import min_recall_score

from ._report import stored_run, utc_now

RESULTS = Path(__file__).resolve().parent / "results"
N_BINS = 15
DIGITS_SEEDS = tuple(range(10))
FASHION_SEEDS = (10, 11, 12, 13, 14)


def expected_calibration_error(y_true, proba, n_bins=N_BINS):
    """Top-label ECE: the mean |accuracy - confidence| over equal-width confidence bins,
    each bin weighted by its share of the rows."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=correct, minlength=n_bins) - np.bincount(bins, weights=confidence, minlength=n_bins)
    )
    return float(gap.sum() / counts.sum())


def _row(model, X_test, y_test):
    proba = model.predict_proba(X_test)
    return {
        "ECE": expected_calibration_error(y_test, proba),
        "log loss": float(log_loss(y_test, proba, labels=np.arange(proba.shape[1]))),
        "min recall": float(min_recall_score(y_test, model.classes_[proba.argmax(axis=1)])),
    }


def run_split(X_tr, y_tr, X_val, y_val, X_te, y_te, seed, feedback):
    """Every method on one split; ``feedback`` is "hold-out" (X_val) or "cv=5" (train + val rows)."""
    selmix = dict(metric="min_recall", device="cpu", random_state=seed)
    if feedback == "hold-out":
        fit_rows, fit_kw = (X_tr, y_tr), {"X_val": X_val, "y_val": y_val}
    else:
        fit_rows, fit_kw = (np.r_[X_tr, X_val], np.r_[y_tr, y_val]), {}
    rows = {}
    raw = SelMixClassifier(calibrate=False, **selmix).fit(*fit_rows, **fit_kw)
    rows["SelMix, calibrate=False"] = _row(raw, X_te, y_te)
    calibrated = SelMixClassifier(**selmix).fit(*fit_rows, **fit_kw)
    rows["SelMix, calibrate=True"] = _row(calibrated, X_te, y_te) | {"temperature": calibrated.temperature_}
    if feedback == "cv=5":
        # On all labelled rows only: with the training rows alone a tail class has fewer rows
        # than its 3 folds. It passes no X_val, so its SelMix copies cross-fit within their folds.
        wrapped = CalibratedClassifierCV(SelMixClassifier(calibrate=False, **selmix), cv=3, method="sigmoid")
        rows["CalibratedClassifierCV(SelMix, cv=3)"] = _row(wrapped.fit(*fit_rows), X_te, y_te)
    lr = LogisticRegression(max_iter=2000).fit(*fit_rows)
    rows["LogisticRegression (C=1)"] = _row(lr, X_te, y_te)
    return rows


def digits_splits():
    X, y = load_digits(return_X_y=True)
    for seed in DIGITS_SEEDS:
        yield seed, long_tailed_split(X, y, rho=50, n_val_per_class=25, n_test_per_class=50, random_state=seed)


def fashion_splits():
    from ._data import fashion_split

    for seed in FASHION_SEEDS:
        s = fashion_split(seed)
        yield seed, (s.X_train, s.y_train, s.X_val, s.y_val, s.X_test, s.y_test)


DATASETS = {
    "digits": ("Long-tailed digits (rho 50)", digits_splits, ("hold-out", "cv=5")),
    "fashion": ("Fashion-MNIST-LT (rho 100, EfficientNet-Lite0 embeddings)", fashion_splits, ("cv=5",)),
}


def write_report(store):
    lines = [
        "# Calibration of predict_proba",
        "",
        f"Written by `python -m benchmarks.calibration` ({store['meta']['finished']}; "
        f"{store['meta']['machine']}). Mean over splits (min / max in brackets); balanced test sets. "
        f"ECE: top-label expected calibration error, {N_BINS} equal-width bins. Lower is better for ECE and "
        "log loss, higher for min recall. The temperature does not move the argmax, so the two SelMix rows "
        "have the same min recall.",
        "",
    ]
    for name, by_feedback in store["results"].items():
        title = DATASETS[name][0]
        for feedback, by_seed in by_feedback.items():
            seeds = sorted(by_seed, key=int)
            lines += [f"## {title}, SelMix feedback {feedback} (seeds {', '.join(seeds)})", ""]
            lines += ["| method | ECE | log loss | test min recall | temperature_ |", "| --- | --- | --- | --- | --- |"]
            for method in by_seed[seeds[0]]:
                cells = []
                for metric in ("ECE", "log loss", "min recall", "temperature"):
                    values = [by_seed[s][method].get(metric) for s in seeds]
                    if values[0] is None:
                        cells.append("")
                        continue
                    cells.append(f"{np.mean(values):.3f} ({min(values):.3f} / {max(values):.3f})")
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            lines.append("")
    notes = Path(__file__).with_name("calibration_notes.md")
    if notes.exists():  # hand-written reading of the numbers, kept apart from the generated tables
        lines += [notes.read_text()]
    (RESULTS / "calibration.md").write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=sorted(DATASETS))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    path = RESULTS / "calibration.json"
    store = stored_run(parser, path, args.report_only)
    if not args.report_only:
        store.setdefault("results", {})
        started = time.perf_counter()
        for name in args.datasets:
            _, splits, feedbacks = DATASETS[name]
            out = store["results"][name] = {f: {} for f in feedbacks}
            for seed, split in splits():
                for feedback in feedbacks:
                    out[feedback][str(seed)] = run_split(*split, seed, feedback)
                    print(
                        f"[{name}] seed {seed} {feedback}: "
                        + ", ".join(f"{m}: ECE {r['ECE']:.3f}" for m, r in out[feedback][str(seed)].items()),
                        flush=True,
                    )
        store["meta"] = {
            "finished": utc_now(),
            "machine": f"CPU, torch {torch.__version__}, {torch.get_num_threads()} torch threads",
            "seconds": round(time.perf_counter() - started, 1),
        }
        path.write_text(json.dumps(store, indent=1))
    write_report(store)


if __name__ == "__main__":
    main()
