"""Quality benchmark: SelMix against strong baselines on real embeddings.

    python -m benchmarks.quality                 # both datasets, 3 seeds (embeddings cached on first use)
    python -m benchmarks.quality --datasets fashion --seeds 1

Writes ``benchmarks/results/quality.md`` (tables: mean +- std over seeds), ``quality.json``
(every number) and PNG figures next to them. Needs ``pip install .[datasets,benchmarks]`` and
the Debian packages ``dataset-fashion-mnist`` and ``wordnet-base``.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from skselmix.datasets import (
    FASHION_MNIST_CLASSES,
    fetch_fashion_mnist_embeddings,
    fetch_wordnet_embeddings,
)

from . import _methods as M
from ._data import fashion_split, selmix_coordinates, wordnet_split
from ._methods import evaluate
from ._report import stored_run, utc_now

RESULTS = Path(__file__).resolve().parent / "results"
NOTES = Path(__file__).resolve().parent / "quality_notes.md"
S_SWEEP = (0.0, 0.1, 1.0, 10.0, 100.0, 1000.0)

METHODS = [
    ("ERM (cross-entropy)", M.erm, None),
    ("CE balanced (sklearn LR)", M.balanced_ce_sklearn, None),
    ("CE balanced (torch)", M.balanced_ce_torch, None),
    ("LA loss (tau=1)", M.la_loss, None),
    ("LA post-hoc", M.la_post_hoc, None),
    ("CSL [min_recall]", M.csl, "min_recall"),
    ("CSL [mean_recall_min_coverage]", M.csl, "mean_recall_min_coverage"),
    ("Plug-in [min_recall]", M.plug_in, "min_recall"),
    ("Plug-in [gmean]", M.plug_in, "gmean"),
    ("Plug-in [hmean]", M.plug_in, "hmean"),
    ("Plug-in [mean_recall_min_coverage]", M.plug_in, "mean_recall_min_coverage"),
    ("SelMix [mean_recall]", M.selmix, "mean_recall"),
    ("SelMix [min_recall]", M.selmix, "min_recall"),
    ("SelMix [gmean]", M.selmix, "gmean"),
    ("SelMix [hmean]", M.selmix, "hmean"),
    ("SelMix [mean_recall_min_coverage]", M.selmix, "mean_recall_min_coverage"),
    ("SelMix [min_recall], mixup=cutmix", M.selmix, "min_recall", {"mixup": "cutmix"}),
    ("SelMix [mean_recall], mixup=cutmix", M.selmix, "mean_recall", {"mixup": "cutmix"}),
    # Cross-fitted feedback on every labelled row (training + validation rows).
    ("CSL [min_recall], cv=5", M.csl_cv, "min_recall"),
    ("Plug-in [min_recall], cv=5", M.plug_in_cv, "min_recall"),
    ("SelMix [mean_recall], cv=5", M.selmix_cv, "mean_recall"),
    ("SelMix [min_recall], cv=5", M.selmix_cv, "min_recall"),
    ("SelMix [gmean], cv=5", M.selmix_cv, "gmean"),
    ("SelMix [hmean], cv=5", M.selmix_cv, "hmean"),
    ("SelMix [mean_recall_min_coverage], cv=5", M.selmix_cv, "mean_recall_min_coverage"),
]
COLUMNS = ["mean recall", "min recall", "G-mean", "H-mean", "min coverage x K", "fit seconds"]








def ceiling_fashion():
    """Linear probe (ERM) on the full balanced 60k training set."""
    X, y = fetch_fashion_mnist_embeddings("train")
    X_test, y_test = fetch_fashion_mnist_embeddings("test")
    split = selmix_coordinates(M.Split(X, y, X[:10], y[:10], X_test, y_test, 10))
    return M.timed(M.erm, split), split




def run_dataset(name, make_split, seeds, log):
    out = {"rows": {}, "per_class": {}, "history": {}, "s_sweep": {}}
    for seed in seeds:
        split = make_split(seed)
        log(f"[{name}] seed {seed}: train {split.X_train.shape}, val {split.X_val.shape}, test {split.X_test.shape}")
        # The logit-adjusted head is fitted once per seed and starts LA, CSL and SelMix (its
        # default init="logit_adjusted"). Reported fit seconds include the warm start.
        la_head, la_seconds = M.timed(M.la_loss, split)
        # Likewise one ERM head serves ERM, LA post-hoc and the plug-ins (their seconds include it).
        erm_head, erm_seconds = M.timed(M.erm, split)
        for label, method, objective, *extra in METHODS:
            kwargs = {"random_state": seed, **(extra[0] if extra else {})} if method is M.selmix else {}
            if method is M.la_loss:
                head, seconds = la_head, la_seconds
            elif method is M.erm:
                head, seconds = erm_head, erm_seconds
            elif method in (M.la_post_hoc, M.plug_in):
                head, seconds = M.timed(method, split, objective, base=erm_head)
                seconds += erm_seconds
            elif method is M.csl:
                head, seconds = M.timed(method, split, objective, start=la_head)
                seconds += la_seconds
            elif method is M.selmix:
                head, seconds = M.timed(method, split, objective, start=la_head, **kwargs)
                seconds += la_seconds
            elif method is M.selmix_cv:
                head, seconds = M.timed(method, split, objective, random_state=seed)
            elif method in (M.csl_cv, M.plug_in_cv):
                head, seconds = M.timed(method, split, objective, seed=seed)
            else:
                head, seconds = M.timed(method, split, objective) if objective else M.timed(method, split)
            row, recalls = evaluate(split, head)
            row["fit seconds"] = seconds
            # How often SelMix returned its warm start: then it is logit adjustment at extra cost.
            row["warm start kept"] = float("nan") if head.best_step is None else float(head.best_step == 0)
            out["rows"].setdefault(label, []).append(row)
            if label in ("LA loss (tau=1)", "SelMix [min_recall]"):
                out["per_class"].setdefault(label, []).append(recalls.tolist())
            if head.history is not None and seed == seeds[0]:
                out["history"][label] = [(h["step"], h["objective"]) for h in head.history]
            log(f"  {label:<36} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
        for s in S_SWEEP:
            head, _ = M.timed(M.selmix, split, "min_recall", start=la_head, s=s, random_state=seed)
            out["s_sweep"].setdefault(str(s), []).append(evaluate(split, head)[0]["min recall"])
        log("  s sweep (min recall): " + "  ".join(f"s={s}: {v[-1]:.3f}" for s, v in out["s_sweep"].items()))
    return out


def _fmt(values):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std():.3f}" if values.size > 1 else f"{values.mean():.3f}"


def table(dataset_result, ceiling=None):
    columns = list(next(iter(dataset_result["rows"].values()))[0].keys())
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label, rows in dataset_result["rows"].items():
        lines.append(f"| {label} | " + " | ".join(_fmt([r[c] for r in rows]) for c in columns) + " |")
    if ceiling is not None:
        cells = " | ".join(_fmt([ceiling.get(c, np.nan)]) for c in columns)
        lines.append("| *ceiling: ERM on balanced 60k* | " + cells + " |")
    return "\n".join(lines)


def figures(name, result, class_names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    la, sm = (np.mean(result["per_class"][k], axis=0) for k in ("LA loss (tau=1)", "SelMix [min_recall]"))
    order = np.argsort(la)
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * la.size + 3), 3.5))
    x = np.arange(la.size)
    ax.bar(x - 0.2, la[order], 0.4, label="LA loss")
    ax.bar(x + 0.2, sm[order], 0.4, label="SelMix [min_recall]")
    ax.set_xticks(x, [class_names[i] for i in order], rotation=90, fontsize=7)
    ax.set_ylabel("test recall (mean over seeds)")
    ax.set_title(f"{name}: per-class test recall, classes sorted by LA recall")
    ax.legend()
    fig.tight_layout()
    paths.append(RESULTS / f"quality_{name}_per_class.png")
    fig.savefig(paths[-1], dpi=110)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, hist in result["history"].items():
        steps, values = zip(*hist)
        ax.plot(steps, values, marker=".", label=label)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("validation objective")
    ax.set_title(f"{name}: SelMix validation objective (seed 0)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(RESULTS / f"quality_{name}_history.png")
    fig.savefig(paths[-1], dpi=110)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    s_values = [float(s) for s in result["s_sweep"]]
    means = [np.mean(v) for v in result["s_sweep"].values()]
    stds = [np.std(v) for v in result["s_sweep"].values()]
    xs = [max(s, 0.01) for s in s_values]
    ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3)
    ax.set_xscale("log")
    ax.set_xlabel("s (0 plotted at 0.01: uniform over positive-gain pairs)")
    ax.set_ylabel("test min recall")
    ax.set_title(f"{name}: SelMix [min_recall] vs s")
    fig.tight_layout()
    paths.append(RESULTS / f"quality_{name}_s_sweep.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close("all")
    return paths


TITLES = {
    "fashion": "Fashion-MNIST-LT (EfficientNet-Lite0 embeddings, 1280-d; n_max 5000, rho 100)",
    "wordnet": "WordNet-45 (all-MiniLM-L6-v2 embeddings of definitions, 384-d; 45 lexicographer files)",
}


def class_names(name):
    return (
        list(FASHION_MNIST_CLASSES) if name == "fashion" else [str(c) for c in np.unique(fetch_wordnet_embeddings()[1])]
    )


def write_report(results, started):
    sections = []
    for name in ("fashion", "wordnet"):
        if name not in results:
            continue
        res = results[name]
        figs = figures(name, res, class_names(name))
        sweep = " | ".join(f"s={s}: {_fmt(v)}" for s, v in res["s_sweep"].items())
        sections.append(
            f"## {TITLES[name]}\n\nTest metrics, mean ± std over seeds {res['seeds']}.\n\n"
            f"{table(res, res.get('ceiling'))}\n\n"
            f"SelMix [min_recall] test min recall vs s: {sweep}\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in figs)
        )
    notes = NOTES.read_text() if NOTES.exists() else ""
    header = (
        "# Quality benchmark\n\n"
        f"Generated by `python -m benchmarks.quality` (runs started: {started}; 2 CPU cores). "
        "Every method sees the same "
        "features (columns centred on the training rows, divided by the RMS norm of the centred rows: "
        "SelMix's own coordinates), the same train/validation split and the same "
        "validation data for feedback or selection; the test set is used only for these numbers. "
        "`min coverage x K` is K times the smallest class coverage on the balanced distribution "
        "(1.0 = perfectly balanced predictions; the constraint of the coverage objectives is >= 0.95). "
        "For K >= 20 the min head-tail recall (head = 90% most frequent training classes) is also reported. "
        "Per seed, one logit-adjusted head starts LA, CSL and SelMix (its default "
        "`init=\"logit_adjusted\"`); every head uses SelMix's default L2 strength (`weight_decay=\"auto\"`, "
        "0.1 / n_train on the scaled features); fit seconds include the warm start. Fit seconds were measured "
        "with torch's default threads on 2 cores, but with other work on the machine at times: they are "
        "indicative (benchmarks/results/perf.md has clean timings).\n\n"
    )
    (RESULTS / "quality.md").write_text(header + "\n\n".join(sections) + "\n\n" + notes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["fashion", "wordnet"], choices=["fashion", "wordnet"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--report-only", action="store_true", help="rebuild quality.md and figures from quality.json")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    started = utc_now()
    store = RESULTS / "quality.json"
    results = stored_run(parser, store, required=args.report_only)
    if not args.report_only:
        seeds = list(range(args.seeds))
        for name in args.datasets:
            res = run_dataset(name, fashion_split if name == "fashion" else wordnet_split, seeds, log)
            res["seeds"] = seeds
            res["started"] = started
            if name == "fashion":
                (ceiling_head, seconds), ceiling_split = ceiling_fashion()
                res["ceiling"] = evaluate(ceiling_split, ceiling_head)[0] | {"fit seconds": seconds}
            # Re-read before merging: another run may have stored other datasets meanwhile.
            results = stored_run(parser, store, required=False)
            results[name] = res
            store.write_text(json.dumps(results, indent=1))
    write_report(results, ", ".join(f"{name} {res.get('started', 'unknown')}" for name, res in results.items()))
    log(f"wrote {RESULTS / 'quality.md'}")


if __name__ == "__main__":
    main()
