"""Warm-start heads: the linear classifiers SelMix fine-tunes from.

SelMix is a fine-tuning method; it starts from an ERM or a logit-adjusted head
(REFERENCE.md). Both are fitted here by full-batch L-BFGS, which is
deterministic (no sampling) and needs no learning rate.
"""

import numpy as np
import torch
from scipy.optimize import minimize

from ._features import row_blocks

WARM_STARTS = ("logit_adjusted", "balanced", "cross_entropy")
ACTIVATION_BLOCK = 2**21  # elements of one (rows x K) activation block: 8 MB in float32


def class_log_prior(labels, n_classes, dtype, device, sample_weight=None):
    """Log of the class frequencies (weighted by ``sample_weight`` when given)."""
    weights = None if sample_weight is None else sample_weight.to(torch.float64)
    counts = torch.bincount(labels, weights=weights, minlength=n_classes).to(dtype=dtype, device=device)
    # An empty class counts as one row (as many as a present class has at least, when weights are small).
    floor = 1.0 if sample_weight is None else min(1.0, float(counts[counts > 0].min()))
    return torch.log(counts.clamp_min(floor) / counts.sum())


def fit_linear_head(
    X, y, n_classes, *, kind, l2, max_iter=100, tol=1e-4, class_weight=None, sample_weight=None, init=None, rows=None
):
    """Fit ``logits = X W^T + b`` by L-BFGS on (logit-adjusted) cross-entropy.

    Parameters
    ----------
    X : torch.Tensor of shape (n, d)
    y : torch.Tensor of shape (n,), long
    n_classes : int
    kind : {"logit_adjusted", "balanced", "cross_entropy"}
        ``"logit_adjusted"`` minimises the cross-entropy of ``logits + log pi``
        (Menon et al., 2021, tau = 1) so that ``argmax logits`` targets balanced
        error; ``"balanced"`` weighs each class's loss by ``1 / pi`` (sklearn's
        ``class_weight="balanced"``); ``"cross_entropy"`` is plain ERM.
    l2 : float
        Penalty ``l2 / 2 * ||W||^2`` (the bias is not penalised).
    max_iter : int
        Largest number of L-BFGS iterations (100, as sklearn's LogisticRegression).
        In practice the gradient tolerance ends the fit first.
    tol : float
        Gradient tolerance of L-BFGS (largest absolute gradient entry, in the
        unit-RMS coordinates below), 1e-4 like sklearn's LogisticRegression.
        At 1e-6 the warm start took 35 to 38 loss evaluations at N=100k,
        D=512, K=100 and most of fit's time.
    class_weight : torch.Tensor of shape (K,), default=None
        Per-class loss weights (the loss is the weighted mean over samples);
        ``None`` weighs all samples equally.
    sample_weight : torch.Tensor of shape (n,), default=None
        Per-row loss weights, multiplied with ``class_weight``; the class
        frequencies behind ``"logit_adjusted"`` and ``"balanced"`` are
        weighted by them too, so an integer weight acts like repeated rows.
    init : tuple of torch.Tensor, default=None
        ``(coef, intercept)`` to start L-BFGS from; zeros when ``None``.
    rows : torch.Tensor of shape (m,), default=None
        Fit on these rows of ``X`` and ``y`` only (``sample_weight`` then has
        shape (m,)). The rows are gathered a block of at most
        ``ACTIVATION_BLOCK`` features at a time, so a fold's head never holds a
        copy of its rows (0.8x the features at 5 folds), at no cost in time.

    Returns
    -------
    coef : torch.Tensor of shape (K, d)
    intercept : torch.Tensor of shape (K,)
    """
    if kind not in WARM_STARTS:
        raise ValueError(f"Unknown init {kind!r}. Valid values: {', '.join(WARM_STARTS)}.")
    dtype, device = X.dtype, X.device
    if rows is not None:
        y = y[rows]
    log_prior = class_log_prior(y, n_classes, dtype, device, sample_weight)
    offset = log_prior if kind == "logit_adjusted" else None
    if kind == "balanced" and class_weight is None:
        class_weight = torch.exp(-log_prior)
        class_weight = class_weight / class_weight.mean()
    # L-BFGS works on theta = coef / sqrt(d): the coordinates the weights would have if every
    # feature had unit RMS. The loss is the same, but L-BFGS's first step (unit length) is then
    # on the scale of the solution instead of sqrt(d) times too short. On unit-RMS-norm rows
    # (what SelMix feeds in), N=100k, D=512, K=100, this took the logit-adjusted head from
    # 38 loss evaluations to 20-23; sklearn's LogisticRegression behaves alike (52 vs 7
    # iterations on the two scalings).
    root_d = float(X.shape[1]) ** 0.5
    k, d = n_classes, X.shape[1]
    if init is None:
        start = np.zeros(k * d + k)
    else:
        start = np.concatenate([
            (init[0].detach().double().cpu().numpy() / root_d).ravel(),
            init[1].detach().double().cpu().numpy().ravel(),
        ])
    weight = None if class_weight is None else class_weight.to(dtype=dtype, device=device)
    row_weight = None if weight is None else weight[y]
    if sample_weight is not None:
        row_weight = sample_weight.to(dtype=dtype, device=device) * (1.0 if row_weight is None else row_weight)
    total_weight = float(y.shape[0]) if row_weight is None else float(row_weight.sum(dtype=torch.float64))

    # Rows are processed in blocks so that the (rows x K) activations stay bounded: at
    # N=100k, K=1000 whole-batch activations were 2.4x the input (peak memory 4.9x). With
    # 2**21-element blocks the default 5-fold fit at N=100k, D=512, K=100 peaked at 1.41x to
    # 1.49x the input (2**23: 1.84x to 2.04x), in the same time.
    # With ``rows``, a block is also a gathered copy of features: bound it by their width too.
    width = n_classes if rows is None else max(n_classes, X.shape[1])
    blocks = list(row_blocks(y.shape[0], width, ACTIVATION_BLOCK))
    rows_index = torch.arange(max((stop - start for start, stop in blocks), default=0), device=device)

    def loss_and_gradient(params):
        # Loss and gradient in closed form (no autograd): the backward of addmm would
        # materialise a copy of X (1.1x its size) to form the weight gradient. Sums over
        # rows are taken in float64, so scipy's line search sees a smooth loss.
        flat = torch.as_tensor(params, device=device)
        coef = (flat[: k * d].reshape(k, d) * root_d).to(dtype)
        intercept = flat[k * d :].to(dtype)
        grad_coef = torch.zeros_like(coef)
        grad_intercept = torch.zeros_like(intercept)
        loss = torch.zeros((), dtype=torch.float64, device=device)
        with torch.no_grad():
            for start, stop in blocks:  # blocks of rows, not single rows
                xb = X[start:stop] if rows is None else X[rows[start:stop]]
                yb = y[start:stop]
                logits = torch.addmm(intercept, xb, coef.T)
                if offset is not None:
                    logits += offset
                log_proba = torch.log_softmax(logits, dim=1)
                del logits
                picked = log_proba.gather(1, yb.unsqueeze(1)).squeeze(1)
                residual = log_proba.exp_()  # softmax, in place of the log-probabilities
                residual[rows_index[: stop - start], yb] -= 1.0
                if row_weight is None:
                    loss -= picked.sum(dtype=torch.float64)
                else:
                    wb = row_weight[start:stop]
                    loss -= (picked * wb).sum(dtype=torch.float64)
                    residual *= wb.unsqueeze(1)
                grad_coef.addmm_(residual.T, xb)
                grad_intercept += residual.sum(dim=0)
                del residual, log_proba
            coef64 = coef.double()
            loss = loss / total_weight + 0.5 * l2 * coef64.pow(2).sum()
            grad_theta = (grad_coef.double() / total_weight + l2 * coef64) * root_d
            grad = torch.cat([grad_theta.reshape(-1), grad_intercept.double() / total_weight])
        return float(loss), grad.cpu().numpy()

    # scipy's L-BFGS-B, as sklearn's LogisticRegression uses: torch.optim.LBFGS would import
    # torch._dynamo on first use, 1.5 to 2 s in every fresh process (a worker of a search).
    result = minimize(
        loss_and_gradient,
        start,
        method="L-BFGS-B",
        jac=True,
        options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(np.float64).eps, "maxls": 50},
    )
    params = torch.as_tensor(result.x, device=device)
    return (params[: k * d].reshape(k, d) * root_d).to(dtype), params[k * d :].to(dtype)
