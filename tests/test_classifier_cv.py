"""SelMixClassifierCV (one warm start for every candidate) and SelMixClassifier(memory=)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_cross_fitting import _private_feature_data, data  # noqa: F401 (data: the four imbalanced classes)
from test_estimator_checks import EXPECTED_FAILED_CHECKS

import skselmix._torch.architecture as architecture
from skselmix import HistoryDisplay, SelMixClassifier, SelMixClassifierCV
from skselmix._classifier_cv import DEFAULT_S_VALUES

FITTED = ("coef_", "intercept_", "temperature_", "best_step_", "best_validation_score_", "n_iter_")


def _cv(**params):
    return SelMixClassifierCV(**{"max_iter": 150, "device": "cpu", "random_state": 0, **params})


def _assert_same_model(a, b):
    for name in FITTED:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _count_head_fits(monkeypatch):
    calls = []
    original = architecture.fit_linear_heads

    def counting(*args, **kwargs):
        calls.append(kwargs.get("init") is None)
        return original(*args, **kwargs)

    monkeypatch.setattr(architecture, "fit_linear_heads", counting)
    return calls


@pytest.mark.parametrize("cv", ["auto", None])
def test_selected_candidate_is_the_plain_fit_with_its_s(data, cv):
    """The chosen model is, bit for bit, SelMixClassifier with the chosen s and the same seed."""
    X, y = data
    search = _cv(cv=cv).fit(X, y)
    assert search.s_ == search.cv_results_["params"][search.best_index_]["s"] == search.best_params_["s"]
    scores = search.cv_results_["validation_score"]
    assert search.best_validation_score_ == scores[search.best_index_]
    assert search.cv_results_["rank_validation_score"][search.best_index_] == 1
    assert search.cv_results_["rank_validation_score"][int(np.argmax(scores))] == 1
    single = SelMixClassifier(s=search.s_, cv=cv, max_iter=150, device="cpu", random_state=0).fit(X, y)
    _assert_same_model(search, single)
    for i, params in enumerate(search.cv_results_["params"]):  # every candidate's score is that fit's
        if i % 2 == 0:
            other = SelMixClassifier(s=params["s"], cv=cv, max_iter=150, device="cpu", random_state=0).fit(X, y)
            assert other.best_validation_score_ == scores[i]


def test_results_table_and_defaults(data):
    X, y = data
    search = _cv(param_grid={"learning_rate": [0.01, 0.03]}).fit(X, y)
    table = search.cv_results_
    n = len(DEFAULT_S_VALUES) * 2
    assert search.n_candidates_ == n and len(table["params"]) == n
    assert [p["s"] for p in table["params"]] == [s for s in DEFAULT_S_VALUES for _ in range(2)]
    assert list(table["param_learning_rate"]) == [0.01, 0.03] * len(DEFAULT_S_VALUES)
    ranks, scores = table["rank_validation_score"], table["validation_score"]
    assert ranks[search.best_index_] == 1 and ranks[int(np.argmax(scores))] == 1
    by_score = np.argsort(-scores, kind="stable")  # a better score never ranks below a worse one
    assert (np.diff(ranks[by_score]) >= 0).all() and ranks.min() == 1 and ranks.max() <= n
    assert table["best_step"].shape == table["n_iter"].shape == (n,)
    assert set(search.best_params_) == {"s", "learning_rate"}
    assert max(DEFAULT_S_VALUES) / min(DEFAULT_S_VALUES) >= 1e4  # at least four decades


def test_warm_start_is_fitted_once_for_every_candidate(data, monkeypatch):
    X, y = data
    calls = _count_head_fits(monkeypatch)
    search = _cv(s_values=[0.1, 1.0, 10.0, 100.0]).fit(X, y)
    # One L-BFGS run of the fold heads; a second (started from them) only to refit step 0 on all
    # rows, once for every candidate that returns it.
    assert calls[0] and calls[1:] == ([False] if (search.cv_results_["best_step"] == 0).any() else [])
    calls.clear()
    _cv(init="auto", s_values=[1.0, 10.0]).fit(X, y)
    assert calls[:2] == [True, True] and all(not fresh for fresh in calls[2:])  # two kinds, once each


@pytest.mark.parametrize(
    "params, match",
    [
        ({"s_values": []}, "s_values must be a non-empty"),
        ({"s_values": [1.0, -1.0]}, r"\'s\' parameter of SelMixClassifier must be .* Got -1.0"),
        ({"param_grid": {"s": [1.0]}}, "give its values as s_values"),
        ({"param_grid": {"weight_decay": [1e-3]}}, "loop-only parameters"),
        ({"param_grid": {"learning_rate": [0.0]}}, "learning_rate"),
    ],
)
def test_bad_grids_are_refused(data, params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _cv(**params).fit(*data)


def test_ecosystem(data, tmp_path):
    """Sample weights, semi-supervised rows, pickle, skops, displays, clone and GridSearchCV."""
    X, y = data
    w = np.random.RandomState(1).rand(y.shape[0]) + 0.5
    weighted = _cv(s_values=[1.0, 10.0]).fit(X, y, sample_weight=w)
    _assert_same_model(
        weighted, SelMixClassifier(s=weighted.s_, max_iter=150, device="cpu", random_state=0).fit(X, y, sample_weight=w)
    )
    y_semi = y.copy()
    y_semi[::3] = -1
    semi = _cv(s_values=[1.0, 10.0], unlabeled_label=-1).fit(X, y_semi)
    assert semi.n_unlabeled_ == (y_semi == -1).sum()
    _assert_same_model(
        semi, SelMixClassifier(s=semi.s_, unlabeled_label=-1, max_iter=150, device="cpu", random_state=0).fit(X, y_semi)
    )
    restored = pickle.loads(pickle.dumps(semi))
    np.testing.assert_array_equal(restored.predict_proba(X), semi.predict_proba(X))
    pytest.importorskip("skops")
    from skselmix import persistence

    persistence.dump(weighted, tmp_path / "cv.skops")
    loaded = persistence.load(tmp_path / "cv.skops")
    assert loaded.s_ == weighted.s_ and loaded.score(X, y) == weighted.score(X, y)
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    HistoryDisplay.from_estimator(weighted)
    assert clone(weighted).get_params()["s_values"] == [1.0, 10.0]
    search = GridSearchCV(_cv(s_values=[1.0, 10.0]), {"metric": ["min_recall", "mean_recall"]}, cv=2).fit(X, y)
    assert search.best_estimator_.s_ in (1.0, 10.0)


def test_memory_caches_the_warm_start_across_loop_parameters(data, tmp_path, monkeypatch):
    X, y = data
    calls = _count_head_fits(monkeypatch)
    first = SelMixClassifier(max_iter=150, device="cpu", random_state=0, memory=str(tmp_path)).fit(X, y)
    fitted = len(calls)
    assert fitted >= 1
    plain = SelMixClassifier(max_iter=150, device="cpu", random_state=0).fit(X, y)
    _assert_same_model(first, plain)  # a cached fit is the uncached fit
    calls.clear()
    again = SelMixClassifier(
        s=1.0, learning_rate=0.02, max_iter=150, device="cpu", random_state=0, memory=str(tmp_path)
    ).fit(X, y)
    assert calls == [False] * (again.best_step_ == 0 and first.best_step_ != 0)  # at most the step-0 refit is new
    _assert_same_model(
        again, SelMixClassifier(s=1.0, learning_rate=0.02, max_iter=150, device="cpu", random_state=0).fit(X, y)
    )
    calls.clear()
    SelMixClassifier(max_iter=150, device="cpu", random_state=1, memory=str(tmp_path)).fit(X, y)
    assert calls and calls[0]  # other folds: other rows, a miss
    calls.clear()
    SelMixClassifier(max_iter=150, device="cpu", random_state=0, weight_decay=1e-3, memory=str(tmp_path)).fit(X, y)
    assert calls and calls[0]  # another penalty: a miss
    GridSearchCV(
        SelMixClassifier(max_iter=50, device="cpu", random_state=0, memory=str(tmp_path)),
        {"s": [1.0, 10.0, 100.0]},
        cv=2,
    ).fit(X, y)


def test_cached_fold_heads_never_serve_other_folds(tmp_path):
    """The leakage probe of test_cross_fitting, with the cache warm from other folds: heads
    fitted for random_state=0's folds have seen rows of random_state=1's folds, so a cache
    that served them would show out-of-fold recall near 1."""
    X, y = _private_feature_data()
    common = {
        "metric": "mean_recall",
        "max_iter": 0,
        "weight_decay": 1e-6,
        "cv": 5,
        "device": "cpu",
        "memory": str(tmp_path),
    }
    for seed in (0, 1, 0):
        fit = SelMixClassifier(random_state=seed, **common).fit(X, y)
        assert fit.history_[0]["objective"] < 0.65
    search = SelMixClassifierCV(
        s_values=[1.0, 10.0],
        max_iter=100,
        n_iter_no_change=None,
        random_state=2,
        **{k: v for k, v in common.items() if k != "max_iter"},
    ).fit(X, y)
    assert max(h["objective"] for h in search.history_) < 0.65


@parametrize_with_checks(
    [SelMixClassifierCV(s_values=(1.0, 10.0), max_iter=50, device="cpu", random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_docstring_documents_every_parameter_once():
    import inspect
    import re

    doc = SelMixClassifierCV.__doc__
    sections = re.findall(r"^    ([A-Z][A-Za-z ]+)\n    -+$", doc, re.M)
    assert sections == ["Parameters", "Attributes", "See Also", "Notes", "Examples"]
    parameters = doc.split("    Parameters\n")[1].split("    Attributes\n")[0]
    documented = re.findall(r"^    (\w+) : ", parameters, re.M)
    assert documented == list(inspect.signature(SelMixClassifierCV).parameters)
    for name in ("s_", "best_params_", "cv_results_", "coef_", "best_step_"):
        assert re.search(rf"^    {name} : ", doc, re.M)


def test_a_model_with_a_memory_path_loads_and_one_with_a_memory_object_is_refused(data, tmp_path):
    """As the user guide says: a directory string saves and loads with skops, without its
    cache (a directory chosen by the file's author would be read and written by the next fit:
    issue 32, M1); a joblib.Memory object's types are not on the allow-list, so load names
    them instead of trusting them."""
    pytest.importorskip("skops")
    import joblib

    from skselmix import persistence

    X, y = data
    with_path = SelMixClassifier(max_iter=20, device="cpu", memory=str(tmp_path / "cache"), random_state=0).fit(X, y)
    persistence.dump(with_path, tmp_path / "path.skops")
    loaded = persistence.load(tmp_path / "path.skops")
    assert loaded.memory is None
    np.testing.assert_array_equal(loaded.predict(X), with_path.predict(X))
    with_object = SelMixClassifier(max_iter=20, device="cpu", memory=joblib.Memory(tmp_path / "cache", verbose=0),
                                   random_state=0).fit(
        X, y
    )
    persistence.dump(with_object, tmp_path / "object.skops")
    with pytest.raises(ValueError, match="joblib.memory.Memory"):
        persistence.load(tmp_path / "object.skops")
