"""Speed and memory benchmark (issue: K = 1000 classes, 100k+ samples).

    python -m benchmarks.perf            # everything (~15 min on 2 cores)
    python -m benchmarks.perf --quick    # small sizes, for a smoke test
    python -m benchmarks.perf --cuda     # the CUDA column, on a GPU machine (perf_cuda.md)
    python -m benchmarks.perf --second-pass   # small data, a busy machine, N=100k vs two C, cv=5

Writes ``benchmarks/results/perf.md``, ``perf.json`` and PNG plots. Each ratio is measured
in the same run; times are medians over repeats.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from skselmix import SelMixClassifier

from ._data import long_tailed_gaussians
from ._naive_gain import naive_gain
from ._report import md_table, utc_now
from ._timing import bench_memory, gain_inputs, machine_description, median_time, skselmix_gain

RESULTS = Path(__file__).resolve().parent / "results"



# (N, D, K) of the fit timings, on the CPU and on CUDA.
FIT_SIZES = [(n, 512, k) for n in (10_000, 100_000) for k in (10, 100, 1000)]









def bench_gain(ks_naive, ks_alone, dims, repeats):
    rows = []
    for k in ks_naive:
        args = gain_inputs(k, 512)
        ours = skselmix_gain(*args)
        ref = naive_gain(*args, 0.8)
        err = float((ours - ref).abs().max() / ref.abs().max())
        t_ours, _ = median_time(lambda: skselmix_gain(*args), repeats)
        t_naive, _ = median_time(lambda: naive_gain(*args, 0.8), max(1, repeats if k <= 30 else 3))
        rows.append({"K": k, "D": 512, "skselmix_s": t_ours, "naive_K4_s": t_naive, "speedup": t_naive / t_ours,
                     "naive_K4_bytes": 4 * k**4, "max_rel_diff": err})
        print(
            f"gain K={k}: skselmix {t_ours * 1e3:.2f} ms, K^4 {t_naive * 1e3:.1f} ms, x{t_naive / t_ours:.0f}, "
            f"rel diff {err:.1e}",
            flush=True,
        )
    alone = []
    for d in dims:
        for k in ks_alone:
            args = gain_inputs(k, d)
            t, _ = median_time(lambda: skselmix_gain(*args), repeats)
            alone.append({"K": k, "D": d, "skselmix_s": t})
            print(f"gain alone K={k} D={d}: {t * 1e3:.1f} ms", flush=True)
    return rows, alone




def bench_fit(configs, repeats, device="cpu"):
    """SelMix's default fit and its init="auto" variant (two warm-start heads) vs LogisticRegression."""
    rows = []
    for n, d, k in configs:
        X, y = long_tailed_gaussians(n, d, k)
        reps = repeats if k < 1000 else 1
        t_default, _ = median_time(lambda: SelMixClassifier(device=device, random_state=0).fit(X, y), reps)
        t_auto, _ = median_time(lambda: SelMixClassifier(init="auto", device=device, random_state=0).fit(X, y), reps)
        t_lr, _ = median_time(lambda: LogisticRegression(max_iter=100).fit(X, y), reps)
        rows.append(
            {
                "N": n,
                "D": d,
                "K": k,
                "selmix_default_s": t_default,
                "selmix_auto_s": t_auto,
                "logreg_s": t_lr,
                "ratio_default": t_default / t_lr,
                "ratio_auto": t_auto / t_lr,
                "repeats": reps,
            }
        )
        print(
            f"fit N={n} D={d} K={k} ({device}): SelMix default {t_default:.1f}s, SelMix init=auto {t_auto:.1f}s, "
            f"LogisticRegression {t_lr:.1f}s, ratios {t_default / t_lr:.2f} / {t_auto / t_lr:.2f} ({reps} runs)",
            flush=True,
        )
    return rows






def bench_search(n, d, k, repeats):
    """GridSearchCV over s with n_jobs=1 and 2: wall time, and torch threads inside loky workers."""
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y = long_tailed_gaussians(n, d, k)
    rows = []
    for n_jobs in (1, 2):
        search = GridSearchCV(
            SelMixClassifier(max_iter=300, device="cpu", random_state=0),
            {"s": [1.0, 10.0, 100.0, 1000.0]},
            cv=3,
            n_jobs=n_jobs,
        )
        t, _ = median_time(lambda: search.fit(X, y), repeats)
        workers = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(torch.get_num_threads)() for _ in range(max(n_jobs, 2)))
        rows.append({"n_jobs": n_jobs, "seconds": t, "torch_threads_per_worker": max(workers)})
        print(f"search n_jobs={n_jobs}: {t:.1f}s, torch threads per worker {max(workers)}", flush=True)
    return rows


def profile_fit(n, d, k):
    from torch.profiler import ProfilerActivity, profile

    X, y = long_tailed_gaussians(n, d, k)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        SelMixClassifier(device="cpu", random_state=0).fit(X, y)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)


def plots(gain_rows, alone_rows, fit_rows, mem_rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    ax = axes[0]
    ax.loglog([r["K"] for r in gain_rows], [r["naive_K4_s"] for r in gain_rows], "o-", label="K^4 formulation (D=512)")
    for d in sorted({r["D"] for r in alone_rows}):
        pts = [r for r in alone_rows if r["D"] == d]
        ax.loglog([r["K"] for r in pts], [r["skselmix_s"] for r in pts], "s-", label=f"skselmix (D={d})")
    ax.axhline(1.0, color="grey", ls=":", lw=1)
    ax.set_xlabel("K (classes)")
    ax.set_ylabel("seconds per gain refresh")
    ax.legend(fontsize=8)
    ax.set_title("Gain refresh time vs K")
    ax = axes[1]
    for n in sorted({r["N"] for r in fit_rows}):
        pts = [r for r in fit_rows if r["N"] == n]
        ax.semilogx([r["K"] for r in pts], [r["ratio_default"] for r in pts], "o-", label=f"N={n}, default")
        ax.semilogx([r["K"] for r in pts], [r["ratio_auto"] for r in pts], "s--", label=f"N={n}, init=auto")
    ax.axhline(2.0, color="grey", ls=":", lw=1)
    ax.set_xlabel("K (classes)")
    ax.set_ylabel("SelMix fit time / LogisticRegression")
    ax.set_title("Full fit, D=512")
    ax.legend(fontsize=8)
    ax = axes[2]
    for n in sorted({r["N"] for r in mem_rows}):
        for mode, marker in (("array", "o-"), ("memmap", "s--")):
            pts = [r for r in mem_rows if r["N"] == n and r["input"] == mode]
            ax.semilogx(
                [r["K"] for r in pts], [r["peak_extra_over_input"] for r in pts], marker, label=f"N={n}, {mode}"
            )
    ax.axhline(2.0, color="grey", ls=":", lw=1)
    ax.set_xlabel("K (classes)")
    ax.set_ylabel("peak extra memory / input size")
    ax.set_title("Peak memory of fit, D=512")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = RESULTS / "perf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path




def cuda_main(out_dir):
    """The CUDA column: gain refreshes and full fits with device="cuda"; LogisticRegression on
    the same machine's CPU. Written to ``out_dir/perf_cuda.{json,md}``."""
    import os

    device = torch.device("cuda")
    alone = []
    for d in (512, 1024):
        for k in (10, 100, 1000, 3000):
            args = [t.to(device) for t in gain_inputs(k, d)]
            skselmix_gain(*args)  # warm-up: kernels load and cache on first use
            t, _ = median_time(lambda: skselmix_gain(*args), 5)
            alone.append({"K": k, "D": d, "cuda_s": t})
            print(f"gain (cuda) K={k} D={d}: {t * 1e3:.2f} ms", flush=True)
    SelMixClassifier(max_iter=10, device=device).fit(*long_tailed_gaussians(1000, 16, 4))  # CUDA context warm-up
    fit_rows = bench_fit(
        FIT_SIZES,
        3,
        device=device,
    )
    info = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    results = {"machine": info, "gain_alone": alone, "fit": fit_rows}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "perf_cuda.json").write_text(json.dumps(results, indent=1))
    (out_dir / "perf_cuda.md").write_text(
        "# Speed on CUDA\n\n"
        f"Generated by `python -m benchmarks.perf --cuda` on {utc_now()}: "
        f"{info['gpu']}, torch {info['torch']}, {info['cpu_cores']} CPU cores ({info['torch_threads']} torch threads). "
        "LogisticRegression runs on that machine's CPU, so the ratios are of this machine only; do not compare "
        "them with the 2-core table of perf.md. Times are medians (one run for K = 1000 fits), after a warm-up.\n\n"
        "## Gain refresh alone (CUDA)\n\n"
        + md_table(alone, ["K", "D", "cuda_s"])
        + "\n\n## Full fit with device=\"cuda\" vs LogisticRegression(lbfgs, max_iter=100) on the CPU\n\n"
        + md_table(
            fit_rows,
            ["N", "D", "K", "selmix_default_s", "selmix_auto_s", "logreg_s", "ratio_default", "ratio_auto", "repeats"],
        )
        + "\n"
    )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cuda", action="store_true", help="the CUDA column only (needs a GPU)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the --cuda results")
    parser.add_argument("--second-pass", action="store_true", help="small data, contention, N=100k vs two C, cv=5")
    args = parser.parse_args(argv)
    if args.cuda:
        return cuda_main(args.out)
    if args.second_pass:
        return second_pass_main()
    RESULTS.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    if args.quick:
        gain_rows, alone = bench_gain([10, 30], [10, 100], [512], 3)
        fit_rows = bench_fit([(2000, 64, 10)], 1)
        mem_rows = bench_memory([(5000, 64, 10)])
        search_rows = bench_search(1500, 32, 5, 1)
        prof = profile_fit(2000, 64, 10)
    else:
        gain_rows, alone = bench_gain([10, 30, 100], [10, 30, 100, 300, 1000], [512, 1024], 5)
        fit_rows = bench_fit(
            FIT_SIZES,
            3,
        )
        mem_rows = bench_memory([(10_000, 512, 100), (100_000, 512, 10), (100_000, 512, 100), (100_000, 512, 1000)])
        search_rows = bench_search(20_000, 128, 10, 3)
        prof = profile_fit(100_000, 512, 100)
    results = {
        "machine": machine_description(),
        "torch_threads": threads,
        "gain_vs_K4": gain_rows,
        "gain_alone": alone,
        "fit": fit_rows,
        "memory": mem_rows,
        "search": search_rows,
    }
    (RESULTS / ("perf_quick.json" if args.quick else "perf.json")).write_text(json.dumps(results, indent=1))
    if args.quick:
        return results
    plot = plots(gain_rows, alone, fit_rows, mem_rows)

    notes = Path(__file__).resolve().parent / "perf_notes.md"
    text = (
        "# Speed and memory\n\n"
        f"Generated by `python -m benchmarks.perf` on {utc_now()}: "
        f"{machine_description()}, torch {torch.__version__} with {threads} intra-op threads, CPU only. "
        "Times are medians; ratios are measured in the same run.\n\n"
        "## Gain refresh: skselmix vs a K^4 formulation (D = 512)\n\n"
        + md_table(gain_rows, ["K", "skselmix_s", "naive_K4_s", "speedup", "naive_K4_bytes", "max_rel_diff"])
        + "\n\n## Gain refresh alone\n\n"
        + md_table(alone, ["K", "D", "skselmix_s"])
        + "\n\n## Full fit vs LogisticRegression(lbfgs, max_iter=100)\n\n"
        "Warm start + up to 1000 SelMix steps with refreshes (early stopping on). `default` is "
        "`SelMixClassifier()`: since version 0.2 five fold heads with logit-adjusted warm starts (cross-fitting, "
        "`cv=\"auto\"`; since 0.4 fitted in one L-BFGS run while its history is within 64 MiB or a quarter of the "
        "input, here K <= 100, and one at a time at K = 1000), and the final head; `auto` is `init=\"auto\"`, "
        "which fits two heads per fold. Long-tailed Gaussian mixture (imbalance 100), float32 input; K = 1000 "
        "configurations run once.\n\n"
        + md_table(
            fit_rows,
            ["N", "D", "K", "selmix_default_s", "selmix_auto_s", "logreg_s", "ratio_default", "ratio_auto", "repeats"],
        )
        + "\n\n## Peak memory of fit\n\nExtra anonymous (heap) memory at the peak of `fit`, sampled every 5 ms from "
        "/proc, relative to the float32 input array; memory-mapped input read from a .npy file with mmap_mode='r'.\n\n"
        + md_table(mem_rows, ["N", "D", "K", "input", "peak_extra_over_input"])
        + "\n\n## Parallel model search\n\nGridSearchCV over 4 values of s x 3 folds (N=20k, D=128, K=10, "
        "max_iter=300). joblib's loky workers cap OpenMP threads at cores // n_jobs and torch follows, so two "
        "workers on 2 cores use one thread each (no oversubscription).\n\n"
        + md_table(search_rows, ["n_jobs", "seconds", "torch_threads_per_worker"])
        + (
            "\n\n## CUDA column\n\nFrom `python -m benchmarks.perf --cuda` on a GPU machine (perf_cuda.md, "
            "copied here; its LogisticRegression ran on that machine's CPU):\n\n"
            + (RESULTS / "perf_cuda.md").read_text().split("\n", 2)[2].replace("## ", "### ")
            if (RESULTS / "perf_cuda.md").exists()
            else ""
        )
        + f"\n\n![perf]({plot.name})\n\n"
        + "## Profile of one fit (N=100k, D=512, K=100), torch.profiler, top ops by self CPU time\n\n"
        + f"```\n{prof}\n```\n\n"
        + (notes.read_text() if notes.exists() else "")
    )
    (RESULTS / "perf.md").write_text(text)
    print(f"wrote {RESULTS / 'perf.md'}")
    return results


# ------------------------------------------------------------ second pass (issue: speed)
SPIN_SCRIPT = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"


class Spinners:
    """One CPU-bound process per core (started and stopped here), to time fits on a busy machine."""

    def __init__(self, seconds=600):
        import os

        self.count = len(os.sched_getaffinity(0))
        self.seconds = seconds

    def __enter__(self):
        self.procs = [
            subprocess.Popen([sys.executable, "-c", SPIN_SCRIPT.format(seconds=self.seconds)])
            for _ in range(self.count)
        ]
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def quickstart_split():
    from sklearn.datasets import load_digits

    from skselmix.datasets import long_tailed_split

    X, y = load_digits(return_X_y=True)
    return long_tailed_split(X, y, rho=50, n_val_per_class=25, n_test_per_class=50, random_state=0)[:2]


FRESH_SELMIX = (
    "import time; t = time.perf_counter(); from skselmix import SelMixClassifier; "
    "from benchmarks.perf import quickstart_split; "
    "X, y = quickstart_split(); SelMixClassifier(random_state=0).fit(X, y); print(time.perf_counter() - t)"
)
FRESH_LOGREG = (
    "import time; t = time.perf_counter(); import torch; from sklearn.linear_model import LogisticRegression; "
    "from benchmarks.perf import quickstart_split; X, y = quickstart_split(); "
    "LogisticRegression(max_iter=1000).fit(X, y); "
    "print(time.perf_counter() - t)"
)


def fresh_process_seconds(code, repeats):
    root = Path(__file__).resolve().parents[1]
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
            ).stdout.split()[-1]
        )
        for _ in range(repeats)
    ]
    return float(np.median(times))


def second_pass(repeats=5):
    """Small data, a busy machine, large data against LogisticRegression at two C, and cv=5."""

    out = {}
    X, y = quickstart_split()
    logreg = lambda: LogisticRegression(max_iter=1000).fit(X, y)  # noqa: E731
    SelMixClassifier(random_state=0).fit(X, y)  # first fit of the process: imports and caches out of the timing
    t_lr, _ = median_time(logreg, repeats)
    out["small"] = []
    for label, cv in (("default (cv='auto': 5 folds)", "auto"), ("cv=None (20 % hold-out)", None)):
        t_sm, _ = median_time(lambda: SelMixClassifier(cv=cv, random_state=0).fit(X, y), repeats)
        out["small"].append({"fit": label, "selmix_s": t_sm, "logreg_s": t_lr, "ratio": t_sm / t_lr})
        print(
            f"quickstart {label}: SelMix {t_sm:.3f}s, LogisticRegression {t_lr:.3f}s, ratio {t_sm / t_lr:.1f}",
            flush=True,
        )
    t_fresh_sm, t_fresh_lr = fresh_process_seconds(FRESH_SELMIX, 3), fresh_process_seconds(FRESH_LOGREG, 3)
    out["fresh"] = {"selmix_s": t_fresh_sm, "torch_logreg_s": t_fresh_lr, "ratio": t_fresh_sm / t_fresh_lr}
    print(
        f"fresh process: import skselmix + fit {t_fresh_sm:.2f}s, import torch + LogisticRegression {t_fresh_lr:.2f}s",
        flush=True,
    )

    X20, y20 = long_tailed_gaussians(20_000, 512, 10)
    cases = {"quickstart (273 x 64, K=10)": (X, y, 3), "N=20k, D=512, K=10": (X20, y20, 3)}
    out["contention"] = []
    for label, (Xc, yc, reps) in cases.items():
        fit = lambda: SelMixClassifier(random_state=0).fit(Xc, yc)  # noqa: E731
        quiet, _ = median_time(fit, reps)
        with Spinners():
            busy, _ = median_time(fit, reps)
        out["contention"].append({"case": label, "quiet_s": quiet, "busy_s": busy, "ratio": busy / quiet})
        print(f"contention {label}: quiet {quiet:.2f}s, busy {busy:.2f}s, x{busy / quiet:.2f}", flush=True)

    out["large"] = [large_case(100_000, 512, k) for k in (100, 1000)]
    # Peak memory of the default fit (cv='auto': five fold heads).
    out["memory"] = bench_memory([(100_000, 512, 100)])
    return out


def large_case(n, d, k):
    """Hold-out and cv=5 fits against LogisticRegression at C = 1 and at SelMix's L2 strength."""
    from ._internals import fit_feature_map, resolve_weight_decay

    Xl, yl = long_tailed_gaussians(n, d, k)
    # SelMix's penalty l2 / 2 ||W'||^2 acts on mapped features x' = (x - mean) / scale, so on raw
    # features it is l2 scale^2 / 2 ||W||^2: sklearn's C = 1 / (n l2 scale^2) (0.02 here, not 10).
    scale = float(fit_feature_map(Xl).scale[0])
    same_l2_C = 1.0 / (resolve_weight_decay("auto", len(yl)) * scale**2 * len(yl))
    timings = {}
    for name, fn in {
        "selmix_holdout": lambda: SelMixClassifier(cv=None, random_state=0).fit(Xl, yl),
        "selmix_cv5": lambda: SelMixClassifier(cv=5, random_state=0).fit(Xl, yl),
        "logreg_C1": lambda: LogisticRegression(max_iter=100).fit(Xl, yl),
        "logreg_same_l2": lambda: LogisticRegression(C=same_l2_C, max_iter=100).fit(Xl, yl),
    }.items():
        timings[name], _ = median_time(fn, 1)
        print(f"N={n}, D={d}, K={k}: {name} {timings[name]:.1f}s", flush=True)
    return {
        "N": n,
        "D": d,
        "K": k,
        **timings,
        "same_l2_C": same_l2_C,
        "cv5_over_holdout": timings["selmix_cv5"] / timings["selmix_holdout"],
        "holdout_over_logreg_C1": timings["selmix_holdout"] / timings["logreg_C1"],
        "holdout_over_logreg_same_l2": timings["selmix_holdout"] / timings["logreg_same_l2"],
        "cv5_over_logreg_C1": timings["selmix_cv5"] / timings["logreg_C1"],
    }


def second_pass_main():
    threads = torch.get_num_threads()
    out = {"machine": machine_description(), "torch_threads": threads, "started": utc_now(), **second_pass()}
    (RESULTS / "perf_second_pass.json").write_text(json.dumps(out, indent=1))
    small, fresh, large = out["small"], out["fresh"], out["large"]
    lines = [
        "# Speed, second pass",
        "",
        f"Generated by `python -m benchmarks.perf --second-pass` on {out['started']}: {out['machine']}, torch "
        f"{torch.__version__} with {threads} intra-op threads "
        "(the caller's setting; SelMix's small SGD steps run on one), "
        "no other job on the machine except the spinning processes of the contention rows. Medians of 5 runs "
        "(small data), 3 (contention) and single runs (N = 100k).",
        "",
        "## Small data: the quickstart split (273 x 64, K = 10, internal validation split)",
        "",
        md_table(small, ["fit", "selmix_s", "logreg_s", "ratio"]),
        "",
        "A fresh process that imports and fits once (median of 3 processes): import skselmix + fit vs import torch "
        "+ LogisticRegression(max_iter=1000).fit:",
        "",
        md_table([fresh], ["selmix_s", "torch_logreg_s", "ratio"]),
        "",
        "## Busy machine: the default fit (cv='auto', 5 folds), quiet and with one CPU-bound process spinning per core",
        "",
        md_table(out["contention"], ["case", "quiet_s", "busy_s", "ratio"]),
        "",
        "## Large data: N = 100k, D = 512, K = 100 and 1000 (long-tailed Gaussians, float32)",
        "",
        "`selmix_holdout` is `SelMixClassifier(cv=None)` (internal 20 % hold-out), `selmix_cv5` is "
        "`SelMixClassifier(cv=5)` (the default `cv='auto'` without `X_val`); "
        "`logreg_same_l2` is LogisticRegression with C = `same_l2_C`, the L2 strength of SelMix's "
        "weight_decay='auto' (on all rows) expressed on the raw features; `logreg_C1` is sklearn's default C = 1 "
        "(both lbfgs, max_iter=100). Single runs.",
        "",
        md_table(
            large,
            [
                "N",
                "D",
                "K",
                "selmix_holdout",
                "selmix_cv5",
                "logreg_C1",
                "logreg_same_l2",
                "same_l2_C",
                "cv5_over_holdout",
                "holdout_over_logreg_C1",
                "holdout_over_logreg_same_l2",
                "cv5_over_logreg_C1",
            ],
        ),
        "",
        "Peak extra anonymous memory of the default fit (cv='auto', 5 folds) over the float32 input, "
        "measured as in perf.md:",
        "",
        md_table(out["memory"], ["N", "D", "K", "input", "peak_extra_over_input"]),
        "",
    ]
    (RESULTS / "perf_second_pass.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'perf_second_pass.md'}")
    return out


if __name__ == "__main__":
    main()
