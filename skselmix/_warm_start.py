"""Warm-start heads: the linear classifiers SelMix fine-tunes from.

SelMix is a fine-tuning method; it starts from an ERM or a logit-adjusted head
(REFERENCE.md). Both are fitted here by full-batch L-BFGS, which is
deterministic (no sampling) and needs no learning rate.
"""

import numpy as np
import torch
from scipy.optimize import minimize

from ._features import row_blocks
from ._softmax import picked_log_proba_and_proba_

WARM_STARTS = ("logit_adjusted", "balanced", "cross_entropy")
ACTIVATION_BLOCK = 2**21  # elements of one (rows x K) activation block: 8 MB in float32


def class_log_prior(labels, n_classes, dtype, device, sample_weight=None):
    """Log of the class frequencies (weighted by ``sample_weight`` when given)."""
    weights = None if sample_weight is None else sample_weight.to(torch.float64)
    counts = torch.bincount(labels, weights=weights, minlength=n_classes).to(torch.float64)
    return _log_prior(counts.unsqueeze(0))[0].to(dtype=dtype, device=device)


def _log_prior(counts):
    """Log class frequencies of each row of ``counts`` (H, K). An empty class counts as one
    row, or as the smallest present class when weights make that smaller than one."""
    smallest = torch.where(counts > 0, counts, torch.inf).amin(dim=1, keepdim=True).clamp_max(1.0)
    counts = torch.maximum(counts, smallest)
    return torch.log(counts / counts.sum(dim=1, keepdim=True))


def fit_linear_head(X, y, n_classes, *, kind, l2, init=None, **options):
    """Fit one head ``logits = X W^T + b`` by L-BFGS: :func:`fit_linear_heads` with one head.

    ``init`` is ``(coef (K, D), intercept (K,))`` or None; returns ``coef`` (K, D)
    and ``intercept`` (K,).
    """
    if init is not None:
        init = (init[0].unsqueeze(0), init[1].unsqueeze(0))
    coef, intercept = fit_linear_heads(X, y, n_classes, kind=kind, l2=l2, init=init, **options)
    return coef[0], intercept[0]


def fit_linear_heads(
    X, y, n_classes, *, kind, l2, member=None, max_iter=100, tol=1e-4, class_weight=None, sample_weight=None, init=None
):
    """Fit heads ``logits = X W_h^T + b_h`` by L-BFGS on (logit-adjusted) cross-entropy.

    Every head has its own training rows (``member``); all of them are fitted
    in one L-BFGS run on the sum of their losses. The heads share no
    parameter, so the sum's minimum is every head's own minimum, and one pass
    over ``X`` evaluates them all: on small data the per-evaluation overhead of
    torch and scipy is paid once instead of once per head (the 5 fold heads of
    the quickstart fit: ... ms against ... ms).

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
    member : torch.Tensor of shape (n, H), bool, default=None
        Which rows each head trains on; None: one head on every row.
    max_iter : int
        Largest number of L-BFGS iterations (100, as sklearn's LogisticRegression).
        In practice the gradient tolerance ends the fit first.
    tol : float
        Gradient tolerance of L-BFGS (largest absolute gradient entry, in the
        unit-RMS coordinates below), 1e-4 like sklearn's LogisticRegression.
        At 1e-6 the warm start took 35 to 38 loss evaluations at N=100k,
        D=512, K=100 and most of fit's time.
    class_weight : torch.Tensor of shape (K,), default=None
        Per-class loss weights (each head's loss is the weighted mean over its
        rows); ``None`` weighs all samples equally.
    sample_weight : torch.Tensor of shape (n,), default=None
        Per-row loss weights, multiplied with ``class_weight``; the class
        frequencies behind ``"logit_adjusted"`` and ``"balanced"`` are
        weighted by them too, so an integer weight acts like repeated rows.
    init : tuple of torch.Tensor, default=None
        ``(coef (H, K, d), intercept (H, K))`` to start L-BFGS from; zeros when ``None``.

    Returns
    -------
    coef : torch.Tensor of shape (H, K, d)
    intercept : torch.Tensor of shape (H, K)
    """
    if kind not in WARM_STARTS:
        raise ValueError(f"Unknown init {kind!r}. Valid values: {', '.join(WARM_STARTS)}.")
    dtype, device = X.dtype, X.device
    n, d = X.shape
    k = n_classes
    # weights[r, h]: weight of row r in head h's loss, before each head's normalisation.
    weights = torch.ones((n, 1), dtype=torch.float64, device=device) if member is None else member.to(torch.float64)
    if sample_weight is not None:
        weights = weights * sample_weight.to(device=device, dtype=torch.float64).unsqueeze(1)
    n_heads = weights.shape[1]
    counts = torch.zeros((k, n_heads), dtype=torch.float64, device=device).index_add_(0, y, weights).T  # (H, K)
    log_prior = _log_prior(counts)
    offset = log_prior.to(dtype) if kind == "logit_adjusted" else None
    if kind == "balanced" and class_weight is None:
        class_weight = torch.exp(-log_prior)
        class_weight = class_weight / class_weight.mean(dim=1, keepdim=True)
    if class_weight is not None:
        weights = weights * class_weight.to(device=device, dtype=torch.float64).expand(n_heads, k).T[y]
    # Each head's loss is the weighted mean over its rows: normalise its weights to sum to one.
    # Unweighted single heads keep no weight matrix and divide by n at the end.
    plain = member is None and sample_weight is None and class_weight is None
    scale = 1.0 / max(n, 1) if plain else 1.0
    weights = None if plain else (weights / weights.sum(dim=0)).to(dtype)
    # L-BFGS works on theta = coef / sqrt(d): the coordinates the weights would have if every
    # feature had unit RMS. The loss is the same, but L-BFGS's first step (unit length) is then
    # on the scale of the solution instead of sqrt(d) times too short. On unit-RMS-norm rows
    # (what SelMix feeds in), N=100k, D=512, K=100, this took the logit-adjusted head from
    # 38 loss evaluations to 20-23; sklearn's LogisticRegression behaves alike (52 vs 7
    # iterations on the two scalings).
    root_d = float(d) ** 0.5
    size = n_heads * k * d
    if init is None:
        start = np.zeros(size + n_heads * k)
    else:
        start = np.concatenate([
            (init[0].detach().double().cpu().numpy() / root_d).ravel(),
            init[1].detach().double().cpu().numpy().ravel(),
        ])

    # Rows are processed in blocks so that the (rows x H x K) activations stay bounded: at
    # N=100k, K=1000 whole-batch activations were 2.4x the input (peak memory 4.9x). With
    # 2**21-element blocks the default 5-fold fit at N=100k, D=512, K=100 peaked at 1.41x to
    # 1.49x the input (2**23: 1.84x to 2.04x), in the same time.
    blocks = list(row_blocks(n, n_heads * k, ACTIVATION_BLOCK))
    # -1 at each row's class, for every head: scatter_add_ of it is 4x faster than index_put_.
    minus_one = torch.full((1, 1, 1), -1.0, dtype=dtype, device=device)

    def loss_and_gradient(params):
        # Loss and gradient in closed form (no autograd): the backward of addmm would
        # materialise a copy of X (1.1x its size) to form the weight gradient. Sums over
        # rows are taken in float64, so scipy's line search sees a smooth loss.
        flat = torch.as_tensor(params, device=device)
        coef = (flat[:size].reshape(n_heads * k, d) * root_d).to(dtype)
        intercept = flat[size:].to(dtype)
        grad_coef = torch.zeros_like(coef)
        grad_intercept = torch.zeros_like(intercept)
        loss = torch.zeros((), dtype=torch.float64, device=device)
        with torch.no_grad():
            for start, stop in blocks:  # blocks of rows, not single rows
                xb, yb = X[start:stop], y[start:stop]
                logits = torch.addmm(intercept, xb, coef.T).view(stop - start, n_heads, k)
                if offset is not None:
                    logits += offset
                index = yb.view(-1, 1, 1).expand(-1, n_heads, 1)
                picked, residual = picked_log_proba_and_proba_(logits, index)
                residual.scatter_add_(2, index, minus_one.expand(stop - start, n_heads, 1))
                if weights is None:
                    loss -= picked.sum(dtype=torch.float64)
                else:
                    wb = weights[start:stop]
                    loss -= (picked * wb).sum(dtype=torch.float64)
                    residual *= wb.unsqueeze(2)
                residual = residual.view(stop - start, n_heads * k)
                grad_coef.addmm_(residual.T, xb)
                grad_intercept += residual.sum(dim=0)
                del residual, picked
            coef64 = coef.double()
            loss = loss * scale + 0.5 * l2 * coef64.pow(2).sum()
            grad_theta = (grad_coef.double() * scale + l2 * coef64) * root_d
            grad = torch.cat([grad_theta.reshape(-1), grad_intercept.double() * scale])
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
    coef = (params[:size].reshape(n_heads, k, d) * root_d).to(dtype)
    return coef, params[size:].reshape(n_heads, k).to(dtype)
