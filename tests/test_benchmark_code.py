"""The benchmarks' own correctness (fast), and opt-in smoke runs (marked slow)."""

import numpy as np
import pytest
import torch

from benchmarks._naive_gain import naive_gain
from skselmix import MinRecall, gain_matrix


def test_naive_k4_formulation_equals_gain_matrix():
    rng = np.random.default_rng(0)
    k, d = 5, 7
    Z, W = rng.normal(size=(k, d)), rng.normal(size=(k, d))
    b = rng.normal(size=k)
    C = rng.random((k, k)) + 2 * np.eye(k)
    C = C / C.sum(axis=1, keepdims=True) / k
    Ct = torch.tensor(C)
    expected = gain_matrix(Z, W, b, C, "min_recall")
    got = naive_gain(torch.tensor(Z), torch.tensor(W), torch.tensor(b), Ct, MinRecall().gradient(Ct), 0.8)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_perf_quick_runs():
    from benchmarks import perf

    results = perf.main(["--quick"])
    assert results["gain_vs_K4"][0]["max_rel_diff"] < 1e-4


def test_stratified_bootstrap_of_min_recall_resamples_within_classes():
    from benchmarks.wordnet_noise import N_BOOTSTRAP, bootstrap_min_recall

    # Class 1 (interleaved with class 0) has one hit in two rows; class 0 is always right.
    y_true = np.array([0, 1, 0, 0, 1, 0])
    y_pred = np.array([0, 1, 0, 0, 2, 0])
    mins = bootstrap_min_recall(y_true, y_pred, 2, np.random.default_rng(0))
    assert mins.shape == (N_BOOTSTRAP,)
    values, counts = np.unique(mins, return_counts=True)
    np.testing.assert_array_equal(values, [0.0, 0.5, 1.0])
    # Two draws from {hit, miss}: 0, 1 or 2 hits with probabilities 1/4, 1/2, 1/4.
    np.testing.assert_allclose(counts / N_BOOTSTRAP, [0.25, 0.5, 0.25], atol=0.07)
    # Constant outcomes per class: every resample gives the exact min recall.
    exact = bootstrap_min_recall(y_true, np.where(y_true == 1, 2, 0), 2, np.random.default_rng(1))
    np.testing.assert_array_equal(exact, 0.0)


def test_semi_supervised_report_only_rebuilds_the_tables_from_the_store(tmp_path, monkeypatch):
    import json

    from benchmarks import semi_supervised

    def rows(min_recall, mean_recall):
        row = {"min recall": min_recall, "mean recall": mean_recall, "fit seconds": 1.0}
        return [row | {"pseudo-label accuracy (first refresh)": 0.8}]

    methods = {"SelMix, labelled only": rows(0.5, 0.7), "SelMix, semi-supervised": rows(0.25, 0.75)}
    store = {
        "seeds": [7],
        "generated": "2026-01-02 03:04 UTC",
        "results": {"uniform": dict.fromkeys(("min_recall", "mean_recall"), methods)},
    }
    monkeypatch.setattr(semi_supervised, "RESULTS", tmp_path)
    (tmp_path / "semi_supervised.json").write_text(json.dumps(store))
    semi_supervised.main(["--report-only"])
    text = (tmp_path / "semi_supervised.md").read_text()
    assert "(2026-01-02 03:04 UTC), seeds [7]" in text
    assert "| SelMix, labelled only | 0.500 ± 0.000 | 0.700 ± 0.000 | 0.700 ± 0.000 | 0.500 ± 0.000 |" in text
    assert "| SelMix, semi-supervised | 0.250 ± 0.000 | 0.750 ± 0.000 | 0.750 ± 0.000 | 0.250 ± 0.000 |" in text
    assert "## Reading the tables" in text  # the notes file follows the tables


@pytest.mark.parametrize("module_name", ["semi_supervised", "quality", "paired"])
def test_report_only_without_a_stored_run_says_so(module_name, tmp_path, monkeypatch, capsys):
    import importlib

    module = importlib.import_module(f"benchmarks.{module_name}")
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    with pytest.raises(SystemExit):
        module.main(["--report-only"])
    assert "needs a stored run" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no empty report written


def test_paired_report_differences_are_per_split(tmp_path, monkeypatch):
    import json

    from benchmarks import paired

    def row(min_recall, best_step=None):
        return {"min recall": min_recall, "mean recall": 0.8, "best_step": best_step}

    # SelMix (cv=5) beats LA on seed 1, ties on seed 2 and loses on seed 3; it keeps its warm
    # start on seed 2.
    per_seed = {
        "1": {"LA, training rows": row(0.5), paired.SELMIX_CV: row(0.7, 100)},
        "2": {"LA, training rows": row(0.6), paired.SELMIX_CV: row(0.6, 0)},
        "3": {"LA, training rows": row(0.7), paired.SELMIX_CV: row(0.6, 50)},
    }
    monkeypatch.setattr(paired, "RESULTS", tmp_path)
    monkeypatch.setattr(paired, "NOTES", tmp_path / "no_notes.md")
    (tmp_path / "paired.json").write_text(
        json.dumps({"fashion": {"started": "2026-01-02 03:04 UTC", "per_seed": per_seed}})
    )
    paired.main(["--report-only"])
    text = (tmp_path / "paired.md").read_text()
    diff = np.array([0.2, 0.0, -0.1])
    t = diff.mean() / (diff.std(ddof=1) / np.sqrt(3))
    assert (
        f"| LA, training rows | 0.600 ± 0.082 | 0.800 ± 0.000 | {diff.mean():+.3f} ± {diff.std(ddof=1):.3f} "
        f"| {t:+.2f} | 1 / 1 / 1 |"
        in text
    )
    assert f"| {paired.SELMIX_CV} | 0.633 ± 0.047 | 0.800 ± 0.000 |" in text and "| 1 / 3 |" in text
    assert "Runs started 2026-01-02 03:04 UTC" in text and "(seeds 1, 2, 3)" in text
    assert "1: 0.700 2: 0.600 3: 0.600" in text


def test_embedding_like_rows_have_their_shape():
    from benchmarks import cost

    X, y = cost.embedding_like(n=600, d=40, k=12, latent=6, smallest=8)
    counts = np.bincount(y)
    assert X.shape == (600, 40) and X.dtype == np.float32 and (X >= 0).all()
    assert counts.size == 12 and counts.min() == 8 and counts[0] == counts.max()


@pytest.mark.slow
def test_cost_quick_runs():
    from benchmarks import cost

    record = cost.main(["--quick"])  # the quickstart case only; writes nothing
    (row,) = record["rows"]
    assert row["N"] == 523 and row["cv_search_s_"] in (0.1, 1.0, 10.0, 100.0, 1000.0)
    assert row["default_s"] > 0 and row["ratio_cv_search"] == row["cv_search_s"] / row["logreg_s"]


def test_tabular_benchmark_report_is_paired_per_split(tmp_path, monkeypatch):
    """benchmarks.tabular on a tiny problem: every method on every split, paired differences
    computed split by split (fast stand-ins for the slow baselines)."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from benchmarks import tabular
    from skselmix import SelMixClassifier

    monkeypatch.setattr(tabular, "RESULTS", tmp_path)
    monkeypatch.setattr(tabular, "DATASETS", {"tiny": (
        lambda: make_classification(n_samples=900, n_features=6, n_informative=4, n_classes=3, random_state=0),
        dict(rho=5, n_val_per_class=0, n_test_per_class=40))})
    monkeypatch.setattr(tabular, "METHODS", {
        "SelMix": lambda seed: SelMixClassifier(hidden_layer_sizes=(8,), max_iter=20, device="cpu", random_state=seed),
        "LR": lambda seed: LogisticRegression(max_iter=500),
    })
    monkeypatch.setattr(tabular, "COMPARISONS", [("SelMix", "LR")])
    tabular.main(["--splits", "3"])
    text = (tmp_path / "tabular.md").read_text()
    runs = __import__("json").loads((tmp_path / "tabular.json").read_text())["results"]["tiny"]
    d = np.array([run["SelMix"]["min recall"] - run["LR"]["min recall"] for run in runs])
    assert len(runs) == 3 and f"| SelMix minus LR | {d.mean():+.3f} |" in text
    assert all(run["SelMix"]["best_step"] is not None and run["LR"]["best_step"] is None for run in runs)
