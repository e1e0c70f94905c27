"""Pair sampling and feature mixing: turning a gain matrix into SGD batches.

Everything here is vectorised torch: a batch of pairs, anchors, partners and
mixing coefficients is drawn with a handful of tensor operations, never a Python
loop per sample, and always from a caller-supplied ``torch.Generator`` so the
global random state is left alone.
"""

import torch

from .._limits import LIMITS
from .device import exact_dtype

# Floor on the probability of a pair with positive gain (the reference's 1e-8):
# keeps every useful pair reachable when s is large.
PAIR_PROBABILITY_FLOOR = 1e-8


def normalize_gain(gain, in_place=False):
    """Divide the gain matrix by its largest absolute entry (no-op for all zeros); with
    ``in_place``, ``gain`` itself (the same values, one K x K array fewer).

    Gains scale with the squared feature norm and the learning rate; after this
    normalisation the inverse temperature ``s`` is measured in units of the
    largest gain, so it means the same thing whatever the scale of ``X``.
    """
    low, high = torch.aminmax(gain)  # the largest magnitude, without a K x K temporary of |G|
    scale = torch.maximum(-low, high)
    if not float(scale) > 0:
        return gain
    return gain.div_(scale) if in_place else gain / scale


def sampling_distribution(gain, s, limits=LIMITS):
    """``P = softmax(s * G)`` over all K^2 pairs, restricted to pairs with ``G > 0``.

    Masked pairs get probability zero; unmasked ones at least
    :data:`PAIR_PROBABILITY_FLOOR` before renormalisation. When no pair has a positive
    gain, every pair is allowed (plain ``softmax(s * G)``), which puts most mass
    on the least harmful pairs.

    Above ``limits.blocked_refresh_classes`` classes the softmax is taken in place (one
    K^2 array in the exact dtype instead of two: 512 MiB less at K = 8192), its sums in
    another order than ``torch.softmax``'s.

    Returns a (K, K) tensor summing to one.
    """
    # A copy in the exact dtype, scaled in place (the same values as s * G): at K = 8192 each
    # K^2 float64 temporary is 512 MiB, so the refresh holds one of them besides the result.
    logits = gain.reshape(-1).to(exact_dtype(gain.device), copy=True)
    positive = logits > 0  # of G itself: s * G may underflow to zero
    logits.mul_(s)
    if bool(positive.any()):
        logits.masked_fill_(~positive, float("-inf"))
    del positive
    # The pairs left: finite logits (s G is finite for a finite s and |G| <= 1; NaN is not
    # allowed). torch.isfinite would hold a K^2 temporary of |logits| (512 MiB at K = 8192).
    allowed = logits > float("-inf")
    if gain.shape[0] > limits.blocked_refresh_classes:
        probs = logits.sub_(logits.max()).exp_()
        probs.div_(probs.sum())
    else:
        probs = torch.softmax(logits, dim=0)
    del logits
    probs.clamp_min_(PAIR_PROBABILITY_FLOOR).masked_fill_(~allowed, 0.0)
    return probs.div_(probs.sum()).reshape(gain.shape)


class ClassIndex:
    """Row indices grouped by class, for within-class draws (uniform, or by weight).

    Parameters
    ----------
    labels : torch.Tensor of shape (n,)
        Class index of each row of the pool; a negative value leaves the row
        out (an unlabelled row whose pseudo-label is not confident).
    n_classes : int
        Number of classes K (or of keys, see :func:`head_pools`).
    rows : torch.Tensor of shape (n,), default=None
        Row index that each entry of ``labels`` stands for; ``None``: entry
        ``r`` is row ``r``. Lets one row appear in several pools.
    weights : torch.Tensor of shape (n,), default=None
        Non-negative weight of each entry: a row is drawn with probability
        proportional to its weight within its class (never at weight zero) (``sample_weight``; an
        integer weight ``w`` draws like ``w`` copies of the row). ``None``
        draws uniformly.
    """

    def __init__(self, labels, n_classes, rows=None, weights=None):
        labels = labels.long()
        if weights is not None:
            labels = torch.where(weights > 0, labels, -1)  # a row of weight zero is never drawn
        kept_rows = torch.nonzero(labels >= 0).squeeze(1)
        kept = labels[kept_rows]
        sort = torch.argsort(kept, stable=True)
        self.order = kept_rows[sort]
        self.counts = torch.bincount(kept, minlength=n_classes)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.cumulative = None
        if weights is not None:
            # Inclusive running sums over the class-sorted entries: a class's entries cover
            # consecutive intervals of lengths equal to their weights (float64: exact for
            # integer weights up to 2^53).
            exact = exact_dtype(labels.device)
            sorted_weights = weights.to(exact)[self.order]
            self.cumulative = torch.cumsum(sorted_weights, 0)
            self.totals = torch.zeros(n_classes, dtype=exact, device=labels.device).index_add_(
                0, kept[sort], sorted_weights
            )
            # Running sum before each class's first entry: where its interval starts.
            previous = torch.cat([self.cumulative.new_zeros(1), self.cumulative])
            self.base = previous[self.starts]
        if rows is not None:
            self.order = rows[self.order]

    def draw(self, classes, generator):
        """One row index of each requested class (classes must be non-empty)."""
        # index_select, not advanced indexing: several times faster (benchmarks/perf_notes.md).
        u = torch.rand(classes.shape[0], generator=generator, device=classes.device, dtype=exact_dtype(classes.device))
        counts = self.counts.index_select(0, classes)
        starts = self.starts.index_select(0, classes)
        if self.cumulative is None:
            offsets = torch.minimum((u * counts).long(), counts - 1)
            return self.order.index_select(0, starts + offsets)
        # The entry whose weight interval holds the point u * (class total) past the class's start.
        target = self.base.index_select(0, classes) + u * self.totals.index_select(0, classes)
        position = torch.searchsorted(self.cumulative, target, right=True)
        position = torch.minimum(torch.maximum(position, starts), starts + counts - 1)
        return self.order.index_select(0, position)


def head_pools(labels, n_classes, fold=None, n_heads=1, weights=None):
    """The training rows of every head, by class, as one :class:`ClassIndex` over keys.

    Key ``h * K + k`` holds the rows of class ``k`` that head ``h`` trains on:
    every row for a single head (``fold=None``), or with cross-fitting every row
    whose fold is not ``h`` (each row then sits in ``n_heads - 1`` pools).
    ``index.counts.reshape(n_heads, K)`` are the pool sizes. ``weights`` (n,)
    makes within-class draws proportional to the rows' weights.
    """
    n = labels.shape[0]
    if fold is None:
        return ClassIndex(labels, n_classes, weights=weights)
    heads = torch.arange(n_heads, device=labels.device).repeat_interleave(n)
    rows = torch.arange(n, device=labels.device).repeat(n_heads)
    member = fold[rows] != heads
    heads, rows = heads[member], rows[member]
    return ClassIndex(
        heads * n_classes + labels[rows],
        n_heads * n_classes,
        rows=rows,
        weights=None if weights is None else weights[rows],
    )


def restrict_to_heads(probs, counts):
    """One pair distribution per head: ``probs`` (K, K) with the pairs zeroed whose anchor
    or partner class has no row in that head's pool.

    ``counts`` (H, K) are the pool sizes per head and class; returns (H, K, K),
    each slice summing to one.
    """
    available = (counts > 0).to(probs.dtype)
    # Anchor mask, then partner mask in place, then the division in place: one (H, K, K) array
    # at a time instead of an (H, K, K) mask, its cast and two results (the same values: each
    # probability times exact ones and zeros).
    probs = (probs.unsqueeze(0) * available.unsqueeze(2)).mul_(available.unsqueeze(1))
    total = probs.sum(dim=(1, 2), keepdim=True)
    _check_every_head_has_a_pair(total)
    return probs.div_(total)


def _check_every_head_has_a_pair(total):
    """``total`` (one entry per head): the pair mass each head keeps; zero is an error."""
    if not bool((total > 0).all()):
        raise ValueError("No class pair has rows to mix: every class is empty in the mixing pools.")


def head_pair_distributions(probs, counts, limits=LIMITS):
    """The pair distribution of every head, ready to sample: ``probs`` (K, K) with the pairs
    zeroed whose anchor or partner class has no row in that head's pool (``counts`` (H, K)).

    :class:`PairDistribution` over :func:`restrict_to_heads` up to
    ``limits.dense_head_pairs`` elements and ``limits.blocked_refresh_classes`` classes
    (every fit measured so far), else :class:`MaskedPairDistribution`, which draws from
    the same distributions without forming them. (At K = 8192 the one all-rows head's
    dense distribution, its cumulative sums and their making held 2 GiB.)
    """
    n_heads, k = counts.shape
    if n_heads * k * k <= limits.dense_head_pairs and k <= limits.blocked_refresh_classes:
        return PairDistribution(restrict_to_heads(probs, counts))
    return MaskedPairDistribution(probs, counts > 0)


class PairDistribution:
    """The pair distributions of one refresh, ready to be sampled at every SGD step.

    Up to :attr:`INVERSE_CDF_ABOVE` pairs, every step calls :func:`sample_pairs`
    (``torch.multinomial``). Above it, the cumulative distribution is computed
    once per refresh and each step inverts it with ``searchsorted``:
    ``torch.multinomial`` re-reads and copies all ``K^2`` probabilities of every
    head at every step, which dominates a step at large ``K``. Below the threshold
    multinomial is the faster, and those fits keep their random stream
    (measurements: benchmarks/perf_notes.md).

    Parameters
    ----------
    probs : torch.Tensor of shape (K, K) or (H, K, K)
        Pair probabilities (each slice sums to one).
    """

    #: Number of pairs K^2 above which steps sample by inverse CDF (K >= 65).
    INVERSE_CDF_ABOVE = 4096

    def __init__(self, probs):
        self.probs = probs
        self.k = probs.shape[-1]
        self.cumulative = None
        if self.k * self.k > self.INVERSE_CDF_ABOVE:
            self.cumulative = torch.cumsum(probs.reshape(*probs.shape[:-2], self.k * self.k), dim=-1)

    def mean(self):
        """The heads' mean pair distribution (K, K)."""
        return self.mean_rows(slice(None))

    def mean_rows(self, rows):
        """Rows ``rows`` (a slice) of :meth:`mean`."""
        return self.probs[:, rows].mean(dim=0) if self.probs.dim() == 3 else self.probs[rows]

    def sample(self, batch_size, generator):
        """``batch_size`` pairs ``(i, j)`` per head, as :func:`sample_pairs` returns them."""
        if self.cumulative is None:
            return sample_pairs(self.probs, batch_size, generator)
        total = self.cumulative[..., -1:]
        u = torch.rand(*total.shape[:-1], batch_size, generator=generator, device=total.device, dtype=total.dtype)
        # The first pair whose cumulative probability exceeds u: pairs of probability zero never are.
        flat = torch.searchsorted(self.cumulative, u * total, right=True).clamp_max(self.k * self.k - 1)
        return flat // self.k, flat % self.k


class MaskedPairDistribution:
    """The per-head pair distributions of :func:`restrict_to_heads`, never formed.

    Head ``h`` draws pair ``(i, j)`` with probability ``P[i, j] a[h, i] a[h, j] / t_h``
    (``a``: whether the class has rows in the head's pool, ``t_h`` the mass kept). One
    uniform per draw, as :class:`PairDistribution`'s inverse CDF: it picks the anchor
    row ``i`` from the heads' row masses (H, K), and what is left of it picks the
    partner from the cumulative sum of row ``P[i]`` masked for that head, formed for the
    drawn rows only. Memory: O(K^2) for ``P`` and O(H K) besides, against
    O(H K^2) twice for the dense distributions.

    Parameters
    ----------
    probs : torch.Tensor of shape (K, K)
        Pair probabilities (summing to one), shared by the heads.
    available : torch.Tensor of shape (H, K), bool
        Whether each head's pool has rows of each class.
    """

    def __init__(self, probs, available):
        self.probs, self.available = probs, available
        self.k = probs.shape[-1]
        mask = available.to(probs.dtype)
        self.row_mass = (mask @ probs.T) * mask  # [h, i]: a[h, i] sum_j P[i, j] a[h, j]
        self.row_cumulative = torch.cumsum(self.row_mass, dim=1)
        self.total = self.row_cumulative[:, -1:]
        _check_every_head_has_a_pair(self.total)

    def mean(self):
        """The heads' mean pair distribution (K, K): ``P * (A^T diag(1 / t) A) / H``."""
        return self.mean_rows(slice(None))

    def mean_rows(self, rows):
        """Rows ``rows`` (a slice) of :meth:`mean`: one array of their size besides ``P``
        (computed in place on the weights; the whole mean at K = 8192 is 512 MiB)."""
        mask = self.available.to(self.probs.dtype)
        return ((mask.T[rows] / self.total.T) @ mask).mul_(self.probs[rows]).div_(mask.shape[0])

    def sample(self, batch_size, generator):
        """``batch_size`` pairs ``(i, j)`` per head, as :func:`sample_pairs` returns them."""
        n_heads, k = self.available.shape
        point = torch.rand(n_heads, batch_size, generator=generator, device=self.total.device,
                           dtype=self.total.dtype) * self.total
        i = torch.searchsorted(self.row_cumulative, point, right=True).clamp_max(k - 1)
        left = point - (self.row_cumulative.gather(1, i) - self.row_mass.gather(1, i))
        heads = torch.arange(n_heads, device=i.device).repeat_interleave(batch_size)
        rows = self.probs.index_select(0, i.reshape(-1)) * self.available[heads].to(self.probs.dtype)
        cumulative = torch.cumsum(rows, dim=1)
        # Rounding can leave a little more than the row holds: aim below its end, at a partner
        # of positive probability.
        end = cumulative[:, -1:]
        left = torch.minimum(left.reshape(-1, 1), torch.nextafter(end, torch.zeros_like(end)))
        j = torch.searchsorted(cumulative, left, right=True).clamp_max(k - 1)
        return i, j.reshape(n_heads, batch_size)


def sample_pairs(probs, batch_size, generator):
    """Draw ``batch_size`` pairs (i, j) from the joint distribution ``probs``.

    ``probs`` is (K, K), or (H, K, K) for one distribution per head; the pairs
    then have shape (H, batch_size).
    """
    k = probs.shape[-1]
    flat = torch.multinomial(probs.reshape(*probs.shape[:-2], k * k), batch_size, replacement=True, generator=generator)
    return flat // k, flat % k




def mix_features(x1, x2, lambda_min, generator, mode="mixup"):
    """Mix anchors ``x1`` with partners ``x2``, ``lam ~ U[lambda_min, 1]`` per row.

    ``"mixup"``: the convex combination ``lam * x1 + (1 - lam) * x2``.
    ``"cutmix"``: each coordinate comes from ``x1`` with probability ``lam``, else
    from ``x2`` (CutMix on feature coordinates instead of image patches).
    Both have the same expectation ``lam * x1 + (1 - lam) * x2`` given ``lam``,
    which is why one gain formula (mean mixed prototype) serves both.
    """
    u = torch.rand(x1.shape[0], 1, generator=generator, device=x1.device, dtype=x1.dtype)
    lam = lambda_min + (1.0 - lambda_min) * u
    if mode == "cutmix":
        keep = torch.rand(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype) < lam
        return torch.where(keep, x1, x2)
    return torch.lerp(x2, x1, lam)


def draw_partners(classes, primary, fallback, generator, fallback_keys=None):
    """Row indices of partners: from ``primary`` where the class has rows there, else ``fallback``.

    ``fallback_keys`` (same shape as ``classes``) are the keys to draw from
    ``fallback`` when it is a :func:`head_pools` index; ``None`` uses ``classes``.
    Returns ``(index, from_primary)``; ``index[from_primary]`` indexes the primary
    pool, the rest the fallback pool.
    """
    from_primary = primary.counts[classes] > 0
    keys = classes if fallback_keys is None else fallback_keys
    index = torch.empty_like(classes)
    index[from_primary] = primary.draw(classes[from_primary], generator)
    index[~from_primary] = fallback.draw(keys[~from_primary], generator)
    return index, from_primary
