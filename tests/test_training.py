"""Units of skselmix/_torch/training.py: the loop's settings, its defaults and its observer."""

import numpy as np
import pytest

from skselmix import SelMixClassifier
from skselmix._torch.architecture import (
    AUTO_LEARNING_RATE,
    AUTO_NETWORK_LEARNING_RATE,
    LINEAR,
    architecture_of,
)
from skselmix._torch.training import LoopSettings


def test_settings_come_from_the_estimators_parameters_and_are_checked():
    params = SelMixClassifier().get_params()
    settings = LoopSettings.from_params(params)
    assert settings.s == params["s"] and settings.max_iter == params["max_iter"]
    with pytest.raises(ValueError, match="'s' parameter of SelMixClassifier"):
        LoopSettings.from_params({**params, "s": -1.0})


def test_auto_learning_rate_and_weight_decay_depend_on_the_model_kind():
    settings = LoopSettings.from_params(SelMixClassifier().get_params())
    network = architecture_of((8,))
    assert architecture_of(()) is LINEAR and architecture_of([8]) == network
    assert settings.resolved().learning_rate == AUTO_LEARNING_RATE
    assert settings.resolved(network).learning_rate == AUTO_NETWORK_LEARNING_RATE
    fixed = LoopSettings.from_params(SelMixClassifier(learning_rate=0.05).get_params())
    assert fixed.resolved(network).learning_rate == 0.05
    assert LINEAR.weight_decay("auto", 200) == pytest.approx(0.1 / 200)
    assert network.weight_decay("auto", 200) == pytest.approx(1 / 200)
    assert LINEAR.weight_decay("auto", 0.5) == pytest.approx(0.1)  # fewer than one row's weight: n_train 1
    assert LINEAR.weight_decay(1e-3, 200) == 1e-3


def test_the_refresh_observer_sees_every_refresh_and_changes_nothing():
    from benchmarks._internals import fit_observing_refreshes

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4)) + np.repeat(np.eye(3, 4) * 2, [60, 40, 20], axis=0)
    y = np.repeat([0, 1, 2], [60, 40, 20])
    params = dict(max_iter=100, refresh_every=25, n_iter_no_change=None, device="cpu", random_state=0)
    seen = []
    observed = fit_observing_refreshes(SelMixClassifier(**params), X, y,
                                       lambda step, stack, predictions, returned: seen.append(
                                           (step, predictions.shape[0])))
    plain = SelMixClassifier(**params).fit(X, y)
    assert [step for step, _ in seen] == [record["step"] for record in plain.history_] == [0, 25, 50, 75, 100]
    assert all(n == 120 for _, n in seen)  # out of fold: every labelled row judged
    np.testing.assert_array_equal(observed.coef_, plain.coef_)
