"""Semi-supervised benchmark: labelled/unlabelled class-distribution mismatch on Fashion-MNIST-LT.

    python -m benchmarks.semi_supervised [--seeds 3] [--report-only]

Labelled set: 10 % of the Fashion-MNIST-LT training set (n_max 500, rho_l = 100). Unlabelled pool,
drawn from the remaining training images with the *same* random class order: rho_u = 100
(consistent, n_max 2000), 1 (uniform, 400 per class) or 1/100 (reversed: the labelled tail is the
unlabelled head). Validation: 100 per class, balanced; test: the official 10k test set.
Writes ``benchmarks/results/semi_supervised.md`` and ``semi_supervised.json``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.semi_supervised import SelfTrainingClassifier

from skselmix import SelMixClassifier
from skselmix.datasets import fetch_fashion_mnist_embeddings, long_tailed_profile
from skselmix.metrics import mean_recall_score, min_recall_score

from ._internals import fit_feature_map, fit_with_hidden_labels
from ._report import stored_run, utc_now

RESULTS = Path(__file__).resolve().parent / "results"
UNLABELED = -1  # marker of unlabelled rows: sklearn's SelfTrainingClassifier requires -1
SETTINGS = {
    "consistent (rho_u=100)": (100.0, 2000),
    "uniform (rho_u=1)": (1.0, 400),
    "reversed (rho_u=1/100)": (0.01, 2000),
}


def make_split(seed, rho_u, n_max_u):
    X, y = fetch_fashion_mnist_embeddings("train")
    X_test, y_test = fetch_fashion_mnist_embeddings("test")
    rng = np.random.RandomState(seed)
    order = rng.permutation(10)  # class order[r] has labelled rank r
    rank = np.empty(10, int)
    rank[order] = np.arange(10)
    n_lab = long_tailed_profile(500, 10, 100)[rank]
    # rho_u < 1 reverses the profile: the profile's largest class sits at the labelled tail.
    n_unl = (
        long_tailed_profile(n_max_u, 10, rho_u) if rho_u >= 1 else long_tailed_profile(n_max_u, 10, 1 / rho_u)[::-1]
    )[rank]
    parts = {"lab": [], "unl": [], "val": []}
    for c in range(10):  # ten classes: a loop over classes is fine off the hot path
        idx = rng.permutation(np.flatnonzero(y == c))
        parts["val"].append(idx[:100])
        parts["lab"].append(idx[100 : 100 + n_lab[c]])
        parts["unl"].append(idx[100 + n_lab[c] : 100 + n_lab[c] + n_unl[c]])
    lab, unl, val = (np.concatenate(parts[k]) for k in ("lab", "unl", "val"))
    fmap = fit_feature_map(X[lab])  # SelMix's own coordinates, fitted on the labelled rows
    return (
        fmap.transform(X[lab]),
        y[lab],
        fmap.transform(X[unl]),
        y[unl],
        fmap.transform(X[val]),
        y[val],
        fmap.transform(X_test),
        y_test,
    )


def with_unlabeled(X_l, y_l, X_u):
    """One training set: the labelled rows, then the unlabelled rows marked ``UNLABELED``."""
    return np.r_[X_l, X_u], np.r_[y_l, np.full(len(X_u), UNLABELED)]


def run(seeds):
    out = {}
    for setting, (rho_u, n_max_u) in SETTINGS.items():
        for seed in seeds:
            X_l, y_l, X_u, y_u, X_val, y_val, X_te, y_te = make_split(seed, rho_u, n_max_u)
            X_all, y_all = with_unlabeled(X_l, y_l, X_u)
            for metric in ("min_recall", "mean_recall"):
                rows = out.setdefault(setting, {}).setdefault(metric, {})
                params = {"metric": metric, "device": "cpu", "random_state": seed}
                fits = {
                    "SelMix, labelled only": lambda: SelMixClassifier(**params).fit(X_l, y_l, X_val=X_val, y_val=y_val),
                    "SelMix, semi-supervised": lambda: fit_with_hidden_labels(
                        SelMixClassifier(unlabeled_label=UNLABELED, **params),
                        X_all,
                        y_all,
                        y_u,
                        X_val=X_val,
                        y_val=y_val,
                    ),
                    "LA + SelfTrainingClassifier": lambda: SelfTrainingClassifier(
                        SelMixClassifier(max_iter=0, device="cpu"), threshold=0.9
                    ).fit(X_all, y_all),
                }
                for name, fit in fits.items():
                    start = time.perf_counter()
                    model = fit()
                    seconds = time.perf_counter() - start
                    pred = model.predict(X_te)
                    row = {
                        "min recall": min_recall_score(y_te, pred),
                        "mean recall": mean_recall_score(y_te, pred),
                        "fit seconds": seconds,
                    }
                    if name == "SelMix, semi-supervised":
                        row["pseudo-label accuracy (first refresh)"] = model.history_[0]["pseudo_label_accuracy"]
                    rows.setdefault(name, []).append(row)
                    print(setting, seed, metric, name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    return out


def report(store):
    """Write semi_supervised.md from the stored run (``{"seeds", "generated", "results"}``) and the notes."""
    out = store["results"]
    lines = [
        "# Semi-supervised SelMix under distribution mismatch",
        "",
        f"Generated by `python -m benchmarks.semi_supervised` ({store['generated']}), "
        f"seeds {store['seeds']}, mean ± std. " + __doc__.split("\n\n")[2].replace("\n", " "),
        "",
        "Each objective's column shows the metric that objective optimises. SelfTrainingClassifier "
        "wraps the logit-adjusted head (`SelMixClassifier(max_iter=0)`) with threshold 0.9, so it "
        "does not depend on the objective.",
    ]
    for setting, by_metric in out.items():
        lines += [
            "",
            f"## {setting}",
            "",
            "| method | min recall [min_recall] | mean recall [min_recall] "
            "| mean recall [mean_recall] | min recall [mean_recall] |",
            "|---|---|---|---|---|",
        ]
        for name in by_metric["min_recall"]:
            a, b = by_metric["min_recall"][name], by_metric["mean_recall"][name]

            def f(rows, key):
                v = np.array([r[key] for r in rows])
                return f"{v.mean():.3f} ± {v.std():.3f}"

            lines.append(
                f"| {name} | {f(a, 'min recall')} | {f(a, 'mean recall')} "
                f"| {f(b, 'mean recall')} | {f(b, 'min recall')} |"
            )
        acc = [r["pseudo-label accuracy (first refresh)"] for r in by_metric["min_recall"]["SelMix, semi-supervised"]]
        lines.append(f"\nPseudo-label accuracy of the warm start on the unlabelled pool: {np.mean(acc):.3f}.")
    notes = Path(__file__).resolve().parent / "semi_supervised_notes.md"
    (RESULTS / "semi_supervised.md").write_text(
        "\n".join(lines) + "\n\n" + (notes.read_text() if notes.exists() else "")
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild semi_supervised.md from semi_supervised.json and the notes"
    )
    args = parser.parse_args(argv)
    path = RESULTS / "semi_supervised.json"
    if args.report_only:
        store = stored_run(parser, path, required=True)
    else:
        seeds = list(range(args.seeds))
        generated = utc_now()
        store = {"seeds": seeds, "generated": generated, "results": run(seeds)}
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(store, indent=1))
    report(store)
    print(f"wrote {RESULTS / 'semi_supervised.md'}")


if __name__ == "__main__":
    main()
