"""Where SelMix's feedback comes from: a hold-out, or out-of-fold predictions (cross-fitting).

The training loop steps a stack of ``H`` heads (a ``heads.LinearStack`` or
``network.NetworkStack``: the methods here read a stack only through ``logits``,
``coef`` and ``intercept``, so they never ask which kind it is), and asks its
feedback object (the interface :class:`Feedback`) for the warm-start stack, which
rows each head trains on, the confusion matrix that judges the stack (and drives
multipliers, gains and selection), the held-out logits that calibrate it, and the
head to return when the judged stack is not itself the model (:meth:`Feedback.all_rows_head`).
``_feedback_factory.build_feedback`` chooses the scheme for a fit.

* :class:`HoldOutFeedback`: one head trained on the training rows, judged on
  separate validation rows (``X_val``, or a stratified ``validation_fraction``).
* :class:`CrossFitFeedback`: ``F`` heads, head ``f`` trained on every fold but
  ``f``; each labelled row is predicted by the one head that never trained on it,
  and these out-of-fold predictions are pooled into one confusion matrix. Every
  labelled row gives feedback and trains ``F - 1`` heads.
"""

from abc import ABC, abstractmethod

import torch

from .._confusion import balanced_confusion
from .device import exact_dtype, profile_for
from .features import row_blocks
from .head_fitter import HeadFitter
from .heads import LinearStack
from .records import AllRowsHead, RefitRecipe
from .sampler import head_pools


def class_means(x, y, n_classes, weights=None):
    """(Weighted) mean row of each class (zeros for an empty class) and which classes have rows."""
    if not isinstance(x, torch.Tensor):  # features on a Dask cluster: a map-reduce over chunks
        return x.class_means(y, n_classes, weights)
    sums = torch.zeros(n_classes, x.shape[1], dtype=x.dtype, device=x.device)
    if weights is None:
        sums.index_add_(0, y, x)
    else:  # weighted rows a block at a time, not a weighted copy of x
        w = weights.to(x.dtype).unsqueeze(1)
        for start, stop in row_blocks(x.shape[0], x.shape[1], profile_for(x.device).activation_block):
            sums.index_add_(0, y[start:stop], x[start:stop] * w[start:stop])
    weights = None if weights is None else weights.to(exact_dtype(x.device))
    counts = torch.bincount(y, weights=weights, minlength=n_classes).to(x.dtype)
    return sums / torch.where(counts > 0, counts, 1.0).unsqueeze(1), counts > 0


def _ones_or(weights, like):
    """``weights``, or ones (in the device's exact dtype) for every row of ``like`` when there are none."""
    return torch.ones(like.shape[0], dtype=exact_dtype(like.device), device=like.device) if weights is None else weights


def weighted_class_counts(y, n_classes, weights=None):
    """Rows (or their total weight) per class, float64 on the CPU."""
    weights = None if weights is None else weights.cpu().to(torch.float64)
    return torch.bincount(y.cpu(), weights=weights, minlength=n_classes).to(torch.float64)


class RowWeights:
    """What a feedback mode needs to know of ``sample_weight`` and ``class_weight``.

    ``sample_weight`` (one per labelled training row, at most one, or None) weighs the rows
    in the warm start's loss, in the within-class draws of anchors and partners,
    in the class prototypes and in the (out-of-fold) confusion matrix.
    ``class_weight`` (one per class, or None) weighs the warm start's loss only:
    the balanced confusion matrix normalises each class's row, and SelMix's
    pair distribution decides how often each class is drawn.
    """

    def __init__(self, sample_weight=None, class_weight=None, unit=1.0):
        self.sample_weight = sample_weight
        self.class_weight = class_weight
        self.unit = unit  # what the user's sample_weight was divided by (see _fit_inputs.relative_weights)


def predict_rows(x, rows, stack, head=0):
    """Classes that head ``head`` of ``stack`` predicts for ``x[rows]``, gathering at most the
    device profile's ``activation_block`` features (and logits) at a time instead of a copy
    of all the rows."""
    pred = torch.empty(rows.shape[0], dtype=torch.long, device=x.device)
    width = max(stack.coef.shape[1], x.shape[1], stack.widest)
    for start, stop in row_blocks(rows.shape[0], width, profile_for(x.device).activation_block):
        pred[start:stop] = torch.argmax(stack.logits(x.index_select(0, rows[start:stop]), head), dim=1)
    return pred


def fold_predictions(x, fold_rows, stack):
    """Each row's class by the head of its fold: ``fold_rows[f]`` are the rows of fold ``f``,
    predicted by head ``f`` of ``stack`` (:func:`predict_rows`). The out-of-fold predictions of
    cross-fitting, in memory or on a Dask chunk."""
    pred = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    for f, rows in enumerate(fold_rows):
        pred.index_copy_(0, rows, predict_rows(x, rows, stack, f))
    return pred


class Feedback(ABC):
    """What the training loop asks of a feedback scheme (``H`` heads, ``K`` classes).

    Attributes
    ----------
    x_train, y_train : torch.Tensor
        The labelled rows the heads train on (scaled float32 features on the fit
        device, class indices); SGD draws anchors and partners from them.
    n_heads : int
        ``H``, the heads stepped in lockstep.
    k : int
        ``K``.
    weights : RowWeights
        Sample and class weights of the training rows.
    fit_heads : HeadFitter
        Fits warm-start heads (through a cache when it has one).
    pools : ClassIndex
        The training rows of each (head, class), which SGD draws from.
    class_counts : torch.Tensor
        Rows (or their total weight) per class, float64 on the CPU: what the
        objectives' multipliers and the ``"auto"`` weight decay read.
    complete : bool
        Whether every class has rows that judge it (:meth:`unjudged_classes` is
        empty); when not, the loop warns.
    """

    def __init__(self, x_train, y_train, n_heads, n_classes, weights=None, fit_heads=None, fold=None):
        self.x_train, self.y_train = x_train, y_train
        self.n_heads, self.k = n_heads, n_classes
        self.weights = RowWeights() if weights is None else weights
        self.fit_heads = HeadFitter() if fit_heads is None else fit_heads
        self.pools = head_pools(y_train, n_classes, fold=fold, n_heads=n_heads, weights=self.weights.sample_weight)
        self.class_counts = weighted_class_counts(y_train, n_classes, self.weights.sample_weight)

    def _fit_heads(self, kind, l2, **options):
        """Warm-start heads of ``kind`` on the training rows, with their sample and class weights."""
        return self.fit_heads(
            self.x_train, self.y_train, self.k, kind=kind, l2=l2, class_weight=self.weights.class_weight,
            sample_weight=self.weights.sample_weight, **options,
        )

    def unjudged_classes(self):
        """Indices of the classes without rows of positive weight that judge them (none by
        default: out of fold, every class is judged on its own rows)."""
        return []

    @property
    def complete(self):
        return not self.unjudged_classes()

    @property
    def n_train(self):
        """The training rows' count, or their total weight in the user's units: the ``n_train``
        of ``weight_decay="auto"``."""
        return float(self.class_counts.sum()) * self.weights.unit

    @abstractmethod
    def warm_start(self, kind, l2):
        """The warm-start stack of ``kind`` at L2 ``l2``, of the architecture
        :attr:`fit_heads` fits."""

    @abstractmethod
    def given_start(self, coef, intercept):
        """The :class:`~skselmix._torch.heads.LinearStack` that starts from a user's head
        ``coef`` (K, D), ``intercept`` (K,)."""

    def prototypes(self):
        """Class prototypes (K, D): the mean feature of each class, for the gains."""
        return self.class_means_under(lambda x: x)

    @abstractmethod
    def class_means_under(self, featurize):
        """The mean of ``featurize(rows)`` over each class's prototype rows (K, width): the
        prototypes of a stack whose features move (see ``network.NetworkStack.gain``)."""

    @abstractmethod
    def judging_rows(self):
        """Labels and weights (or None) of the rows whose predictions make up :meth:`confusion`,
        in the order of :meth:`judged_predictions`: the unit the step selection resamples."""

    @abstractmethod
    def judged_predictions(self, stack):
        """Predicted classes of the :meth:`judging_rows`, each by a head of ``stack`` that never
        trained on it."""

    def confusion(self, stack, predictions=None):
        """The balanced confusion matrix (K, K) that judges ``stack``, from its
        :meth:`judged_predictions` (``predictions``, when the caller has them already)."""
        y, weights = self.judging_rows()
        if predictions is None:
            predictions = self.judged_predictions(stack)
        return balanced_confusion(y, predictions, self.k, sample_weight=weights)[0]

    @abstractmethod
    def held_out_labels(self):
        """Labels and weights (or None) of the rows that judge the stack."""

    @abstractmethod
    def held_out_logits(self, stack, rows):
        """Logits of the judging rows ``rows`` (indices into :meth:`held_out_labels`), each
        by a head of ``stack`` that never trained on it."""

    def all_rows_head(self, stack, refit):
        """The :class:`~skselmix._torch.records.AllRowsHead` a fit of linear heads ``stack``
        returns instead of the judged stack, or None (the default) when the judged stack,
        one head, is itself the model. ``refit`` is the warm start's
        :class:`~skselmix._torch.records.RefitRecipe` or
        :class:`~skselmix._torch.records.GivenHead`."""
        return None


class HoldOutFeedback(Feedback):
    """One head, trained on ``(x_train, y_train)``, judged on ``(x_val, y_val)``.

    A class without validation rows takes its confusion row (and prototype) from
    the training rows.
    """

    def __init__(self, x_train, y_train, x_val, y_val, n_classes, weights=None, val_weight=None, fit_heads=None):
        super().__init__(x_train, y_train, 1, n_classes, weights, fit_heads)
        self.x_val, self.y_val = x_val, y_val
        self.val_weight = val_weight
        # A class whose validation rows all weigh zero has none, as one without rows.
        weights = None if val_weight is None else val_weight.cpu()
        judged = torch.bincount(y_val.cpu(), weights=weights, minlength=n_classes)
        self._unjudged = torch.nonzero(judged <= 0).squeeze(1).tolist()
        # Training rows stand in for the classes the validation rows cannot judge.
        self._stand_in, self._judging = None, (y_val, val_weight)
        if self._unjudged:
            unjudged = (judged <= 0).to(y_train.device)
            self._stand_in = torch.nonzero(unjudged[y_train]).squeeze(1)
            train_weight = self.weights.sample_weight
            self._judging = (
                torch.cat([y_val, y_train[self._stand_in]]),
                None if val_weight is None and train_weight is None else torch.cat([
                    _ones_or(val_weight, y_val), _ones_or(train_weight, y_train)[self._stand_in]]),
            )

    def unjudged_classes(self):
        """Indices of the classes without a validation row of positive weight."""
        return self._unjudged

    def class_means_under(self, featurize):
        means, present = class_means(featurize(self.x_val), self.y_val, self.k, self.val_weight)
        if not bool(present.all()):  # only then the training rows (featurized again at every refresh)
            train_means, _ = class_means(featurize(self.x_train), self.y_train, self.k, self.weights.sample_weight)
            means = torch.where(present.unsqueeze(1), means, train_means)
        return means

    def warm_start(self, kind, l2):
        """The warm-start stack (1, K, D): ``kind`` fitted on the training rows."""
        return self._fit_heads(kind, l2)

    def given_start(self, coef, intercept):
        return LinearStack(coef.unsqueeze(0), intercept.unsqueeze(0))

    def held_out_labels(self):
        """Labels and weights (or None) of the rows that judge the head: the validation rows."""
        return self.y_val, self.val_weight

    def held_out_logits(self, stack, rows):
        """Logits of the head on validation rows ``rows`` (indices into them)."""
        return stack.logits(self.x_val[rows])

    def judging_rows(self):
        """The validation rows, then the training rows of classes with none (or only rows of
        zero weight) there: each class is judged by its validation rows when it has any."""
        return self._judging

    def judged_predictions(self, stack):
        pred = torch.argmax(stack.logits(self.x_val), dim=1)
        if self._stand_in is None:
            return pred
        return torch.cat([pred, torch.argmax(stack.logits(self.x_train.index_select(0, self._stand_in)), dim=1)])


class CrossFitFeedback(Feedback):
    """``F`` heads on the labelled rows ``(x, y)``; head ``f`` never trains on rows of fold ``f``.

    Parameters
    ----------
    x, y : torch.Tensor
        All labelled rows (features on the fit device, class indices).
    fold : torch.Tensor of shape (n,)
        Fold of each row, in ``[0, F)``.
    n_folds : int
        ``F``.
    n_classes : int
        ``K``.
    weights : RowWeights, default=None
        Sample and class weights of the labelled rows.
    fit_heads : HeadFitter, default=None
        Fits the warm-start heads (through a cache when it has one).
    """

    def __init__(self, x, y, fold, n_folds, n_classes, weights=None, fit_heads=None):
        super().__init__(x, y, n_folds, n_classes, weights, fit_heads, fold=fold)
        self.fold = fold
        self.fold_rows = [torch.nonzero(fold == f).squeeze(1) for f in range(n_folds)]

    def class_means_under(self, featurize):
        return class_means(featurize(self.x_train), self.y_train, self.k, self.weights.sample_weight)[0]

    def warm_start(self, kind, l2):
        """Each fold's head fitted from zeros on the rows outside its fold (one joint L-BFGS run).

        Not from a warm start on all rows, although that would converge in fewer
        iterations: such a start has seen the fold, and L-BFGS stops (at its
        tolerance) before the weak penalty erases what it learnt there. On rows
        with a private one-hot feature and random labels, out-of-fold recall was
        then far above chance (tests/test_cross_fitting.py checks it is not).
        """
        return self._fit_heads(kind, l2, fold=self.fold, n_folds=self.n_heads)

    def given_start(self, coef, intercept):
        # A user's head is the start of every fold head; it may have seen every row, so
        # the step-0 feedback is only as honest as that head's provenance.
        return LinearStack(coef.expand(self.n_heads, *coef.shape).clone(),
                           intercept.expand(self.n_heads, *intercept.shape).clone())

    def held_out_labels(self):
        """Labels and sample weights (or None) of the rows that judge the heads: every labelled row."""
        return self.y_train, self.weights.sample_weight

    def held_out_logits(self, stack, rows):
        """Out-of-fold logits of labelled rows ``rows``, each by the head that never trained on it."""
        fold = self.fold[rows]
        logits = torch.empty((rows.shape[0], self.k), dtype=stack.coef.dtype, device=stack.coef.device)
        for f in range(self.n_heads):
            mine = torch.nonzero(fold == f).squeeze(1)
            logits[mine] = stack.logits(self.x_train[rows[mine]], f)
        return logits

    def judging_rows(self):
        """Every labelled row, with its sample weight (or None)."""
        return self.y_train, self.weights.sample_weight

    def judged_predictions(self, stack):
        if not isinstance(self.x_train, torch.Tensor):  # features on a Dask cluster (linear heads)
            return self.x_train.fold_predictions(self.fold, stack.coef, stack.intercept)
        return fold_predictions(self.x_train, self.fold_rows, stack)  # each row by the head that never saw it

    def all_rows_head(self, stack, refit):
        """The warm start on every labelled row, which the fit carries through the fold heads'
        steps and returns: fitted from the mean fold head (a few L-BFGS iterations) for a
        :class:`RefitRecipe`, or a user's :class:`GivenHead` itself.

        Returning the mean of the fold heads instead (as releases before 0.11 did after
        step 0) swapped models at the first step: each fold head sees only part of each
        tail class, and at K = 917 with 3-row tails the fold mean lost 0.054 test min
        head-tail recall to the all-rows head, four times what the steps gained.
        """
        if isinstance(refit, RefitRecipe):
            mean = (stack.coef.mean(dim=0, keepdim=True), stack.intercept.mean(dim=0, keepdim=True))
            head = self._fit_heads(refit.kind, refit.l2, init=mean)
        else:
            head = LinearStack(refit.coef.unsqueeze(0), refit.intercept.unsqueeze(0))
        pools = head_pools(self.y_train, self.k, weights=self.weights.sample_weight)
        return AllRowsHead(head, pools)
