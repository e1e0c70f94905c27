"""Regression tests for the second reliability pass: NaN and bool parameters, failing
metrics, heads and magnitudes outside float32/float64, random state, refit visibility,
memory layout, label types and markers, tensors, history size."""

import sys

import numpy as np
import pytest
import torch

from skselmix import (
    GMean,
    HMeanMinCoverage,
    MeanRecallMinCoverage,
    MinHeadTailRecall,
    MinRecall,
    SelMixClassifier,
)
from skselmix.metrics import mean_recall_score, min_recall_score

NAN = float("nan")


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(60, 4)), rng.normal(size=(30, 4)) + 2, rng.normal(size=(15, 4)) - 2]
    return X, np.repeat([0, 1, 2], [60, 30, 15])


def clf(**params):
    return SelMixClassifier(**{"max_iter": 60, "device": "cpu", "random_state": 0, **params})


# ----------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "name",
    [
        "s",
        "lambda_min",
        "learning_rate",
        "weight_decay",
        "average_decay",
        "validation_fraction",
        "tol",
        "pseudo_label_threshold",
    ],
)
def test_nan_parameter_rejected(data, name):
    with pytest.raises(ValueError, match=rf"'{name}' parameter of SelMixClassifier must be .*\. Got nan instead"):
        clf(**{name: NAN}).fit(*data)


@pytest.mark.parametrize(
    "name",
    [
        "s",
        "learning_rate",
        "lambda_min",
        "weight_decay",
        "tol",
        "max_iter",
        "batch_size",
        "refresh_every",
        "n_iter_no_change",
    ],
)
def test_bool_parameter_rejected(data, name):
    with pytest.raises(
        TypeError, match=rf"'{name}' parameter of SelMixClassifier must be .*\(not a bool\).* Got True instead"
    ):
        clf(**{name: True}).fit(*data)


def test_bool_verbose_still_accepted(data, capsys):
    clf(verbose=True, max_iter=0).fit(*data)
    assert "[SelMix]" in capsys.readouterr().out


@pytest.mark.parametrize(
    "objective, name",
    [
        (MinRecall(omega=NAN), "omega"),
        (MinRecall(beta=NAN), "beta"),
        (GMean(recall_floor=NAN), "recall_floor"),
        (MeanRecallMinCoverage(alpha=NAN), "alpha"),
        (MeanRecallMinCoverage(tau=NAN), "tau"),
        (MeanRecallMinCoverage(lambda_max=NAN), "lambda_max"),
        (HMeanMinCoverage(recall_floor=NAN), "recall_floor"),
        (MinHeadTailRecall(head_fraction=NAN), "head_fraction"),
        (MinHeadTailRecall(omega=NAN), "omega"),
        (MinRecall(omega=True), "omega"),
    ],
)
def test_objective_parameter_rejected(data, objective, name):
    with pytest.raises((ValueError, TypeError), match=name):
        clf(metric=objective).fit(*data)


# ------------------------------------------------------------ failing metrics
def nan_metric(confusion):
    return confusion.trace() * float("nan")


def vector_metric(confusion):
    return torch.diagonal(confusion)


def raising_metric(confusion):
    raise RuntimeError("broken metric")


@pytest.mark.parametrize(
    "metric, error, match",
    [
        (nan_metric, ValueError, "metric 'nan_metric' returned nan at step 0"),
        (vector_metric, ValueError, "metric 'vector_metric' failed at step 0: TypeError: .* must return a scalar"),
        (raising_metric, ValueError, "metric 'raising_metric' failed at step 0: RuntimeError: broken metric"),
    ],
)
def test_bad_callable_metric_named_at_first_refresh(data, metric, error, match):
    with pytest.raises(error, match=match):
        clf(metric=metric).fit(*data)


def test_metric_turning_nan_later_is_an_error_not_a_silent_keep(data):
    calls = []

    def flaky(confusion):
        calls.append(1)
        return confusion.trace() * (float("nan") if len(calls) > 2 else 1.0)

    # Its third call is on a bootstrap resample of the step-0 feedback (the step selection's).
    with pytest.raises(ValueError, match="metric 'flaky' failed at step 0: it returned nan on a bootstrap resample"):
        clf(metric=flaky, max_iter=200, refresh_every=50).fit(*data)
    calls.clear()

    def flaky_later(confusion):  # finite at step 0 (its value, 200 resamples, its derivative), NaN after
        calls.append(1)
        return confusion.trace() * (float("nan") if len(calls) > 202 else 1.0)

    with pytest.raises(ValueError, match="returned nan at step 50"):
        clf(metric=flaky_later, max_iter=200, refresh_every=50).fit(*data)


# ------------------------------------------------------------ initial heads
def test_head_overflowing_float32_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="coef_init does not fit in float32"):
        clf().fit(X, y, coef_init=np.full((3, 4), 1e39))
    with pytest.raises(ValueError, match="coef_init does not fit in float32"):
        clf().fit(X, y, coef_init=np.zeros((3, 4)), intercept_init=[0.0, 1e39, 0.0])


def test_head_with_overflowing_logits_rejected(data):
    X, y = data
    # Finite in float32, but its logits on the (unit-norm) prototypes are not.
    with pytest.raises(ValueError, match="non-finite float32 logits"):
        clf().fit(X, y, coef_init=np.full((3, 4), 3e38) / SelMixClassifier(max_iter=0).fit(X, y).feature_scale_)


# ----------------------------------------------------------------- magnitudes
def test_subnormal_features_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="subnormal"):
        clf().fit(X * 1e-320, y)


def test_overflowing_row_norm_rejected():
    rng = np.random.RandomState(0)
    X = rng.uniform(0.5, 1.0, size=(6, 10_000)) * 1e307
    with pytest.raises(ValueError, match="overflows float64"):
        clf().fit(X, np.array([0, 1, 0, 1, 0, 1]))


# ---------------------------------------------------------------- random state
def test_default_random_state_leaves_global_streams_alone(data):
    np.random.seed(123)
    torch.manual_seed(123)
    numpy_state, torch_state = np.random.get_state(), torch.random.get_rng_state()
    first = clf(random_state=None).fit(*data).coef_
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state()[1:], numpy_state[1:]))
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    # Fresh entropy each fit: the global seed does not make random_state=None repeat.
    np.random.seed(123)
    second = clf(random_state=None).fit(*data).coef_
    assert not np.array_equal(first, second)


# -------------------------------------------------------- refit visibility
def test_refit_is_invisible_until_it_commits(data):
    X, y = data
    model = clf(metric="mean_recall").fit(X, y)
    old_coef = model.coef_.copy()
    seen = []

    def probe(confusion):
        # Runs inside the refit, as another thread's predict would.
        seen.append((model.n_features_in_, model.predict(X[:5]).tolist(), model.coef_.shape))
        return torch.diagonal(confusion).sum()

    model.set_params(metric=probe, max_iter=50)
    model.fit(np.c_[X, X[:, :2]], y)
    assert seen and all(s == (4, seen[0][1], old_coef.shape) for s in seen)
    assert model.n_features_in_ == 6 and model.coef_.shape == (3, 6)


# ------------------------------------------------------------------- layout
def _unequal_columns(X):
    return X * np.array([1.0, 1e3, 1e-3, 7.0])  # unequal columns make the summation order matter


def test_coef_independent_of_memory_layout(data):
    X, y = data
    X = _unequal_columns(X)
    reference = clf().fit(np.ascontiguousarray(X), y).coef_
    np.testing.assert_array_equal(clf().fit(np.asfortranarray(X), y).coef_, reference)


def test_coef_of_a_dataframe_equals_the_array(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    X = _unequal_columns(X)
    frame = pd.DataFrame(X, columns=list("abcd"))
    np.testing.assert_array_equal(clf().fit(frame, y).coef_, clf().fit(np.ascontiguousarray(X), y).coef_)


# ---------------------------------------------------------- labels, metrics
@pytest.mark.parametrize("metric", [mean_recall_score, min_recall_score])
def test_metrics_reject_int_against_str(metric):
    with pytest.raises(ValueError, match="Mix of label input types"):
        metric([0, 1, 2], ["0", "1", "2"])


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("metric", [mean_recall_score, min_recall_score])
def test_metrics_reject_nan_labels(metric):
    with pytest.raises(ValueError, match="y_true contains NaN"):
        metric([0.0, 1.0, NAN], [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        metric([0.0, 1.0, 1.0], [0.0, NAN, 1.0])


def test_metrics_reject_mixed_list_and_continuous():
    with pytest.raises(ValueError, match="y_true mixes label types"):
        min_recall_score([0, "a", 1], [0, 1, 1])
    with pytest.raises(ValueError, match="continuous target"):
        min_recall_score([0.5, 1.5, 2.5], [0.5, 1.5, 2.5])


def test_metrics_reject_all_zero_weights():
    with pytest.raises(ValueError, match="at least one non-zero"):
        mean_recall_score([0, 1, 1], [0, 1, 0], sample_weight=[0, 0, 0])


@pytest.mark.parametrize(
    "labels, marker",
    [
        (np.array([0, 1, 2, -1]), "-1"),
        (np.array(["a", "b", "c", "u"]), -1),
        (np.array(["a", "b", "c", "u"]), None.__class__),
    ],
    ids=["str-marker-int-labels", "int-marker-str-labels", "type-marker"],
)
def test_marker_of_the_wrong_type_rejected(data, labels, marker):
    X, y = data
    y_marked = labels[np.where(np.arange(len(y)) % 5 == 0, 3, y)]
    with pytest.raises(ValueError, match="can never match"):
        clf(unlabeled_label=marker).fit(X, y_marked)


def test_marker_of_the_right_type_still_works(data):
    X, y = data
    y_marked = np.where(np.arange(len(y)) % 5 == 0, -1, y)
    assert clf(unlabeled_label=-1).fit(X, y_marked).n_unlabeled_ == 21
    y_str = np.array(["a", "b", "c", "u"])[np.where(np.arange(len(y)) % 5 == 0, 3, y)]
    assert clf(unlabeled_label="u").fit(X, y_str).classes_.tolist() == ["a", "b", "c"]


@pytest.mark.parametrize("container", [list, lambda v: np.array(v, dtype=object)], ids=["list", "object-array"])
def test_mixed_str_int_labels_rejected_in_any_container(data, container):
    X, y = data
    labels = [0, "one", 2]
    with pytest.raises(ValueError, match="mixes label types"):
        clf().fit(X, container([labels[k] for k in y]))


def test_requires_grad_tensor_accepted(data):
    X, y = data
    tensor = torch.tensor(X, requires_grad=True)
    model = clf().fit(tensor, torch.tensor(y))
    np.testing.assert_array_equal(model.coef_, clf().fit(X, y).coef_)
    np.testing.assert_array_equal(model.predict(tensor), model.predict(X))
    np.testing.assert_allclose(model.predict_proba(tensor), model.predict_proba(X))


# ------------------------------------------------------------------ history
def _deep_size(record):
    size = sys.getsizeof(record)
    for key, value in record.items():
        size += sys.getsizeof(key) + (value.nbytes + 112 if isinstance(value, np.ndarray) else sys.getsizeof(value))
    return size


@pytest.mark.parametrize("n_classes", [3, 40])
def test_history_memory_per_refresh_is_as_documented(n_classes):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40 * n_classes, 8)) + np.repeat(rng.normal(size=(n_classes, 8)) * 3, 40, axis=0)
    y = np.repeat(np.arange(n_classes), 40)
    model = clf(refresh_every=1, max_iter=30, n_iter_no_change=None).fit(X, y)
    assert len(model.history_) == 31  # one record per refresh, refresh_every=1: per step
    documented = 24 * n_classes + 2000  # bytes per record, as the history_ docstring says
    assert max(_deep_size(r) for r in model.history_) <= documented
    assert "24 K + 2000 bytes" in " ".join(SelMixClassifier.__doc__.split())
