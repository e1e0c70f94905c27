"""Pair sampling: the distributions an SGD step draws class pairs from."""

import numpy as np
import pytest
import torch

from skselmix._limits import Limits
from skselmix._torch.sampler import PairDistribution, sample_pairs, sampling_distribution


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


def test_masked_pair_distribution_draws_the_restricted_distributions_without_forming_them():
    """Above Limits.dense_head_pairs the heads' distributions are drawn from P and each head's
    class mask: the same per-head frequencies and mean as restrict_to_heads, never a pair with
    a class the head's pool lacks."""
    from skselmix._torch import sampler

    k, n_heads = 30, 3
    rng = np.random.RandomState(0)
    probs = torch.as_tensor(rng.rand(k, k) * (rng.rand(k, k) < 0.3))
    probs[4, 9] = 3.0
    probs /= probs.sum()
    counts = torch.as_tensor(rng.randint(0, 3, size=(n_heads, k)))
    counts[:, 4] = counts[:, 9] = 1
    dense = sampler.restrict_to_heads(probs, counts)
    masked = sampler.MaskedPairDistribution(probs, counts > 0)
    torch.testing.assert_close(masked.mean(), dense.mean(dim=0))
    i, j = masked.sample(200_000, torch.Generator().manual_seed(0))
    assert i.shape == j.shape == (n_heads, 200_000)
    freq = torch.zeros(n_heads, k * k, dtype=torch.float64)
    freq.scatter_add_(1, i * k + j, torch.ones_like(i, dtype=torch.float64))
    freq /= 200_000
    flat = dense.reshape(n_heads, -1)
    assert float(freq[flat == 0].sum()) == 0.0
    assert float((freq - flat).abs().sum(dim=1).max()) < 0.05
    # The switch: the dense heads up to the threshold, the masked ones above it.
    assert isinstance(sampler.head_pair_distributions(probs, counts), sampler.PairDistribution)
    below = Limits(dense_head_pairs=n_heads * k * k - 1)
    assert isinstance(sampler.head_pair_distributions(probs, counts, below), sampler.MaskedPairDistribution)
    with pytest.raises(ValueError, match="No class pair has rows to mix"):
        sampler.MaskedPairDistribution(probs, torch.zeros((1, k), dtype=torch.bool))


def test_above_its_limit_the_pair_softmax_is_taken_in_place_with_the_same_distribution():
    g = torch.Generator().manual_seed(0)
    gain = torch.randn(40, 40, generator=g)
    gain[gain.abs() < 0.5] = 0.0
    for matrix in (gain, -gain.abs()):  # some pairs with a positive gain; none
        for s in (0.1, 10.0, 1000.0):
            whole = sampling_distribution(matrix, s)
            in_place = sampling_distribution(matrix, s, Limits(blocked_refresh_classes=39))
            assert torch.equal(whole > 0, in_place > 0)
            torch.testing.assert_close(in_place, whole, rtol=1e-12, atol=1e-15)
            assert float(in_place.sum()) == pytest.approx(1.0, abs=1e-12)


def test_above_the_blocked_refresh_classes_even_one_head_draws_from_the_masked_distribution():
    from skselmix._torch.sampler import MaskedPairDistribution, head_pair_distributions

    probs = torch.full((6, 6), 1 / 36, dtype=torch.float64)
    counts = torch.ones(1, 6, dtype=torch.long)
    assert isinstance(head_pair_distributions(probs, counts), PairDistribution)
    masked = head_pair_distributions(probs, counts, Limits(blocked_refresh_classes=5))
    assert isinstance(masked, MaskedPairDistribution)
    torch.testing.assert_close(masked.mean(), probs)
