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
