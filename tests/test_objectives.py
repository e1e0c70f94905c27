"""Objectives: values, derivatives (against autograd) and multipliers."""

import numpy as np
import pytest
import torch

from skselmix import (
    CallableObjective,
    GMean,
    HMean,
    MeanRecallMinCoverage,
    MinHeadTailRecall,
    MinRecall,
    get_objective,
    get_objective_names,
)
from skselmix._gain import objective_logit_sensitivity
from skselmix._objectives import BUILTIN_OBJECTIVES

K = 4


def _confusion(seed=0):
    rng = np.random.default_rng(seed)
    C = rng.random((K, K)) + 2 * np.eye(K)
    return torch.tensor(C / C.sum(axis=1, keepdims=True) / K)


COUNTS = torch.tensor([50.0, 30.0, 10.0, 5.0])


def _surrogate(objective, multipliers):
    """The surrogate each built-in ascends, written independently with autograd."""
    def recall(C):
        return torch.diagonal(C) * C.shape[0]

    if objective.name == "mean_recall":
        return lambda C: recall(C).mean()
    if objective.name == "min_recall":
        return lambda C: (multipliers * recall(C)).sum()
    if objective.name == "gmean":
        return lambda C: torch.exp(torch.log(recall(C)).mean())
    if objective.name == "hmean":
        return lambda C: C.shape[0] / (1 / recall(C)).sum()
    if objective.name.endswith("_min_coverage"):
        base = "mean_recall" if objective.name.startswith("mean") else "hmean"
        base_f = _surrogate(get_objective(base), None)
        return lambda C: (base_f(C) + (multipliers * C.sum(0)).sum()) / (1 + multipliers.max())
    if objective.name == "min_head_tail_recall":
        head = torch.tensor([True, True, True, False])  # floor(0.9 * 4) = 3 most frequent
        return lambda C: multipliers[0] * recall(C)[head].mean() + multipliers[1] * recall(C)[~head].mean()
    raise AssertionError(objective.name)


@pytest.mark.parametrize("name", get_objective_names())
def test_gradient_matches_autograd_of_surrogate(name):
    objective = get_objective(name)
    C = _confusion()
    mult = objective.update_multipliers(objective.init_multipliers(K, COUNTS), C, COUNTS)
    explicit = objective.gradient(C, mult, COUNTS)
    auto = CallableObjective(_surrogate(objective, mult)).gradient(C)
    torch.testing.assert_close(explicit, auto)


@pytest.mark.parametrize("name", get_objective_names())
def test_values_on_perfect_and_uniform_classifiers(name):
    objective = get_objective(name)
    perfect = torch.eye(K, dtype=torch.float64) / K
    uniform = torch.full((K, K), 1.0 / K**2, dtype=torch.float64)
    assert objective.value(perfect, COUNTS).item() == pytest.approx(1.0)
    assert objective.value(uniform, COUNTS).item() == pytest.approx(1.0 / K)


def test_min_recall_multipliers_focus_on_worst_class():
    C = _confusion()
    r = (torch.diagonal(C) * K).numpy()
    lam = MinRecall(omega=50).update_multipliers(MinRecall().init_multipliers(K), C)
    assert lam.sum().item() == pytest.approx(1.0)
    assert int(lam.argmax()) == int(np.argmin(r))
    np.testing.assert_allclose(lam.numpy(), np.exp(-50 * r) / np.exp(-50 * r).sum())
    # beta = 1 keeps memory: two updates equal one with 2 * omega.
    one = MinRecall(omega=10, beta=1.0)
    twice = one.update_multipliers(one.update_multipliers(one.init_multipliers(K), C), C)
    np.testing.assert_allclose(twice.numpy(), MinRecall(omega=20).update_multipliers(None, C).numpy())


def test_coverage_multipliers_only_for_violated_classes():
    C = torch.tensor([[0.5, 0.0], [0.2, 0.3]], dtype=torch.float64)  # coverages 0.7, 0.3; target 0.475
    lam = MeanRecallMinCoverage(alpha=0.95, tau=0.1).update_multipliers(None, C)
    assert lam[0].item() == 0.0
    assert lam[1].item() == pytest.approx(100 * (1 - np.exp((0.3 - 0.475) / 0.1)))


def test_gmean_hmean_gradient_finite_with_zero_recall():
    C = torch.tensor([[0.5, 0.0], [0.5, 0.0]], dtype=torch.float64)  # class 1 recall 0
    for obj in (GMean(), HMean()):
        g = obj.gradient(C)
        assert torch.isfinite(g).all()
        assert g[1, 1] > g[0, 0] > 0  # the zero-recall class has the largest weight
        assert obj.value(C).item() == 0.0


def test_head_tail_needs_counts():
    with pytest.raises(ValueError, match="class_counts"):
        MinHeadTailRecall().value(_confusion())


def test_custom_objective_validation():
    with pytest.raises(TypeError, match="scalar torch tensor"):
        CallableObjective(lambda C: 1.0).value(_confusion())
    with pytest.raises(TypeError, match="metric must be"):
        get_objective(3)
    with pytest.raises(ValueError, match="Valid names: gmean, hmean"):
        get_objective("worst")


@pytest.mark.parametrize(
    "obj, match",
    [
        (MinRecall(omega=-1), "omega"),
        (MinRecall(beta=2), "beta"),
        (GMean(recall_floor=0), "recall_floor"),
        (MeanRecallMinCoverage(alpha=1.5), "alpha"),
        (MeanRecallMinCoverage(tau=0), "tau"),
        (MinHeadTailRecall(head_fraction=1.0), "head_fraction"),
    ],
)
def test_invalid_objective_parameters(obj, match):
    with pytest.raises(ValueError, match=match):
        get_objective(obj)


def test_objectives_compare_and_repr():
    assert MinRecall(omega=5) == MinRecall(omega=5) != MinRecall(omega=6)
    assert repr(MinRecall(omega=5)) == "MinRecall(omega=5, beta=0.0)"


def test_sensitivity_rows_sum_to_zero():
    """Softmax logits are shift-invariant, so each row of dpsi/dA sums to zero."""
    C = _confusion()
    M = objective_logit_sensitivity(C, GMean().gradient(C), smoothing=0.01)
    torch.testing.assert_close(M.sum(dim=1), torch.zeros(K, dtype=torch.float64))


# ------------------------------------------------------------------ the registry
@pytest.mark.parametrize("cls", BUILTIN_OBJECTIVES, ids=lambda cls: cls.name)
def test_every_registered_objective_is_reachable_everywhere(cls):
    """The registry is the one list: names, metric functions, scorers, the report, the
    persistence allow-list and the documentation all follow it."""
    from pathlib import Path

    import skselmix.metrics as metrics
    from skselmix import SelMixClassifier
    from skselmix.persistence import TRUSTED_TYPES

    name = cls.name
    assert name in get_objective_names() and type(get_objective(name)) is cls
    score = getattr(metrics, f"{name}_score")
    assert f"{name}_score" in metrics.__all__ and name in metrics.objective_scorer_names()
    rng = np.random.RandomState(0)
    y_true, y_pred = np.repeat(np.arange(4), [40, 20, 10, 5]), rng.randint(0, 4, size=75)
    head = {"head_labels": [0, 1]} if cls is MinHeadTailRecall else {}
    report = metrics.classification_report_balanced(y_true, y_pred, output_dict=True, **head)["objectives"]
    label = cls.label.format(alpha=0.95)
    assert report[label] == pytest.approx(score(y_true, y_pred, **head))
    assert f"{cls.__module__}.{cls.__qualname__}" in TRUSTED_TYPES
    api = (Path(__file__).parents[1] / "docs" / "api.rst").read_text()
    assert f"   {cls.__name__}\n" in api and f"   {name}_score\n" in api
    assert f'``"{name}"``' in SelMixClassifier.__doc__.split("s : float")[0]


# -------------------------------------------- objective parameters are estimator parameters
def test_objective_parameters_are_searchable_as_metric_params():
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    from skselmix import HMeanMinCoverage, MeanRecallMinCoverage, SelMixClassifier

    estimator = SelMixClassifier(metric=MeanRecallMinCoverage(alpha=0.9), max_iter=20, device="cpu", random_state=0)
    params = estimator.get_params(deep=True)
    assert params["metric__alpha"] == 0.9 and {"metric__tau", "metric__lambda_max"} <= set(params)
    assert "metric__alpha" not in SelMixClassifier(metric="mean_recall_min_coverage").get_params()  # strings stay

    copy = clone(estimator)
    assert copy.metric is not estimator.metric and copy.metric == estimator.metric
    copy.set_params(metric__alpha=0.5)
    assert copy.metric.alpha == 0.5 and estimator.metric.alpha == 0.9  # clones do not share the objective
    with pytest.raises(ValueError, match="Invalid parameter 'alpah' for objective MeanRecallMinCoverage"):
        copy.set_params(metric__alpah=0.5)

    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 4)) + np.repeat(np.eye(3, 4) * 2, [80, 50, 20], axis=0)
    y = np.repeat([0, 1, 2], [80, 50, 20])
    search = GridSearchCV(estimator, {"metric__alpha": [0.5, 0.9]}, cv=3).fit(X, y)
    assert [p["metric__alpha"] for p in search.cv_results_["params"]] == [0.5, 0.9]
    assert search.best_estimator_.objective_.alpha == search.best_params_["metric__alpha"]
    hmean = clone(SelMixClassifier(metric=HMeanMinCoverage(recall_floor=0.05)))
    assert hmean.get_params()["metric__recall_floor"] == 0.05


# ------------------------------------------------ issue 34, goal 7: objectives declare
@pytest.mark.parametrize("cls", [*BUILTIN_OBJECTIVES, __import__("skselmix").CallableObjective])
def test_every_parameter_has_one_constraint_and_get_params_follows_the_signature(cls):
    import inspect

    expected = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    instance = cls(lambda c: c.trace()) if expected and expected[0] == "func" else cls()
    assert list(instance.get_params()) == expected
    assert set(cls._parameter_constraints) == set(expected)
    instance.validate()


@pytest.mark.parametrize("cls, bad", [
    ("MinRecall", {"beta": 1.5}), ("MinRecall", {"omega": -1.0}), ("GMean", {"recall_floor": 0.0}),
    ("HMeanMinCoverage", {"recall_floor": 1.0}), ("HMeanMinCoverage", {"tau": 0.0}),
    ("MeanRecallMinCoverage", {"alpha": float("inf")}), ("MinHeadTailRecall", {"head_fraction": 1.0}),
])
def test_a_bad_parameter_is_named_with_its_objective(cls, bad):
    import skselmix

    ((name, value),) = bad.items()
    with pytest.raises(ValueError, match=f"'{name}' parameter of {cls}"):
        getattr(skselmix, cls)(**bad).validate()


def test_capabilities_replace_name_checks():
    from skselmix.metrics._scorer import _NEEDS_CLASS_COUNTS

    assert {cls.name for cls in BUILTIN_OBJECTIVES if cls.needs_class_counts} == _NEEDS_CLASS_COUNTS == {
        "min_head_tail_recall"}
    assert {cls.name for cls in BUILTIN_OBJECTIVES if cls.coverage_constraint} == {
        "mean_recall_min_coverage", "hmean_min_coverage"}
    with pytest.raises(TypeError, match="'func' parameter of CallableObjective"):
        __import__("skselmix").CallableObjective(3).validate()
