"""scikit-learn ecosystem: search (local, parallel, dask), pipelines with routed validation data,
persistence, displays."""

import pickle
import pickletools

import joblib
import numpy as np
import pytest
import torch
from sklearn import config_context
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skselmix import CallableObjective, HistoryDisplay, PerClassRecallDisplay, SelMixClassifier
from skselmix.metrics import objective_scorer


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    sizes = [120, 50, 20]
    X = np.vstack([rng.normal(size=(n, 6)) + 1.5 * rng.normal(size=6) for n in sizes]) * 10 + 3
    y = np.repeat([0, 1, 2], sizes)
    return X, y


def small(**params):
    return SelMixClassifier(**{"max_iter": 100, "device": "cpu", "random_state": 0, **params})


class ThreadRecorder(SelMixClassifier):
    """Records the torch intra-op threads seen inside fit (for the oversubscription check)."""

    def fit(self, X, y, **kwargs):
        super().fit(X, y, **kwargs)
        self.torch_threads_ = torch.get_num_threads()
        return self


def test_grid_search_parallel_matches_serial(data):
    X, y = data
    grid = {"s": [0.1, 10.0, 1000.0]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    serial = GridSearchCV(small(), grid, scoring=objective_scorer("min_recall"), cv=cv, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(small(), grid, scoring=objective_scorer("min_recall"), cv=cv, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert parallel.best_params_ == serial.best_params_


def test_parallel_workers_use_one_torch_thread_each(data):
    """joblib's loky workers cap OpenMP threads at cores // n_jobs; torch follows, so no oversubscription."""
    X, y = data
    search = GridSearchCV(ThreadRecorder(max_iter=20, device="cpu"), {"s": [1.0, 10.0]}, cv=2, n_jobs=2)
    out = search.fit(X, y)
    threads = joblib.Parallel(n_jobs=2)(joblib.delayed(torch.get_num_threads)() for _ in range(2))
    assert max(threads) <= max(1, joblib.cpu_count() // 2)
    assert out.best_estimator_.torch_threads_ == torch.get_num_threads()  # the refit in this process


def test_constrained_selection_with_refit_callable(data):
    X, y = data
    k, alpha = 3, 0.95
    scoring = {"mean_recall": objective_scorer("mean_recall"), "min_coverage": objective_scorer("min_coverage")}

    def best_feasible(cv_results):
        feasible = cv_results["mean_test_min_coverage"] >= alpha / k
        scores = np.where(feasible, cv_results["mean_test_mean_recall"], -np.inf)
        return int(np.argmax(scores)) if feasible.any() else int(np.argmax(cv_results["mean_test_min_coverage"]))

    grid = {"metric": ["mean_recall", "mean_recall_min_coverage"], "s": [1.0, 10.0]}
    search = GridSearchCV(small(), grid, scoring=scoring, refit=best_feasible, cv=3).fit(X, y)
    res = search.cv_results_
    chosen = search.best_index_
    feasible = res["mean_test_min_coverage"] >= alpha / k
    if feasible.any():
        assert feasible[chosen]
        assert res["mean_test_mean_recall"][chosen] == res["mean_test_mean_recall"][feasible].max()


def test_dask_backend_runs_the_same_search(data):
    distributed = pytest.importorskip("distributed")
    X, y = data
    grid = {"s": [1.0, 100.0]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    local = GridSearchCV(small(), grid, scoring=objective_scorer("gmean"), cv=cv).fit(X, y)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster):
            with joblib.parallel_backend("dask"):
                remote = GridSearchCV(small(), grid, scoring=objective_scorer("gmean"), cv=cv, n_jobs=-1).fit(X, y)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])


def test_pipeline_routes_and_transforms_validation_set(data):
    X, y = data
    X_val, y_val = X[::4], y[::4]
    with config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [("scale", StandardScaler()), ("selmix", small().set_fit_request(X_val=True, y_val=True))],
            transform_input=["X_val"],
        ).fit(X, y, X_val=X_val, y_val=y_val)
    scaler = StandardScaler().fit(X)
    manual = small().fit(scaler.transform(X), y, X_val=scaler.transform(X_val), y_val=y_val)
    np.testing.assert_array_equal(pipe[-1].coef_, manual.coef_)
    assert pipe[-1].history_[0]["recalls"].shape == (3,)


class ValidationSizeRecorder(SelMixClassifier):
    def fit(self, X, y, *, X_val=None, y_val=None, **kwargs):
        self.seen_val_size_ = None if X_val is None else len(X_val)
        return super().fit(X, y, X_val=X_val, y_val=y_val, **kwargs)


@pytest.mark.parametrize("n_val, sliced", [(40, False), ("len(X)", True)])
def test_search_slices_fit_params_of_length_n_samples(data, n_val, sliced):
    """The trap: search CV slices every fit parameter whose length equals len(X) along with X."""
    X, y = data
    n_val = len(X) if n_val == "len(X)" else n_val
    rng = np.random.RandomState(1)
    idx = rng.choice(len(X), n_val, replace=n_val > len(X))
    with config_context(enable_metadata_routing=True):
        est = ValidationSizeRecorder(max_iter=10, device="cpu").set_fit_request(X_val=True, y_val=True)
        out = cross_validate(est, X, y, cv=3, params={"X_val": X[idx], "y_val": y[idx]}, return_estimator=True)
    sizes = {e.seen_val_size_ for e in out["estimator"]}
    fold_train_sizes = {len(train) for train, _ in StratifiedKFold(3).split(X, y)}
    assert sizes == (fold_train_sizes if sliced else {n_val})


def test_pickle_joblib_hold_no_torch_objects(data, tmp_path):
    X, y = data
    model = small().fit(X, y)
    payload = pickle.dumps(model)
    modules = {
        arg.split(" ")[0] for op, arg, _ in pickletools.genops(payload) if op.name in ("GLOBAL", "STACK_GLOBAL") and arg
    }
    strings = {
        arg
        for op, arg, _ in pickletools.genops(payload)
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE") and isinstance(arg, str)
    }
    assert not any(m.startswith("torch") for m in modules | strings)
    joblib.dump(model, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict(X), model.predict(X))


def test_skops_round_trip_trusts_only_skselmix(data, tmp_path):
    pytest.importorskip("skops")
    from skselmix import persistence

    X, y = data
    model = small(metric="hmean_min_coverage").fit(X, y)
    path = tmp_path / "m.skops"
    persistence.dump(model, path)
    assert persistence.untrusted_foreign_types(path) == []
    loaded = persistence.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.history_[0]["objective"] == model.history_[0]["objective"]

    custom = small(metric=CallableObjective(lambda C: C.trace())).fit(X, y)
    persistence.dump(custom, tmp_path / "custom.skops")
    with pytest.raises(ValueError, match="Refusing to load"):
        persistence.load(tmp_path / "custom.skops")


def test_displays(data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = data
    a, b = small(max_iter=0).fit(X, y), small(metric="min_recall").fit(X, y)
    disp = PerClassRecallDisplay.from_estimator([a, b], X, y, names=["warm", "selmix"])
    assert disp.recalls.shape == (2, 3) and len(disp.bars_) == 2
    np.testing.assert_allclose(sorted(bar.get_height() for bar in disp.bars_[1]), sorted(disp.recalls[1]))
    expected = [np.mean(b.predict(X[y == c]) == c) for c in range(3)]
    np.testing.assert_allclose(disp.recalls[1], expected)
    hist = HistoryDisplay.from_estimator(b)  # min recall has multipliers: six panels
    assert hist.axes_.shape == (2, 3)
    assert len(hist.axes_[0, 0].lines[0].get_xdata()) == len(b.history_)
    star = hist.axes_[0, 0].lines[1]  # the selected step is marked
    assert star.get_xdata()[0] == b.best_step_ and star.get_ydata()[0] == b.best_validation_score_
    assert all(ax.get_xlabel() == "SGD step" and ax.get_ylabel() for ax in hist.axes_.ravel())
    at = [h["step"] for h in b.history_].index(b.best_step_)
    worst = np.argsort(b.history_[at]["recalls"], kind="stable")[:3]
    np.testing.assert_array_equal(hist.worst_classes_, worst)
    legend = [t.get_text() for t in hist.axes_[0, 1].get_legend().get_texts()]
    assert legend == [str(b.classes_[c]) for c in worst]
    plain = HistoryDisplay.from_estimator(small(metric="mean_recall").fit(X, y))  # no multipliers: four panels
    assert plain.axes_.shape == (2, 2)
    with pytest.raises(ValueError, match="needs 6 axes"):
        HistoryDisplay.from_estimator(b, axes=plt.subplots(2, 2)[1])
    plt.close("all")


def test_per_class_recall_display_stays_legible_at_100_classes():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.RandomState(0)
    names = np.array([f"n{i:08d}_instrumentality" for i in range(100)])
    y = rng.randint(0, 100, 2000)
    pred = np.where(rng.rand(2000) < 0.7, y, rng.randint(0, 100, 2000))
    disp = PerClassRecallDisplay.from_predictions(names[y], names[pred])
    ticks = [t.get_text() for t in disp.ax_.get_yticklabels()]
    assert len(ticks) == 100 and set(ticks) == set(names)  # every full name, one per row
    height = disp.figure_.get_size_inches()[1] * 72  # points
    assert height / 100 >= 1.2 * 7  # a row per class at least 1.2x the 7-point font
    assert ticks[0] == names[np.argmin(disp.recalls[0])]  # worst on top: sorted, first row
    small_case = PerClassRecallDisplay.from_predictions([0, 0, 1, 1], [0, 1, 1, 1])
    assert small_case.ax_.get_xticklabels()[0].get_text() == "0"  # few classes: vertical bars
    with pytest.raises(ValueError, match="orientation"):
        small_case.plot(orientation="sideways")
    plt.close("all")


@pytest.mark.parametrize("n_models", [1, 2, 3])
@pytest.mark.parametrize("n_classes", [4, 10, 60])
def test_per_class_recall_legend_covers_no_bar(n_models, n_classes):
    """The gallery's legend once sat over the bars of recall near 1 (issue 33)."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.repeat(np.arange(n_classes), 10)
    preds = [np.where(np.arange(y.size) % 10 < m, (y + 1) % n_classes, y) for m in range(n_models)]
    disp = PerClassRecallDisplay.from_predictions(y, preds if n_models > 1 else preds[0])
    renderer = disp.figure_.canvas.get_renderer()
    legend = disp.ax_.get_legend().get_window_extent(renderer)
    bars = [bar.get_window_extent(renderer) for container in disp.bars_ for bar in container]
    assert not [bar for bar in bars if bar.overlaps(legend) and bar.height > 0 and bar.width > 0]
    plt.close("all")


def test_display_input_errors_are_clear(data):
    """Reliability pass 3: IndexError, AttributeError and numpy's 'need at least one array'
    became errors that say what is wrong."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    model = small(max_iter=20).fit(X, y)
    with pytest.raises(ValueError, match="names has 1 entries for 2 models"):
        PerClassRecallDisplay.from_predictions(y, [y, y], names=["only one"])
    with pytest.raises(ValueError, match="names has 1 entries for 2 estimators"):
        PerClassRecallDisplay.from_estimator([model, model], X, y, names=["only one"])
    with pytest.raises(ValueError, match="display_labels has 2 entries for 3 classes"):
        PerClassRecallDisplay(np.ones((1, 3)), display_labels=["a", "b"])
    with pytest.raises(ValueError, match="display_labels has 2 entries for 3 classes"):
        HistoryDisplay(model.history_, display_labels=["a", "b"])
    with pytest.raises(NotFittedError):
        HistoryDisplay.from_estimator(small())
    with pytest.raises(ValueError, match="history holds no refresh record"):
        HistoryDisplay([])
    nan = PerClassRecallDisplay(np.array([[0.5, np.nan, 0.9]]), display_labels=["a", "b", "c"], names=["m"]).plot()
    assert nan.ax_.get_legend().get_texts()[0].get_text() == "m (min 0.50, mean 0.70, 1 not judged)"
    pipeline = make_pipeline(StandardScaler(), small(max_iter=20)).fit(X, y)
    assert HistoryDisplay.from_estimator(pipeline).axes_.shape == (2, 3)
    plt.close("all")


def test_display_variants_of_bad_input(data):
    pytest.importorskip("matplotlib")
    X, y = data
    model = small(max_iter=20).fit(X, y)
    with pytest.raises(ValueError, match="y_preds is empty"):
        PerClassRecallDisplay.from_predictions(y, [])
    for n_worst in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_worst must be a positive int"):
            HistoryDisplay(model.history_, n_worst=n_worst)
