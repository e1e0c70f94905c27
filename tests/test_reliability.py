"""Bad input, numerical faults, interrupts and determinism."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning

import skselmix._torch.training as training
from skselmix import FitOutcomeWarning, SelMixClassifier


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(60, 4)), rng.normal(size=(30, 4)) + 2, rng.normal(size=(15, 4)) - 2]
    y = np.repeat([0, 1, 2], [60, 30, 15])
    return X, y


def clf(**params):
    return SelMixClassifier(**{"max_iter": 60, "device": "cpu", "random_state": 0, **params})


@pytest.mark.parametrize(
    "make_X, error, match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), ValueError, "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X), ValueError, "infinity"),
        (lambda X: X.astype(str).astype(object) + "x", ValueError, "could not convert"),
        (lambda X: sp.csr_matrix(X), TypeError, "Sparse data was passed"),
        (lambda X: X[:, :, None], ValueError, "dim 3"),
    ],
    ids=["nan", "inf", "non-numeric", "sparse", "3d"],
)
def test_bad_X_at_fit(data, make_X, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        clf().fit(make_X(X), y)


def test_empty_X(data):
    with pytest.raises(ValueError, match="0 sample"):
        clf().fit(np.empty((0, 4)), np.empty(0))


def test_wrong_n_features_at_predict(data):
    X, y = data
    model = clf().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but SelMixClassifier is expecting 4 features"):
        model.predict(X[:, :3])


def test_one_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="only one class is present"):
        clf().fit(X, np.zeros(len(X)))


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["a", "b", "c"]),
        np.array(["a", "b", "c"], dtype=object),
        np.array([10, 20, 30], dtype=object),
        np.array([True, False, True]),  # two classes only
    ],
    ids=["str", "object-str", "object-int", "bool"],
)
def test_label_types(data, labels):
    X, y = data
    y_labels = labels[y]
    model = clf().fit(X, y_labels)
    assert set(model.predict(X)) <= set(y_labels.tolist())
    assert model.classes_.tolist() == sorted(set(y_labels.tolist()))


def test_mixed_type_labels_rejected(data):
    X, y = data
    mixed = np.array([1, "a", 2.5], dtype=object)[y]
    with pytest.raises(ValueError, match=r"y mixes label types \['float', 'int', 'str'\]"):
        clf().fit(X, mixed)


def test_regression_target_rejected(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type"):
        clf().fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int64, np.int32])
def test_input_dtypes(data, dtype):
    X, y = data
    Xd = (X * 10).astype(dtype)
    model = clf().fit(Xd, y)
    assert model.coef_.dtype == np.float64 and np.isfinite(model.coef_).all()
    assert model.score(Xd, y) > 0.7


def test_read_only_non_contiguous_and_memmap(data, tmp_path):
    X, y = data
    reference = clf().fit(X, y).coef_

    ro = X.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(clf().fit(ro, y).coef_, reference)

    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(clf().fit(strided, y).coef_, reference)

    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mm_ro = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    np.testing.assert_array_equal(clf().fit(mm_ro, y).coef_, reference)


@pytest.mark.parametrize("magnitude", [1e30, 1e-30, 1e200])
def test_extreme_magnitudes(data, magnitude):
    X, y = data
    model = clf().fit(X * magnitude, y)
    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all()
    np.testing.assert_array_equal(model.predict(X * magnitude), clf().fit(X, y).predict(X))


def test_tiny_classes(data):
    X, y = data
    X2, y2 = np.r_[X, X[:1] + 5], np.r_[y, 3]  # a class with a single sample
    model = clf().fit(X2, y2)
    assert model.classes_.tolist() == [0, 1, 2, 3]
    X3, y3 = np.r_[X2, X[:1] - 5], np.r_[y2, 4]  # and one more single-sample class
    assert clf(validation_fraction=0.5).fit(X3, y3).classes_.size == 5


def test_divergence_is_detected_and_best_head_kept(data):
    X, y = data
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model = clf(learning_rate=1e6, max_iter=500).fit(X, y)
    assert np.isfinite(model.coef_).all()
    assert model.history_[-1]["diverged"] and model.n_iter_ < 500
    warm = clf(max_iter=0).fit(X, y)
    np.testing.assert_allclose(model.coef_, warm.coef_)  # nothing better than the warm start was reached


def test_no_warning_in_normal_fit(data):
    """Nothing but the fit's account of what it did (a FitOutcomeWarning when it keeps its
    warm start, which this fit does)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = clf().fit(*data)
    assert [type(w.message) for w in caught] == ([FitOutcomeWarning] if model.best_step_ == 0 else [])


def _interrupt(monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "take_steps", boom)


def test_interrupt_leaves_unfitted_estimator_unfitted(data, monkeypatch):
    model = clf()
    before = dict(vars(model))
    _interrupt(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        model.fit(*data)
    assert vars(model) == before
    assert not hasattr(model, "n_features_in_")


def test_interrupt_keeps_previous_fit(data, monkeypatch):
    X, y = data
    model = clf().fit(X, y)
    coef, history = model.coef_.copy(), model.history_
    _interrupt(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X[:, :3], y)  # a refit on other data that is interrupted
    assert model.n_features_in_ == 4
    np.testing.assert_array_equal(model.coef_, coef)
    assert model.history_ is history
    model.predict(X)


def test_warm_start_continues_from_current_head(data):
    X, y = data
    model = clf(warm_start=True, max_iter=0).fit(X, y)
    first = model.coef_.copy()
    model.set_params(max_iter=0).fit(X, y)
    np.testing.assert_allclose(model.coef_, first, rtol=1e-6)  # same head, not a re-fit of init
    noisy = X + 0.5 * np.random.RandomState(1).normal(size=X.shape)
    shifted = model.fit(noisy, y)  # a new warm-start fit of init would differ
    np.testing.assert_allclose(shifted.coef_, first, rtol=1e-6)
    cold = clf(max_iter=0).fit(noisy, y)
    assert not np.allclose(cold.coef_, first)
    with pytest.raises(ValueError, match="same classes and number of features"):
        model.fit(X[:, :3], y)


def test_same_seed_same_coef_across_processes(data):
    X, y = data
    script = textwrap.dedent(
        """
        import sys, numpy as np
        from skselmix import SelMixClassifier
        rng = np.random.RandomState(0)
        X = np.r_[rng.normal(size=(60, 4)), rng.normal(size=(30, 4)) + 2, rng.normal(size=(15, 4)) - 2]
        y = np.repeat([0, 1, 2], [60, 30, 15])
        coef = SelMixClassifier(max_iter=60, device="cpu", random_state=0).fit(X, y).coef_
        sys.stdout.write(coef.tobytes().hex())
        """
    )
    outputs = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1
    assert bytes.fromhex(outputs.pop()) == clf().fit(X, y).coef_.tobytes()


def test_caller_arrays_untouched_everywhere(data):
    X, y = data
    X_val, y_val = X[::2].copy(), y[::2].copy()
    coef0 = np.ones((3, 4))
    copies = [a.copy() for a in (X, y, X_val, y_val, coef0)]
    clf().fit(X, y, X_val=X_val, y_val=y_val, coef_init=coef0)
    for original, copy in zip((X, y, X_val, y_val, coef0), copies):
        np.testing.assert_array_equal(original, copy)


# ------------------------------------------------------------ reliability pass 3: inputs
def test_float32_and_float64_copies_of_the_same_values_predict_the_same():
    """Columns near 3000 with a signal of 0.02: float32 products changed 1.1 % of predictions."""
    rng = np.random.RandomState(0)
    X = (3000 + rng.normal(size=(600, 6)) * 0.05).astype(np.float32).astype(np.float64)
    y = (X[:, 0] - X[:, 1] > 0).astype(int) + (X[:, 2] > 3000)
    X[:, :3] += 0.02 * y[:, None]
    X = X.astype(np.float32).astype(np.float64)  # values that float32 holds exactly
    model = SelMixClassifier(max_iter=30, device="cpu", random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.predict(X.astype(np.float32)), model.predict(X))
    np.testing.assert_array_equal(model.predict_proba(X.astype(np.float32)), model.predict_proba(X))
    assert model.predict_proba(X.astype(np.float32)).dtype == np.float64


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_tensors_are_accepted(dtype):
    rng = np.random.RandomState(0)
    X = torch.as_tensor(rng.normal(size=(90, 4)) + np.repeat(np.eye(3, 4) * 3, 30, axis=0)).to(dtype)
    y = np.repeat([0, 1, 2], 30)
    model = SelMixClassifier(max_iter=10, device="cpu", random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), model.predict(X.float().numpy()))


def test_a_read_only_sample_weight_fits_without_torch_warnings():
    import warnings

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(90, 4)) + np.repeat(np.eye(3, 4) * 3, 30, axis=0), np.repeat([0, 1, 2], 30)
    weights = rng.uniform(0.5, 2, size=90)
    weights.flags.writeable = False  # what a pandas 3 Series gives
    val_weights = weights[::3].copy()
    val_weights.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=FitOutcomeWarning)  # a kept warm start, said
        SelMixClassifier(max_iter=10, device="cpu", random_state=0).fit(X, y, sample_weight=weights)
        SelMixClassifier(cv=None, max_iter=10, device="cpu", random_state=0).fit(
            X, y, sample_weight=weights, X_val=X[::3], y_val=y[::3], sample_weight_val=val_weights)


# ---------------------------------------- reliability pass 3: a fit that says what it did
def _labelled_rows():
    rng = np.random.RandomState(0)
    sizes = [300, 200, 150, 100, 80, 60, 40, 9]
    names = np.array(["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"])
    X = np.vstack([rng.normal(size=(n, 6)) + 3 * np.eye(8, 6)[c % 6] * (1 + c // 6) for c, n in enumerate(sizes)])
    return X, np.repeat(names, sizes)


def test_a_one_row_class_is_named_and_the_kept_warm_start_explained():
    """One row with a typo label ('dgo') made the default fit return its warm start
    (best_step_ 0, best_validation_score_ 0.0) without a word."""
    from skselmix._fit_report import FitOutcomeWarning

    X, y = _labelled_rows()
    y = y.copy()
    y[np.flatnonzero(y == "dog")[0]] = "dgo"
    with pytest.warns(FitOutcomeWarning) as record:
        model = SelMixClassifier(max_iter=200, device="cpu", random_state=0).fit(X, y)
    messages = [str(w.message) for w in record]
    assert any("Class(es) ['dgo'] have too few labelled rows to be judged out of fold" in m for m in messages)
    assert model.best_step_ == 0 and model.best_validation_score_ == 0.0
    assert any("stayed at 0 at every refresh, with class(es) ['dgo'] at recall 0 throughout" in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitOutcomeWarning)
        clean = SelMixClassifier(max_iter=200, device="cpu", random_state=0).fit(*_labelled_rows())
    assert clean.best_step_ > 0


def test_a_collapse_after_the_warm_start_is_explained(capsys):
    from skselmix._fit_report import FitOutcomeWarning

    X, y = _labelled_rows()
    with pytest.warns(FitOutcomeWarning, match=r"collapsed after it.*learning_rate=100"):
        model = SelMixClassifier(learning_rate=100, max_iter=200, device="cpu", random_state=0, verbose=1).fit(X, y)
    assert model.best_step_ == 0
    out = capsys.readouterr().out
    assert "[SelMix] note: SelMix kept its warm start" in out  # verbose=1 shows it too
    assert "remaining <= ?" not in out


def test_a_one_row_class_on_the_hold_out_is_named():
    from skselmix._fit_report import FitOutcomeWarning

    X, y = _labelled_rows()
    X, y = np.r_[X, X[:1]], np.r_[y, ["owl"]]
    with pytest.warns(FitOutcomeWarning, match=r"Class\(es\) \['owl'\] have a single labelled row"):
        SelMixClassifier(cv=None, max_iter=20, device="cpu", random_state=0).fit(X, y)
