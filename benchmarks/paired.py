"""Paired comparison over many splits: SelMix with hold-out and cross-fitted feedback against
its own warm start and the strongest baselines, each with the same two kinds of feedback.

    python -m benchmarks.paired                          # SelMix [min_recall] and its warm start, seeds 10 to 19
    python -m benchmarks.paired --group baselines        # CSL and the plug-in, hold-out and cross-fitted
    python -m benchmarks.paired --group objectives --seeds 10 11 12   # the other SelMix objectives
    python -m benchmarks.paired --group search --datasets fashion     # SelMixClassifierCV vs GridSearchCV over s
    python -m benchmarks.paired --group adapter --datasets fashion    # hidden_layer_sizes=(256,) vs the linear head
    python -m benchmarks.paired --report-only            # rebuild paired.md from the stored runs

The quality benchmark reports mean ± std over 3 seeds. Most of that std is the split
(which rows land in the validation set, which classes are the tail), which moves every
method together. This benchmark therefore compares methods *per split*: for each seed,
the same split for every method, and differences taken split by split. Seeds 10 to 19
were chosen before any of these runs and are disjoint from the reported seeds (0 to 2)
and the tuning seeds (100 and up).

Two kinds of feedback, on the same labelled rows (the split's training and validation rows):

* hold-out: train on the training rows, feedback from the validation rows (the
  ``X_val`` of ``SelMixClassifier``); the hold-out methods share one logit-adjusted
  warm start fitted on the training rows;
* cross-fitted (``cv=5``): every labelled row trains and gives out-of-fold feedback.
  For CSL, the multipliers come from out-of-fold confusion matrices of 5 fold heads and
  the final head is refitted on every labelled row; for the plug-in, the rule is tuned on
  out-of-fold ERM logits and applied to ERM on every labelled row.

The floor is SelMix's own warm start fitted on every labelled row (the logit-adjusted
head; what ``SelMixClassifier(cv=5)`` returns when it selects step 0).

Writes ``benchmarks/results/paired.md``, and ``paired.json`` (group core) or
``paired_<group>.json``.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from . import _methods as M
from ._data import fashion_split, wordnet_split
from ._methods import evaluate
from ._report import stored_run, utc_now

RESULTS = Path(__file__).resolve().parent / "results"
SPLITS = {"fashion": fashion_split, "wordnet": wordnet_split}
TITLES = {"fashion": "Fashion-MNIST-LT", "wordnet": "WordNet-45"}
SELMIX_CV = "SelMix [min_recall], cv=5"
SELMIX_HOLD_OUT = "SelMix [min_recall], hold-out"
WARM_ALL = "Warm start (LA), all labelled rows"
METRICS = ("min recall", "mean recall")
OBJECTIVE_METRIC = {
    "min_recall": "min recall",
    "mean_recall": "mean recall",
    "gmean": "G-mean",
    "hmean": "H-mean",
    "mean_recall_min_coverage": "mean recall",
}


GROUPS = ("core", "baselines", "objectives", "search", "adapter")
SELMIX_ADAPTER = "SelMix [min_recall], adapter (256,), cv=5"
ADAPTER_WARM = "Adapter (256,) warm start, max_iter=0"
SELMIX_SEARCH = "SelMixClassifierCV [min_recall]"
GRID_SEARCH = "GridSearchCV(SelMix [min_recall], s, cv=3)"
SELMIX_DEFAULT = "SelMix [min_recall], cv=5, s=10"
SELMIX_WARM = "SelMix [min_recall], max_iter=0 (its warm start)"
SEARCH_METRICS = ("min recall", "mean recall", "seconds")


def run_seed(make_split, seed, group, objectives=()):
    """Test metrics (and SelMix's best step) of one group of methods on one split.

    ``core``: the two logit-adjusted heads and SelMix [min_recall] with both kinds of
    feedback; ``baselines``: CSL and the plug-in with both kinds; ``objectives``: SelMix
    for each of ``objectives`` with both kinds. Groups are stored apart so that they can
    run in separate processes and be merged in the report.
    """
    split = make_split(seed)
    if group == "search":
        return search_rows(split, seed)
    if group == "adapter":
        import tempfile

        with tempfile.TemporaryDirectory() as cache:  # the two adapter fits share their warm start
            heads = {
                SELMIX_CV: M.selmix_cv(split, "min_recall", random_state=seed),
                ADAPTER_WARM: M.selmix_adapter_cv(split, "min_recall", (256,), max_iter=0, random_state=seed,
                                                  memory=cache),
                SELMIX_ADAPTER: M.selmix_adapter_cv(split, "min_recall", (256,), random_state=seed, memory=cache),
            }
    elif group == "baselines":
        heads = {
            "CSL [min_recall], hold-out": M.csl(split, "min_recall"),
            "CSL [min_recall], cv=5": M.csl_cv(split, "min_recall", seed=seed),
            "Plug-in [min_recall], hold-out": M.plug_in(split, "min_recall"),
            "Plug-in [min_recall], cv=5": M.plug_in_cv(split, "min_recall", seed=seed),
        }
    else:
        la = M.la_loss(split)
        heads = {}
        if group == "core":
            heads = {
                "LA, training rows": la,
                WARM_ALL: M.la_loss(M.labelled(split)),
                SELMIX_HOLD_OUT: M.selmix(split, "min_recall", start=la, random_state=seed),
                SELMIX_CV: M.selmix_cv(split, "min_recall", random_state=seed),
            }
        for objective in objectives if group == "objectives" else ():
            heads[f"SelMix [{objective}], hold-out"] = M.selmix(split, objective, start=la, random_state=seed)
            heads[f"SelMix [{objective}], cv=5"] = M.selmix_cv(split, objective, random_state=seed)
    rows = {}
    for label, head in heads.items():
        row = {metric: float(value) for metric, value in evaluate(split, head)[0].items()}
        row["best_step"] = head.best_step
        if getattr(head, "reported", None) is not None:
            row["reported"], row["corrected"] = float(head.reported), float(head.corrected)
        rows[label] = row
    return rows


def search_rows(split, seed):
    """SelMixClassifierCV and GridSearchCV over the same grid of s, the default fit and the
    warm start: test metrics, best step, chosen s and fit seconds (same process, one at a time)."""
    from ._internals import DEFAULT_S_VALUES

    timed = {
        SELMIX_SEARCH: M.timed(M.selmix_search, split, "min_recall", DEFAULT_S_VALUES, random_state=seed),
        GRID_SEARCH: M.timed(M.selmix_grid_search, split, "min_recall", DEFAULT_S_VALUES, random_state=seed),
        SELMIX_DEFAULT: M.timed(lambda sp: (M.selmix_cv(sp, "min_recall", random_state=seed), 10.0), split),
        SELMIX_WARM: M.timed(lambda sp: (M.selmix_cv(sp, "min_recall", max_iter=0), None), split),
    }
    rows = {}
    for label, ((head, s), seconds) in timed.items():
        row = {metric: float(value) for metric, value in evaluate(split, head)[0].items()}
        rows[label] = {**row, "best_step": head.best_step, "s": s, "seconds": seconds}
    return rows


def merged(stores):
    """The stored runs of every group, merged per dataset and seed (seeds that every group ran).

    A method that several groups ran (the adapter group reruns SelMix cv=5 beside its
    adapter) is reported from the first group in ``GROUPS`` order that has it: ``core``'s
    rows are never replaced by another group's older run."""
    out = {}
    for store in reversed(list(stores.values())):
        for name, res in store.items():
            target = out.setdefault(name, {"started": [], "per_seed": {}})
            target["started"].append(res["started"])
            for seed, rows in res["per_seed"].items():
                target["per_seed"].setdefault(seed, {}).update(rows)
    return out


def _paired(diff):
    """Mean ± sd of per-split differences, paired t and wins / ties / losses."""
    sd = diff.std(ddof=1) if diff.size > 1 else 0.0
    t = diff.mean() / (sd / np.sqrt(diff.size)) if sd > 0 else float("nan")
    # Recalls are ratios of counts: equal ones differ only by rounding.
    wins, losses = int((diff > 1e-6).sum()), int((diff < -1e-6).sum())
    return f"{diff.mean():+.3f} ± {sd:.3f}", f"{t:+.2f}", f"{wins} / {diff.size - wins - losses} / {losses}"


def paired_lines(per_seed, reference=SELMIX_CV, metrics=METRICS, labels=None):
    """Markdown rows: each method's mean ± std and the reference minus it, split by split."""
    seeds = sorted(per_seed, key=int)
    first = per_seed[seeds[0]]
    labels = list(first) if labels is None else [label for label in labels if label in first]
    value = lambda label, metric: np.array([per_seed[s][label][metric] for s in seeds])  # noqa: E731
    head = "| method | " + " | ".join(metrics) + " | " + " | ".join(
        f"{reference} - method, {m}: mean ± sd | paired t | wins / ties / losses" for m in metrics
    ) + " | best step 0 |"
    lines = [head, "|---" * (2 + 4 * len(metrics)) + "|"]
    for label in labels:
        cells = [f"{value(label, m).mean():.3f} ± {value(label, m).std():.3f}" for m in metrics]
        for m in metrics:
            cells += ["", "", ""] if label == reference else list(_paired(value(reference, m) - value(label, m)))
        steps = [per_seed[s][label].get("best_step") for s in seeds]
        cells.append("" if steps[0] is None else f"{sum(step == 0 for step in steps)} / {len(steps)}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _section(title, per_seed, labels, reference, metrics):
    """A paired table over the seeds that ran ``reference``, for the labels every one of them ran."""
    seeds = sorted((s for s in per_seed if reference in per_seed[s]), key=int)
    labels = [label for label in labels if all(label in per_seed[s] for s in seeds)]
    if len(seeds) < 2:
        return ""
    rows = {s: per_seed[s] for s in seeds}
    return f"### {title} (seeds {', '.join(seeds)})\n\n" + "\n".join(
        paired_lines(rows, reference=reference, metrics=metrics, labels=labels)
    )


def write_report(results):
    sections = []
    for name in SPLITS:
        if name not in results:
            continue
        per_seed = results[name]["per_seed"]
        core = ["LA, training rows", WARM_ALL, SELMIX_HOLD_OUT, SELMIX_CV]
        parts = [
            f"## {TITLES[name]}\n\nRuns started {', '.join(results[name]['started'])}. Test metrics, mean ± std over "
            "splits; differences are paired (same split), sd over splits, t = mean / (sd / sqrt(n)). "
            "`best step 0`: splits on which SelMix returned its warm start.",
            _section("SelMix [min_recall] and its warm start", per_seed, core, SELMIX_CV, METRICS),
        ]
        seeds = sorted((s for s in per_seed if SELMIX_CV in per_seed[s]), key=int)
        if seeds:
            parts.append(
                f"{SELMIX_CV} test min recall per seed: "
                + " ".join(f"{s}: {per_seed[s][SELMIX_CV]['min recall']:.3f}" for s in seeds)
                + "."
            )
            told = [s for s in seeds if "reported" in per_seed[s][SELMIX_CV]]
            if told:
                mean = lambda key: np.mean([per_seed[s][SELMIX_CV][key] for s in told])  # noqa: E731
                parts.append(
                    f"What {SELMIX_CV} said of itself, mean over {len(told)} splits: `best_validation_score_` "
                    f"{mean('reported'):.3f}, corrected for the selection (the warm start's out-of-fold value plus "
                    f"`validation_gain_`) {mean('corrected'):.3f}; its test min recall {mean('min recall'):.3f}."
                )
        if any(SELMIX_SEARCH in rows for rows in per_seed.values()):
            search_labels = [SELMIX_WARM, SELMIX_DEFAULT, GRID_SEARCH, SELMIX_SEARCH]
            parts.append(
                _section(
                    "Searching s: SelMixClassifierCV against GridSearchCV (fit seconds included)",
                    per_seed,
                    search_labels,
                    SELMIX_SEARCH,
                    SEARCH_METRICS,
                )
            )
            seeds = sorted((s for s in per_seed if SELMIX_SEARCH in per_seed[s]), key=int)
            parts.append(
                "Chosen s per seed (SelMixClassifierCV / GridSearchCV): "
                + " ".join(
                    f"{s}: {per_seed[s][SELMIX_SEARCH]['s']:g} / {per_seed[s][GRID_SEARCH]['s']:g}" for s in seeds
                )
                + "."
            )
        if any(SELMIX_ADAPTER in rows for rows in per_seed.values()):
            parts.append(_section("An adapter under the head (hidden_layer_sizes=(256,)) against the linear head",
                                  per_seed, [SELMIX_CV, ADAPTER_WARM, SELMIX_ADAPTER], SELMIX_ADAPTER, METRICS))
        baseline_labels = sorted(
            {label for rows in per_seed.values() for label in rows if label.startswith(("CSL", "Plug-in"))}
        )
        if baseline_labels:
            parts.append(
                _section(
                    "Baselines with both kinds of feedback",
                    per_seed,
                    [WARM_ALL, *baseline_labels, SELMIX_CV],
                    SELMIX_CV,
                    METRICS,
                )
            )
        for objective, metric in OBJECTIVE_METRIC.items():
            reference = f"SelMix [{objective}], cv=5"
            if objective == "min_recall" or not any(reference in rows for rows in per_seed.values()):
                continue
            metrics = (
                ("mean recall", "min coverage x K")
                if objective == "mean_recall_min_coverage"
                else tuple(dict.fromkeys((metric, "mean recall")))
            )
            labels = [WARM_ALL, f"SelMix [{objective}], hold-out", reference]
            parts.append(_section(f"SelMix [{objective}]", per_seed, labels, reference, metrics))
        sections.append("\n\n".join(part for part in parts if part))
    header = (
        "# Paired comparison over more splits\n\n"
        "Generated by `python -m benchmarks.paired` (see the module docstring for what each method gets). "
        "All heads use SelMix's default L2 strength (0.1 / number of rows they train on) in SelMix's own "
        "feature coordinates; the test set is used only for these numbers. A difference counts as a tie "
        "when the two values are equal up to rounding.\n\n"
    )
    notes = NOTES.read_text() if NOTES.exists() else ""
    (RESULTS / "paired.md").write_text(header + "\n\n".join(sections) + "\n\n" + notes)


NOTES = Path(__file__).resolve().parent / "paired_notes.md"


def _store_path(group):
    return RESULTS / ("paired.json" if group == "core" else f"paired_{group}.json")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10, 20)))
    parser.add_argument("--group", default="core", choices=GROUPS, help="which methods to run (see run_seed)")
    parser.add_argument(
        "--objectives",
        nargs="*",
        default=["mean_recall", "gmean", "hmean", "mean_recall_min_coverage"],
        choices=[o for o in OBJECTIVE_METRIC if o != "min_recall"],
        help="for --group objectives",
    )
    parser.add_argument("--report-only", action="store_true", help="rebuild paired.md from the stored runs")
    args = parser.parse_args(argv)
    stores = {group: stored_run(parser, _store_path(group), required=False) for group in GROUPS}
    if args.report_only and not any(stores.values()):
        stored_run(parser, _store_path("core"), required=True)  # says which file is missing
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        path = _store_path(args.group)
        for name in args.datasets:
            started = utc_now()
            # Seeds run earlier for this group and dataset are kept; the ones run now replace theirs.
            per_seed = dict(stores[args.group].get(name, {}).get("per_seed", {}))
            for seed in args.seeds:
                per_seed[str(seed)] = run_seed(SPLITS[name], seed, args.group, args.objectives)
                print(
                    f"[{name}] seed {seed}: "
                    + "  ".join(
                        f"{label} {row['min recall']:.3f}/{row['mean recall']:.3f}/{row['best_step']}"
                        for label, row in per_seed[str(seed)].items()
                    ),
                    flush=True,
                )
                # Stored after every split: a long run that stops keeps what it measured.
                stores[args.group] = stored_run(parser, path, required=False)
                stores[args.group][name] = {"started": started, "per_seed": per_seed}
                path.write_text(json.dumps(stores[args.group], indent=1))
    write_report(merged(stores))
    print(f"wrote {RESULTS / 'paired.md'}", flush=True)


if __name__ == "__main__":
    main()
