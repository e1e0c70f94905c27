"""Units of skselmix/_predict.py: numpy prediction equals the training code's torch forward."""

import numpy as np
import pytest
import torch

from skselmix import SelMixClassifier
from skselmix._predict import linear_logits, model_logits, network_logits
from skselmix._torch.network import Adapter


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 5)) + np.repeat(np.eye(3, 5) * 2, [40, 30, 20], axis=0)
    return X, np.repeat([0, 1, 2], [40, 30, 20])


@pytest.mark.parametrize("sizes", [(6,), (6, 4)])
def test_network_logits_equal_the_torch_forward_of_the_same_layers(data, sizes):
    X, y = data
    model = SelMixClassifier(hidden_layer_sizes=sizes, cv=3, max_iter=20, device="cpu", random_state=0).fit(X, y)
    *weights, coef = model.network_coefs_
    *biases, intercept = model.network_intercepts_
    as_tensor = lambda a: torch.as_tensor(a)  # noqa: E731
    adapter = Adapter(tuple(map(as_tensor, weights)), tuple(map(as_tensor, biases)), 1.0)
    hidden = adapter.forward(as_tensor(X))  # (M, n, width)
    torch_logits = (hidden @ as_tensor(coef).transpose(1, 2) + as_tensor(intercept)[:, None, :]).mean(0)
    np.testing.assert_allclose(network_logits(X, weights, biases, coef, intercept), torch_logits.numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(model.decision_function(X), model_logits(model, X))


def test_linear_logits_are_the_heads_affine_map(data):
    X, y = data
    model = SelMixClassifier(max_iter=0, device="cpu").fit(X, y)
    np.testing.assert_array_equal(model_logits(model, X), linear_logits(X, model.coef_, model.intercept_))
    np.testing.assert_allclose(linear_logits(X, model.coef_, model.intercept_), X @ model.coef_.T + model.intercept_)
