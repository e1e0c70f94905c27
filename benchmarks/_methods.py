"""The methods compared in the quality benchmark, on identical features and splits.

Each method takes a :class:`Split` and returns a fitted :class:`Head` (logits =
``X @ coef.T + intercept`` on the split's scaled features, optionally followed by
a post-hoc decision rule). Feedback and selection use the validation part only;
nothing here sees the test part.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from skselmix import SelMixClassifier, SelMixClassifierCV, get_objective
from skselmix.metrics import (
    gmean_score,
    hmean_score,
    mean_recall_score,
    min_coverage_score,
    min_head_tail_recall_score,
    min_recall_score,
)

from ._internals import balanced_confusion, fit_linear_head, fit_temperature, recalls, resolve_weight_decay


def l2_strength(split):
    """The same L2 strength for every head: SelMix's default, ``weight_decay="auto"``."""
    return resolve_weight_decay("auto", split.y_train.shape[0])


@dataclass
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    head_classes: np.ndarray = field(default=None)

    @property
    def log_prior(self):
        counts = np.bincount(self.y_train, minlength=self.n_classes)
        return np.log(np.maximum(counts, 1) / counts.sum())


@dataclass
class Head:
    """A linear head and an optional post-hoc rule ``scores = f(logits)``."""

    coef: np.ndarray
    intercept: np.ndarray
    post_hoc: object = None
    history: list = None
    best_step: int = None
    #: What a SelMix fit said of itself: best_validation_score_, and the warm start's feedback
    #: value plus validation_gain_ (the estimate corrected for the selection).
    reported: float = None
    corrected: float = None

    def predict(self, X):
        logits = X @ self.coef.T + self.intercept
        scores = logits if self.post_hoc is None else self.post_hoc(logits)
        return np.argmax(scores, axis=1)


def _t(a, dtype=torch.float32):
    return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)


def _torch_head(split, kind, class_weight=None, init=None, max_iter=200):
    coef, intercept = fit_linear_head(
        _t(split.X_train), _t(split.y_train, torch.long), split.n_classes, kind=kind, l2=l2_strength(split),
        max_iter=max_iter, class_weight=None if class_weight is None else _t(class_weight),
        init=None if init is None else (_t(init.coef), _t(init.intercept)),
    )
    return Head(coef.numpy().astype(np.float64), intercept.numpy().astype(np.float64))


def val_confusion(split, head):
    pred = head.predict(split.X_val)
    return balanced_confusion(torch.as_tensor(split.y_val), torch.as_tensor(pred), split.n_classes)[0]


def _value(objective, split, head):
    counts = torch.as_tensor(np.bincount(split.y_train, minlength=split.n_classes), dtype=torch.float64)
    return float(objective.value(val_confusion(split, head), counts))


# ---------------------------------------------------------------- baselines
def erm(split, objective=None):
    """Plain cross-entropy (ERM)."""
    return _torch_head(split, "cross_entropy")


def balanced_ce_sklearn(split, objective=None):
    """sklearn LogisticRegression(class_weight="balanced"), same L2 strength."""
    C = 1.0 / (l2_strength(split) * split.X_train.shape[0])
    lr = LogisticRegression(class_weight="balanced", C=C, max_iter=300).fit(split.X_train, split.y_train)
    return Head(lr.coef_.astype(np.float64), lr.intercept_.astype(np.float64))


def balanced_ce_torch(split, objective=None):
    """Cross-entropy with class weights 1 / pi (the torch equivalent)."""
    w = np.exp(-split.log_prior)
    return _torch_head(split, "cross_entropy", class_weight=w / w.mean())


def la_loss(split, objective=None):
    """Logit-adjusted loss, tau = 1 (Menon et al., 2021): SelMix's warm start."""
    return _torch_head(split, "logit_adjusted")


def la_post_hoc(split, objective=None, base=None):
    """ERM (``base``, fitted here when None), then predict argmax (logits - log pi)."""
    head = erm(split) if base is None else Head(base.coef, base.intercept)
    log_prior = split.log_prior
    head.post_hoc = lambda logits: logits - log_prior
    return head


def _csl_step(obj, C, lam, mu, eta):
    """One multiplier update from a confusion matrix: ``(class weights, lam, mu)``.

    Recall objectives: l <- l * exp(-eta * r), normalised, weights K * l. Coverage
    constraints: mu_j <- max(0, mu_j - eta * K * (cov_j - alpha / K)), weights 1 + mu.
    Weights are returned with mean one.
    """
    k = C.shape[0]
    if hasattr(obj, "alpha"):
        mu = np.maximum(0.0, mu - eta * k * (C.sum(dim=0).numpy() - obj.alpha / k))
        weights = 1.0 + mu
    else:
        lam = lam * np.exp(-eta * recalls(C).numpy())
        lam /= lam.sum()
        weights = k * lam
    return weights / weights.mean(), lam, mu


def csl(split, objective, rounds=10, etas=(0.25, 1.0, 4.0), start=None):
    """Cost-sensitive learning with multipliers from validation feedback (CSL / group-DRO style).

    Recall objectives: l <- l * exp(-eta * r_val), normalised; the head is re-fitted (warm, 30
    L-BFGS steps) with the logit-adjusted loss and class weights K * l. Coverage constraints:
    mu_j <- max(0, mu_j - eta * K * (cov_j - alpha / K)), class weights 1 + mu. The step size
    eta is chosen from ``etas`` and the round by the validation objective (a full re-fit
    with a large step overshoots: the worst class flips every round). ``start`` is the
    logit-adjusted head to start from (fitted here when None).
    """
    obj = get_objective(objective)
    k = split.n_classes
    start = la_loss(split) if start is None else start
    best, best_value = start, _value(obj, split, start)
    for eta in etas:
        head, lam, mu = start, np.full(k, 1.0 / k), np.zeros(k)
        for _ in range(rounds):
            weights, lam, mu = _csl_step(obj, val_confusion(split, head), lam, mu, eta)
            head = _torch_head(split, "logit_adjusted", class_weight=weights, init=head, max_iter=30)
            value = _value(obj, split, head)
            if value > best_value:
                best, best_value = head, value
    return best


def _plug_in_rule(objective, logits, y, log_prior, counts, iterations=40):
    """The post-hoc rule of the plug-in method, chosen on feedback ``logits`` / labels ``y``.

    Class probabilities eta(x) are the softmax of the logits after temperature scaling on the
    same feedback rows. At each step the gain matrix L = dpsi/dC (with the objective's
    multipliers) is taken at the Frank-Wolfe mixture of confusion matrices, and the plug-in
    rule argmax_j sum_i L_ij eta_i(x) / pi_i is evaluated on the feedback rows; the best
    deterministic member is kept.
    """
    obj = get_objective(objective)
    k = counts.shape[0]
    temperature = fit_temperature(logits, y, np.ones(y.shape[0]))  # plain (unweighted) log loss

    def rule(L):
        def post_hoc(z):
            z = z / temperature
            eta = np.exp(z - z.max(axis=1, keepdims=True))
            eta /= eta.sum(axis=1, keepdims=True)
            return (eta * np.exp(-log_prior)) @ L
        return post_hoc

    def confusion(post_hoc):
        pred = np.argmax(post_hoc(logits), axis=1)
        return balanced_confusion(torch.as_tensor(y), torch.as_tensor(pred), k)[0]

    best_rule = rule(np.eye(k))  # = post-hoc logit adjustment
    C_mix = confusion(best_rule)
    best_value = float(obj.value(C_mix, counts))
    mult = obj.init_multipliers(k, counts)
    for t in range(1, iterations + 1):
        mult = obj.update_multipliers(mult, C_mix, counts)
        member = rule(obj.gradient(C_mix, mult, counts).numpy())
        C_member = confusion(member)
        value = float(obj.value(C_member, counts))
        if value > best_value:
            best_rule, best_value = member, value
        gamma = 2.0 / (t + 2.0)
        C_mix = (1 - gamma) * C_mix + gamma * C_member
    return best_rule


def _counts(y, k):
    return torch.as_tensor(np.bincount(y, minlength=k), dtype=torch.float64)


def plug_in(split, objective, iterations=40, base=None):
    """Post-hoc plug-in classifier for the objective's linear approximation (Narasimhan et al., 2015),
    tuned on the validation rows. ``base`` is the ERM head (fitted here when None)."""
    base = erm(split) if base is None else base
    logits = split.X_val @ base.coef.T + base.intercept
    counts = _counts(split.y_train, split.n_classes)
    rule = _plug_in_rule(objective, logits, split.y_val, split.log_prior, counts, iterations)
    return Head(base.coef, base.intercept, rule)


# ------------------------------------------------------------ cross-fitting
def labelled(split):
    """The split with its validation rows added to the training rows (every labelled row)."""
    return Split(
        np.r_[split.X_train, split.X_val],
        np.r_[split.y_train, split.y_val],
        split.X_val,
        split.y_val,
        split.X_test,
        split.y_test,
        split.n_classes,
    )


def folds(y, n_folds, seed):
    """Fold of every row: stratified, shuffled (as ``SelMixClassifier(cv=n_folds)`` draws them)."""
    fold = np.empty(len(y), dtype=int)
    for f, (_, test) in enumerate(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(y, y)):
        fold[test] = f
    return fold


def _fold_split(full, fold, f):
    keep = fold != f
    return Split(full.X_train[keep], full.y_train[keep], None, None, None, None, full.n_classes)


def _out_of_fold_logits(full, fold, heads):
    logits = np.empty((len(full.y_train), full.n_classes))
    for f, head in enumerate(heads):
        rows = fold == f
        logits[rows] = full.X_train[rows] @ head.coef.T + head.intercept
    return logits


def plug_in_cv(split, objective, n_folds=5, seed=0, iterations=40, base=None):
    """The plug-in rule tuned on out-of-fold ERM logits of every labelled row (ERM fold heads,
    each fitted without its fold), applied to ERM on every labelled row (``base``)."""
    full = labelled(split)
    fold = folds(full.y_train, n_folds, seed)
    heads = [_torch_head(_fold_split(full, fold, f), "cross_entropy") for f in range(n_folds)]
    logits = _out_of_fold_logits(full, fold, heads)
    rule = _plug_in_rule(
        objective, logits, full.y_train, full.log_prior, _counts(full.y_train, full.n_classes), iterations
    )
    base = erm(full) if base is None else base
    return Head(base.coef, base.intercept, rule)


def csl_cv(split, objective, n_folds=5, seed=0, rounds=10, eta=1.0, start=None):
    """CSL with multipliers from out-of-fold feedback: each round, the fold heads' out-of-fold
    confusion updates the multipliers and every fold head is re-fitted (warm, 30 L-BFGS steps)
    with the new class weights; the round with the best out-of-fold objective gives the final
    weights, with which the head on every labelled row (``start``: LA on them) is re-fitted.
    One step size (eta = 1, the middle of the hold-out grid) keeps the cost at F heads per round.
    """
    obj = get_objective(objective)
    full = labelled(split)
    k = full.n_classes
    fold = folds(full.y_train, n_folds, seed)
    fold_splits = [_fold_split(full, fold, f) for f in range(n_folds)]
    heads = [la_loss(fs) for fs in fold_splits]
    counts = _counts(full.y_train, k)

    def oof_confusion(heads):
        pred = np.argmax(_out_of_fold_logits(full, fold, heads), axis=1)
        return balanced_confusion(torch.as_tensor(full.y_train), torch.as_tensor(pred), k)[0]

    C = oof_confusion(heads)
    best_weights, best_value = None, float(obj.value(C, counts))
    lam, mu = np.full(k, 1.0 / k), np.zeros(k)
    for _ in range(rounds):
        weights, lam, mu = _csl_step(obj, C, lam, mu, eta)
        heads = [
            _torch_head(fs, "logit_adjusted", class_weight=weights, init=h, max_iter=30)
            for fs, h in zip(fold_splits, heads)
        ]
        C = oof_confusion(heads)
        value = float(obj.value(C, counts))
        if value > best_value:
            best_weights, best_value = weights, value
    start = la_loss(full) if start is None else start
    if best_weights is None:
        return start
    return _torch_head(full, "logit_adjusted", class_weight=best_weights, init=start, max_iter=30)


def selmix(split, objective, start=None, **params):
    """SelMix (skselmix defaults), from the head ``start`` (or its own default warm start),
    with the validation rows as its hold-out feedback."""
    clf = SelMixClassifier(metric=objective, device="cpu", **params)
    init = {} if start is None else {"coef_init": start.coef, "intercept_init": start.intercept}
    clf.fit(split.X_train, split.y_train, X_val=split.X_val, y_val=split.y_val, **init)
    return Head(clf.coef_, clf.intercept_, history=clf.history_, best_step=clf.best_step_)


def selmix_cv(split, objective, cv=5, **params):
    """SelMix with cross-fitted feedback on every labelled row (training and validation rows)."""
    full = labelled(split)
    clf = SelMixClassifier(metric=objective, device="cpu", cv=cv, **params).fit(full.X_train, full.y_train)
    return Head(clf.coef_, clf.intercept_, history=clf.history_, best_step=clf.best_step_,
                reported=clf.best_validation_score_, corrected=clf.history_[0]["objective"] + clf.validation_gain_)


class Model:
    """A fitted SelMixClassifier judged like a :class:`Head` (through its own ``predict``):
    what an adapter fit (``hidden_layer_sizes``) is, having no single linear head."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.history, self.best_step = estimator.history_, estimator.best_step_

    def predict(self, X):
        return self.estimator.predict(X)


def selmix_adapter_cv(split, objective, hidden_layer_sizes, cv=5, **params):
    """SelMix with an adapter and cross-fitted feedback on every labelled row."""
    full = labelled(split)
    clf = SelMixClassifier(metric=objective, hidden_layer_sizes=hidden_layer_sizes, device="cpu", cv=cv, **params)
    return Model(clf.fit(full.X_train, full.y_train))


def selmix_search(split, objective, s_values, random_state=None):
    """SelMixClassifierCV over ``s_values`` on every labelled row; the head and the chosen ``s``."""
    full = labelled(split)
    clf = SelMixClassifierCV(metric=objective, s_values=s_values, device="cpu", random_state=random_state)
    clf.fit(full.X_train, full.y_train)
    return Head(clf.coef_, clf.intercept_, history=clf.history_, best_step=clf.best_step_), clf.s_


def selmix_grid_search(split, objective, s_values, cv=3, random_state=None):
    """GridSearchCV over ``s`` (scored by the estimator's own objective) of the default
    SelMixClassifier on every labelled row; the refitted head and the chosen ``s``."""
    from sklearn.model_selection import GridSearchCV

    full = labelled(split)
    search = GridSearchCV(
        SelMixClassifier(metric=objective, device="cpu", random_state=random_state), {"s": list(s_values)}, cv=cv
    ).fit(full.X_train, full.y_train)
    clf = search.best_estimator_
    return Head(clf.coef_, clf.intercept_, history=clf.history_, best_step=clf.best_step_), clf.s


def timed(method, split, *args, **kwargs):
    start = time.perf_counter()
    head = method(split, *args, **kwargs)
    return head, time.perf_counter() - start


def evaluate(split, head):
    y_true, y_pred = split.y_test, head.predict(split.X_test)
    labels = np.arange(split.n_classes)
    row = {
        "mean recall": mean_recall_score(y_true, y_pred, labels=labels),
        "min recall": min_recall_score(y_true, y_pred, labels=labels),
        "G-mean": gmean_score(y_true, y_pred, labels=labels),
        "H-mean": hmean_score(y_true, y_pred, labels=labels),
        "min coverage x K": split.n_classes * min_coverage_score(y_true, y_pred, labels=labels),
    }
    if split.n_classes >= 20:
        counts = np.bincount(split.y_train, minlength=split.n_classes)
        head_labels = np.argsort(-counts, kind="stable")[: int(0.9 * split.n_classes)]
        row["min head-tail recall"] = min_head_tail_recall_score(y_true, y_pred, head_labels=head_labels, labels=labels)
    recalls = np.array([np.mean(y_pred[y_true == c] == c) for c in labels])
    return row, recalls

