"""Pair sampling and feature mixing: turning a gain matrix into SGD batches.

Everything here is vectorised torch: a batch of pairs, anchors, partners and
mixing coefficients is drawn with a handful of tensor operations, never a Python
loop per sample, and always from a caller-supplied ``torch.Generator`` so the
global random state is left alone.
"""

import torch

# Floor on the probability of a pair with positive gain (the reference's 1e-8):
# keeps every useful pair reachable when s is large.
PROBABILITY_FLOOR = 1e-8


def normalize_gain(gain):
    """Divide the gain matrix by its largest absolute entry (no-op for all zeros).

    Gains scale with the squared feature norm and the learning rate; after this
    normalisation the inverse temperature ``s`` is measured in units of the
    largest gain, so it means the same thing whatever the scale of ``X``.
    """
    scale = gain.abs().max()
    return gain / scale if float(scale) > 0 else gain


def sampling_distribution(gain, s):
    """``P = softmax(s * G)`` over all K^2 pairs, restricted to pairs with ``G > 0``.

    Masked pairs get probability zero; unmasked ones at least
    :data:`PROBABILITY_FLOOR` before renormalisation. When no pair has a positive
    gain, every pair is allowed (plain ``softmax(s * G)``), which puts most mass
    on the least harmful pairs.

    Returns a (K, K) tensor summing to one.
    """
    flat = gain.reshape(-1).to(torch.float64)
    positive = flat > 0
    logits = s * flat
    if bool(positive.any()):
        logits = logits.masked_fill(~positive, float("-inf"))
    probs = torch.softmax(logits, dim=0)
    allowed = torch.isfinite(logits)
    probs = torch.where(allowed, probs.clamp_min(PROBABILITY_FLOOR), torch.zeros_like(probs))
    return (probs / probs.sum()).reshape(gain.shape)


class ClassIndex:
    """Row indices grouped by class, for uniform within-class draws.

    Parameters
    ----------
    labels : torch.Tensor of shape (n,)
        Class index of each row of the pool.
    n_classes : int
        Number of classes K.
    """

    def __init__(self, labels, n_classes):
        labels = labels.long()
        self.order = torch.argsort(labels, stable=True)
        self.counts = torch.bincount(labels, minlength=n_classes)
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def draw(self, classes, generator):
        """One uniformly drawn row index of each requested class (classes must be non-empty)."""
        u = torch.rand(classes.shape[0], generator=generator, device=classes.device, dtype=torch.float64)
        counts = self.counts[classes]
        offsets = torch.minimum((u * counts).long(), counts - 1)
        return self.order[self.starts[classes] + offsets]


def restrict_to_available(probs, anchors, partners):
    """Zero the pairs whose anchor or partner class has no row to draw from."""
    ok = (anchors.counts > 0).unsqueeze(1) & (partners.counts > 0).unsqueeze(0)
    probs = probs * ok.to(probs)
    total = probs.sum()
    if float(total) <= 0:
        raise ValueError("No class pair has rows to mix: every class is empty in the mixing pools.")
    return probs / total


def sample_pairs(probs, batch_size, generator):
    """Draw ``batch_size`` pairs (i, j) from the joint distribution ``probs`` (K x K)."""
    k = probs.shape[0]
    flat = torch.multinomial(probs.reshape(-1), batch_size, replacement=True, generator=generator)
    return flat // k, flat % k


def mix_features(x1, x2, lambda_min, generator):
    """Convex mixup ``lam * x1 + (1 - lam) * x2`` with ``lam ~ U[lambda_min, 1]`` per row."""
    u = torch.rand(x1.shape[0], 1, generator=generator, device=x1.device, dtype=x1.dtype)
    lam = lambda_min + (1.0 - lambda_min) * u
    return torch.lerp(x2, x1, lam)
