"""Units of skselmix/_torch/heads.py and network.py: the two kinds of stack behind one interface."""

import numpy as np
import torch

from skselmix._predict import LinearModel, NetworkModel
from skselmix._torch.heads import LinearStack
from skselmix._torch.network import Adapter, NetworkStack


def _adapter(n_heads=2, widths=(5, 4, 3)):
    weights = tuple(torch.randn(n_heads, out, inp) for inp, out in zip(widths, widths[1:]))
    biases = tuple(torch.randn(n_heads, out) for out in widths[1:])
    return Adapter(weights, biases, 0.5)


def test_linear_stack_tensors_round_trip_and_only_coef_is_decayed():
    heads = LinearStack(torch.randn(2, 3, 5), torch.randn(2, 3))
    tensors = heads.tensors()
    assert len(tensors) == 2 and [heads.is_weight_matrix(i) for i in range(2)] == [True, False]
    doubled = heads.with_tensors([2 * t for t in tensors])
    assert isinstance(doubled, LinearStack) and torch.equal(doubled.coef, 2 * heads.coef)


def test_network_stack_orders_head_then_layer_weights_then_biases():
    adapter = _adapter()
    heads = NetworkStack(torch.randn(2, 3, 3), torch.randn(2, 3), adapter)
    tensors = heads.tensors()
    assert len(tensors) == 2 + 2 + 2
    # coef, intercept, the two layers' weights (decayed), the two layers' biases (not decayed)
    assert [heads.is_weight_matrix(i) for i in range(6)] == [True, False, True, True, False, False]
    assert tensors[2] is adapter.weights[0] and tensors[5] is adapter.biases[1]
    copy = heads.with_tensors([t.clone() for t in tensors])
    assert copy.adapter.input_scale == 0.5 and torch.equal(copy.adapter.weights[1], adapter.weights[1])
    assert copy.adapter.weights[1] is not adapter.weights[1]


def test_both_kinds_answer_the_same_interface():
    linear = LinearStack(torch.randn(2, 3, 5), torch.randn(2, 3))
    network = NetworkStack(torch.randn(2, 3, 3), torch.randn(2, 3), _adapter())
    x = torch.randn(7, 5)
    assert torch.equal(linear.features(x, 1), x)
    assert network.features(x, 1).shape == (7, 3)  # the penultimate activations of network 1
    # Both answer logits(x, head): head `head`'s linear head on what it reads of x.
    torch.testing.assert_close(linear.logits(x, 1), x @ linear.coef[1].T + linear.intercept[1])
    torch.testing.assert_close(network.logits(x, 1), network.features(x, 1) @ network.coef[1].T + network.intercept[1])
    torch.testing.assert_close(linear.mean().logits(x), x @ linear.coef.mean(0).T + linear.intercept.mean(0))
    assert linear.architecture is None and network.architecture == ((2, 4, 5), (2, 3, 4))
    assert linear.widest == 0 and network.widest == 4
    assert linear.weight_elements == 30 and network.weight_elements == 18 + 40 + 24
    for stack, model in ((linear, LinearModel), (network, NetworkModel)):
        assert isinstance(stack.fitted(stack.coef[0], stack.intercept[0]), model)


def test_fitted_models_give_the_estimators_attributes():
    from skselmix._torch.features import FeatureMap

    fmap = FeatureMap(np.zeros(5), np.full(5, 2.0))
    checked = []
    linear = LinearModel(np.ones((3, 5)), np.zeros(3), (np.ones((2, 3, 5)), np.zeros((2, 3))))
    attributes = linear.fitted_attributes(fmap, lambda *args: checked.append(args))
    assert sorted(attributes) == ["coef_", "cv_heads_", "intercept_"] and checked
    np.testing.assert_array_equal(attributes["coef_"], np.full((3, 5), 0.5))  # divided by the feature scale
    stack = NetworkStack(torch.randn(2, 3, 3), torch.randn(2, 3), _adapter())
    network = stack.fitted(torch.ones(2, 3, 3), torch.ones(2, 3))
    attributes = network.fitted_attributes(fmap, lambda *args: None)
    assert sorted(attributes) == ["network_coefs_", "network_intercepts_"]
    assert [w.shape for w in attributes["network_coefs_"]] == [(2, 4, 5), (2, 3, 4), (2, 3, 3)]
