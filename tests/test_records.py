"""Units of skselmix/_torch/records.py: the stacks of heads the loop passes around."""

import torch

from skselmix._torch.adapter import Adapter
from skselmix._torch.records import Heads, InitHead


def _adapter(n_heads=2, widths=(5, 4, 3)):
    weights = tuple(torch.randn(n_heads, out, inp) for inp, out in zip(widths, widths[1:]))
    biases = tuple(torch.randn(n_heads, out) for out in widths[1:])
    return Adapter(weights, biases, 0.5)


def test_linear_stack_tensors_round_trip_and_only_coef_is_decayed():
    heads = Heads(torch.randn(2, 3, 5), torch.randn(2, 3))
    tensors = heads.tensors()
    assert len(tensors) == 2 and [heads.is_weight_matrix(i) for i in range(2)] == [True, False]
    doubled = heads.with_tensors([2 * t for t in tensors])
    assert doubled.adapter is None and torch.equal(doubled.coef, 2 * heads.coef)


def test_network_stack_orders_head_then_layer_weights_then_biases():
    adapter = _adapter()
    heads = Heads(torch.randn(2, 3, 3), torch.randn(2, 3), adapter)
    tensors = heads.tensors()
    assert len(tensors) == 2 + 2 + 2
    # coef, intercept, the two layers' weights (decayed), the two layers' biases (not decayed)
    assert [heads.is_weight_matrix(i) for i in range(6)] == [True, False, True, True, False, False]
    assert tensors[2] is adapter.weights[0] and tensors[5] is adapter.biases[1]
    copy = heads.with_tensors([t.clone() for t in tensors])
    assert copy.adapter.input_scale == 0.5 and torch.equal(copy.adapter.weights[1], adapter.weights[1])
    assert copy.adapter.weights[1] is not adapter.weights[1]


def test_init_head_is_one_type_for_coef_init_and_warm_start():
    import numpy as np

    given = InitHead(np.zeros((3, 4)), np.zeros(3), "coef_init")
    continued = InitHead(np.ones((3, 4)), np.ones(3), "warm_start", np.array(["a", "b", "c"]))
    assert given.classes is None and continued.classes.tolist() == ["a", "b", "c"]
    assert continued._replace(coef=np.zeros((3, 4))).name == "warm_start"
