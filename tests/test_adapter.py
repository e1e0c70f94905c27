"""hidden_layer_sizes: the trainable adapter under the head (issue 26)."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skselmix import HistoryDisplay, PerClassRecallDisplay, SelMixClassifier, SelMixClassifierCV, persistence
from skselmix.metrics import min_recall_score


def _circle_data(noise, seed=0):
    """Four long-tailed classes that no linear head separates: eight clusters on a circle,
    class ``j mod 4`` for cluster ``j``, so each class is two opposite clusters (mean near
    zero), plus three noise columns."""
    rng = np.random.RandomState(seed)
    angles = 2 * np.pi * np.arange(8) / 8
    centres = 2.0 * np.c_[np.cos(angles), np.sin(angles)]

    def draw(per_class):
        parts = [np.c_[rng.normal(size=(n // 2, 2)) * noise + centres[j + half * 4], rng.normal(size=(n // 2, 3))]
                 for j, n in enumerate(per_class) for half in (0, 1)]
        return np.vstack(parts), np.repeat(np.arange(4), [2 * (n // 2) for n in per_class])

    X, y = draw([160, 80, 40, 20])
    X_test, y_test = draw([200] * 4)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def data():
    return _circle_data(noise=0.4)


def net(**params):
    return SelMixClassifier(**{"hidden_layer_sizes": (16,), "max_iter": 100, "device": "cpu", "random_state": 0,
                               **params})


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return net().fit(X, y)


def _forward(X, coefs, intercepts):
    """The documented model, written out: ReLU hidden layers, then the head; mean over networks."""
    logits = []
    for m in range(coefs[0].shape[0]):
        h = X
        for layer, (w, b) in enumerate(zip(coefs, intercepts)):
            h = h @ w[m].T + b[m]
            if layer < len(coefs) - 1:
                h = np.maximum(h, 0)
        logits.append(h)
    return np.mean(logits, axis=0)


def test_fitted_networks_are_numpy_and_predict_as_documented(data, fitted):
    X, y, X_test, _ = data
    assert not hasattr(fitted, "coef_") and not hasattr(fitted, "cv_heads_")
    shapes = [w.shape for w in fitted.network_coefs_]
    assert shapes == [(5, 16, 5), (5, 4, 16)]  # five fold networks under the default cv
    assert [b.shape for b in fitted.network_intercepts_] == [(5, 16), (5, 4)]
    assert all(w.dtype == np.float64 for w in fitted.network_coefs_ + fitted.network_intercepts_)
    logits = _forward(X_test, fitted.network_coefs_, fitted.network_intercepts_)
    np.testing.assert_allclose(fitted.decision_function(X_test), logits, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(fitted.predict(X_test), fitted.classes_[logits.argmax(axis=1)])
    proba = fitted.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(X_test)), proba, rtol=1e-10)


def test_the_adapter_learns_what_a_linear_head_cannot(data, fitted):
    X, y, X_test, y_test = data
    linear = SelMixClassifier(max_iter=100, device="cpu", random_state=0).fit(X, y)
    assert min_recall_score(y_test, linear.predict(X_test)) < 0.5  # XOR: beyond any linear head
    assert min_recall_score(y_test, fitted.predict(X_test)) > 0.8
    assert fitted.score(X_test, y_test) == min_recall_score(y_test, fitted.predict(X_test))


def test_hold_out_fits_one_network_and_step_zero_keeps_the_warm_start(data):
    X, y, X_test, _ = data
    hold_out = net(cv=None).fit(X, y)
    assert [w.shape[0] for w in hold_out.network_coefs_] == [1, 1]
    start = net(max_iter=0).fit(X, y)
    assert start.best_step_ == 0 and start.n_iter_ == 0
    assert start.n_iter_warm_start_ == 300  # the Adam schedule's floor on small sets
    # The warm start's five fold networks are the model at step 0 (nothing refitted on every row).
    assert start.network_coefs_[0].shape[0] == 5


def test_fit_is_deterministic_and_refits_of_the_other_kind_leave_nothing_behind(data, fitted):
    X, y, _, _ = data
    again = net().fit(X, y)
    layers = lambda model: model.network_coefs_ + model.network_intercepts_  # noqa: E731
    for a, b in zip(layers(fitted), layers(again)):
        np.testing.assert_array_equal(a, b)
    model = SelMixClassifier(max_iter=20, device="cpu", random_state=0).fit(X, y)
    model.set_params(hidden_layer_sizes=(4,)).fit(X, y)
    assert hasattr(model, "network_coefs_") and not hasattr(model, "coef_") and not hasattr(model, "cv_heads_")
    model.set_params(hidden_layer_sizes=()).fit(X, y)
    assert hasattr(model, "coef_") and not hasattr(model, "network_coefs_")


def test_the_loop_steps_the_adapter_too():
    """The SGD steps move the hidden layers, not only the head: the selected step's first
    layer differs from the warm start's."""
    from sklearn.datasets import make_classification

    from skselmix.datasets import long_tailed_split

    X, y = make_classification(n_samples=4000, n_features=8, n_informative=6, n_redundant=0, n_classes=6,
                               n_clusters_per_class=2, class_sep=1.5, random_state=0)
    X, y, *_ = long_tailed_split(X, y, rho=10, n_val_per_class=0, n_test_per_class=100, random_state=0)
    start = net(max_iter=0).fit(X, y)
    tuned = net(max_iter=300).fit(X, y)
    assert tuned.best_step_ > 0 and tuned.best_validation_score_ > start.best_validation_score_
    assert not np.allclose(start.network_coefs_[0], tuned.network_coefs_[0])
    assert not np.allclose(start.network_coefs_[1], tuned.network_coefs_[1])


def test_uniform_sample_weight_is_no_weight_and_weights_change_the_fit(data, fitted):
    # The warm start is deterministic in the weights (SGD's weighted draws are another
    # sampler, equal in distribution only, as for the linear head).
    X, y, _, _ = data
    plain = net(max_iter=0).fit(X, y)
    # Weights of one (not three: the total weight is n_train in weight_decay="auto").
    uniform = net(max_iter=0).fit(X, y, sample_weight=np.ones(y.shape))
    for a, b in zip(plain.network_coefs_, uniform.network_coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    weighted = net(max_iter=0).fit(X, y, sample_weight=np.where(y == 3, 5.0, 1.0))
    assert not np.allclose(weighted.network_coefs_[0], plain.network_coefs_[0])
    net().fit(X, y, sample_weight=np.where(y == 3, 5.0, 1.0))  # and the loop runs with weighted draws


def test_calibration_uses_the_networks_held_out_logits(data):
    X, y, X_test, _ = data
    calibrated, raw = net().fit(X, y), net(calibrate=False).fit(X, y)
    assert raw.temperature_ == 1.0 and calibrated.temperature_ != 1.0
    np.testing.assert_array_equal(calibrated.predict(X_test), raw.predict(X_test))


def test_memory_caches_the_networks(data, fitted, tmp_path):
    X, y, _, _ = data
    for _ in range(2):  # a miss, then a hit
        cached = net(memory=str(tmp_path)).fit(X, y)
        for a, b in zip(fitted.network_coefs_, cached.network_coefs_):
            np.testing.assert_array_equal(a, b)
    assert any(tmp_path.rglob("output.pkl"))


def test_search_over_s_selects_the_fit_of_that_s(data):
    X, y, _, _ = data
    search = SelMixClassifierCV(hidden_layer_sizes=(16,), s_values=[1.0, 10.0], max_iter=100, device="cpu",
                                random_state=0).fit(X, y)
    alone = net(s=search.s_).fit(X, y)
    for a, b in zip(search.network_coefs_, alone.network_coefs_):
        np.testing.assert_array_equal(a, b)


def test_persistence_round_trip(data, fitted, tmp_path):
    pytest.importorskip("skops")
    _, _, X_test, _ = data
    persistence.dump(fitted, tmp_path / "net.skops")
    loaded = persistence.load(tmp_path / "net.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))


def test_displays_draw_an_adapter_fit(data, fitted):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    _, _, X_test, y_test = data
    PerClassRecallDisplay.from_estimator(fitted, X_test, y_test)
    HistoryDisplay.from_estimator(fitted)


@pytest.mark.parametrize("sizes", [(0,), (-3,), (2.5,), ("8",), (True,), 8, "8", None])
def test_bad_layer_sizes_are_refused(data, sizes):
    X, y, _, _ = data
    with pytest.raises(InvalidParameterError, match="hidden_layer_sizes"):
        net(hidden_layer_sizes=sizes).fit(X, y)


def test_what_an_adapter_cannot_combine_with_is_a_clear_error(data, fitted):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="coef_init works with the linear head only"):
        net().fit(X, y, coef_init=np.zeros((4, 5)))
    with pytest.raises(ValueError, match="warm_start=True works with the linear head only"):
        net(warm_start=True).fit(X, y)
    y_semi = y.copy()
    y_semi[::5] = -1
    with pytest.raises(ValueError, match="unlabeled_label"):
        net(unlabeled_label=-1).fit(X, y_semi)


def test_fold_networks_never_see_their_fold():
    """Rows with a private one-hot feature and random labels: a network that trained on a
    row memorises it, so feedback on seen rows is near 1; out of fold it stays at chance,
    through the warm start and the SGD steps."""
    rng = np.random.RandomState(0)
    X, y = np.eye(200), rng.permutation(np.repeat([0, 1], 100))
    seen = net(metric="mean_recall", max_iter=0, weight_decay=1e-6, cv=None).fit(X, y, X_val=X, y_val=y)
    assert seen.history_[0]["objective"] > 0.95  # the probe detects a leak
    cross = net(metric="mean_recall", max_iter=200, weight_decay=1e-6, n_iter_no_change=None).fit(X, y)
    assert max(h["objective"] for h in cross.history_) < 0.65


@pytest.mark.parametrize("params", [
    {"average_decay": 0.5}, {"mixup": "cutmix"}, {"init": "auto"}, {"init": "balanced", "class_weight": "balanced"},
    {"metric": "mean_recall_min_coverage"}, {"hidden_layer_sizes": (8, 8)},
])
def test_loop_options_work_with_an_adapter(data, params):
    X, y, X_test, y_test = data
    model = net(**params).fit(X, y)
    assert model.init_ in ("logit_adjusted", "balanced") and np.isfinite(model.best_validation_score_)
    assert len(model.network_coefs_) == len(model.hidden_layer_sizes) + 1
    assert model.score(X_test, y_test) > 0.5


def test_hold_out_with_a_users_validation_rows(data):
    X, y, X_test, y_test = data
    model = net().fit(X, y, X_val=X_test, y_val=y_test)
    assert model.network_coefs_[0].shape[0] == 1
    returned = next(h["objective"] for h in model.history_ if h["step"] == model.best_step_)
    assert model.best_validation_score_ == returned
    if model.best_step_:  # a step is returned only as the best of the refreshes
        assert returned == max(h["objective"] for h in model.history_)
