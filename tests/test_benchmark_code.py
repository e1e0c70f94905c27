"""The benchmarks' own correctness (fast), and opt-in smoke runs (marked slow)."""

import numpy as np
import pytest
import torch

from benchmarks.naive_gain import naive_gain
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
