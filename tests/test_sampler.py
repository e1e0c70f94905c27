"""Pair sampling: the distributions an SGD step draws class pairs from."""

import numpy as np
import torch

from skselmix._torch.sampler import PairDistribution, sample_pairs


def test_pair_distribution_inverse_cdf_matches_the_probabilities():
    """Above 4096 pairs, steps sample by inverse CDF: frequencies follow P, zero-probability
    pairs never come, and below the threshold the draws are torch.multinomial's, unchanged."""
    k = 80  # 6400 pairs: inverse CDF
    rng = np.random.RandomState(0)
    probs = torch.as_tensor(rng.rand(2, k, k) * (rng.rand(2, k, k) < 0.05))
    probs[:, 3, 7] = 5.0  # one heavy pair per head
    probs /= probs.sum(dim=(1, 2), keepdim=True)
    dist = PairDistribution(probs)
    assert dist.cumulative is not None
    i, j = dist.sample(100_000, torch.Generator().manual_seed(0))
    assert i.shape == (2, 100_000)
    counts = torch.zeros(2, k * k, dtype=torch.float64)
    counts.scatter_add_(1, i * k + j, torch.ones_like(i, dtype=torch.float64))
    freq = counts / 100_000
    flat = probs.reshape(2, -1)
    assert float(freq[flat == 0].sum()) == 0.0
    np.testing.assert_allclose(freq[:, 3 * k + 7], flat[:, 3 * k + 7], atol=0.005)
    assert float((freq - flat).abs().sum(dim=1).max()) < 0.08  # total variation of 100k draws
    small = torch.full((3, 10, 10), 0.01, dtype=torch.float64)
    a = PairDistribution(small).sample(64, torch.Generator().manual_seed(1))
    b = sample_pairs(small, 64, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
