"""SelMixClassifier behaviour: quality on long-tailed digits, invariances, state, errors."""

import io
import pickle

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skselmix import MinRecall, SelMixClassifier, SelMixClassifierCV
from skselmix._torch.feedback_factory import stratified_split
from skselmix.metrics import mean_recall_score, min_recall_score


def _fit_pair(split, metric, seed, **params):
    """The warm start alone (max_iter=0) and SelMix from that same warm start."""
    Xtr, ytr, Xva, yva, _, _ = split
    warm = SelMixClassifier(metric, max_iter=0, device="cpu", **params).fit(Xtr, ytr, X_val=Xva, y_val=yva)
    tuned = SelMixClassifier(metric, device="cpu", random_state=seed, **params).fit(Xtr, ytr, X_val=Xva, y_val=yva)
    return warm, tuned


def _heldout_scores(digits_lt, metric, score):
    """Test ``score`` of the warm start and of SelMix from it, on the 4 long-tailed digits seeds."""
    pairs = []
    for seed, split in enumerate(digits_lt):
        warm, tuned = _fit_pair(split, metric, seed)
        X_test, y_test = split[4:]
        pairs.append((score(y_test, warm.predict(X_test)), score(y_test, tuned.predict(X_test))))
    return np.array(pairs)


def test_min_recall_finetuning_raises_heldout_min_recall(digits_lt):
    scores = _heldout_scores(digits_lt, "min_recall", min_recall_score)
    gains = scores[:, 1] - scores[:, 0]
    # Every seed improves (50 test samples per class: one sample is 0.02), by 0.05 on average.
    assert (gains >= 0.02).all(), scores
    assert gains.mean() >= 0.05, scores
    split = digits_lt[0]
    np.testing.assert_array_equal(
        _fit_pair(split, "min_recall", 0)[0].coef_,
        SelMixClassifier(max_iter=0, device="cpu").fit(*split[:2], X_val=split[2], y_val=split[3]).coef_,
    )


def test_mean_recall_finetuning_does_not_lower_heldout_mean_recall(digits_lt):
    scores = _heldout_scores(digits_lt, "mean_recall", mean_recall_score)
    gains = scores[:, 1] - scores[:, 0]
    # The centred warm start leaves little to gain on mean recall: measured -0.004, +0.016,
    # 0.000, -0.012 at 0.8 (-0.004, +0.010, 0.000, -0.012 with the arg max of 0.7; at most 6
    # of 500 test samples lost on a seed, none on average).
    assert (gains >= -0.012 - 1e-12).all(), scores
    assert gains.mean() >= -0.002, scores


def test_custom_objective_is_optimised(digits_lt):
    """A user objective (recall of one class, by autograd) drives that class's recall up."""
    Xtr, ytr, Xva, yva, Xte, yte = digits_lt[1]
    warm = SelMixClassifier(max_iter=0, device="cpu").fit(Xtr, ytr, X_val=Xva, y_val=yva)
    target = int(np.argmin(warm.history_[0]["recalls"]))  # the warm start's worst validation class

    def recall_of_target(C):
        return C[target, target] * C.shape[0]

    clf = SelMixClassifier(recall_of_target, device="cpu", random_state=0).fit(Xtr, ytr, X_val=Xva, y_val=yva)
    assert clf.objective_.name == "recall_of_target"
    assert clf.best_validation_score_ > warm.history_[0]["recalls"][target] + 0.1
    test_recall = lambda m: np.mean(m.predict(Xte[yte == target]) == target)  # noqa: E731
    assert test_recall(clf) > test_recall(warm)


def test_first_sampling_distribution_is_scale_invariant(digits_lt):
    Xtr, ytr, Xva, yva, _, _ = digits_lt[0]
    a = SelMixClassifier(max_iter=0, device="cpu").fit(Xtr, ytr, X_val=Xva, y_val=yva)
    b = SelMixClassifier(max_iter=0, device="cpu").fit(100 * Xtr, ytr, X_val=100 * Xva, y_val=yva)
    assert a.sampling_distribution_.max() > 0.01  # a peaked, informative distribution
    np.testing.assert_allclose(b.sampling_distribution_, a.sampling_distribution_, atol=1e-4)
    np.testing.assert_allclose(b.gain_matrix_, a.gain_matrix_, atol=1e-4)
    np.testing.assert_allclose(100 * b.coef_, a.coef_, rtol=1e-3, atol=1e-4)


def test_fitted_attributes_and_history(blobs3):
    X, y = blobs3
    clf = SelMixClassifier(max_iter=120, refresh_every=40, n_iter_no_change=None, device="cpu", random_state=0).fit(
        X, y
    )
    k, d = 3, X.shape[1]
    assert clf.coef_.shape == (k, d) and clf.intercept_.shape == (k,)
    assert clf.gain_matrix_.shape == clf.sampling_distribution_.shape == (k, k)
    assert clf.prototypes_.shape == (k, d) and clf.n_features_in_ == d
    assert clf.sampling_distribution_.sum() == pytest.approx(1.0)
    assert clf.n_iter_ == 120 and [h["step"] for h in clf.history_] == [0, 40, 80, 120]
    assert set(clf.history_[0]) >= {"step", "objective", "recalls", "multipliers", "max_gain", "entropy",
                                    "refresh_time"}
    times = [h["time"] for h in clf.history_]
    assert all(0 < h["refresh_time"] <= t for h, t in zip(clf.history_, times)) and times == sorted(times)
    assert clf.best_validation_score_ == max(h["objective"] for h in clf.history_)
    assert clf.history_[0]["multipliers"].shape == (k,)


def test_best_head_is_kept_and_early_stopping(blobs3):
    X, y = blobs3
    clf = SelMixClassifier(max_iter=5000, refresh_every=10, n_iter_no_change=3, device="cpu", random_state=0).fit(X, y)
    assert clf.n_iter_ < 5000
    best = [h for h in clf.history_ if h["step"] == clf.best_step_][0]
    assert best["objective"] == clf.best_validation_score_


def test_string_labels_and_predict_proba(blobs3):
    X, y = blobs3
    labels = np.array(["cat", "dog", "eel"])[y]
    clf = SelMixClassifier(max_iter=100, device="cpu", random_state=0).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "eel"])
    assert set(clf.predict(X)) <= {"cat", "dog", "eel"}
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)


def test_binary_conventions():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(80, 3)), rng.normal(size=(20, 3)) + 2]
    y = np.repeat(["neg", "pos"], [80, 20])
    clf = SelMixClassifier("gmean", max_iter=100, device="cpu", random_state=0).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (100,)
    np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "pos", "neg"))
    assert clf.predict_proba(X).shape == (100, 2)
    assert min_recall_score(y, clf.predict(X)) > 0.7


def test_coef_init_starts_from_a_given_head(digits_lt):
    Xtr, ytr, Xva, yva, _, _ = digits_lt[0]
    lr = LogisticRegression(max_iter=2000).fit(Xtr, ytr)
    clf = SelMixClassifier(max_iter=0, device="cpu").fit(
        Xtr, ytr, X_val=Xva, y_val=yva, coef_init=lr.coef_, intercept_init=lr.intercept_
    )
    np.testing.assert_allclose(clf.coef_, lr.coef_, rtol=1e-5, atol=1e-6)
    assert clf.history_[0]["objective"] == pytest.approx(min_recall_score(yva, lr.predict(Xva)))
    with pytest.raises(ValueError, match=r"coef_init must have shape \(n_classes, n_features\) = \(10, 64\)"):
        SelMixClassifier(device="cpu").fit(Xtr, ytr, coef_init=lr.coef_[:, :5])
    with pytest.raises(ValueError, match="intercept_init must have shape"):
        SelMixClassifier(device="cpu").fit(Xtr, ytr, coef_init=lr.coef_, intercept_init=np.zeros(3))


def test_same_seed_same_model_and_global_rng_untouched(blobs3):
    X, y = blobs3
    np.random.seed(123)
    torch.manual_seed(123)
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    a = SelMixClassifier(max_iter=200, device="cpu", random_state=7).fit(X, y)
    b = SelMixClassifier(max_iter=200, device="cpu", random_state=7).fit(X, y)
    c = SelMixClassifier(max_iter=200, device="cpu", random_state=8, n_iter_no_change=None).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_inputs_are_not_modified(blobs3):
    X, y = blobs3
    X_copy, y_copy = X.copy(), y.copy()
    SelMixClassifier(max_iter=50, device="cpu", random_state=0).fit(X, y, X_val=X[::3], y_val=y[::3])
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_fitted_state_is_numpy_and_pickles(blobs3):
    X, y = blobs3
    clf = SelMixClassifier(MinRecall(omega=20), max_iter=60, device="cpu", random_state=0).fit(X, y)

    def no_tensors(value):
        if isinstance(value, torch.Tensor):
            return False
        if isinstance(value, dict):
            return all(no_tensors(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return all(no_tensors(v) for v in value)
        return True

    assert no_tensors(vars(clf))
    buffer = io.BytesIO()
    pickle.dump(clf, buffer)
    buffer.seek(0)
    loaded = pickle.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_internal_split_is_stratified_and_covers_tiny_classes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(53, 4))
    y = np.r_[np.zeros(40), np.ones(10), np.full(2, 2), [3]].astype(int)  # a 1-sample class
    clf = SelMixClassifier(max_iter=0, device="cpu", random_state=0)
    train_idx, val_idx = stratified_split(y, 4, clf.validation_fraction, np.random.RandomState(0).permutation(53))
    assert np.bincount(y[val_idx], minlength=4).tolist() == [8, 2, 1, 1]
    assert np.bincount(y[train_idx], minlength=4).tolist() == [32, 8, 1, 1]
    clf.fit(X, y)  # and the whole fit runs
    assert clf.classes_.tolist() == [0, 1, 2, 3]


def test_class_absent_from_validation_warns(blobs3):
    X, y = blobs3
    keep = y != 2
    with pytest.warns(UserWarning, match=r"Class\(es\) \[2\] have no validation row"):
        clf = SelMixClassifier(max_iter=20, device="cpu").fit(X, y, X_val=X[keep], y_val=y[keep])
    assert clf.history_[0]["recalls"].shape == (3,)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            {"s": -1.0},
            r"The \'s\' parameter of SelMixClassifier must be a finite float \(not a bool\) "
            r"in the range \[0.0, inf\)\. Got -1.0",
        ),
        ({"lambda_min": 0.0}, r"\'lambda_min\' parameter .* range \(0.0, 1.0\]\. Got 0.0"),
        ({"lambda_min": 1.2}, r"\'lambda_min\' parameter .* Got 1.2"),
        ({"batch_size": 0}, r"\'batch_size\' parameter .* a finite int \(not a bool\) in the range \[1, inf\)\. Got 0"),
        ({"refresh_every": 0}, "refresh_every"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"metric": "worst_recall"}, "Valid names: gmean, hmean, hmean_min_coverage, mean_recall"),
        ({"init": "random"}, r"'init' parameter .* a str among \{.*'balanced'.*\}\. Got 'random'"),
        ({"device": "tpu"}, "device must be one of"),
        ({"s": float("inf")}, r"\'s\' parameter .* finite .* Got inf"),
    ],
)
def test_invalid_parameters_rejected_at_fit(blobs3, params, match):
    X, y = blobs3
    clf = SelMixClassifier(**params)  # __init__ never validates
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_batch_size_type_error(blobs3):
    with pytest.raises(TypeError, match=r"\'batch_size\' parameter .* a finite int \(not a bool\).* Got 1.5"):
        SelMixClassifier(batch_size=1.5).fit(*blobs3)


def test_validation_data_errors(blobs3):
    X, y = blobs3
    with pytest.raises(ValueError, match="passed together"):
        SelMixClassifier(device="cpu").fit(X, y, X_val=X)
    with pytest.raises(ValueError, match=r"y_val contains classes not present in y: \[7\]"):
        SelMixClassifier(device="cpu").fit(X, y, X_val=X[:3], y_val=[0, 1, 7])
    with pytest.raises(ValueError, match="features"):
        SelMixClassifier(device="cpu").fit(X, y, X_val=X[:3, :2], y_val=[0, 1, 2])


def test_verbose_reports_warm_start_and_refreshes(blobs3, capsys):
    SelMixClassifier(max_iter=100, refresh_every=50, verbose=1, device="cpu", n_iter_no_change=None).fit(*blobs3)
    lines = capsys.readouterr().out.strip().splitlines()
    notes = [line for line in lines if line.startswith("[SelMix] note: ")]  # e.g. why the warm start was kept
    # The L-BFGS runs say how far they are, at most once per PHASE_INTERVAL_S: on this tiny
    # problem once each (the five fold heads together, then the all-rows head).
    solver = [line for line in lines if "warm start: L-BFGS iteration" in line]
    assert [line.split(", loss")[0] for line in solver] == [
        "[SelMix] logit_adjusted warm start: L-BFGS iteration 1 (5 heads together)",
        "[SelMix] logit_adjusted warm start: L-BFGS iteration 1 (one head)",
    ]
    assert lines.index(solver[-1]) < next(i for i, line in enumerate(lines) if "warm start done in" in line)
    lines = [line for line in lines if line not in notes + solver]
    assert len(lines) == 5 and len(notes) <= 1
    assert lines[0] == "[SelMix] warm start: logit_adjusted, 5 fold heads ..." and "warm start done in" in lines[1]
    assert (
        "step   0/100  min_recall" in lines[2] and lines[2].split("best ")[1].split()[1] == "*"
    )  # step 0 is the first best
    assert "step 100/100" in lines[4] and "elapsed" in lines[4] and "remaining <= 0.0 s" in lines[4]
    assert "worst classes" not in lines[4]


def test_verbose_2_adds_the_worst_classes(blobs3, capsys):
    X, y = blobs3
    labels = np.array(["ant", "bee", "cat"])[y]
    SelMixClassifier(max_iter=50, verbose=2, device="cpu").fit(X, labels)
    line = [line for line in capsys.readouterr().out.strip().splitlines() if "note:" not in line][-1]
    assert "worst classes: " in line and line.count("'") == 6  # three class names, quoted


@pytest.mark.parametrize("make", [
    lambda: SelMixClassifier(max_iter=40, refresh_every=20, verbose=1, device="cpu"),
    lambda: SelMixClassifier(max_iter=40, refresh_every=20, verbose=1, cv=None, device="cpu"),
    lambda: SelMixClassifier(max_iter=40, refresh_every=20, verbose=2, hidden_layer_sizes=(4,), device="cpu"),
    lambda: SelMixClassifierCV(max_iter=40, refresh_every=20, verbose=1, device="cpu"),
], ids=["cross_fit", "hold_out", "adapter", "search"])
def test_every_estimator_fits_with_verbose(blobs3, capsys, make):
    """R17 (issue 41): SelMixClassifierCV(verbose=1).fit raised TypeError at its second
    candidate's first refresh (its loop never started a clock: the search's one warm start
    is the first candidate's)."""
    make().fit(*blobs3)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[SelMix] step ")]
    assert len(lines) >= 3 and any("remaining <=" in line for line in lines)


def test_quiet_by_default(blobs3, capsys):
    SelMixClassifier(max_iter=50, device="cpu").fit(*blobs3)
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_gives_numpy_state(blobs3):
    X, y = blobs3
    clf = SelMixClassifier(max_iter=100, device="cuda", random_state=0).fit(X, y)
    assert isinstance(clf.coef_, np.ndarray)
    cpu = SelMixClassifier(max_iter=0, device="cpu").fit(X, y)
    assert np.mean(clf.predict(X) == cpu.predict(X)) > 0.9


def test_auto_device_resolves():
    from skselmix._torch.device import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"


def test_iterate_averaging(blobs3):
    X, y = blobs3
    params = {"max_iter": 200, "n_iter_no_change": None, "device": "cpu", "random_state": 0}
    raw = SelMixClassifier(**params).fit(X, y)
    frozen = SelMixClassifier(average_decay=1 - 1e-12, **params).fit(X, y)  # the average never leaves the warm start
    assert len({round(h["max_gain"], 6) for h in raw.history_}) > 1  # the raw iterate moves...
    assert {round(h["max_gain"], 6) for h in frozen.history_} == {
        round(frozen.history_[0]["max_gain"], 6)
    }  # ...its average not
    smooth = SelMixClassifier(average_decay=0.9, **params).fit(X, y)
    assert np.isfinite(smooth.coef_).all() and smooth.history_[-1]["step"] == 200
    with pytest.raises(ValueError, match="average_decay"):
        SelMixClassifier(average_decay=1.0).fit(X, y)


def test_auto_init_picks_the_better_warm_start_on_validation(digits_lt):
    Xtr, ytr, Xva, yva, _, _ = digits_lt[1]
    heads = {
        init: SelMixClassifier(init=init, max_iter=0, device="cpu").fit(Xtr, ytr, X_val=Xva, y_val=yva)
        for init in ("logit_adjusted", "balanced", "auto")
    }
    auto = heads["auto"]
    best = max(("logit_adjusted", "balanced"), key=lambda k: heads[k].best_validation_score_)
    assert auto.init_ == best
    np.testing.assert_array_equal(auto.coef_, heads[best].coef_)
    assert auto.best_validation_score_ == max(heads[k].best_validation_score_ for k in ("logit_adjusted", "balanced"))
    assert heads["balanced"].init_ == "balanced"
    lr = SelMixClassifier(max_iter=0, device="cpu").fit(Xtr, ytr, coef_init=np.zeros((10, 64)))
    assert lr.init_ == "coef_init"


@pytest.mark.parametrize("estimator", [SelMixClassifier(), SelMixClassifierCV()], ids=lambda e: type(e).__name__)
def test_parameter_constraints_are_keyed_by_get_params(estimator):
    """Every parameter is declared once, and nothing else: a new parameter cannot skip validation."""
    assert set(type(estimator)._parameter_constraints) == set(estimator.get_params(deep=False))


@pytest.mark.parametrize("value", [float("inf"), float("nan"), True, np.bool_(True), -1.0])
def test_numeric_constraints_refuse_what_interval_lets_through(blobs3, value):
    with pytest.raises((ValueError, TypeError), match="'tol' parameter of SelMixClassifier"):
        SelMixClassifier(tol=value, device="cpu").fit(*blobs3)
