"""Warm-start heads: the linear classifiers SelMix fine-tunes from.

SelMix is a fine-tuning method; it starts from an ERM or a logit-adjusted head
(REFERENCE.md). Both are fitted here by full-batch L-BFGS, which is
deterministic (no sampling) and needs no learning rate.
"""

from collections import Counter
from typing import NamedTuple

import numpy as np
import torch
from scipy.optimize import minimize

from .._limits import LIMITS
from .._memory import release_freed_memory
from .._parameters import WARM_STARTS
from .device import exact_dtype, profile_for
from .features import row_blocks
from .fold_starts import nested_fold_plan
from .softmax import flush_tiny_, picked_log_proba_and_proba_

LBFGS_MEMORY = 10  # scipy's L-BFGS-B default number of correction pairs (maxcor)


def _log_prior(counts):
    """Log class frequencies of each row of ``counts`` (H, K). An empty class counts as one
    row, or as the smallest present class when weights make that smaller than one."""
    smallest = torch.where(counts > 0, counts, torch.inf).amin(dim=1, keepdim=True).clamp_max(1.0)
    counts = torch.maximum(counts, smallest)
    return torch.log(counts / counts.sum(dim=1, keepdim=True))


class Preconditioner:
    """A change of variables ``coef = theta @ forward`` for L-BFGS (``inverse``: its inverse).

    L-BFGS converges fast when the loss is about equally curved in every direction.
    The curvature of a linear head's cross-entropy in ``coef`` follows the second
    moment ``S`` of the features, which for embeddings of a pretrained network
    spans orders of magnitude. With ``forward = L^{-1}``, ``L L^T = (S + tr(S)/D I) / 2``
    (``S`` shrunk halfway to its isotropic part, so near-empty directions are not
    blown up), L-BFGS works on features that are nearly white. The optimum is
    the same; the path to it is shorter: on embedding-like rows the fold heads
    converged in about a third of the passes over the rows instead of stopping at
    the iteration cap (benchmarks/perf_notes.md).

    ``S`` is label-free (computed from the features alone), like the feature map;
    it decides how fast the heads converge, not what they learn from labels.
    """

    def __init__(self, forward, inverse):
        self.forward, self.inverse = forward, inverse


def feature_preconditioner(X, sample_weight=None):
    """The :class:`Preconditioner` of features ``X`` (n, d), or None when ``d`` is large
    (above ``LIMITS.precondition_max_features``) or the features are all zero."""
    n, d = X.shape
    if d > LIMITS.precondition_max_features or n == 0:
        return None
    if not isinstance(X, torch.Tensor):  # features on a Dask cluster: a map-reduce over chunks
        second_moment = X.second_moment(sample_weight)
    elif sample_weight is None:
        second_moment = (X.T @ X).to(exact_dtype(X.device)) / n
    else:
        second_moment = torch.zeros((d, d), dtype=exact_dtype(X.device), device=X.device)
        w = sample_weight.to(device=X.device, dtype=X.dtype).unsqueeze(1)
        for start, stop in row_blocks(n, d, profile_for(X.device).activation_block):
            second_moment += (X[start:stop] * w[start:stop]).T @ X[start:stop]
        second_moment /= float(sample_weight.to(second_moment.dtype).sum())
    trace = float(torch.trace(second_moment))
    if not (trace > 0 and np.isfinite(trace)):
        return None
    eye = torch.eye(d, dtype=exact_dtype(X.device), device=X.device)
    cholesky = torch.linalg.cholesky(0.5 * (second_moment + (trace / d) * eye))
    forward = torch.linalg.solve_triangular(cholesky, eye, upper=False)
    return Preconditioner(forward.to(X.dtype), cholesky.to(X.dtype))


class FittedHeads(NamedTuple):
    """What :func:`fit_linear_heads` returns: the heads and what the solver said.

    ``coef`` (H, K, d) and ``intercept`` (H, K); ``n_iter``: L-BFGS iterations (the
    most of any run when heads are fitted one at a time); ``at_cap``: whether a run
    stopped at its iteration cap instead of converging.
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    n_iter: int
    at_cap: bool


def fit_linear_head(X, y, n_classes, *, kind, l2, init=None, **options):
    """Fit one head ``logits = X W^T + b`` by L-BFGS: :func:`fit_linear_heads` with one head.

    ``init`` is ``(coef (K, D), intercept (K,))`` or None; returns ``coef`` (K, D)
    and ``intercept`` (K,).
    """
    if init is not None:
        init = (init[0].unsqueeze(0), init[1].unsqueeze(0))
    coef, intercept = fit_linear_heads(X, y, n_classes, kind=kind, l2=l2, init=init, **options)[:2]
    return coef[0], intercept[0]


def fit_linear_heads(
    X, y, n_classes, *, kind, l2, fold=None, n_folds=1, max_iter=100, tol=1e-4, class_weight=None,
    sample_weight=None, init=None, preconditioner="auto", progress=None, profile=None,
):
    """Fit heads ``logits = X W_h^T + b_h`` by L-BFGS on (logit-adjusted) cross-entropy.

    One head on every row, or with ``fold`` one head per fold, head ``h``
    trained on the rows outside fold ``h``. While a pass over the rows is
    small (rows x D x K below the device profile's ``small_fit_work``) the fold
    heads are fitted in one L-BFGS run on the sum of their losses (they share no
    parameter, so the sum's minimum is every head's own minimum), every head
    evaluated on every row: the per-evaluation overhead of torch and scipy is
    paid once instead of once per head. Above it the heads keep one joint run in
    which each fold's gathered rows evaluate the heads that train on them, until
    that run's L-BFGS history would be large (above ``joint_history_bytes`` and
    ``joint_history_fraction`` of ``X``); then each head has its own run on its
    gathered rows, from ``init`` or else from a head fitted on a subset of those
    rows (:mod:`~skselmix._torch.fold_starts`): fewer iterations than from zero
    where the fold heads' L-BFGS runs are long (benchmarks/perf_notes.md).

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    y : torch.Tensor of shape (n,), long
    n_classes : int
    kind : {"logit_adjusted", "balanced", "cross_entropy"}
        ``"logit_adjusted"`` minimises the cross-entropy of ``logits + log pi``
        (Menon et al., 2021, tau = 1) so that ``argmax logits`` targets balanced
        error; ``"balanced"`` weighs each class's loss by ``1 / pi`` (sklearn's
        ``class_weight="balanced"``); ``"cross_entropy"`` is plain ERM. ``pi``
        are the class frequencies of each head's own rows.
    l2 : float
        Penalty ``l2 / 2 * ||W_h||^2`` on every head (the bias is not penalised).
    fold : torch.Tensor of shape (n,), long, default=None
        Fold of each row, in ``[0, n_folds)``; None: one head on every row.
    n_folds : int, default=1
        Number of folds, and of heads, when ``fold`` is given.
    max_iter : int
        Largest number of L-BFGS iterations (100, as sklearn's LogisticRegression).
        In practice the gradient tolerance ends the fit first.
    tol : float
        Gradient tolerance of L-BFGS (largest absolute gradient entry, in the
        unit-RMS coordinates below), 1e-4 like sklearn's LogisticRegression;
        a tighter tolerance made the warm start most of a large fit's time.
    class_weight : torch.Tensor of shape (K,), default=None
        Per-class loss weights (each head's loss is the weighted mean over its
        rows); ``None`` weighs all samples equally.
    sample_weight : torch.Tensor of shape (n,), default=None
        Per-row loss weights, multiplied with ``class_weight``; the class
        frequencies behind ``"logit_adjusted"`` and ``"balanced"`` are
        weighted by them too, so an integer weight acts like repeated rows.
    init : tuple of torch.Tensor, default=None
        ``(coef (H, K, d), intercept (H, K))`` to start L-BFGS from; zeros when ``None``.
    preconditioner : Preconditioner, None or "auto", default="auto"
        Change of variables of L-BFGS (:class:`Preconditioner`); ``"auto"``
        computes it from ``X`` (all rows, weighted by ``sample_weight``), ``None``
        uses the scalar ``sqrt(d)`` alone.
    progress : callable, default=None
        Called after each L-BFGS iteration with a line saying how far the run is
        (a :class:`~skselmix._progress.PhaseProgress` prints it with ``verbose``).
    profile : DeviceProfile, default=None
        The sizes to work in (``activation_block``, ``small_fit_work``, the joint run's
        history); None: the profile of ``X``'s device.

    Returns
    -------
    heads : FittedHeads
        ``coef`` (H, K, d), ``intercept`` (H, K), the L-BFGS iteration count and
        whether the iteration cap stopped it.
    """
    if kind not in WARM_STARTS:
        raise ValueError(f"Unknown init {kind!r}. Valid values: {', '.join(WARM_STARTS)}.")
    dtype, device = X.dtype, X.device
    n, d = X.shape
    k = n_classes
    n_heads = 1 if fold is None else n_folds
    heads = torch.arange(n_heads, device=device)
    # Each head's loss is the weighted mean over its rows: normalise its weights to sum to one.
    # Unweighted single heads keep no weight matrix and divide by n at the end.
    plain = fold is None and sample_weight is None and class_weight is None and kind != "balanced"
    scale = 1.0 / max(n, 1) if plain else 1.0
    if isinstance(preconditioner, str) and preconditioner == "auto":
        preconditioner = feature_preconditioner(X, sample_weight)
    options = {"l2": l2, "scale": scale, "max_iter": max_iter, "tol": tol, "preconditioner": preconditioner,
               "progress": progress}
    profile = profile_for(device) if profile is None else profile
    every_row_run = fold is None or n * d * k < profile.small_fit_work
    if isinstance(X, torch.Tensor) and init is None and not every_row_run:
        if not _joint_run_fits(n_heads, k, X, profile):
            # One run a head, each from a nested start (fold_starts); each run weighs its own rows.
            def own_rows(held_out):
                return _own_rows_group(X, y, fold, held_out, k, kind, class_weight, sample_weight, profile)

            return _nested_fit(X, own_rows, n_heads, k, **options)
    weights, offset = head_loss_weights(y, k, n_heads, kind, fold, class_weight, sample_weight)
    offset = None if offset is None else offset.to(dtype)
    weights = None if plain else (weights / weights.sum(dim=0)).to(dtype)
    if not isinstance(X, torch.Tensor):
        # Features on a Dask cluster (cluster_features.ClusterFeatures): every head reads every
        # row (a fold's own head weighs its rows by zero), one task per chunk an evaluation.
        return lbfgs_run(X.loss_evaluator(y, weights, offset, n_heads, k), n_heads, k, d, dtype, device, init,
                         **options, label=_heads_label(n_heads))
    if every_row_run:
        # Every head on every row in one run (a fold's own head weighs its rows by zero): the
        # fewest tensor operations an evaluation.
        every_row = RowGroup(None, None, y, weights, offset, n_heads * k, profile)
        return _fit_run(X, [every_row], n_heads, k, init, **options, label=_heads_label(n_heads))

    def gathered(rows, columns, run_heads):
        """The rows ``rows`` for the heads ``columns`` (``run_heads``: their indices in the run)."""
        return RowGroup(rows, run_heads, y.index_select(0, rows),
                        weights.index_select(0, rows).index_select(1, columns),
                        None if offset is None else offset.index_select(0, columns), max(columns.shape[0] * k, d),
                        profile)

    if _joint_run_fits(n_heads, k, X, profile):
        # One run; each fold's rows, gathered, evaluate the heads that train on them.
        trained = [torch.nonzero(heads != f).squeeze(1) for f in range(n_heads)]
        groups = [gathered(torch.nonzero(fold == f).squeeze(1), trained[f], trained[f]) for f in range(n_heads)]
        return _fit_run(X, groups, n_heads, k, init, **options, label=_heads_label(n_heads))
    # One run per head on its own rows from the given start when the heads' joint L-BFGS
    # history would be large (it can exceed the input, and the joint run then needed more
    # evaluations).
    fitted = []
    for h in range(n_heads):
        group = gathered(torch.nonzero(fold != h).squeeze(1), heads[h : h + 1], None)
        fitted.append(_fit_run(X, [group], 1, k, (init[0][h : h + 1], init[1][h : h + 1]), **options,
                               label=f"fold head {h + 1} of {n_heads}"))
    return FittedHeads(torch.cat([run.coef for run in fitted]), torch.cat([run.intercept for run in fitted]),
                       max(run.n_iter for run in fitted), any(run.at_cap for run in fitted))


def _joint_run_fits(n_heads, k, X, profile):
    """Whether ``n_heads`` heads on ``X`` may share one L-BFGS run: its float64 (s, y) history
    within the profile's ``joint_history_bytes`` or ``joint_history_fraction`` of ``X``."""
    n, d = X.shape
    history = n_heads * (k * d + k) * 2 * LBFGS_MEMORY * 8
    return history <= max(profile.joint_history_bytes, profile.joint_history_fraction * X.element_size() * n * d)


def _own_rows_group(X, y, fold, held_out, k, kind, class_weight, sample_weight, profile):
    """The :class:`RowGroup` of one head on every row outside the folds ``held_out``, its loss
    weights and logit offsets from those rows alone (:func:`head_loss_weights` of one head)."""
    rows = torch.nonzero(~torch.isin(fold, torch.as_tensor(held_out, device=fold.device))).squeeze(1)
    y_rows = y.index_select(0, rows)
    row_weight = None if sample_weight is None else sample_weight.index_select(0, rows)
    weights, offset = head_loss_weights(y_rows, k, 1, kind, class_weight=class_weight, sample_weight=row_weight)
    return RowGroup(rows, None, y_rows, (weights / weights.sum()).to(X.dtype),
                    None if offset is None else offset.to(X.dtype), max(k, X.shape[1]), profile)


def _nested_fit(X, own_rows, n_folds, k, **options):
    """The ``n_folds`` fold heads, one L-BFGS run each, from the nested starts of
    :func:`~skselmix._torch.fold_starts.nested_fold_plan`; ``own_rows(held_out)`` is the
    :class:`RowGroup` of every row outside the folds ``held_out``."""
    plan = nested_fold_plan(n_folds)
    starts_left = Counter(run.start for run in plan)  # how many runs still start from each run
    runs, heads, n_iter = [], [None] * n_folds, []
    for run in plan:
        start = None if run.start is None else (runs[run.start].coef, runs[run.start].intercept)
        if run.start is not None:
            starts_left[run.start] -= 1
            if not starts_left[run.start]:
                runs[run.start] = None  # a start no later run needs: let its K x D head go
        if run.fold is not None:
            label = f"fold head {run.fold + 1} of {n_folds}"
        else:
            label = f"start of fold heads {run.held_out[0] + 1}-{run.held_out[-1] + 1} of {n_folds}"
        runs.append(_fit_run(X, [own_rows(run.held_out)], 1, k, start, **options, label=label))
        n_iter.append(runs[-1].n_iter)
        if run.fold is not None:
            heads[run.fold] = runs[-1]
    return FittedHeads(torch.cat([head.coef for head in heads]), torch.cat([head.intercept for head in heads]),
                       max(n_iter), any(head.at_cap for head in heads))


def _heads_label(n_heads):
    return "one head" if n_heads == 1 else f"{n_heads} heads together"


def head_loss_weights(y, n_classes, n_heads, kind, fold=None, class_weight=None, sample_weight=None):
    """Each row's weight in each head's loss, and the heads' logit offsets.

    Returns ``weights`` (n, H) float64, zero for a row of head ``h``'s own fold,
    carrying ``sample_weight`` and the class weights (``class_weight``, or
    ``1 / pi`` for ``kind="balanced"``), and ``offset`` (H, K) float64, the log class
    frequencies of each head's rows for ``kind="logit_adjusted"`` (None otherwise).
    See :func:`fit_linear_heads` for the kinds.
    """
    device, k = y.device, n_classes
    # weights[r, h]: weight of row r in head h's loss (0 for a row of fold h).
    exact = exact_dtype(device)
    weights = torch.ones((y.shape[0], 1), dtype=exact, device=device) if fold is None else (
        fold.unsqueeze(1) != torch.arange(n_heads, device=device)).to(exact)
    if sample_weight is not None:
        weights = weights * sample_weight.to(device=device, dtype=exact).unsqueeze(1)
    counts = torch.zeros((k, n_heads), dtype=exact, device=device).index_add_(0, y, weights).T  # (H, K)
    log_prior = _log_prior(counts)
    offset = log_prior if kind == "logit_adjusted" else None
    if kind == "balanced" and class_weight is None:
        class_weight = torch.exp(-log_prior)
        class_weight = class_weight / class_weight.mean(dim=1, keepdim=True)
    if class_weight is not None:
        weights = weights * class_weight.to(device=device, dtype=exact).expand(n_heads, k).T[y]
    return weights, offset


class RowGroup:
    """Rows an L-BFGS run reads together: every row of ``X`` (``rows`` None, read as slices)
    or gathered ``rows``; the heads of the run they train (``heads`` None: all of them);
    their labels, loss weights (rows x those heads) and those heads' logit offsets."""

    def __init__(self, rows, heads, y, weights, offset, width, profile):
        self.rows, self.heads, self.y, self.weights, self.offset = rows, heads, y, weights, offset
        # Bound the (rows x heads x K) activations, and with gathered rows the copied features
        # (whole-batch activations can be several times the input).
        self.blocks = list(row_blocks(y.shape[0], width, profile.activation_block))


def add_block_terms(xb, yb, wb, offset, coef, intercept, h, k, loss, grad_coef, grad_intercept):
    """Add a block of rows' share of the heads' loss and gradient, in place.

    ``xb`` (rows, d) features, ``yb`` (rows,) labels, ``wb`` (rows, h) loss weights or None
    (every weight one), ``offset`` (h, K) logit offsets or None, ``coef`` (h * K, d) and
    ``intercept`` (h * K,) the heads; ``loss`` (a 0-d tensor) takes minus the picked log
    probabilities, ``grad_coef`` (h * K, d) and ``grad_intercept`` (h * K,) their gradient.
    The warm start's arithmetic, block by block, for :func:`rows_evaluator` (which a Dask
    chunk's task also runs on its rows: :mod:`~skselmix._torch.cluster_features`).
    """
    n_rows = xb.shape[0]
    logits = torch.addmm(intercept, xb, coef.T).view(n_rows, h, k)
    if offset is not None:
        logits += offset
    index = yb.view(-1, 1, 1).expand(-1, h, 1)
    picked, residual = picked_log_proba_and_proba_(logits, index, flush=wb is None)
    # -1 at each row's class, for every head: scatter_add_ of it is faster than index_put_.
    residual.scatter_add_(2, index, torch.full((1, 1, 1), -1.0, dtype=xb.dtype, device=xb.device).expand(n_rows, h, 1))
    if wb is None:
        loss -= picked.sum(dtype=loss.dtype)
    else:
        loss -= (picked * wb).sum(dtype=loss.dtype)
        residual *= wb.unsqueeze(2)
        # Flushed once weighted: weights of about 1 / rows take probabilities
        # near the floor below it.
        flush_tiny_(residual, signed=True)
    residual = residual.view(n_rows, h * k)
    grad_coef.addmm_(residual.T, xb)
    grad_intercept.add_(residual.sum(dim=0))


def rows_evaluator(X, groups, n_heads, k):
    """``evaluate(coef (H, K * d), intercept (H, K)) -> (loss, grad_coef, grad_intercept)``
    over the row groups ``groups`` of ``X`` in memory (see :func:`fit_linear_heads`):
    minus the summed picked log probabilities (in the device's exact dtype) and its
    gradient (in ``X``'s dtype), unscaled and without the penalty."""
    d, device = X.shape[1], X.device

    def evaluate(coef, intercept):
        grad_coef = torch.zeros_like(coef)
        grad_intercept = torch.zeros_like(intercept)
        loss = torch.zeros((), dtype=exact_dtype(device), device=device)
        for group in groups:
            every = group.heads is None
            g_coef = coef if every else coef.index_select(0, group.heads)
            g_intercept = intercept if every else intercept.index_select(0, group.heads)
            g_grad_coef = grad_coef if every else torch.zeros_like(g_coef)
            g_grad_intercept = grad_intercept if every else torch.zeros_like(g_intercept)
            h = g_coef.shape[0]
            g_coef, g_intercept = g_coef.view(h * k, d), g_intercept.view(h * k)
            for start, stop in group.blocks:  # blocks of rows, not single rows
                xb = X[start:stop] if group.rows is None else X.index_select(0, group.rows[start:stop])
                add_block_terms(xb, group.y[start:stop], None if group.weights is None else group.weights[start:stop],
                                group.offset, g_coef, g_intercept, h, k, loss, g_grad_coef.view(h * k, d),
                                g_grad_intercept.view(h * k))
            if not every:  # the group's share of the gradient of the heads it trains
                grad_coef.index_add_(0, group.heads, g_grad_coef)
                grad_intercept.index_add_(0, group.heads, g_grad_intercept)
        return loss, grad_coef, grad_intercept

    return evaluate


def _fit_run(X, groups, n_heads, k, init, **options):
    """One L-BFGS-B run over ``n_heads`` heads on the row groups ``groups`` of ``X`` in memory."""
    return lbfgs_run(rows_evaluator(X, groups, n_heads, k), n_heads, k, X.shape[1], X.dtype, X.device, init,
                     **options)


def lbfgs_run(evaluate, n_heads, k, d, dtype, device, init, *, l2, scale, max_iter, tol, preconditioner=None,
              progress=None, label=""):
    """One L-BFGS-B run over ``n_heads`` heads whose loss and gradient on the rows come from
    ``evaluate`` (:func:`rows_evaluator`, or a Dask cluster's map-reduce); see
    :func:`fit_linear_heads`."""
    # L-BFGS works on theta, with coef = theta @ forward: coordinates in which the features are
    # nearly white (see Preconditioner). Without a preconditioner, forward = sqrt(d): the
    # coordinates the weights would have if every feature had unit RMS, so that L-BFGS's
    # first step (unit length) is on the scale of the solution instead of sqrt(d) times too
    # short; it about halved the loss evaluations on unit-RMS-norm rows (what SelMix feeds in).
    root_d = float(d) ** 0.5
    size = n_heads * k * d

    def to_coef(theta):  # theta (H * K, d) in the run's dtype
        return theta * root_d if preconditioner is None else theta @ preconditioner.forward

    def to_theta_gradient(grad):  # the chain rule of to_coef
        return grad * root_d if preconditioner is None else grad @ preconditioner.forward.T

    if init is None:
        start = np.zeros(size + n_heads * k)
    else:
        init_coef = init[0].detach().to(dtype).reshape(n_heads * k, d)
        theta = init_coef / root_d if preconditioner is None else init_coef @ preconditioner.inverse
        start = np.concatenate([theta.double().cpu().numpy().ravel(), init[1].detach().double().cpu().numpy().ravel()])

    def loss_and_gradient(params):
        # Loss and gradient in closed form (no autograd): the backward of addmm would
        # materialise a copy of X to form the weight gradient. Sums over
        # rows are taken in float64, so scipy's line search sees a smooth loss.
        flat = torch.as_tensor(params, device=device)
        coef = to_coef(flat[:size].reshape(n_heads * k, d).to(dtype)).view(n_heads, k * d)
        intercept = flat[size:].reshape(n_heads, k).to(dtype)
        with torch.no_grad():
            loss, grad_coef, grad_intercept = evaluate(coef, intercept)
            coef64 = coef.double()
            loss = loss * scale + 0.5 * l2 * coef64.pow(2).sum()
            grad_coef = (grad_coef.double() * scale + l2 * coef64).view(n_heads * k, d)
            grad_theta = to_theta_gradient(grad_coef if preconditioner is None else grad_coef.to(dtype))
            grad = torch.cat([grad_theta.double().reshape(-1), grad_intercept.double().reshape(-1) * scale])
        last_loss[0] = float(loss)
        return last_loss[0], grad.cpu().numpy()

    last_loss, iterations = [np.nan], [0]

    def report(_):  # scipy calls it after each iteration
        iterations[0] += 1
        progress(f"L-BFGS iteration {iterations[0]} ({label}), loss {last_loss[0]:.6g}")

    # scipy's L-BFGS-B, as sklearn's LogisticRegression uses: torch.optim.LBFGS would import
    # torch._dynamo on first use, seconds in every fresh process (a worker of a search).
    result = minimize(
        loss_and_gradient,
        start,
        method="L-BFGS-B",
        jac=True,
        callback=None if progress is None else report,
        options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(np.float64).eps, "maxls": 50},
    )
    # The evaluations' temporaries (blocks of activations, float64 copies of the heads) sit in
    # the heap that glibc keeps: hand them back before the next run or the loop (_memory.py).
    release_freed_memory()
    params = torch.as_tensor(result.x, device=device)
    coef = to_coef(params[:size].reshape(n_heads * k, d).to(dtype)).view(n_heads, k, d)
    # status 1: the iteration (or evaluation) limit stopped L-BFGS-B, as sklearn's
    # _check_optimize_result reports for LogisticRegression.
    return FittedHeads(coef, params[size:].reshape(n_heads, k).to(dtype), int(result.nit), result.status == 1)
