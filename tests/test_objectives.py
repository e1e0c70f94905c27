"""Objectives: values, derivatives (against autograd) and multipliers."""

import numpy as np
import pytest
import torch

from skselmix import (
    CallableObjective,
    GMean,
    HMean,
    MeanRecallMinCoverage,
    MinGroupRecall,
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
    if objective.name == "min_group_recall":
        medium = torch.tensor([True, True, False, False])  # COUNTS: 50 and 30 rows medium-shot, 10 and 5 few
        return lambda C: multipliers[0] * recall(C)[medium].mean() + multipliers[1] * recall(C)[~medium].mean()
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
    head = ({"head_labels": [0, 1]} if cls is MinHeadTailRecall
            else {"groups": {0: "a", 1: "b", 2: "b", 3: "a"}} if cls is MinGroupRecall else {})
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
        "min_head_tail_recall", "min_group_recall"}
    # Groups of one's own need no training counts.
    assert MinGroupRecall().needs_class_counts and not MinGroupRecall(groups=[0, 1]).needs_class_counts
    assert {cls.name for cls in BUILTIN_OBJECTIVES if cls.coverage_constraint} == {
        "mean_recall_min_coverage", "hmean_min_coverage"}
    with pytest.raises(TypeError, match="'func' parameter of CallableObjective"):
        __import__("skselmix").CallableObjective(3).validate()


# ------------------------------------------------ issue 40, goal 3: worst-group objectives
def _brute_force_min_group_recall(recall, groups):
    """Each group's mean recall by a loop over its members, then the smallest."""
    means = []
    for group in dict.fromkeys(groups):  # in order of appearance; empty groups cannot appear
        members = [c for c, g in enumerate(groups) if g == group]
        means.append(sum(recall[c] for c in members) / len(members))
    return min(means)


@pytest.mark.parametrize("seed", range(5))
def test_min_group_recall_equals_a_brute_force_on_random_confusion_matrices(seed):
    rng = np.random.RandomState(seed)
    k = rng.randint(3, 30)
    rows = rng.dirichlet(np.full(k, 0.3), size=k)
    confusion = rows / k  # balanced: each row sums to 1/K
    groups = rng.choice(["x", "y", "z", "w"], size=k)
    counts = rng.choice([3, 15, 20, 50, 100, 101, 400], size=k).astype(float)
    shots = np.where(counts > 100, "many", np.where(counts >= 20, "medium", "few"))
    for objective, assigned, class_counts in [(MinGroupRecall(groups=groups), groups, None),
                                              (MinGroupRecall(), shots, counts)]:
        recall = [confusion[c, c] / confusion[c].sum() for c in range(k)]
        expected = _brute_force_min_group_recall(recall, list(assigned))
        assert float(objective.value(confusion, class_counts)) == pytest.approx(expected, abs=1e-12)
        torch_value = objective.value(torch.as_tensor(confusion), None if class_counts is None
                                      else torch.as_tensor(class_counts))
        assert float(torch_value) == pytest.approx(expected, abs=1e-12)
        recall = np.asarray(recall)
        resampled = objective.values_from_rates(np.stack([recall, recall[::-1]]), None, class_counts)
        assert resampled[0] == pytest.approx(expected, abs=1e-12)
        assert resampled[1] == pytest.approx(_brute_force_min_group_recall(recall[::-1], list(assigned)), abs=1e-12)


def test_min_group_recall_default_groups_ignore_empty_ones_and_bad_groups_are_named():
    confusion = np.diag([0.9, 0.6, 0.2]) / 3 + 0.0
    confusion[0, 1] = confusion[1, 2] = confusion[2, 0] = 0.0
    # No class above 100 rows: the many-shot group is empty and ignored (not a recall of 0).
    objective = MinGroupRecall()
    assert objective.class_groups(3, np.array([60.0, 20.0, 4.0]))[1] == ["medium", "few"]
    assert float(objective.value(confusion, np.array([60.0, 20.0, 4.0]))) == pytest.approx(0.2)
    assert float(objective.value(confusion, np.array([600.0, 200.0, 101.0]))) == pytest.approx((0.9 + 0.6 + 0.2) / 3)
    multipliers = objective.init_multipliers(3, np.array([60.0, 20.0, 4.0]))
    assert multipliers.shape == (2,)
    with pytest.raises(ValueError, match="groups has 2 entries for 3 classes"):
        MinGroupRecall(groups=["a", "b"]).value(confusion)
    with pytest.raises(ValueError, match="needs class_counts"):
        MinGroupRecall().value(confusion)
    with pytest.raises(ValueError, match="few_shot .* must not exceed many_shot"):
        MinGroupRecall(few_shot=200).validate()
    assert MinGroupRecall(groups=np.array([1, 2])) == MinGroupRecall(groups=np.array([1, 2]))
    assert MinGroupRecall(groups=np.array([1, 2])) != MinGroupRecall(groups=np.array([2, 1]))


def test_min_group_recall_fits_scores_and_reports_with_the_models_groups():
    from sklearn.model_selection import cross_val_score

    from skselmix import SelMixClassifier
    from skselmix.metrics import classification_report_balanced, min_group_recall_score, objective_scorer

    rng = np.random.RandomState(0)
    sizes = [150, 60, 25, 12]
    X = np.vstack([rng.normal(size=(n, 5)) + 1.5 * rng.normal(size=5) for n in sizes])
    y = np.repeat(np.arange(4), sizes)
    params = dict(max_iter=60, refresh_every=20, device="cpu", random_state=0)
    model = SelMixClassifier(metric="min_group_recall", **params).fit(X, y)
    assert len(model.history_[0]["multipliers"]) == 3  # many (150), medium (60, 25), few (12)
    counts = dict(zip(model.classes_.tolist(), model.class_counts_.tolist()))
    # score(), the metric function with the training counts, and the scorer agree.
    expected = min_group_recall_score(y, model.predict(X), class_counts=counts)
    assert model.score(X, y) == pytest.approx(expected)
    assert objective_scorer("min_group_recall")(model, X, y) == pytest.approx(expected)
    # Groups of one's own, in classes_ order; score follows the classes a test set holds.
    mine = SelMixClassifier(metric=MinGroupRecall(groups=["big", "big", "small", "small"]), **params).fit(X, y)
    keep = y != 1
    groups = {0: "big", 1: "big", 2: "small", 3: "small"}
    assert mine.score(X[keep], y[keep]) == pytest.approx(
        min_group_recall_score(y[keep], mine.predict(X[keep]), groups=groups))
    report = classification_report_balanced(y, mine.predict(X), groups=groups, output_dict=True)["objectives"]
    assert report["min group recall"] == pytest.approx(min(report["recall of group big"],
                                                           report["recall of group small"]))
    assert cross_val_score(mine, X, y, cv=2, scoring=objective_scorer("min_group_recall", groups=groups)).shape == (2,)


def test_objectives_built_of_parts_say_their_parts(capsys):
    """Issue 40, goal 3: a coverage objective's penalised value (-89 to -431 on a new user's
    sets) cannot be read; history_ and the verbose lines show mean recall and the worst
    coverage beside it, and a group objective each group's recall."""
    import warnings

    from skselmix import SelMixClassifier

    rng = np.random.RandomState(0)
    sizes = [150, 60, 25, 12]
    X = np.vstack([rng.normal(size=(n, 5)) + 1.5 * rng.normal(size=5) for n in sizes])
    y = np.repeat(np.arange(4), sizes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SelMixClassifier(metric="mean_recall_min_coverage", max_iter=40, refresh_every=20, verbose=1,
                                 device="cpu", random_state=0).fit(X, y)
    for record in model.history_:
        parts = record["parts"]
        assert set(parts) == {"mean_recall", "min coverage x K"}
        assert parts["mean_recall"] == pytest.approx(record["recalls"].mean())
        assert parts["min coverage x K"] == pytest.approx(record["coverages"].min() * 4)
        shortfall = np.maximum(0.95 / 4 - record["coverages"], 0).sum()
        assert record["objective"] == pytest.approx(parts["mean_recall"] - 4 * shortfall)
    steps = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[SelMix] step")]
    assert steps and all("(mean_recall 0." in line and "min coverage x K" in line for line in steps)
    grouped = SelMixClassifier(metric="min_group_recall", max_iter=0, device="cpu").fit(X, y)
    assert set(grouped.history_[0]["parts"]) == {"recall of many", "recall of medium", "recall of few"}
    assert grouped.history_[0]["objective"] == pytest.approx(min(grouped.history_[0]["parts"].values()))
    assert SelMixClassifier(max_iter=0, device="cpu").fit(X, y).history_[0]["parts"] == {}
