"""Input that is not one in-memory array (issue 42): memory maps, HDF5, Zarr and Dask arrays
are read a block of rows at a time, by fit and by every prediction method, and give the
model and predictions the same rows in memory give."""

import sys

import numpy as np
import pytest

from skselmix import SelMixClassifier, SelMixClassifierCV
from skselmix._predict import blockwise
from skselmix._rows import RowSource, blocks_of, is_out_of_core


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    counts = [60, 40, 25, 15]
    y = np.repeat(np.arange(4), counts)
    X = (rng.normal(size=(4, 6))[y] * 2 + rng.normal(size=(y.size, 6))).astype(np.float32)
    order = rng.permutation(y.size)
    return X[order], y[order]


def clf(**params):
    return SelMixClassifier(**{"max_iter": 40, "random_state": 0, **params})


def memmap(X, tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def h5py_dataset(X, tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "X.h5", "w") as f:
        f.create_dataset("X", data=X, chunks=(16, X.shape[1]))
    return h5py.File(tmp_path / "X.h5", "r")["X"]


def zarr_array(X, tmp_path):
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(str(tmp_path / "X.zarr"), mode="w", shape=X.shape, dtype=X.dtype, chunks=(16, X.shape[1]))
    z[:] = X
    return z


def dask_array(X, tmp_path):
    da = pytest.importorskip("dask.array")
    return da.from_array(X, chunks=(23, 4))  # column chunks too: prediction rechunks them


SOURCES = {"memmap": memmap, "h5py": h5py_dataset, "zarr": zarr_array, "dask": dask_array}


@pytest.mark.parametrize("source", SOURCES)
def test_fit_and_predict_as_in_memory(data, tmp_path, source):
    X, y = data
    X_source = SOURCES[source](X, tmp_path)
    assert is_out_of_core(X_source)
    reference, model = clf().fit(X, y), clf().fit(X_source, y)
    if source == "dask":  # the passes ran over Dask's chunks: the same model up to summation order
        np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-5 * np.abs(reference.coef_).max())
        np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-5)
    else:
        np.testing.assert_array_equal(model.coef_, reference.coef_)
        np.testing.assert_array_equal(model.intercept_, reference.intercept_)
    assert model.best_step_ == reference.best_step_ and model.n_features_in_ == X.shape[1]
    assert not hasattr(model, "feature_names_in_")
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        expected, got = getattr(reference, method)(X), getattr(model, method)(X_source)
        if source == "dask":
            assert type(got).__module__.startswith("dask")  # lazy until computed
            got = got.compute()
        if source == "dask":
            expected = getattr(model, method)(X)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12) if got.dtype.kind == "f" else \
            np.testing.assert_array_equal(got, expected)
    assert model.score(X_source, y) == reference.score(X, y)


@pytest.mark.parametrize("params", [{"cv": None}, {"cv": 3, "sample_weight": True}, {"unlabeled_label": -1}],
                         ids=["hold-out", "weights", "semi-supervised"])
def test_every_feedback_mode_reads_the_rows_in_blocks(data, tmp_path, params):
    X, y = data
    params = dict(params)
    fit_params = {}
    if params.pop("sample_weight", False):
        fit_params["sample_weight"] = np.random.RandomState(1).uniform(0.5, 2.0, size=y.size)
    if "unlabeled_label" in params:
        y = np.where(np.arange(y.size) % 3 == 0, -1, y)
    reference = clf(**params).fit(X, y, **fit_params)
    model = clf(**params).fit(memmap(X, tmp_path), y, **fit_params)
    np.testing.assert_array_equal(model.coef_, reference.coef_)


def test_validation_rows_out_of_core(data, tmp_path):
    X, y = data
    X_val = X[::2] + 0.1
    (tmp_path / "val").mkdir()
    reference = clf(cv=None).fit(X, y, X_val=X_val, y_val=y[::2])
    model = clf(cv=None).fit(X, y, X_val=h5py_dataset(X_val, tmp_path / "val"), y_val=y[::2])
    np.testing.assert_array_equal(model.coef_, reference.coef_)


def test_search_on_a_memory_map(data, tmp_path):
    X, y = data
    reference = SelMixClassifierCV(s_values=(1.0, 10.0), max_iter=30, random_state=0).fit(X, y)
    model = SelMixClassifierCV(s_values=(1.0, 10.0), max_iter=30, random_state=0).fit(memmap(X, tmp_path), y)
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    assert model.s_ == reference.s_


def test_bad_rows_are_named_when_read(data, tmp_path):
    X, y = data
    bad = X.copy()
    bad[97, 2] = np.nan  # in a late block
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf().fit(memmap(bad, tmp_path), y)
    model = clf().fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(RowSource(bad))
    with pytest.raises(ValueError, match="X has 5 features, but SelMixClassifier is expecting 6"):
        model.predict(memmap(X[:, :5].copy(), tmp_path))
    with pytest.raises(ValueError, match="Expected a 2D array for X"):
        clf().fit(memmap(X[:, 0].copy(), tmp_path), y)
    with pytest.raises(ValueError, match="Found input variables with inconsistent numbers of samples"):
        clf().fit(memmap(X, tmp_path), y[:-1])
    text = np.lib.format.open_memmap(tmp_path / "text.npy", mode="w+", dtype="U3", shape=(4, 2))
    with pytest.raises(TypeError, match="must hold numbers"):
        clf().fit(text, [0, 1, 0, 1])


def test_row_source_reads_as_an_array(data):
    X, _ = data
    ints = (X * 10).astype(np.int16)
    source = RowSource(ints)
    assert source.dtype == np.float64 and source.shape == X.shape
    rows = np.array([99, 3, 3, 139, 0, -2])
    np.testing.assert_array_equal(source[rows], ints[rows])
    np.testing.assert_array_equal(source[-1], ints[-1])
    np.testing.assert_array_equal(source[10:20], ints[10:20])
    np.testing.assert_array_equal(source[5:50:7], ints[5:50:7])
    mask = np.arange(X.shape[0]) % 4 == 1
    inner = source.subset(mask).subset(np.array([0, 2, 5]))
    np.testing.assert_array_equal(inner[:], ints[mask][[0, 2, 5]])
    np.testing.assert_array_equal(np.asarray(inner), ints[mask][[0, 2, 5]])
    for outside in (X.shape[0], [0, X.shape[0]]):
        with pytest.raises(IndexError):
            source[outside]
    # Gathering by index reads spans in increasing order, each at most a block.
    positions, blocks = zip(*blocks_of(source, rows=rows, block_elements=2 * X.shape[1]))
    gathered = np.empty((rows.size, X.shape[1]))
    for where, block in zip(positions, blocks):
        gathered[where] = block
    np.testing.assert_array_equal(gathered, ints[rows])


def test_prediction_blocks_do_not_change_predictions(data):
    X, y = data
    model = clf().fit(X, y)
    whole = model.predict_proba(X)
    for block_elements in (1, 7 * max(model.coef_.shape), 10**9):
        got = blockwise(model, X, lambda logits: logits, tail=(4,), block_elements=block_elements)
        np.testing.assert_allclose(got, model.decision_function(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X.astype(np.float64)), whole, rtol=0, atol=1e-15)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_fit_features_of_an_out_of_core_input_live_in_a_file():
    torch = pytest.importorskip("torch")
    from skselmix._torch.features import feature_buffer

    def mapping_of(tensor):
        address = tensor.data_ptr()
        with open("/proc/self/maps") as maps:
            for line in maps:
                span, _, _, _, inode, *path = line.split()
                low, high = (int(part, 16) for part in span.split("-"))
                if low <= address < high:
                    return int(inode), " ".join(path)
        return None

    on_disk = feature_buffer(1000, 64, torch.device("cpu"), on_disk=True)
    on_disk[:] = 1.0
    inode, path = mapping_of(on_disk)
    assert inode != 0 and "skselmix-features" in path or "(deleted)" in path or path.startswith("/tmp/#")
    assert on_disk.dtype == torch.float32 and float(on_disk.sum()) == 64000.0
    assert mapping_of(feature_buffer(1000, 64, torch.device("cpu")))[0] == 0  # anonymous memory


def test_predict_on_a_dask_cluster(data):
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    X, y = data
    model = clf().fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            lazy = model.predict_proba(da.from_array(X, chunks=(40, 6)))
            assert lazy.chunks[1] == (4,)
            np.testing.assert_allclose(lazy.compute(), model.predict_proba(X), rtol=0, atol=1e-15)
            np.testing.assert_array_equal(model.predict(da.from_array(X, chunks=(40, 6))).compute(), model.predict(X))


def _task_names(stream):
    return {task["key"][0].split("-")[0] if isinstance(task["key"], tuple) else task["key"].split("-")[0]
            for task in stream}


@pytest.mark.parametrize("fit_params", [{}, {"sample_weight": True}], ids=["plain", "weights"])
def test_dask_fit_passes_run_on_the_cluster(data, fit_params):
    """Issue 42, goal 2: with a Dask X the column statistics, every L-BFGS evaluation, the class
    means and the out-of-fold predictions run as tasks on the workers, and the model is the
    in-memory one up to summation order."""
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    X, y = data
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=y.size) if fit_params else None
    reference = clf(init="balanced").fit(X, y, sample_weight=weights)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            X_dask = da.from_array(X, chunks=(37, 6)).persist()
            with distributed.get_task_stream(client) as stream:
                model = clf(init="balanced").fit(X_dask, y, sample_weight=weights)
            workers = {task["worker"] for task in stream.data}
            names = _task_names(stream.data)
            assert workers <= set(client.scheduler_info()["workers"])
    for kernel in ("_column_moments", "_chunk_loss_and_gradient", "_chunk_second_moment", "_chunk_class_sums",
                   "_chunk_fold_predictions", "scaled_chunk"):
        assert any(kernel in name for name in names), (kernel, names)
    assert model.best_step_ == reference.best_step_
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-5 * np.abs(reference.coef_).max())
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))


def test_dask_fit_modes_and_errors(data):
    da = pytest.importorskip("dask.array")
    X, y = data
    X_dask = da.from_array(X, chunks=(50, 6))
    # Hold-out feedback reads the Dask chunks here, block by block (its column statistics ran on the chunks).
    hold_out, hold_out_dask = clf(cv=None).fit(X, y), clf(cv=None).fit(X_dask, y)
    np.testing.assert_allclose(hold_out_dask.coef_, hold_out.coef_, rtol=0, atol=1e-5 * np.abs(hold_out.coef_).max())
    assert hold_out_dask.best_step_ == hold_out.best_step_
    y_semi = np.where(np.arange(y.size) % 3 == 0, -1, y)
    semi, semi_dask = clf(unlabeled_label=-1).fit(X, y_semi), clf(unlabeled_label=-1).fit(X_dask, y_semi)
    np.testing.assert_allclose(semi_dask.coef_, semi.coef_, rtol=0, atol=1e-5 * np.abs(semi.coef_).max())
    search = SelMixClassifierCV(s_values=(1.0, 10.0), max_iter=30, random_state=0)
    assert search.fit(X_dask, y).s_ == SelMixClassifierCV(s_values=(1.0, 10.0), max_iter=30, random_state=0).fit(
        X, y).s_
    bad = X.copy()
    bad[97, 2] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf().fit(da.from_array(bad, chunks=(50, 6)), y)
    with pytest.warns(UserWarning, match="memory= caches no warm start of a fit whose X is a Dask array"):
        clf(memory="unused-cache-dir-never-written", random_state=0).fit(X_dask, y)


def test_grid_search_with_the_dask_joblib_backend(data):
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    from sklearn.model_selection import GridSearchCV

    X, y = data
    grid = {"s": [1.0, 10.0]}
    reference = GridSearchCV(clf(), grid, cv=2).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster), joblib.parallel_backend("dask"):
            search = GridSearchCV(clf(), grid, cv=2, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])
    assert search.best_params_ == reference.best_params_


def test_prefetched_rows_answer_the_recorded_calls_in_windows():
    """The SGD steps on a Dask cluster get, call by call, the rows a direct gather gives,
    gathered a window of calls at a time; a call their replay did not record is an error."""
    da = pytest.importorskip("dask.array")
    torch = pytest.importorskip("torch")
    from skselmix._torch.cluster_features import ClusterFeatures, PrefetchedRows
    from skselmix._torch.features import FeatureMap

    X = np.random.RandomState(0).normal(size=(90, 4)).astype(np.float32)
    features = ClusterFeatures(da.from_array(X, chunks=(25, 4)), FeatureMap(np.zeros(4), np.ones(4)))
    np.testing.assert_array_equal(features[torch.tensor([5, 0, 89, 5])].numpy(), X[[5, 0, 89, 5]])
    rng = np.random.RandomState(1)
    calls = [torch.as_tensor(rng.randint(90, size=size)) for size in (7, 3, 12, 1, 9)]
    gathered = []
    original = features.index_select

    def counting(dim, rows):
        gathered.append(rows.shape[0])
        return original(dim, rows)

    features.index_select = counting
    prefetched = PrefetchedRows(features, calls, budget_elements=4 * 12)  # windows of at most 12 rows
    for rows in calls:
        np.testing.assert_array_equal(prefetched.index_select(0, rows).numpy(), X[rows.numpy()])
    assert len(gathered) == 3 and max(gathered) <= 12  # [7, 3], [12], [1, 9]: no call split
    with pytest.raises(RuntimeError, match="replayed draws did not"):
        PrefetchedRows(features, calls).index_select(0, calls[1])


def test_block_results_combine_as_the_list_does(data):
    """A pass's results combined (left to right here, in a tree of tasks on a cluster) equal
    the combination of its per-block list."""
    import functools
    import operator

    from skselmix._cluster import block_results

    X, _ = data
    def kernel(block):
        return block.astype(np.float64).sum(axis=0)
    listed = block_results(X, kernel, block_elements=6 * 9)
    assert len(listed) == -(-X.shape[0] // 9)
    np.testing.assert_array_equal(block_results(X, kernel, block_elements=6 * 9, combine=operator.add),
                                  functools.reduce(operator.add, listed))
    da = pytest.importorskip("dask.array")
    on_chunks = block_results(RowSource(da.from_array(X, chunks=(23, 6))), kernel, combine=operator.add)
    np.testing.assert_allclose(on_chunks, X.astype(np.float64).sum(axis=0), rtol=1e-12)
