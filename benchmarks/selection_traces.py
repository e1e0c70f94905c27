"""Traces of SelMix fits for choosing (and checking) the step-selection rule offline.

Issue 31: the fitted step was the arg max of a noisy out-of-fold curve. To compare
selection rules without refitting, this records, for every refresh of a full-length
default fit (``n_iter_no_change=None``), the out-of-fold predicted class of every
labelled row (what the fit's feedback sees), the test-set predictions of the model that
step would return (``returned``: the all-rows head after the same steps, or the fold
networks' mean logits) and of the fold heads' mean (``fold_mean``, what releases before
0.11 returned after step 0), together with the test predictions of the warm start itself
(``max_iter=0``: the logit-adjusted head refitted on every labelled row, what step 0
returns).

A rule is then a function of the out-of-fold traces alone, and its test objective is
read from the recorded test predictions of the step it picks.

    python -m benchmarks.selection_traces --problems digits_tiny breast --seeds 100 101 102

Seeds 100 and up are the tuning seeds (no reported table uses them); the reported tables
use seeds 0 to 9 (``benchmarks.tabular``) and 10 to 19 (``benchmarks.paired``).
Writes ``benchmarks/results/traces/<problem>_<seed>.npz`` (not committed: regenerable).
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from skselmix import SelMixClassifier

from . import _problems as problems
from ._internals import fit_feature_map, fit_observing_refreshes, scaled_float32_tensor

TRACES = Path(__file__).resolve().parent / "results" / "traces"


def _mean_model_predictions(x_test, stack):
    """Test predictions of a stack's heads' mean logits."""
    logits = torch.zeros((x_test.shape[0], stack.coef.shape[1]), dtype=torch.float64)
    for h in range(stack.coef.shape[0]):
        logits += torch.addmm(stack.intercept[h], stack.features(x_test, h), stack.coef[h].T).to(torch.float64)
    return logits.argmax(dim=1).numpy()


def trace_fit(X, y, X_test, params):
    """One full-length default fit, recording each refresh's out-of-fold and test predictions."""
    # The fit's own coordinates: the same column_scaling rule its feature map applies (the
    # "auto" default standardises columns in different units, as breast_raw's and wine_raw's).
    model = SelMixClassifier(**{**params, "n_iter_no_change": None})
    fmap = fit_feature_map(np.asarray(X, dtype=np.float64), None, model.column_scaling)
    x_test = scaled_float32_tensor(np.asarray(X_test, dtype=np.float64), fmap, "cpu")
    oof, test, fold_mean = [], [], []

    def recording(step, stack, predictions, returned):
        oof.append(predictions.numpy().astype(np.int32))
        test.append(_mean_model_predictions(x_test, returned).astype(np.int32))
        fold_mean.append(_mean_model_predictions(x_test, stack).astype(np.int32))

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = fit_observing_refreshes(model, X, y, recording)
    seconds = time.perf_counter() - start
    return clf, np.stack(oof), np.stack(test), np.stack(fold_mean), seconds


def record(problem, seed):
    X, y, X_test, y_test, params = problems.PROBLEMS[problem](seed)
    params = {"device": "cpu", "random_state": seed, **params}
    clf, oof, test, fold_mean, seconds = trace_fit(X, y, X_test, params)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = SelMixClassifier(**{**params, "max_iter": 0}).fit(X, y)
    warm_seconds = time.perf_counter() - start
    classes = clf.classes_
    TRACES.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        TRACES / f"{problem}_{seed}.npz",
        y=np.searchsorted(classes, y).astype(np.int32), oof=oof, test=test, fold_mean=fold_mean,
        warm_test=np.searchsorted(classes, warm.predict(X_test)).astype(np.int32),
        y_test=np.searchsorted(classes, y_test).astype(np.int32),
        steps=np.array([r["step"] for r in clf.history_]), values=np.array([r["objective"] for r in clf.history_]),
        seconds=seconds, warm_seconds=warm_seconds,
    )
    return clf, seconds, warm_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(problems.PROBLEMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[100, 101, 102, 103, 104])
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    for problem in args.problems:
        for seed in args.seeds:
            clf, seconds, warm_seconds = record(problem, seed)
            print(f"{problem} {seed}: {seconds:.1f} s (warm start {warm_seconds:.1f} s), "
                  f"oof values {np.round([r['objective'] for r in clf.history_], 3).tolist()}", flush=True)


if __name__ == "__main__":
    main()
