import pytest
import torch

from skselmix._torch.device import CPU
from skselmix._torch.heads import step_chunks
from skselmix._torch.softmax import picked_log_proba_and_proba_, softmax_


@pytest.mark.parametrize("k", [1, 2, 10, CPU.written_out_softmax_below - 1, CPU.written_out_softmax_below, 40])
def test_softmax_helpers_match_torch(k):
    generator = torch.Generator().manual_seed(k)
    logits = 30 * torch.randn(3, 50, k, generator=generator)  # large logits: the max must be subtracted
    index = torch.randint(0, k, (3, 50, 1), generator=generator)
    torch.testing.assert_close(softmax_(logits.clone()), torch.softmax(logits, dim=-1))
    picked, proba = picked_log_proba_and_proba_(logits.clone(), index)
    log_proba = torch.log_softmax(logits, dim=-1)
    torch.testing.assert_close(picked, log_proba.gather(-1, index).squeeze(-1))
    torch.testing.assert_close(proba, log_proba.exp())
    assert torch.isfinite(picked).all()


def test_step_chunks_cover_the_steps_within_the_budget():
    assert step_chunks(100, 30, budget=100) == [3] * 33 + [1]
    assert step_chunks(5, 1000, budget=100) == [1] * 5  # at least one step a chunk
    assert step_chunks(0, 10, budget=100) == []
    assert sum(step_chunks(1000, 23680, budget=1 << 20)) == 1000


def test_tiny_operands_of_matrix_products_are_zero_on_the_cpu():
    """Probabilities below TINY_PROBABILITY and mapped features below FEATURE_FLOOR are zero
    (their products underflow to subnormal floats, which slowed CPU GEMMs 10 to 180 times);
    the rest are untouched, and signed residuals are flushed by magnitude."""
    import numpy as np

    from skselmix._torch.features import FEATURE_FLOOR, FeatureMap, scaled_float32_tensor
    from skselmix._torch.softmax import TINY_PROBABILITY, flush_tiny_

    logits = torch.tensor([[0.0, -60.0, -2.0], [5.0, 5.0, -100.0]])
    proba = softmax_(logits.clone())
    expected = torch.softmax(logits, dim=-1)
    assert float(expected[0, 1]) < TINY_PROBABILITY and proba[0, 1] == 0 and proba[1, 2] == 0
    torch.testing.assert_close(proba[expected >= TINY_PROBABILITY], expected[expected >= TINY_PROBABILITY])
    _, picked_proba = picked_log_proba_and_proba_(logits.clone(), torch.zeros(2, 1, dtype=torch.long), flush=False)
    assert float(picked_proba[0, 1]) > 0  # left to the caller
    residual = torch.tensor([-1e-25, 3e-20, -0.5, 1e-30])
    assert torch.equal(flush_tiny_(residual, signed=True), torch.tensor([0.0, 3e-20, -0.5, 0.0]))
    X = np.array([[1e-30, 1.0], [-3e-36, 2.0], [0.5, -1.0]], dtype=np.float32)
    mapped = scaled_float32_tensor(X, FeatureMap(np.zeros(2), np.ones(2)), torch.device("cpu"))
    assert mapped[:2, 0].tolist() == [0.0, 0.0] and mapped[2, 0] == 0.5 and FEATURE_FLOOR == 1e-15
