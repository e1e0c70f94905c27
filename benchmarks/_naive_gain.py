"""A straightforward K^4 formulation of the SelMix gain: the comparison point of the
perf benchmark (like the reference implementation, it materialises the change of every
prototype logit for every mixup pair). Never used by the library."""

import torch

from ._internals import objective_logit_sensitivity


def naive_gain(prototypes, coef, intercept, confusion, objective_gradient, lambda_mean, smoothing=0.01):
    z, lbar = prototypes, lambda_mean
    k = z.shape[0]
    m = objective_logit_sensitivity(confusion, objective_gradient, smoothing).to(z.dtype)
    zbar = lbar * z[:, None, :] + (1 - lbar) * z[None, :, :]  # (K_i, K_j, D)
    p = torch.softmax(zbar @ coef.T + intercept, dim=2)  # (K_i, K_j, K_l)
    dots = zbar @ z.T  # (K_i, K_j, K_q): zbar_ij . z_q
    eye = torch.eye(k, dtype=z.dtype)
    direction = eye[:, None, :] - p  # (K_i, K_j, K_l): delta_li - p_ij[l]
    d_logits = dots[:, :, :, None] * direction[:, :, None, :]  # (K_i, K_j, K_q, K_l): K^4 numbers
    return (d_logits * m).sum(dim=(2, 3))
