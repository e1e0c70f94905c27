"""The shapes of ImageNet-LT and iNaturalist on one machine (issue 35).

    python -m benchmarks.large_k                 # every part (about 45 minutes on 2 cores)
    python -m benchmarks.large_k --part imagenet_lt   # one part: imagenet_lt, wordnet, inat, growth, quality
    python -m benchmarks.large_k --report-only   # rewrite large_k.md from large_k.json
    python -m benchmarks.large_k --device cuda   # the same on a GPU (writes large_k_cuda.*)

Parts, each side by side in one process on a quiet machine (torch's default threads):

* ``imagenet_lt``: an ImageNet-LT-shaped synthetic set, N = 115,001 training rows, D = 512,
  K = 1000, classes of 1280 down to 5 rows (embedding-like rows: a 64-dimensional class
  structure plus anisotropic noise through a ReLU, on which LogisticRegression needs tens
  of L-BFGS iterations), 20 balanced test rows per class;
* ``wordnet``: :func:`skselmix.datasets.fetch_wordnet_hypernyms`, 1052 real classes of
  MiniLM embeddings of WordNet noun definitions (189 down to 5 training rows, 10 test rows
  each);
* ``inat``: an iNaturalist-shaped synthetic set scaled to this machine, K = 8192, D = 256,
  classes of 40 down to 3 rows (N = 116,980): a default fit, its refresh times, and the
  gain computation alone;
* ``inat2018``: an iNaturalist-2018-shaped run (issue 42, goal 4): K = 8142, D = 2048,
  classes of 100 down to 2 rows (iNaturalist 2018 has 1000 down to 2; N = 40,000, about
  a tenth of its 437,513, what an hour of two cores allows), 3 test rows per class as its
  validation set has, written once to ``.npy`` files under the data home and read back
  memory-mapped; one default fit (``verbose=1``) in this process with its peak memory and
  the share of each phase (:class:`._report.PhaseSampler`), then ``predict`` on the
  memory-mapped test rows. Run it alone: ``--part inat2018``;
* ``growth``: fits over a grid of N, D and K, and the exponents of fit time and peak
  memory in each; defaults but ``n_iter_no_change=None``, so that every fit runs its 1000
  steps and 21 refreshes (early stopping would make the work differ from point to point).

* ``confident``: the gain's softmax term for a confident head (nearest-centroid logits, as a
  ``coef_init`` from class means gives) at K = 2048 and 4096, D = 256: the default path
  against the float64 products alone, and an ordinary head's float32 products (issue 41,
  R06: 0.10 redid a confident head's pairs one softmax at a time);
* ``trace``: a full-length ``min_head_tail_recall`` fit on WordNet hypernyms (seed 0,
  ``n_iter_no_change=None``): at every refresh the out-of-fold objective, and the test
  objective of the head the fit would return (the all-rows head) and of the fold heads'
  mean; whether any step could buy what issue 40 asked (+0.01);
* ``quality``: on both K = 1000 sets, three seeds each (the data's and the fit's; no
  setting was tuned on them), the default fit for ``mean_recall``,
  ``min_head_tail_recall``, ``mean_recall_min_coverage`` and ``min_group_recall``
  against its own warm start (``max_iter=0``, same rows and seed) and
  ``LogisticRegression(class_weight="balanced")``: the test objective (groups and heads
  from the training counts), ``best_step_``, ``validation_gain_`` and what 0.10 returned
  at the same step (the mean of the fold heads), paired over the seeds. The fits of one
  seed share their warm start through ``memory=``.

Each part but ``quality`` times ``LogisticRegression(C=1, max_iter=1000)`` (plain and
``class_weight="balanced"``), the default ``SelMixClassifier()`` (5-fold cross-fitting,
``metric="min_recall"``), its warm start alone (``max_iter=0``: the head SelMix starts from,
refitted on every row) and the default ``SelMixClassifierCV()`` on the same rows, with test
min and mean recall. Peak memory is the largest extra anonymous memory of the process
(``RssAnon``, sampled every 5 ms) during the default fit, over the bytes of the float32
input. Writes ``benchmarks/results/large_k.md`` and ``large_k.json``.
"""

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

import skselmix
from skselmix import SelMixClassifier, SelMixClassifierCV, get_objective, metrics
from skselmix.metrics import mean_recall_score, min_coverage_score, min_recall_score

from ._internals import CPU, LBFGS_MEMORY, LIMITS, n_resamples
from ._report import PeakMemory, PhaseSampler, md_table, stored_run, utc_now
from ._timing import gain_inputs, machine_description, skselmix_gain

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("imagenet_lt", "wordnet", "inat", "inat2018", "growth", "memory", "quality", "confident", "trace")
# An hour on two cores: run on its own (--part inat2018), not with the others.
DEFAULT_PARTS = tuple(part for part in PARTS if part != "inat2018")
#: The parts whose run the page's header states (the others record their own).
COST_PARTS = {"imagenet_lt", "wordnet", "growth"}
QUALITY_METRICS = ("mean_recall", "min_head_tail_recall", "mean_recall_min_coverage", "min_group_recall")
QUALITY_SEEDS = (0, 1, 2)


def decaying_counts(k, largest, smallest, total=None):
    """Class sizes from ``largest`` down to ``smallest``: ``largest (smallest/largest)^(r^q)``
    at rank fraction ``r``, with ``q`` set so that they sum to about ``total`` (q = 1, a
    geometric decay, without it)."""
    rank = np.arange(k) / (k - 1)

    def counts(q):
        return np.round(largest * (smallest / largest) ** (rank ** q)).astype(int)

    if total is None:
        return counts(1.0)
    low, high = 0.01, 100.0
    for _ in range(80):  # bisection on log q: the sum grows with q
        q = (low * high) ** 0.5
        low, high = (low, q) if counts(q).sum() > total else (q, high)
    return counts(q)


def embedding_like_rows(train_counts, test_per_class, d, latent=64, seed=0):
    """Training rows with ``train_counts`` per class and ``test_per_class`` balanced test rows,
    shaped like pretrained-network embeddings: a ``latent``-dimensional class structure, a
    random mixing into ``d`` features plus anisotropic noise, through a ReLU. float32."""
    rng = np.random.default_rng(seed)
    k = train_counts.shape[0]
    means = rng.normal(size=(k, latent)).astype(np.float32)
    spectrum = (1.0 / np.sqrt(1 + np.arange(d))).astype(np.float32)
    basis = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    mix = (rng.normal(size=(latent, d)) / np.sqrt(latent)).astype(np.float32)

    def rows(counts):
        y = np.repeat(np.arange(k), counts)
        X = np.empty((y.size, d), dtype=np.float32)
        for start in range(0, y.size, 20_000):  # blocks bound the temporaries
            block = y[start:start + 20_000]
            z = means[block] + 1.5 * rng.normal(size=(block.size, latent)).astype(np.float32)
            noise = (rng.normal(size=(block.size, d)).astype(np.float32) * spectrum) @ basis.T
            X[start:start + block.size] = np.maximum(0.6 * z @ mix + 3.0 * noise + 0.5, 0.0)
        return X, y

    X, y = rows(train_counts)
    X_test, y_test = rows(np.full(k, test_per_class))
    return X, y, X_test, y_test


def imagenet_lt_like(seed=0):
    return embedding_like_rows(decaying_counts(1000, 1280, 5, total=115_000), 20, 512, seed=seed)


INAT_CLASSES = 8192


def inat_like(seed=0):
    return embedding_like_rows(decaying_counts(INAT_CLASSES, 40, 3), 5, 256, seed=seed)


def wordnet_hypernyms(seed=0):
    from skselmix.datasets import fetch_wordnet_hypernyms

    return fetch_wordnet_hypernyms(random_state=seed, verbose=False)


PROBLEMS = {"imagenet_lt": lambda: imagenet_lt_like(), "wordnet": lambda: wordnet_hypernyms()}


def timed(make_and_fit):
    start = time.perf_counter()
    model = make_and_fit()
    return model, time.perf_counter() - start


def quality(model, X_test, y_test):
    pred = model.predict(X_test)
    return {"test_min_recall": float(min_recall_score(y_test, pred)),
            "test_mean_recall": float(mean_recall_score(y_test, pred))}


def compare_on(name, X, y, X_test, y_test, device):
    """Every method on one problem, in one process: times, peak memory, quality."""
    rows, started = [], time.perf_counter()
    print(f"{name}: N={X.shape[0]} D={X.shape[1]} K={np.unique(y).size}", flush=True)
    model, seconds = timed(lambda: SelMixClassifier(device=device, random_state=0).fit(X, y))
    default_seconds = seconds
    rows.append(_row(name, "SelMix default (cv=5)", seconds, model, X_test, y_test))
    refreshes = [record["refresh_time"] for record in model.history_ if record.get("refresh_time") is not None]
    rows[-1]["median_refresh_s"] = float(np.median(refreshes))
    methods = [
        ("SelMix warm start (max_iter=0)", lambda: SelMixClassifier(max_iter=0, device=device, random_state=0)),
        ("SelMixClassifierCV default", lambda: SelMixClassifierCV(device=device, random_state=0)),
        ("LogisticRegression C=1", lambda: LogisticRegression(max_iter=1000)),
        ("LogisticRegression C=1 balanced", lambda: LogisticRegression(max_iter=1000, class_weight="balanced")),
    ]
    for label, make in methods:
        model, seconds = timed(lambda: make().fit(X, y))
        rows.append(_row(name, label, seconds, model, X_test, y_test))
    logreg = next(r["seconds"] for r in rows if r["method"] == "LogisticRegression C=1")
    for row in rows:
        row["x_logreg"] = row["seconds"] / logreg
        row["x_default"] = row["seconds"] / default_seconds
    print(f"{name} done in {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def _row(problem, method, seconds, model, X_test, y_test, memory=None):
    row = {"problem": problem, "method": method, "seconds": seconds, **quality(model, X_test, y_test)}
    if memory is not None:
        row["peak_memory_x_input"] = memory
    for attribute in ("best_step_", "n_iter_warm_start_"):
        if hasattr(model, attribute):
            row[attribute] = int(getattr(model, attribute))
    if hasattr(model, "n_iter_") and isinstance(model, LogisticRegression):
        row["lbfgs_iterations"] = int(np.max(model.n_iter_))
    print(f"  {method}: {seconds:.1f} s, " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in row.items() if k not in ("problem", "method", "seconds")),
          flush=True)
    return row


def test_objective(metric, y_test, pred, class_counts):
    """``metric`` of test predictions ``pred`` by its ``skselmix.metrics`` function; heads and
    groups come from the training ``class_counts`` ({label: rows}), as a fitted SelMix model's
    ``score`` decides them."""
    score = getattr(metrics, f"{metric}_score")
    return score(y_test, pred, **({"class_counts": class_counts} if get_objective(metric).needs_class_counts else {}))


def fold_mean_predictions(model, X_test):
    """What 0.10 returned at the model's step: the mean of its fold heads (the all-rows refit
    at step 0, which is the model itself)."""
    if model.best_step_ == 0:
        return model.predict(X_test)
    coef, intercept = model.cv_heads_
    return model.classes_[np.argmax(X_test @ coef.mean(axis=0).T + intercept.mean(axis=0), axis=1)]


def quality_part(device, problems=("wordnet", "imagenet_lt"), seeds=QUALITY_SEEDS, metrics=QUALITY_METRICS):
    """The default fit of each metric against its own warm start and balanced
    LogisticRegression, on every problem and seed (rows: one per problem, seed, metric)."""
    import tempfile

    from joblib import Memory

    loaders = {"imagenet_lt": ("ImageNet-LT-like", imagenet_lt_like), "wordnet": ("WordNet hypernyms",
                                                                                 wordnet_hypernyms)}
    rows = []
    for problem in problems:
        title, load = loaders[problem]
        for seed in seeds:
            X, y, X_test, y_test = load(seed)
            labels, counts = np.unique(y, return_counts=True)
            class_counts = dict(zip(labels.tolist(), counts.tolist()))
            print(f"{title}, seed {seed}: N={X.shape[0]} D={X.shape[1]} K={labels.size}", flush=True)
            logreg, logreg_seconds = timed(lambda: LogisticRegression(max_iter=1000, class_weight="balanced").fit(X, y))
            logreg_pred = logreg.predict(X_test)
            with tempfile.TemporaryDirectory() as cache:
                memory = Memory(cache, verbose=0)
                for metric in metrics:
                    params = dict(metric=metric, memory=memory, random_state=seed, device=device)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        warm, warm_seconds = timed(lambda: SelMixClassifier(max_iter=0, **params).fit(X, y))
                        model, seconds = timed(lambda: SelMixClassifier(**params).fit(X, y))
                    pred, warm_pred = model.predict(X_test), warm.predict(X_test)
                    row = {
                        "problem": title, "seed": seed, "metric": metric,
                        "warm_start": test_objective(metric, y_test, warm_pred, class_counts),
                        "default": test_objective(metric, y_test, pred, class_counts),
                        "fold_mean_0_10": test_objective(metric, y_test, fold_mean_predictions(model, X_test),
                                                         class_counts),
                        "logreg_balanced": test_objective(metric, y_test, logreg_pred, class_counts),
                        "best_step_": int(model.best_step_), "validation_gain_": float(model.validation_gain_),
                        "validation_gain_std_": float(model.validation_gain_std_),
                        "default_mean_recall": float(mean_recall_score(y_test, pred)),
                        "warm_mean_recall": float(mean_recall_score(y_test, warm_pred)),
                        "default_min_coverage_x_k": float(min_coverage_score(y_test, pred)) * labels.size,
                        "warm_min_coverage_x_k": float(min_coverage_score(y_test, warm_pred)) * labels.size,
                        "loop_seconds": seconds, "warm_start_seconds": warm_seconds,
                        "logreg_seconds": logreg_seconds,
                    }
                    row["test_gain"] = row["default"] - row["warm_start"]
                    rows.append(row)
                    print("  " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in row.items() if k not in ("problem", "seed")), flush=True)
    return rows


def quality_summary(rows):
    """Per problem and metric: the mean over seeds of each column, and the paired test gain's
    mean, spread and sign count."""
    summary = []
    for problem in dict.fromkeys(r["problem"] for r in rows):
        for metric in dict.fromkeys(r["metric"] for r in rows):
            group = [r for r in rows if r["problem"] == problem and r["metric"] == metric]
            if not group:
                continue
            gains = np.array([r["test_gain"] for r in group])
            mean = {c: float(np.mean([r[c] for r in group])) for c in
                    ("warm_start", "default", "fold_mean_0_10", "logreg_balanced", "validation_gain_")}
            summary.append({
                "problem": problem, "metric": metric, "seeds": len(group), **mean,
                "test_gain": float(gains.mean()), "test_gain_sd": float(gains.std(ddof=1)) if len(gains) > 1 else 0.0,
                "wins/ties/losses": f"{int((gains > 0).sum())}/{int((gains == 0).sum())}/{int((gains < 0).sum())}",
                "best_step_": " ".join(str(r["best_step_"]) for r in group),
            })
    return summary


def trace_part(device, metric="min_head_tail_recall", seed=0, load=None):
    """Per refresh of a full-length fit: step, out-of-fold objective, and the test objective of
    the returned (all-rows) head and of the fold heads' mean."""
    from ._internals import fit_feature_map, fit_observing_refreshes, scaled_float32_tensor

    X, y, X_test, y_test = (load or wordnet_hypernyms)(seed)
    labels, counts = np.unique(y, return_counts=True)
    class_counts = dict(zip(labels.tolist(), counts.tolist()))
    model = SelMixClassifier(metric=metric, n_iter_no_change=None, random_state=seed, device=device)
    x_test = scaled_float32_tensor(X_test, fit_feature_map(np.asarray(X, dtype=np.float64), None,
                                                            model.column_scaling), device)
    rows = []

    def observe(step, stack, predictions, returned):
        def objective(heads):
            logits = sum(torch.addmm(heads.intercept[h], x_test, heads.coef[h].T) for h in range(heads.coef.shape[0]))
            return test_objective(metric, y_test, labels[logits.argmax(dim=1).cpu().numpy()], class_counts)
        rows.append({"step": step, "returned_test": objective(returned), "fold_mean_test": objective(stack)})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit_observing_refreshes(model, X, y, observe)
    for row, record in zip(rows, fitted.history_):
        row["out_of_fold"] = float(record["objective"])
        print(f"  step {row['step']}: out of fold {row['out_of_fold']:.4f}, returned head test "
              f"{row['returned_test']:.4f}, fold mean test {row['fold_mean_test']:.4f}", flush=True)
    return {"metric": metric, "seed": seed, "best_step_": int(fitted.best_step_), "rows": rows}


def confident_part(device, ks=(2048, 4096), d=256, repeats=3):
    """Seconds of the gain's softmax term at a confident head (the default path, which takes
    the float64 products when most rows are at risk of underflow) against the float64
    products alone, and at an ordinary head (float32 products)."""
    from ._internals import expected_mixed_sensitivity, float64_mixed_products, rows_at_risk

    rows = []
    for k in ks:
        g = torch.Generator().manual_seed(0)
        prototypes = torch.randn(k, d, generator=g, device=device) / d ** 0.5
        h = torch.randn(k, k, generator=g, device=device) * 1e-3
        for head, scale in (("confident (nearest centroid)", 60.0), ("ordinary", 1.0)):
            logits = (prototypes @ prototypes.T) * scale
            at_risk = float(rows_at_risk(logits, 0.8, 1e-6).float().mean())
            default = min(timed(lambda: expected_mixed_sensitivity(logits, h, 0.8))[1] for _ in range(repeats))
            exact = min(timed(lambda: float64_mixed_products(logits, h, 0.8))[1] for _ in range(repeats))
            rows.append({"K": k, "D": d, "head": head, "rows_at_risk": at_risk, "default_s": default,
                         "float64_products_s": exact, "x_float64": default / exact})
            print(f"  K={k} {head}: at risk {at_risk:.2f}, default {default:.2f} s, float64 {exact:.2f} s", flush=True)
    return rows


def inat_part(device):
    """K = 8192: a default fit (its refreshes, peak memory) and the gain computation alone."""
    X, y, X_test, y_test = inat_like()
    k, d = INAT_CLASSES, X.shape[1]
    print(f"inat: N={X.shape[0]} D={d} K={k}", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the floor of min recall at 0 is expected and named below
        with PeakMemory() as memory:
            model, seconds = timed(lambda: SelMixClassifier(device=device, random_state=0).fit(X, y))
    refreshes = [r["refresh_time"] for r in model.history_ if r.get("refresh_time") is not None]
    fit = _row(f"inat-like K={k}", "SelMix default (cv=5)", seconds, model, X_test, y_test, memory.extra / X.nbytes)
    fit.update(N=int(X.shape[0]), K=k, D=d, refresh_s=refreshes, median_refresh_s=float(np.median(refreshes)),
               n_refreshes=len(refreshes),
               input_mib=X.nbytes / 2**20, peak_extra_mib=memory.extra / 2**20)
    # The gain alone (confusion to gains), on benchmarks.perf's synthetic inputs of this shape.
    dev = torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")
    inputs = [t.to(dev) for t in gain_inputs(k, d)]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        skselmix_gain(*inputs)
        times.append(time.perf_counter() - start)
    fit["gain_alone_s"] = times
    print(f"  gain alone: {', '.join(f'{t:.2f}' for t in times)} s; refreshes in the fit: "
          f"{', '.join(f'{t:.1f}' for t in refreshes)} s", flush=True)
    return [fit]


# iNaturalist 2018: 437,513 training images of 8142 classes (1000 down to 2 a class), 3 a
# class to validate; here a tenth of its rows at the embedding width of a ResNet-50.
INAT2018 = dict(k=8142, d=2048, largest=100, smallest=2, rows=40_000, test_per_class=3)

# What a default fit does, in order of precedence (a sample in the all-rows head's
# L-BFGS run is in fit_linear_heads too): PhaseSampler's phases.
FIT_PHASES = (
    ("all-rows head (L-BFGS)", ("feedback.py:all_rows_head", "heads.py:all_rows_head")),
    ("fold heads (L-BFGS)", ("warm_start.py:fit_linear_heads",)),
    ("warm start, rest", ("feedback.py:warm_start", "training.py:_start")),
    ("out-of-fold predictions", ("feedback.py:judged_predictions",)),
    ("step selection (bootstrap)", ("training.py:_selection", "training.py:_judge_resamples")),
    ("gain", ("heads.py:gain",)),
    ("pair distributions", ("sampler.py:sampling_distribution", "sampler.py:head_pair_distributions",
                            "training.py:_record")),
    ("refresh, rest", ("training.py:_measure", "training.py:refresh")),
    ("SGD steps", ("training.py:take_steps",)),
    ("checks, feature map, scaled copy", ("problem.py:prepare_problem",)),
)


def phase_rows(phases):
    """A :class:`._report.PhaseSampler`'s phases as report rows, in order of first sample."""
    total = sum(phases.seconds.values())
    return [{"phase": label, "seconds": phases.seconds[label], "share": phases.seconds[label] / total,
             "peak_extra_mib": phases.peak_extra[label] / 2**20} for label in phases.phase_order]


def inat2018_files(seed=0):
    """The iNaturalist-2018-shaped rows as ``.npy`` files (written once, in a child process
    so that their making is not this process's memory): paths of X, y, X_test, y_test."""
    from skselmix.datasets import get_data_home

    c = INAT2018
    folder = Path(get_data_home()) / "benchmarks" / f"inat2018_like_{c['k']}x{c['d']}_{c['rows']}_seed{seed}"
    paths = [folder / f"{name}.npy" for name in ("X", "y", "X_test", "y_test")]
    if not all(path.exists() for path in paths):
        folder.mkdir(parents=True, exist_ok=True)
        code = (f"import numpy as np; from benchmarks import large_k as b; c = {c!r}; "
                "arrays = b.embedding_like_rows(b.decaying_counts(c['k'], c['largest'], c['smallest'], "
                f"total=c['rows']), c['test_per_class'], c['d'], seed={seed}); "
                f"[np.save(p, a) for p, a in zip({[str(p) for p in paths]!r}, arrays)]")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
    return paths


def inat2018_part(device):
    """One default fit on the memory-mapped iNaturalist-2018-shaped rows: time, peak memory,
    each phase's share, predict on the memory-mapped test rows."""
    X, y, X_test, y_test = (np.load(path, mmap_mode="r") for path in inat2018_files())
    y, y_test = np.asarray(y), np.asarray(y_test)
    n, d = X.shape
    k = int(np.unique(y).size)
    print(f"inat2018: N={n} D={d} K={k}, memory-mapped ({X.nbytes / 2**30:.2f} GiB)", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes without rows in a fold: named in the report
        with PeakMemory() as memory, PhaseSampler(FIT_PHASES) as phases:
            model, seconds = timed(lambda: SelMixClassifier(device=device, random_state=0, verbose=1).fit(X, y))
        with PeakMemory() as predict_memory:
            start = time.perf_counter()
            pred = model.predict(X_test)
            predict_seconds = time.perf_counter() - start
    refreshes = [r["refresh_time"] for r in model.history_ if r.get("refresh_time") is not None]
    counts = np.bincount(y, minlength=k)
    row = {"code": skselmix.__version__, "N": int(n), "D": int(d), "K": k, "largest_class": int(counts.max()),
           "smallest_class": int(counts.min()),
           "test_rows": int(y_test.size), "input_gib": X.nbytes / 2**30, "seconds": seconds,
           "peak_extra_mib": memory.extra / 2**20, "peak_memory_x_input": memory.extra / X.nbytes,
           "phases": phase_rows(phases),
           "refresh_s": refreshes, "n_iter_": int(model.n_iter_), "best_step_": int(model.best_step_),
           "validation_gain_": float(model.validation_gain_), "n_iter_warm_start_": int(model.n_iter_warm_start_),
           "predict_seconds": predict_seconds, "predict_peak_extra_mib": predict_memory.extra / 2**20,
           "test_min_recall": float(min_recall_score(y_test, pred)),
           "test_mean_recall": float(mean_recall_score(y_test, pred))}
    print(f"inat2018: fit {seconds:.0f} s, peak extra {row['peak_extra_mib']:.0f} MiB, predict "
          f"{predict_seconds:.1f} s; " + ", ".join(f"{p['phase']} {p['seconds']:.0f} s" for p in row["phases"]),
          flush=True)
    return row


GROWTH_BASE = {"N": 20_000, "D": 256, "K": 100}
GROWTH_GRID = {"N": (10_000, 20_000, 40_000, 80_000), "D": (128, 256, 512, 1024), "K": (100, 300, 1000, 3000)}


def growth_rows(n, d, k):
    """The rows of one growth point: classes of decaying size, at least 3 rows."""
    counts = decaying_counts(k, 30 * n // (10 * k) + 3, 3, total=n)
    return embedding_like_rows(counts, 1, d, seed=1)[:2]


def growth_point(n, d, k, device):
    """One fit of 1000 steps on the growth rows (run in a fresh process: its memory is its own)."""
    X, y = growth_rows(n, d, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PeakMemory() as memory:
            model, seconds = timed(lambda: SelMixClassifier(n_iter_no_change=None, device=device,
                                                            random_state=0).fit(X, y))
    return {"N": int(X.shape[0]), "D": d, "K": k, "seconds": seconds, "peak_memory_mib": memory.extra / 2**20,
            "input_mib": X.nbytes / 2**20, "n_iter_warm_start_": int(model.n_iter_warm_start_),
            "n_iter_": int(model.n_iter_)}


def k100_like(seed=0):
    """K = 100 for the memory part: 200,000 x 256 embedding-like rows, 4000 down to 200 a class."""
    return embedding_like_rows(decaying_counts(100, 4000, 200, total=200_000), 1, 256, seed=seed)


# The memory part's problems: both K = 1000 sets and a K = 100 one (the formula's checks).
MEMORY_PROBLEMS = {**PROBLEMS, "k100": lambda: k100_like()}


def problem_memory(name, device):
    """Peak extra memory of a default fit on problem ``name`` (run in a fresh process), and
    each phase's peak and seconds."""
    X, y = MEMORY_PROBLEMS[name]()[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PeakMemory() as memory, PhaseSampler(FIT_PHASES) as phases:
            model, seconds = timed(lambda: SelMixClassifier(device=device, random_state=0).fit(X, y))
    return {"peak_memory_x_input": memory.extra / X.nbytes, "peak_extra_mib": memory.extra / 2**20,
            "input_mib": X.nbytes / 2**20, "N": int(X.shape[0]), "D": int(X.shape[1]),
            "K": int(np.unique(y).size), "seconds": seconds, "phases": phase_rows(phases),
            "n_iter_warm_start_": int(model.n_iter_warm_start_), "n_iter_": int(model.n_iter_)}


def in_fresh_process(call, *args):
    """``call(*args)`` (a function of this module returning a dict) in a new Python process:
    the peak memory of one process is not a later measurement's (freed memory is reused)."""
    code = (f"import json; from benchmarks import large_k; "
            f"print(json.dumps(large_k.{call}(*{args!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def growth_part(device):
    """Fits of 1000 steps on a grid that varies one of N, D, K at a time from GROWTH_BASE,
    each in a fresh process."""
    rows = []
    for varied, values in GROWTH_GRID.items():
        for value in values:
            shape = dict(GROWTH_BASE, **{varied: value})
            row = {"varied": varied, **in_fresh_process("growth_point", shape["N"], shape["D"], shape["K"], device)}
            rows.append(row)
            print(f"growth {varied}: N={row['N']} D={row['D']} K={row['K']}: {row['seconds']:.1f} s, peak "
                  f"{row['peak_memory_mib']:.0f} MiB", flush=True)
    return rows


def formula_peak_mib(n, d, k, in_memory=True, folds=5):
    """The user guide's estimate ("How much memory a fit needs") of a default fit's extra
    memory in MiB: ``warm_start`` and ``loop`` phases, and their larger, ``peak``.

    Terms, from what the code holds: the scaled float32 features (``4 N D``; none for an
    out-of-core input, whose features are a temporary file), about 100 bytes a row
    (labels, folds, sampling pools, loss weights) and one a bootstrap resample (200 of them
    up to 100,000 rows, fewer above, at least 50), 64 MiB of
    torch's and the BLAS's working memory; in the warm start the L-BFGS state of one run
    (scipy's 25 float64 numbers per parameter plus bounds, copies and the evaluation's
    float64 gradient: about 340 bytes per parameter) of ``h K (D + 1)`` parameters (``h`` =
    the fold heads when they share one run, else 1) and five activation blocks of 2**21
    float32 values; in the loop, six K x (D + 1) float32 stacks of the H = folds + 1 heads
    (heads, averages, best, warm start, gradient, momentum) and the refresh's K x K
    arrays: the H per-head pair distributions and their cumulative sums in float64 (up to
    4096 classes and 2**26 entries; above, one K x K array) and the gain's dozen K x K
    temporaries (float64 below 2048 classes, float32 above; about 1 GiB at K = 8192 by
    blocks above 4096), or the step selection's bootstrap draws (40 MiB), the larger.
    """
    heads, params = folds + 1, k * (d + 1)
    features = 4 * n * d if in_memory else 0
    base = features + (100 + n_resamples(n)) * n + (64 << 20)
    # The warm start's own test (warm_start._joint_run_fits) on the float32 features.
    history = folds * params * 2 * LBFGS_MEMORY * 8
    joint = history <= max(CPU.joint_history_bytes, CPU.joint_history_fraction * 4 * n * d)
    warm = 340 * (folds if joint else 1) * params + 5 * 4 * CPU.activation_block
    dense = heads * k * k <= LIMITS.dense_head_pairs and k <= LIMITS.blocked_refresh_classes
    pairs = 16 * heads * k * k if dense else 8 * k * k
    if k <= LIMITS.blocked_refresh_classes:
        gain = 12 * k * k * (8 if k < CPU.float32_products_from_classes else 4)
    else:
        gain = (1 << 30) * (k / 8192) ** 2
    # The refresh's K x K arrays, or the step selection's draws (40 bytes each).
    loop = 6 * 4 * heads * params + pairs + max(gain, 40 * LIMITS.resample_draw_chunk)
    return {"warm_start": (base + warm) / 2**20, "loop": (base + loop) / 2**20,
            "peak": (base + max(warm, loop)) / 2**20}


WARM_START_PHASES = ("fold heads (L-BFGS)", "all-rows head (L-BFGS)", "warm start, rest")
LOOP_PHASES = ("out-of-fold predictions", "step selection (bootstrap)", "gain", "pair distributions",
               "refresh, rest", "SGD steps")


def memory_row(name, r):
    """A row of the memory table: the measured peaks of the warm start and the loop beside
    :func:`formula_peak_mib`'s."""
    def largest(labels):
        return max((p["peak_extra_mib"] for p in r["phases"] if p["phase"] in labels), default=float("nan"))

    formula = formula_peak_mib(r["N"], r["D"], r["K"])
    return {"problem": name, **{c: r[c] for c in ("N", "D", "K", "input_mib", "peak_extra_mib",
                                                  "peak_memory_x_input", "seconds")},
            "warm_start_mib": largest(WARM_START_PHASES), "formula_warm_start_mib": formula["warm_start"],
            "loop_mib": largest(LOOP_PHASES), "formula_loop_mib": formula["loop"]}


def memory_part(device):
    """Peak memory of the default fit on each K = 1000 problem and a K = 100 one, each in a
    fresh process, with each phase's peak."""
    rows = {}
    for name in MEMORY_PROBLEMS:
        rows[name] = in_fresh_process("problem_memory", name, device)
        print(f"memory {name}: {rows[name]['peak_memory_x_input']:.2f}x the input", flush=True)
    return rows


def exponents(rows):
    """Slope of log time and log peak memory against log of the varied size, per size."""
    out = {}
    for varied in GROWTH_GRID:
        part = [r for r in rows if r["varied"] == varied]
        if len(part) < 2:
            continue
        x = np.log([r[varied] for r in part])
        out[varied] = {
            "time": float(np.polyfit(x, np.log([r["seconds"] for r in part]), 1)[0]),
            "memory": float(np.polyfit(x, np.log([max(r["peak_memory_mib"], 1e-3) for r in part]), 1)[0]),
        }
    return out


def inat2018_plan(fit):
    """The iNaturalist-2018-shaped run planned on paper for one GPU and for a Dask cluster,
    from its measured phases (estimates: neither was run)."""
    seconds = {p["phase"]: p["seconds"] for p in fit["phases"]}
    heads = seconds.get("fold heads (L-BFGS)", 0.0) + seconds.get("all-rows head (L-BFGS)", 0.0)
    loop = seconds.get("gain", 0.0) + seconds.get("SGD steps", 0.0)
    flop = heads * 155e9  # the N x D x K products ran at 138-183 GFLOPS on these two cores
    params = fit["K"] * (fit["D"] + 1)
    full = 437_513 / fit["N"]
    return [
        "Planned on paper from these phases (estimates; neither was run). The warm start's products "
        f"are about {flop:.1e} floating-point operations (its {heads:.0f} s at the 138-183 GFLOPS the "
        "products reached here); the loop's gain and SGD steps "
        f"{loop:.0f} s; every L-BFGS iteration also runs scipy's two-loop recursion on the host over "
        f"{params / 1e6:.1f} million parameters (ten float64 pairs: {20 * params * 8 / 2**30:.1f} GiB read "
        "an iteration).", "",
        f"* **One GPU (an H100, 80 GB).** The products at a sustained 40 TFLOPS in float32: {flop / 40e12:.0f} s; "
        "the host's L-BFGS work and two copies of the parameters an evaluation (PCIe, about 25 GB/s) add "
        "about 0.3 s an iteration, about a minute over the run's few hundred iterations, which then bound "
        "the warm start. The gain's three K x K x K products (3.2 TFLOP a refresh) and the SGD steps take "
        "seconds in all. Memory: the features "
        f"({fit['input_gib']:.2f} GiB; {fit['input_gib'] * full:.1f} GiB for iNaturalist 2018's 437,513 "
        "rows), six heads of 67 MB and the refresh's K x K arrays (256-512 MiB each) fit on the device; "
        "the L-BFGS state (5.4 GiB) stays in host memory. The whole 437,513 rows: the products "
        f"{full:.0f} times longer, a few minutes a fit.",
        "* **A Dask cluster of several machines.** The warm start's evaluations are map-reduce tasks on the "
        "row chunks where they live: on W workers of c cores each, the products take about 2 / (W c) of "
        f"their {heads:.0f} s here (8 workers of 16 cores: about {heads * 2 / 128:.0f} s), plus each "
        f"evaluation's broadcast of the heads and the tree of gradients ({params * 4 / 2**20:.0f} MiB "
        "float32 each way a worker; at 10 Gbit/s about 0.1 s a level of the tree). The client keeps the "
        "L-BFGS state, the gain and the SGD steps (their rows gathered from the workers): those "
        f"{loop:.0f} s divide only by the client's own cores (16: about {loop * 2 / 16:.0f} s). The whole "
        f"437,513 rows: the workers' share {full:.0f} times larger, the client's unchanged.", "",
    ]


def run_line(header, when=None):
    """``Run: when, machine, torch threads n``: where and how a part (or the page) was run."""
    return (f"Run: {header.get('when', '?') if when is None else when}, {header.get('machine', '?')}, "
            f"torch threads {header.get('threads', '?')}")


def report(run, path):
    lines = [
        "# ImageNet-LT and iNaturalist shapes on one machine",
        "",
        f"{run_line(run)}, "
        f"device {run.get('device', 'cpu')}; one benchmark at a time on a quiet machine. Produced by "
        "`python -m benchmarks.large_k` (module docstring: the problems and methods).",
        "",
    ]
    comparisons = [r for part in ("imagenet_lt", "wordnet") for r in run.get(part, [])]
    if comparisons:
        lines += ["## K = 1000: cost and quality against LogisticRegression", "",
                  "`x_logreg`: seconds over `LogisticRegression(C=1)` on the same rows in the same run; "
                  "`x_default`: over the default SelMix fit. Peak memory: the section below. These rows ran on "
                  "the machine the page's header names; the default fit against `LogisticRegression(C=1)` on an "
                  "AMD EPYC: `benchmarks/perf_notes.md`, 'Issue 42, goal 7'.", ""]
        cols = ["problem", "method", "seconds", "x_logreg", "x_default", "test_min_recall", "test_mean_recall",
                "best_step_", "n_iter_warm_start_", "lbfgs_iterations", "median_refresh_s"]
        lines += [md_table([{c: r.get(c, "") for c in cols} for r in comparisons], cols), ""]
    if run.get("quality"):
        quality = run["quality"]
        measured = sorted({f"{row['problem']} {row.get('measured', quality['when'])}" for row in quality["rows"]})
        lines += ["## K = 1000: what fine-tuning buys, paired against the warm start", "",
                  f"{run_line(quality, when='; '.join(measured))}, device "
                  f"{quality['device']} (`--part quality`). Test objective of the default fit (`default`), of its "
                  "own warm start (`max_iter=0`, same rows and seed), of what 0.10 returned at the same step "
                  "(the mean of the fold heads) and of `LogisticRegression(class_weight=\"balanced\")`; heads and "
                  "groups from the training counts. `test_gain`: default minus warm start, paired over the seeds "
                  "(mean, standard deviation, wins/ties/losses); `validation_gain_`: what the fits reported "
                  "(mean); `best_step_`: each seed's.", ""]
        cols = ["problem", "metric", "seeds", "warm_start", "default", "test_gain", "test_gain_sd", "wins/ties/losses",
                "validation_gain_", "best_step_", "fold_mean_0_10", "logreg_balanced"]
        lines += [md_table(quality_summary(quality["rows"]), cols), ""]
        lines += ["Every fit (`loop_seconds`: the default fit with its warm start cached by `memory=`; this part "
                  "measures quality, and other jobs ran beside it at times, so its seconds are not timings to "
                  "quote):", ""]
        cols = ["problem", "seed", "metric", "warm_start", "default", "test_gain", "validation_gain_",
                "validation_gain_std_", "best_step_", "fold_mean_0_10", "default_mean_recall", "warm_mean_recall",
                "default_min_coverage_x_k", "warm_min_coverage_x_k", "loop_seconds"]
        lines += [md_table(quality["rows"], cols), ""]
    if run.get("trace"):
        trace = run["trace"]
        start = trace["rows"][0]
        lines += ["## What the steps could buy at K = 1052: one full-length trace", "",
                  f"Run: {trace['when']}, {trace['machine']} (`--part trace`). `{trace['metric']}` on WordNet "
                  f"hypernyms (seed {trace['seed']}), `n_iter_no_change=None`: at every refresh the out-of-fold "
                  "objective the fit judges by, and the test objective of the head it would return (the all-rows "
                  "head after the same steps) and of the fold heads' mean (what 0.10 returned). Test objective minus "
                  f"the warm start's ({start['returned_test']:.4f}), largest over the refreshes: returned head "
                  f"{max(r['returned_test'] for r in trace['rows']) - start['returned_test']:+.4f}; the default "
                  f"fit (early stopping, selection) returned step {trace['best_step_']}.", ""]
        lines += [md_table(trace["rows"], ["step", "out_of_fold", "returned_test", "fold_mean_test"]), ""]
    if run.get("confident"):
        confident = run["confident"]
        lines += ["## The gain of a confident head from 2048 classes", "",
                  f"{run_line(confident)} "
                  "(`--part confident`). The softmax term of the gain (three K x K x K products) for nearest-centroid "
                  "logits and for an ordinary head: the default path (float32 products from 2048 classes; float64 "
                  "products when more than half the rows are at risk of an underflowing normaliser) against the "
                  "float64 products alone, best of three. 0.10 redid a confident head's underflowing pairs one "
                  "softmax at a time: 39 to 160 s a refresh (issue 41, R06).", ""]
        lines += [md_table(confident["rows"], ["K", "D", "head", "rows_at_risk", "default_s", "float64_products_s",
                                               "x_float64"]), ""]
    if run.get("inat"):
        fit = run["inat"][0]
        where = f"{run_line(fit)}. " if "when" in fit else ""
        measured = ("measured in a process of its own, from before the fit: the fit's own peak"
                    if fit.get("alone") else
                    "measured in the benchmark's process after the other parts, whose freed memory the fit may "
                    "reuse: a lower bound")
        lines += ["## K = 8192 (iNaturalist-shaped, scaled to this machine)", "",
                  where + f"A default fit of N = {fit['N']:,} rows (K = {fit['K']}, D = {fit['D']}): "
                  f"{fit['seconds']:.0f} s, "
                  f"best_step_ {fit.get('best_step_')}, {fit['n_refreshes']} refreshes taking "
                  f"{', '.join(f'{t:.1f}' for t in fit['refresh_s'])} s (median {fit['median_refresh_s']:.1f} s); "
                  "the gain computation alone (confusion matrix to gains) "
                  f"{', '.join(f'{t:.2f}' for t in fit['gain_alone_s'])} s. Peak extra memory at least "
                  f"{fit['peak_extra_mib']:.0f} MiB over a {fit['input_mib']:.0f} MiB input ({measured}). "
                  f"Test min recall {fit['test_min_recall']:.3f}, mean recall "
                  f"{fit['test_mean_recall']:.3f}.", ""]
    if run.get("memory", {}).get("k100", {}).get("phases"):
        lines += ["## Peak memory by phase (`--part memory`)", "",
                  f"{run_line(run['memory'])}. A default fit of each problem in a fresh process, its rows in "
                  "memory (float32): the largest extra anonymous memory (RssAnon over its value before `fit`, "
                  "sampled every 5 ms), and each phase's largest sample (every 50 ms, the main thread's stack "
                  "naming the phase: a lower bound of its peak) beside what the user guide's formula says "
                  "(`formula_*`, MiB). Phases: the fold heads' and the all-rows head's L-BFGS runs, and the "
                  "loop (the refreshes, the step selection and the SGD steps).", ""]
        cols = ["problem", "N", "D", "K", "input_mib", "peak_extra_mib", "peak_memory_x_input", "warm_start_mib",
                "formula_warm_start_mib", "loop_mib", "formula_loop_mib", "seconds"]
        lines += [md_table([memory_row(name, r) for name, r in run["memory"].items()
                            if isinstance(r, dict) and "phases" in r], cols), ""]
    if run.get("inat2018"):
        fit = run["inat2018"]
        lines += ["## An iNaturalist-2018-shaped run from a memory map (`--part inat2018`)", "",
                  f"{run_line(fit)}, alone on the machine. "
                  f"N = {fit['N']:,} training rows (classes of {fit['largest_class']} down to "
                  f"{fit['smallest_class']}), D = {fit['D']}, K = {fit['K']}, float32 in a `.npy` file read "
                  f"memory-mapped ({fit['input_gib']:.2f} GiB); a default `SelMixClassifier(verbose=1)` "
                  f"(skselmix {fit.get('code', '?')}): "
                  f"{fit['seconds']:.0f} s, peak extra anonymous memory {fit['peak_extra_mib']:.0f} MiB, "
                  f"n_iter_warm_start_ {fit['n_iter_warm_start_']}, {len(fit['refresh_s'])} refreshes "
                  f"(median {np.median(fit['refresh_s']):.1f} s), n_iter_ {fit['n_iter_']}, best_step_ "
                  f"{fit['best_step_']}, validation_gain_ {fit['validation_gain_']:.4g}. `predict` on the "
                  f"{fit['test_rows']:,} memory-mapped test rows: {fit['predict_seconds']:.1f} s, "
                  f"{fit['predict_peak_extra_mib']:.0f} MiB extra; test min recall {fit['test_min_recall']:.3f}, "
                  f"mean recall {fit['test_mean_recall']:.3f}. Where the time went (the main thread's stack "
                  "sampled every 50 ms; `peak_extra_mib`: the phase's largest sample):", ""]
        lines += [md_table(fit["phases"], ["phase", "seconds", "share", "peak_extra_mib"]), ""]
        lines += inat2018_plan(fit)
    if run.get("growth"):
        lines += ["## How a fit grows with N, D and K", "",
                  f"From N = {GROWTH_BASE['N']:,}, D = {GROWTH_BASE['D']}, K = {GROWTH_BASE['K']}, one size varied "
                  "at a time (embedding-like rows, classes of decaying size, at least 3 rows; 1000 steps, "
                  "`n_iter_no_change=None`).", ""]
        lines += [md_table(run["growth"], ["varied", "N", "D", "K", "seconds", "peak_memory_mib", "input_mib",
                                           "n_iter_warm_start_", "n_iter_"]), ""]
        fitted = exponents(run["growth"])
        lines += ["Fitted exponents (slope of log cost against log size over the grid):", ""]
        lines += [md_table([{"size": size, "time exponent": v["time"], "memory exponent": v["memory"]}
                            for size, v in fitted.items()], ["size", "time exponent", "memory exponent"]), ""]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--quality-problems", nargs="+", choices=["wordnet", "imagenet_lt"],
                        help="--part quality on these sets only; the others keep their stored rows")
    args = parser.parse_args(argv)
    suffix = "" if args.device == "cpu" else f"_{args.device.split(':')[0]}"
    store, page = RESULTS / f"large_k{suffix}.json", RESULTS / f"large_k{suffix}.md"
    run = stored_run(parser, store, args.report_only)
    if not args.report_only:
        header = dict(when=utc_now(), machine=machine_description(), threads=torch.get_num_threads(),
                      device=args.device)
        # The page's header is the cost parts' run (their rows carry no header of their own);
        # every other part states its own, so running one of them leaves the header alone.
        if set(args.part or DEFAULT_PARTS) & COST_PARTS:
            run.update(header)
        for part in args.part or DEFAULT_PARTS:
            if part == "quality":
                problems = args.quality_problems or ["wordnet", "imagenet_lt"]
                rows = [dict(row, measured=header["when"]) for row in quality_part(args.device, problems)]
                titles = {row["problem"] for row in rows}
                kept = [row for row in run.get(part, {}).get("rows", []) if row["problem"] not in titles]
                run[part] = dict(header, rows=kept + rows)
            elif part == "trace":
                run[part] = dict(header, **trace_part(args.device))
            elif part == "confident":
                run[part] = dict(header, rows=confident_part(args.device))
            elif part == "imagenet_lt":
                run[part] = compare_on("ImageNet-LT-like", *imagenet_lt_like(), args.device)
            elif part == "wordnet":
                run[part] = compare_on("WordNet hypernyms", *wordnet_hypernyms(), args.device)
            elif part == "inat":
                run[part] = [dict(row, **header, alone=args.part == ["inat"]) for row in inat_part(args.device)]
            elif part == "inat2018":
                run[part] = dict(header, **inat2018_part(args.device))
            elif part == "growth":
                run[part] = growth_part(args.device)
            else:
                run[part] = dict(header, **memory_part(args.device))
            store.write_text(json.dumps(run, indent=1))
    report(run, page)
    print(f"wrote {page}")


if __name__ == "__main__":
    main()
