"""Units of skselmix/_torch/draws.py: a run's draws, and the frozen step request."""

import dataclasses

import pytest
import torch

from skselmix._torch.draws import RunDraws, StepRequest, cosine_learning_rate
from skselmix._torch.heads import LinearStack
from skselmix._torch.records import StepSources
from skselmix._torch.sampler import PairDistribution, head_pools


def _setup(seed=0):
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    x = torch.arange(8 * 3, dtype=torch.float32).reshape(8, 3)
    draws = RunDraws(torch.Generator().manual_seed(seed), 3, 4, 0.6, "mixup")
    sources = StepSources(x, head_pools(y, 3))
    pairs = PairDistribution(torch.full((1, 3, 3), 1.0 / 9, dtype=torch.float64))
    return y, x, draws, sources, pairs


def test_rows_are_drawn_from_the_anchor_and_partner_classes():
    y, x, draws, sources, pairs = _setup()
    x1, x2, anchors = draws.rows(1, pairs, sources, chunk=5)
    assert x1.shape == x2.shape == (5, 1, 4, 3) and anchors.shape == (5, 1, 4)
    rows_of = {tuple(r.tolist()): int(label) for r, label in zip(x, y)}
    assert all(rows_of[tuple(r.tolist())] == int(a) for r, a in zip(x1.reshape(-1, 3), anchors.reshape(-1)))
    assert all(tuple(r.tolist()) in rows_of for r in x2.reshape(-1, 3))


def test_the_same_seed_draws_the_same_batches_and_mixing_stays_between_the_rows():
    *_, draws_a, sources, pairs = _setup(seed=3)
    *_, draws_b, _, _ = _setup(seed=3)
    a = draws_a.mixed_chunk(1, pairs, sources, 2, torch.float32)
    b = draws_b.mixed_chunk(1, pairs, sources, 2, torch.float32)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[1].sum(-1).eq(1).all()  # one-hot anchor classes


def test_the_cosine_schedule():
    assert cosine_learning_rate(0, 0.1, 100) == pytest.approx(0.1)
    assert cosine_learning_rate(50, 0.1, 100) == pytest.approx(0.05)
    assert cosine_learning_rate(100, 0.1, 100) == pytest.approx(0.0) == cosine_learning_rate(150, 0.1, 100)


def test_a_step_request_is_frozen_and_keyed_by_what_a_step_reads():
    _, _, draws, sources, pairs = _setup()
    stack = LinearStack(torch.zeros(1, 3, 3), torch.zeros(1, 3))
    request = StepRequest(stack, stack, sources, pairs, draws, 0, 50, 0.01, 1000, 0.0, 1e-3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.step = 5
    other_draws = RunDraws(torch.Generator().manual_seed(9), 3, 4, 0.6, "mixup")
    assert dataclasses.replace(request, draws=other_draws).key == request.key  # draws do not split a batch
    assert dataclasses.replace(request, l2=1e-2).key != request.key
    assert request.learning_rate_at(0) == pytest.approx(0.01)
