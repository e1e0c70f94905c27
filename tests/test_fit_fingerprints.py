"""Fixed-seed fits, recorded once, must stay bit-identical through refactors.

``tests/data/fit_fingerprints.npz`` holds every fitted array of a dozen fits (each
feedback mode, weights, semi-supervised, warm starts, objectives, a search). Float
arithmetic depends on the torch build and the CPU's vector unit, so the exact
comparison runs where the platform matches the recording's (the CI machine);
elsewhere it skips and says why. Re-record only for a change meant to alter the
fits: ``SKSELMIX_RECORD_FINGERPRINTS=1 python -m pytest tests/test_fit_fingerprints.py``.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from skselmix import HMeanMinCoverage, SelMixClassifier, SelMixClassifierCV

RECORD = Path(__file__).parent / "data" / "fit_fingerprints.npz"
RECORDING = os.environ.get("SKSELMIX_RECORD_FINGERPRINTS") == "1"
ATTRIBUTES = (
    "coef_", "intercept_", "temperature_", "best_step_", "n_iter_", "best_validation_score_", "gain_matrix_",
    "sampling_distribution_", "prototypes_", "weight_decay_", "class_counts_", "validation_gain_",
    "validation_gain_std_",
)


def platform_tag():
    return f"torch {torch.__version__}, cpu {torch.backends.cpu.get_cpu_capability()}, numpy {np.__version__}"


def _data(seed=0, n_features=6, sizes=(120, 60, 25, 12)):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=1.5, size=(len(sizes), n_features))
    X = np.vstack([rng.normal(size=(n, n_features)) + c for n, c in zip(sizes, centers)])
    y = np.repeat(np.arange(len(sizes)), sizes)
    return X, y


def _fit_cases():
    X, y = _data()
    Xv, yv = _data(seed=1, sizes=(10, 10, 10, 10))
    w = np.random.RandomState(2).uniform(0.2, 3.0, size=y.shape[0])
    short = dict(max_iter=150, refresh_every=25, device="cpu", random_state=0)
    y_semi = y.copy()
    y_semi[np.random.RandomState(3).rand(y.shape[0]) < 0.4] = -1
    coef = np.random.RandomState(4).normal(size=(4, X.shape[1]))

    def warm_started():
        clf = SelMixClassifier(cv=None, **short).fit(X, y)
        return clf.set_params(warm_start=True, s=1.0).fit(X, y)

    return {
        "hold_out": lambda: SelMixClassifier(cv=None, **short).fit(X, y),
        "cross_fit": lambda: SelMixClassifier(cv=3, **short).fit(X, y),
        # The best step whatever the noise: the returned head is an SGD iterate (most fits above
        # keep their warm start under the default selection_confidence).
        "hold_out_best_step": lambda: SelMixClassifier(cv=None, selection_confidence=0, **short).fit(X, y),
        "cross_fit_best_step": lambda: SelMixClassifier(cv=3, selection_confidence=0, **short).fit(X, y),
        "x_val": lambda: SelMixClassifier(metric="gmean", **short).fit(X, y, X_val=Xv, y_val=yv),
        "weights": lambda: SelMixClassifier(cv=3, class_weight="balanced", **short).fit(X, y, sample_weight=w),
        "hold_out_weights": lambda: SelMixClassifier(cv=None, **short).fit(
            X, y, sample_weight=w, X_val=Xv, y_val=yv, sample_weight_val=np.linspace(0.5, 2, 40)
        ),
        "semi_supervised": lambda: SelMixClassifier(unlabeled_label=-1, pseudo_label_threshold=0.5, **short).fit(
            X, y_semi
        ),
        "auto_init_cutmix": lambda: SelMixClassifier(
            metric="mean_recall_min_coverage", init="auto", mixup="cutmix", average_decay=0.5, cv=None, **short
        ).fit(X, y),
        "coverage_objective": lambda: SelMixClassifier(metric=HMeanMinCoverage(alpha=0.9), cv=3, **short).fit(X, y),
        "coef_init": lambda: SelMixClassifier(cv=3, **short).fit(X, y, coef_init=coef),
        "warm_start": warm_started,
        "balanced_head": lambda: SelMixClassifier(
            init="balanced", metric="hmean", weight_decay=1e-3, cv=4, **short
        ).fit(X, y),
        "search": lambda: SelMixClassifierCV(
            s_values=(0.1, 10.0), param_grid={"learning_rate": [0.01, 0.03]}, **short
        ).fit(X, y),
    }


def _fingerprint(clf):
    arrays = {name: np.asarray(getattr(clf, name)) for name in ATTRIBUTES}
    arrays["history_objective"] = np.array([record["objective"] for record in clf.history_])
    if hasattr(clf, "cv_heads_"):
        arrays["cv_heads_coef"], arrays["cv_heads_intercept"] = clf.cv_heads_
    return arrays


def _recorded():
    if not RECORD.exists():
        return None, {}
    with np.load(RECORD, allow_pickle=False) as stored:
        return str(stored["platform"]), {key: stored[key] for key in stored.files if key != "platform"}


@pytest.fixture(scope="module")
def record():
    if RECORDING:
        arrays = {
            f"{case}/{name}": value for case, fit in _fit_cases().items() for name, value in _fingerprint(fit()).items()
        }
        RECORD.parent.mkdir(exist_ok=True)
        np.savez_compressed(RECORD, platform=np.array(platform_tag()), **arrays)
    platform, arrays = _recorded()
    if platform != platform_tag():
        pytest.skip(f"fingerprints were recorded on {platform!r}, this is {platform_tag()!r}")
    return arrays


@pytest.mark.parametrize("case", sorted(_fit_cases()))
def test_fit_is_bit_identical_to_the_recording(record, case):
    expected = {key.split("/", 1)[1]: value for key, value in record.items() if key.startswith(case + "/")}
    assert expected, f"no recording of {case}"
    got = _fingerprint(_fit_cases()[case]())
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=f"{case}: {name}")


def test_the_recording_was_made_on_the_ci_platform():
    """The record is only useful if CI compares against it: fail if it is missing."""
    platform, arrays = _recorded()
    assert platform is not None and arrays
