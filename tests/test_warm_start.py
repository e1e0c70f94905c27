"""Warm-start heads: L-BFGS with a closed-form gradient reaches the optimum of the intended loss."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from skselmix._torch.threads import fit_threads
from skselmix._torch.warm_start import feature_preconditioner, fit_linear_head, fit_linear_heads


@pytest.fixture(autouse=True)
def one_thread():
    """These tiny fits call the warm start directly, without fit's thread limit; on 2
    threads they ran 5x slower (idle OpenMP and BLAS workers spinning)."""
    with fit_threads(0, 1, torch.device("cpu")):
        yield


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    sizes = [200, 60, 15]
    X = np.vstack([rng.normal(size=(n, 5)) + rng.normal(scale=1.5, size=5) for n in sizes])
    return torch.tensor(X), torch.tensor(np.repeat([0, 1, 2], sizes))


@pytest.mark.parametrize("kind", ["cross_entropy", "logit_adjusted", "balanced"])
def test_head_is_a_stationary_point_of_its_loss(problem, kind):
    X, y = problem
    l2 = 1e-2
    coef, intercept = fit_linear_head(X, y, 3, kind=kind, l2=l2, max_iter=500, tol=1e-10)
    c, b = coef.clone().requires_grad_(True), intercept.clone().requires_grad_(True)
    logits = X @ c.T + b
    weight = None
    log_prior = torch.log(torch.bincount(y, minlength=3).to(X.dtype) / y.shape[0])  # every class present
    if kind == "logit_adjusted":
        logits = logits + log_prior
    if kind == "balanced":
        weight = torch.exp(-log_prior)
        weight = weight / weight.mean()
    loss = F.cross_entropy(logits, y, weight=weight) + 0.5 * l2 * c.pow(2).sum()
    grad_c, grad_b = torch.autograd.grad(loss, (c, b))
    assert grad_c.abs().max() < 1e-6 and grad_b.abs().max() < 1e-6


def test_cross_entropy_head_matches_sklearn(problem):
    X, y = problem
    l2 = 1e-2
    coef, intercept = fit_linear_head(X, y, 3, kind="cross_entropy", l2=l2, max_iter=500, tol=1e-10)
    lr = LogisticRegression(C=1.0 / (l2 * len(y)), tol=1e-10, max_iter=5000).fit(X.numpy(), y.numpy())
    np.testing.assert_allclose(coef.numpy(), lr.coef_, rtol=1e-3, atol=1e-4)
    # sklearn's multinomial intercepts are defined up to a common shift
    np.testing.assert_allclose(
        intercept.numpy() - intercept.numpy().mean(), lr.intercept_ - lr.intercept_.mean(), atol=1e-3
    )


@pytest.mark.parametrize("kind", ["logit_adjusted", "balanced"])
def test_row_blocks_give_the_same_head(problem, kind):
    """Accumulating the loss over row blocks (bounded activations at large K) changes nothing."""
    import dataclasses

    import skselmix._torch.device as device

    X, y = problem
    whole = fit_linear_head(X, y, 3, kind=kind, l2=1e-2, max_iter=50)
    # 17-row blocks, the last one partial
    blocked = fit_linear_head(X, y, 3, kind=kind, l2=1e-2, max_iter=50,
                              profile=dataclasses.replace(device.CPU, activation_block=3 * 17))
    for a, b in zip(whole, blocked):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_auto_weight_decay_scales_with_the_training_size(blobs3):
    from skselmix import SelMixClassifier

    X, y = blobs3
    X_val, y_val = X[::5], y[::5]
    clf = SelMixClassifier(max_iter=0, device="cpu").fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.weight_decay == "auto" and clf.init_ == "logit_adjusted"
    assert clf.weight_decay_ == pytest.approx(0.1 / X.shape[0])
    fixed = SelMixClassifier(max_iter=0, weight_decay=1e-3, device="cpu").fit(X, y, X_val=X_val, y_val=y_val)
    assert fixed.weight_decay_ == 1e-3
    # a weaker penalty fits the training data more tightly: larger weights
    assert np.linalg.norm(clf.coef_) > np.linalg.norm(fixed.coef_)


@pytest.mark.parametrize("bad, error", [("strong", TypeError), (-1e-3, ValueError), (float("nan"), ValueError)])
def test_bad_weight_decay_is_rejected(blobs3, bad, error):
    from skselmix import SelMixClassifier

    with pytest.raises(error, match="weight_decay"):
        SelMixClassifier(weight_decay=bad, device="cpu").fit(*blobs3)


@pytest.mark.parametrize("mode", ["joint", "nested", "joint by fold", "one at a time"])
def test_joint_heads_equal_separate_fits(mode, monkeypatch):
    """Fold heads fitted together (one L-BFGS run on the sum of their losses) are the heads
    fitted one at a time on their own rows: the heads share no parameter. The modes are
    the four ways fit_linear_heads walks the rows: every head on every row (small data),
    each fold's gathered rows for the heads that train on them (large data), and with a
    large joint L-BFGS history one run per head on its gathered rows, from nested starts
    or from a given start; blocks of 37 gathered rows."""
    import dataclasses

    import skselmix._torch.device as device

    if mode != "joint":
        monkeypatch.setattr(
            device,
            "CPU",
            dataclasses.replace(
                device.CPU,
                small_fit_work=0,
                activation_block=6 * 37,
                joint_history_bytes=0,
                joint_history_fraction=1e9 if mode == "joint by fold" else 0.0,
            ),
        )
    rng = np.random.RandomState(0)
    X = torch.as_tensor(rng.normal(size=(400, 6)), dtype=torch.float32)
    y = torch.as_tensor(rng.randint(0, 3, 400))
    fold = torch.as_tensor(rng.randint(0, 4, 400))
    member = fold.unsqueeze(1) != torch.arange(4)
    w = torch.as_tensor(rng.rand(400) + 0.5)
    cw = torch.tensor([1.0, 2.0, 0.5])
    tight = {"l2": 1e-2, "max_iter": 500, "tol": 1e-8}
    for kind, kw in (
        ("logit_adjusted", {}),
        ("balanced", {"sample_weight": w}),
        ("cross_entropy", {"class_weight": cw}),
    ):
        # A given start of zeros is where a run without one starts: the same heads.
        start = {"init": (torch.zeros(4, 3, 6), torch.zeros(4, 3))} if mode == "one at a time" else {}
        coef, intercept = fit_linear_heads(X, y, 3, kind=kind, fold=fold, n_folds=4, **tight, **kw, **start)[:2]
        assert coef.shape == (4, 3, 6) and intercept.shape == (4, 3)
        for f in range(4):
            rows = torch.nonzero(member[:, f]).squeeze(1)
            own = {"sample_weight": w[rows]} if "sample_weight" in kw else kw
            c, b = fit_linear_head(X[rows], y[rows], 3, kind=kind, **tight, **own)
            torch.testing.assert_close(coef[f], c, rtol=0, atol=2e-4)
            torch.testing.assert_close(intercept[f] - intercept[f].mean(), b - b.mean(), rtol=0, atol=2e-4)


@pytest.mark.parametrize("n_folds", range(2, 11))
def test_nested_starts_never_see_the_fold(n_folds):
    """Every fold's head is fitted by one run of the plan; a run starts from zero or from an
    earlier run whose rows are a subset of its own (its held-out folds include the run's),
    and a fold's run holds out that fold alone. Two runs start from zero."""
    from skselmix._torch.fold_starts import nested_fold_plan

    plan = nested_fold_plan(n_folds)
    assert sorted(run.fold for run in plan if run.fold is not None) == list(range(n_folds))
    assert sum(run.start is None for run in plan) == 2
    for index, run in enumerate(plan):
        if run.fold is not None:
            assert run.held_out == (run.fold,)
        if run.start is not None:
            assert run.start < index and set(run.held_out) <= set(plan[run.start].held_out)
            assert set(plan[run.start].held_out) != set(run.held_out)


def test_a_fold_head_does_not_depend_on_its_folds_labels(monkeypatch):
    """Out of fold stays out of fold with nested starts: relabelling the rows of fold 0 leaves
    head 0 bit for bit as it was (neither its run nor any run it starts from reads them),
    and changes the other heads."""
    import dataclasses

    import skselmix._torch.device as device
    import skselmix._torch.warm_start as warm_start

    fit_run = warm_start._fit_run
    monkeypatch.setattr(device, "CPU", dataclasses.replace(device.CPU, small_fit_work=0, joint_history_bytes=0,
                                                             joint_history_fraction=0.0))
    runs = []
    monkeypatch.setattr(warm_start, "_fit_run", lambda *args, **options: runs.append(options["label"])
                        or fit_run(*args, **options))
    rng = np.random.RandomState(3)
    X = torch.as_tensor(rng.normal(size=(300, 5)), dtype=torch.float32)
    y = torch.as_tensor(rng.randint(0, 4, 300))
    fold = torch.as_tensor(rng.randint(0, 5, 300))
    relabelled = y.clone()
    relabelled[fold == 0] = torch.as_tensor(rng.randint(0, 4, int((fold == 0).sum())))
    options = {"kind": "logit_adjusted", "l2": 1e-3, "fold": fold, "n_folds": 5}
    coef, intercept = fit_linear_heads(X, y, 4, **options)[:2]
    coef_r, intercept_r = fit_linear_heads(X, relabelled, 4, **options)[:2]
    assert torch.equal(coef[0], coef_r[0]) and torch.equal(intercept[0], intercept_r[0])
    assert not torch.equal(coef[1:], coef_r[1:])
    assert sum(label.startswith("start of fold heads") for label in runs) == 2 * 3  # nested starts ran


def test_a_class_missing_from_a_heads_rows_counts_as_one_row():
    """A fold head whose rows lack a class (all of its rows sit in that fold) gets the
    prior floor of one row for it, as a head fitted alone would: finite heads, same fit."""
    rng = np.random.RandomState(1)
    X = torch.as_tensor(rng.normal(size=(90, 4)), dtype=torch.float32)
    y = torch.as_tensor(np.repeat([0, 1, 2], [50, 35, 5]))
    fold = torch.as_tensor(rng.randint(0, 3, 90))
    fold[y == 2] = 0  # head 0 never sees class 2
    # One preconditioner for both fits (a head fitted alone would take its rows' own): the
    # stopping point along the absent class's direction depends on it.
    tight = {
        "kind": "logit_adjusted",
        "l2": 1e-2,
        "max_iter": 500,
        "tol": 1e-8,
        "preconditioner": feature_preconditioner(X),
    }
    coef, intercept = fit_linear_heads(X, y, 3, fold=fold, n_folds=3, **tight)[:2]
    assert torch.isfinite(coef).all() and torch.isfinite(intercept).all()
    rows = torch.nonzero(fold != 0).squeeze(1)
    c, b = fit_linear_head(X[rows], y[rows], 3, **tight)
    # The absent class's logit only ever falls (its loss is flat towards -inf), so where L-BFGS
    # stops along it is arbitrary, and through the softmax that moves the present classes'
    # weights by under 2 % (1.7 % measured with the preconditioned run); those weights and
    # the predictions agree.
    torch.testing.assert_close(coef[0, :2], c[:2], rtol=2e-2, atol=1e-4)
    assert torch.equal((X @ coef[0].T + intercept[0]).argmax(1), (X @ c.T + b).argmax(1))


def test_the_warm_start_reports_its_solver(monkeypatch):
    """n_iter_warm_start_ counts L-BFGS iterations; a run stopped by the cap warns, as
    LogisticRegression does, and a converged one does not."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    import skselmix._torch.warm_start as warm_start
    from skselmix import SelMixClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 5)) + np.repeat(np.eye(3, 5) * 2, 50, axis=0)
    y = np.repeat([0, 1, 2], 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SelMixClassifier(max_iter=10, device="cpu", random_state=0).fit(X, y)
    assert 0 < clf.n_iter_warm_start_ < 100
    monkeypatch.setitem(warm_start.fit_linear_heads.__kwdefaults__, "max_iter", 2)
    with pytest.warns(ConvergenceWarning, match=r"logit_adjusted warm start stopped at its L-BFGS iteration cap \(2\)"):
        capped = SelMixClassifier(max_iter=10, device="cpu", random_state=0).fit(X, y)
    assert capped.n_iter_warm_start_ == 2
    given = SelMixClassifier(max_iter=10, cv=None, device="cpu", random_state=0).fit(X, y, coef_init=clf.coef_)
    assert given.n_iter_warm_start_ == 0
