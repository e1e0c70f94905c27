"""The head a fit trains, behind one interface: a stack of linear heads, or of networks.

A fit trains ``H`` heads in lockstep (one, or one per fold). :class:`LinearStack` (here)
holds linear heads on the scaled features; :class:`~skselmix._torch.network.NetworkStack`
(``network.py``, which imports this module, never the other way) holds small ReLU
networks with a linear head on their penultimate activations. The loop, the feedback and
the estimator use only the methods below, so they never ask which kind they hold:

* ``tensors`` / ``with_tensors`` / ``is_weight_matrix``: the trainable tensors, for
  copies, moving averages and weight decay;
* ``features(x, head)``: what head ``head`` reads of rows ``x``; ``logits(x, head)``: its
  logits on them;
* ``gain(...)``: the gain matrix of the stack (the closed form of ``_gain`` needs a linear
  last layer, which both kinds have);
* ``all_rows_head(feedback, refit)``, ``model()`` and ``fitted(...)``: the head returned
  instead of the judged stack (or None), the returned model, and its numpy form
  (:class:`~skselmix._predict.LinearModel` or :class:`~skselmix._predict.NetworkModel`,
  which set the estimator's fitted attributes);
* ``sgd_steps(requests)``: the SGD steps of requests whose stacks have this kind;
* ``architecture`` and ``weight_elements``: what batched steps must share, and their size.

Which kind a fit trains is chosen once, by :func:`~skselmix._torch.architecture.architecture_of`
(see docs/contributing.rst for adding one).
"""

from typing import NamedTuple

import numpy as np
import torch

from .._gain import gain_from_sensitivity
from .._predict import LinearModel
from .draws import Stepped
from .softmax import softmax_

__all__ = ["FittedStart", "LinearStack", "float64_numpy", "head_logits", "linear_sgd_steps"]


class FittedStart(NamedTuple):
    """A warm start as its solver left it: the ``stack`` of heads, the solver's iterations
    (``n_iter``: L-BFGS iterations, or a network's Adam steps) and whether it stopped at its
    iteration cap (``at_cap``)."""

    stack: object  # a LinearStack or NetworkStack
    n_iter: int
    at_cap: bool


def float64_numpy(tensor):
    """A tensor of the fit as a float64 numpy array on the CPU (fitted state is numpy)."""
    return tensor.detach().cpu().numpy().astype(np.float64)


def head_logits(stack, x, head=0):
    """Logits (n, K) of head ``head`` of ``stack`` on rows ``x`` (n, D): its linear head on
    what it reads of them (``stack.features``). Every kind of stack answers ``logits`` so."""
    return torch.addmm(stack.intercept[head], stack.features(x, head), stack.coef[head].T)


class LinearStack(NamedTuple):
    """``H`` linear heads on the scaled features: ``coef`` (H, K, D), ``intercept`` (H, K)."""

    coef: torch.Tensor
    intercept: torch.Tensor

    architecture = None
    widest = 0  # widest hidden layer: none

    def tensors(self):
        return (self.coef, self.intercept)

    def with_tensors(self, tensors):
        return LinearStack(tensors[0], tensors[1])

    def is_weight_matrix(self, index):
        """Whether tensor ``index`` of :meth:`tensors` is a weight matrix (what weight decay shrinks)."""
        return index == 0

    def features(self, x, head=0):
        return x

    def logits(self, x, head=0):
        return head_logits(self, x, head)

    def mean(self):
        """The stack of one head, the mean of these (what pseudo-labels the unlabelled rows)."""
        return LinearStack(self.coef.mean(dim=0, keepdim=True), self.intercept.mean(dim=0, keepdim=True))

    @property
    def weight_elements(self):
        return self.coef.numel()

    def gain(self, feedback, prototypes, sensitivity, lambda_mean):
        """One gain matrix for the whole stack, at the mean head, with the warm start's
        ``prototypes`` (the features do not move). One matrix per fold head tied with it on
        Fashion-MNIST-LT (benchmarks/paired_notes.md), at F times the cost."""
        return gain_from_sensitivity(prototypes, self.coef.mean(dim=0), self.intercept.mean(dim=0), sensitivity,
                                     lambda_mean)

    def all_rows_head(self, feedback, refit):
        """The :class:`~skselmix._torch.records.AllRowsHead` the fit returns instead of this
        stack (the feedback's: cross-fitting refits the warm start on every row), or None
        when this stack, one head, is the model."""
        return feedback.all_rows_head(self, refit)

    def model(self):
        """The returned head (K, D), (K,) of a stack of one head (a hold-out head, or the
        all-rows head carried beside cross-fitted ones)."""
        if self.coef.shape[0] != 1:
            raise ValueError(f"a stack of {self.coef.shape[0]} linear heads is judged, not returned")
        return self.coef[0], self.intercept[0]

    def fitted(self, coef, intercept):
        """The numpy model of the returned head ``(coef, intercept)`` of this stack."""
        return LinearModel(float64_numpy(coef), float64_numpy(intercept),
                           (float64_numpy(self.coef), float64_numpy(self.intercept)))

    @staticmethod
    def sgd_steps(requests):
        return linear_sgd_steps(requests)


def step_chunks(n_steps, per_step, budget):
    """Sizes of consecutive chunks of ``n_steps`` steps whose drawn batches (``per_step``
    elements a step) hold at most ``budget`` elements (at least one step a chunk)."""
    size = max(1, budget // max(per_step, 1))
    return [min(size, n_steps - start) for start in range(0, n_steps, size)]


def linear_sgd_steps(requests):
    """The SGD steps of ``requests`` whose stacks are linear (runs with the same step
    settings, see :attr:`~skselmix._torch.draws.StepRequest.key`), their heads stacked into
    one set of batched products.

    Each request asks for ``n_steps`` SGD steps of cross-entropy on mixed features
    (label = anchor class) of its stack ``(coef (H, K, D), intercept (H, K))``, and of
    the stack of its ``beside`` request when it has one; every head takes its own batch
    of pairs from its row of the pair distribution, with anchors and partners from the
    rows it trains on, drawn from its own request's
    :class:`~skselmix._torch.draws.RunDraws`, so a run steps exactly as it would alone.

    Returns each request's :class:`~skselmix._torch.draws.Stepped`: new iterates and their
    moving average (the iterates themselves when ``average_decay`` is 0). The gradient
    of softmax cross-entropy is written out (``p - onehot``), which avoids autograd
    bookkeeping on this hot path; the pairs, rows and mixing weights of a run of steps
    (:func:`step_chunks`) are drawn and mixed at once.
    """
    first = requests[0]
    decay = first.average_decay
    # Every stack stepped here: each request's, then its beside request's.
    parts = [part for request in requests for part in (request, request.beside) if part is not None]
    sizes = [part.heads.coef.shape[0] for part in parts]
    coef = torch.cat([part.heads.coef for part in parts])
    intercept = torch.cat([part.heads.intercept for part in parts])
    if decay:
        avg_coef = torch.cat([part.evaluated.coef for part in parts])
        avg_intercept = torch.cat([part.evaluated.intercept for part in parts])
    else:
        avg_coef, avg_intercept = coef, intercept
    batch, k = first.draws.batch_size, first.draws.n_classes
    step = first.step
    # One run's judged heads set the chunks, so a run's draws are its own whatever steps beside it.
    per_step = sizes[0] * batch * (first.sources.features.shape[1] + k)
    chunks = step_chunks(first.n_steps, per_step, first.profile.step_chunk_elements)
    # Features on a Dask cluster (cluster_features.ClusterFeatures) gather the rows of many steps at once.
    sources = [part.sources if isinstance(part.sources.features, torch.Tensor)
               else part.sources.features.prefetched(part, chunks) for part in parts]
    for chunk in chunks:
        # The batches of `chunk` steps are drawn and mixed at once: a step is then a
        # handful of tensor operations.
        drawn = [part.draws.mixed_chunk(size, part.pairs, part_sources, chunk, part.heads.coef.dtype)
                 for part, size, part_sources in zip(parts, sizes, sources)]
        mixed = drawn[0][0] if len(drawn) == 1 else torch.cat([m for m, _ in drawn], dim=1)
        targets = drawn[0][1] if len(drawn) == 1 else torch.cat([t for _, t in drawn], dim=1)
        del drawn
        for x, target in zip(mixed, targets):
            residual = softmax_(torch.baddbmm(intercept.unsqueeze(1), x, coef.transpose(1, 2)))
            residual -= target
            lr = first.learning_rate_at(step)
            coef.mul_(1.0 - lr * first.l2).baddbmm_(residual.transpose(1, 2), x, alpha=-lr / batch)
            intercept.add_(residual.sum(dim=1), alpha=-lr / batch)
            if decay:
                avg_coef.lerp_(coef, 1.0 - decay)
                avg_intercept.lerp_(intercept, 1.0 - decay)
            step += 1
    stepped = iter([
        Stepped(LinearStack(c, b), LinearStack(ac, ab))
        for c, b, ac, ab in zip(coef.split(sizes), intercept.split(sizes), avg_coef.split(sizes),
                                avg_intercept.split(sizes))
    ])
    return [next(stepped)._replace(beside=next(stepped) if request.beside is not None else None)
            for request in requests]
