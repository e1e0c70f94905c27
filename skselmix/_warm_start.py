"""Warm-start heads: the linear classifiers SelMix fine-tunes from.

SelMix is a fine-tuning method; it starts from an ERM or a logit-adjusted head
(REFERENCE.md). Both are fitted here by full-batch L-BFGS, which is
deterministic (no sampling) and needs no learning rate.
"""

import torch

from ._features import row_blocks

WARM_STARTS = ("logit_adjusted", "balanced", "cross_entropy")
ACTIVATION_BLOCK = 2**23  # elements of one (rows x K) activation block: 32 MB in float32


def class_log_prior(labels, n_classes, dtype, device):
    counts = torch.bincount(labels, minlength=n_classes).to(dtype=dtype, device=device)
    return torch.log(counts.clamp_min(1) / counts.sum())


def fit_linear_head(X, y, n_classes, *, kind, l2, max_iter=100, tol=1e-4, class_weight=None, init=None):
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
        Gradient tolerance of L-BFGS (largest absolute gradient entry), 1e-4
        like sklearn's LogisticRegression. At 1e-6 the warm start took 35 to 38
        loss evaluations at N=100k, D=512, K=100 and most of fit's time.
    class_weight : torch.Tensor of shape (K,), default=None
        Per-class loss weights (the loss is the weighted mean over samples);
        ``None`` weighs all samples equally.
    init : tuple of torch.Tensor, default=None
        ``(coef, intercept)`` to start L-BFGS from; zeros when ``None``.

    Returns
    -------
    coef : torch.Tensor of shape (K, d)
    intercept : torch.Tensor of shape (K,)
    """
    if kind not in WARM_STARTS:
        raise ValueError(f"Unknown init {kind!r}. Valid values: {', '.join(WARM_STARTS)}.")
    dtype, device = X.dtype, X.device
    log_prior = class_log_prior(y, n_classes, dtype, device)
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
    if init is None:
        theta = torch.zeros(n_classes, X.shape[1], dtype=dtype, device=device, requires_grad=True)
        intercept = torch.zeros(n_classes, dtype=dtype, device=device, requires_grad=True)
    else:
        theta = (init[0].detach().to(dtype=dtype, device=device) / root_d).requires_grad_(True)
        intercept = init[1].detach().to(dtype=dtype, device=device).clone().requires_grad_(True)
    weight = None if class_weight is None else class_weight.to(dtype=dtype, device=device)
    optimizer = torch.optim.LBFGS(
        [theta, intercept],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=tol * 1e-5,  # stop on a stalled loss too, at a scale tied to tol
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    row_weight = None if weight is None else weight[y]
    total_weight = float(y.shape[0]) if row_weight is None else float(row_weight.sum())

    # Rows are processed in blocks so that the (rows x K) activations stay bounded: at
    # N=100k, K=1000 whole-batch activations were 2.4x the input (peak memory 4.9x).
    blocks = list(row_blocks(y.shape[0], n_classes, ACTIVATION_BLOCK))

    def closure():
        # Loss and gradient in closed form (no autograd): the backward of addmm would
        # materialise a copy of X (1.1x its size) to form the weight gradient.
        with torch.no_grad():
            coef = theta * root_d
            grad_coef = torch.zeros_like(coef)
            grad_intercept = torch.zeros_like(intercept)
            loss = torch.zeros((), dtype=dtype, device=device)
            for start, stop in blocks:  # blocks of rows, not single rows
                xb, yb = X[start:stop], y[start:stop]
                logits = torch.addmm(intercept, xb, coef.T)
                if offset is not None:
                    logits += offset
                log_proba = torch.log_softmax(logits, dim=1)
                del logits
                picked = log_proba.gather(1, yb.unsqueeze(1)).squeeze(1)
                residual = log_proba.exp_()  # softmax, in place of the log-probabilities
                residual[torch.arange(yb.shape[0], device=device), yb] -= 1.0
                if row_weight is None:
                    loss -= picked.sum()
                else:
                    wb = row_weight[start:stop]
                    loss -= (picked * wb).sum()
                    residual *= wb.unsqueeze(1)
                grad_coef.addmm_(residual.T, xb)
                grad_intercept += residual.sum(dim=0)
                del residual, log_proba
            loss = loss / total_weight + 0.5 * l2 * coef.pow(2).sum()
            theta.grad = grad_coef.div_(total_weight).add_(coef, alpha=l2).mul_(root_d)
            intercept.grad = grad_intercept.div_(total_weight)
        return loss

    optimizer.step(closure)
    return theta.detach() * root_d, intercept.detach()
