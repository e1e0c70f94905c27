"""Units of skselmix/_torch/feedback.py: what each feedback scheme judges, and with which heads."""

import numpy as np
import pytest
import torch

from skselmix._confusion import balanced_confusion
from skselmix._torch.feedback import CrossFitFeedback, HoldOutFeedback, RowWeights, class_means, weighted_class_counts
from skselmix._torch.heads import LinearStack


def _rows(n_per_class=(6, 4, 3), d=3, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    x = rng.normal(size=(y.size, d)) + 3 * np.eye(len(n_per_class), d)[y]
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)


def _constant_head(k, d, predicted):
    """A head that predicts class ``predicted`` for every row."""
    intercept = torch.full((k,), -10.0)
    intercept[predicted] = 10.0
    return torch.zeros((k, d)), intercept


def test_class_means_and_weighted_counts():
    x, y = _rows()
    w = torch.linspace(0.5, 2.0, y.shape[0], dtype=torch.float64)
    means, present = class_means(x.double(), y, 4, w)
    assert present.tolist() == [True, True, True, False] and means[3].abs().sum() == 0
    expected = (w[y == 1, None] * x.double()[y == 1]).sum(0) / w[y == 1].sum()
    torch.testing.assert_close(means[1], expected)
    torch.testing.assert_close(weighted_class_counts(y, 4, w)[:3], torch.stack([w[y == c].sum() for c in range(3)]))


def test_hold_out_judges_on_validation_rows_and_stands_in_for_missing_classes():
    x, y = _rows()
    x_val, y_val = _rows((2, 3, 0), seed=1)  # class 2 has no validation row
    feedback = HoldOutFeedback(x, y, x_val, y_val, 3)
    assert feedback.unjudged_classes() == [2] and not feedback.complete and feedback.n_heads == 1
    labels, weights = feedback.judging_rows()
    assert labels.tolist() == y_val.tolist() + [2, 2, 2] and weights is None  # class 2's training rows stand in
    coef, intercept = _constant_head(3, 3, predicted=1)
    stack = LinearStack(coef[None], intercept[None])
    predictions = feedback.judged_predictions(stack)
    assert predictions.tolist() == [1] * 8
    expected = balanced_confusion(labels, predictions, 3)[0]
    torch.testing.assert_close(feedback.confusion(stack), expected)
    prototypes = feedback.prototypes()
    torch.testing.assert_close(prototypes[2], x[y == 2].mean(0))  # from the training rows
    torch.testing.assert_close(prototypes[0], x_val[y_val == 0].mean(0))


def test_a_validation_class_of_zero_weight_is_unjudged():
    x, y = _rows()
    x_val, y_val = _rows((2, 2, 2), seed=1)
    val_weight = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    assert HoldOutFeedback(x, y, x_val, y_val, 3, val_weight=val_weight).unjudged_classes() == [1]


def test_cross_fitting_judges_every_row_by_the_head_that_never_trained_on_it():
    x, y = _rows()
    fold = torch.as_tensor(np.arange(y.shape[0]) % 3)
    feedback = CrossFitFeedback(x, y, fold, 3, 3)
    assert feedback.n_heads == 3 and feedback.complete
    # Head f predicts class f: a row's prediction names the head that judged it.
    heads = [_constant_head(3, 3, predicted=f) for f in range(3)]
    stack = LinearStack(torch.stack([h[0] for h in heads]), torch.stack([h[1] for h in heads]))
    assert feedback.judged_predictions(stack).tolist() == fold.tolist()
    logits = feedback.held_out_logits(stack, torch.arange(y.shape[0]))
    assert logits.argmax(1).tolist() == fold.tolist()
    # Head f's pools (keys f * K .. f * K + K - 1) hold every row outside fold f, and none inside.
    pools, k = feedback.pools, 3
    for f in range(3):
        start = int(pools.starts[f * k])
        rows = set(pools.order[start:start + int(pools.counts[f * k:(f + 1) * k].sum())].tolist())
        assert rows == set(torch.nonzero(fold != f).squeeze(1).tolist())


def test_cross_fitting_returns_an_all_rows_head_that_draws_from_every_row():
    from skselmix._torch.records import GivenHead, RefitRecipe

    x, y = _rows()
    fold = torch.as_tensor(np.arange(y.shape[0]) % 2)
    feedback = CrossFitFeedback(x, y, fold, 2, 3, weights=RowWeights())
    given = GivenHead(torch.ones(3, 3), torch.zeros(3))
    stacked = feedback.given_start(given.coef, given.intercept)
    assert stacked.coef.shape == (2, 3, 3) and torch.equal(stacked.coef[1], given.coef)
    # A user's head is the all-rows head itself; its pools hold every labelled row by class.
    head = feedback.all_rows_head(stacked, given)
    assert torch.equal(head.stack.coef[0], given.coef) and torch.equal(head.stack.intercept[0], given.intercept)
    assert head.pools.counts.tolist() == torch.bincount(y, minlength=3).tolist()
    assert sorted(head.pools.order.tolist()) == list(range(y.shape[0]))
    # A recipe refits the warm start on every row: the fit of all rows, not a fold's.
    # (Measured: within 1e-3 of the direct fit on all rows; the fold heads' mean is 0.13 away.)
    folds = feedback.warm_start("logit_adjusted", 0.1)
    refit = feedback.all_rows_head(folds, RefitRecipe("logit_adjusted", 0.1)).stack
    alone = HoldOutFeedback(x, y, x, y, 3).warm_start("logit_adjusted", 0.1)
    assert refit.coef.shape == (1, 3, 3)
    torch.testing.assert_close(refit.coef, alone.coef, atol=5e-3, rtol=0)
    assert float((folds.coef.mean(dim=0) - alone[0][0]).abs().max()) > 0.05
    # A hold-out head is its own model: nothing is carried beside it.
    assert HoldOutFeedback(x, y, x, y, 3).all_rows_head(folds, given) is None


@pytest.mark.parametrize("scheme", ["hold_out", "cross_fit"])
def test_n_train_counts_weight_in_the_users_units(scheme):
    x, y = _rows()
    w = torch.full((y.shape[0],), 0.5, dtype=torch.float64)
    weights = RowWeights(w, None, unit=2.0)  # weights were divided by 2 on the way in
    if scheme == "hold_out":
        feedback = HoldOutFeedback(x, y, x, y, 3, weights=weights)
    else:
        feedback = CrossFitFeedback(x, y, torch.as_tensor(np.arange(y.shape[0]) % 2), 2, 3, weights=weights)
    assert feedback.n_train == pytest.approx(y.shape[0] * 0.5 * 2.0)
