"""A run's random draws, and the immutable request for a run of SGD steps.

Every random number a run's SGD steps consume comes from its :class:`RunDraws`: the pairs
of classes from the pair distribution, anchor and partner rows from the pools, the
mixing weights. The linear and the network steps both take their batches from it, so
neither reaches into the run; a run draws the same numbers whichever other runs step
beside it (``loop_together``), which keeps a search's candidates bit for bit the fits
they would be alone.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch

from .device import DeviceProfile
from .records import StepSources
from .sampler import PairDistribution, draw_partners, mix_features


def cosine_learning_rate(step, learning_rate, max_iter):
    """The learning rate at SGD step ``step``: a cosine decay from ``learning_rate`` to 0 at ``max_iter``."""
    return 0.5 * learning_rate * (1.0 + math.cos(math.pi * min(step, max_iter) / max(max_iter, 1)))


@dataclass(frozen=True)
class RunDraws:
    """The source of one run's randomness in its SGD steps: its ``generator`` and the
    draw settings (``n_classes``, ``batch_size``, ``lambda_min``, ``mixup``)."""

    generator: torch.Generator
    n_classes: int
    batch_size: int
    lambda_min: float
    mixup: str

    def rows(self, n_heads, pairs, sources, chunk):
        """Anchor rows, partner rows and anchor classes of ``chunk`` steps of ``n_heads``
        heads: (chunk, H, batch, D) twice and (chunk, H, batch)."""
        k, batch = self.n_classes, self.batch_size
        x_all, pools = sources.features, sources.pools
        device = x_all.device
        i, j = pairs.sample(chunk * batch, self.generator)  # (H, chunk * batch)
        i = i.reshape(n_heads, chunk, batch).transpose(0, 1).reshape(-1)  # step-major
        j = j.reshape(n_heads, chunk, batch).transpose(0, 1).reshape(-1)
        head_ids = torch.arange(n_heads, device=device).repeat_interleave(batch).repeat(chunk)
        # index_select gathers rows several times faster than x_all[index] (benchmarks/perf_notes.md).
        x1 = x_all.index_select(0, pools.draw(head_ids * k + i, self.generator))
        x2 = self.partners(head_ids, j, sources)
        shape = (chunk, n_heads, batch)
        return x1.reshape(*shape, -1), x2.reshape(*shape, -1), i.reshape(shape)

    def partners(self, heads, classes, sources):
        """Partner rows of class ``classes`` for the heads ``heads`` (flat tensors): from the
        pseudo-labelled rows in semi-supervised mode (labelled rows where a class has none)."""
        x, pools, partners, xu = sources.features, sources.pools, sources.partners, sources.partner_features
        keys = heads * self.n_classes + classes
        if partners is None:
            return x.index_select(0, pools.draw(keys, self.generator))
        index, from_unlabeled = draw_partners(classes, partners, pools, self.generator, fallback_keys=keys)
        x2 = torch.empty((classes.shape[0], x.shape[1]), dtype=x.dtype, device=x.device)
        x2[from_unlabeled] = xu[index[from_unlabeled]]
        x2[~from_unlabeled] = x[index[~from_unlabeled]]
        return x2

    def mix(self, x1, x2):
        """``x1`` mixed with ``x2`` (rows of equal shape) by this run's mixup and weights."""
        return mix_features(x1, x2, self.lambda_min, self.generator, self.mixup)

    def mixed_chunk(self, n_heads, pairs, sources, chunk, dtype):
        """The mixed features and one-hot targets of ``chunk`` steps of ``n_heads`` heads:
        (chunk, H, batch, D) and (chunk, H, batch, K)."""
        x1, x2, i = self.rows(n_heads, pairs, sources, chunk)
        mixed = self.mix(x1.reshape(-1, x1.shape[-1]), x2.reshape(-1, x2.shape[-1]))
        # Scattered ones, not rows of a K x K identity: at K = 8192 forming the identity was
        # 256 MiB a step.
        targets = torch.zeros((*i.shape, self.n_classes), dtype=dtype, device=x1.device)
        return mixed.reshape(x1.shape), targets.scatter_(-1, i.unsqueeze(-1), 1.0)


class Stepped(NamedTuple):
    """What a run of SGD steps gives back for one :class:`StepRequest`: the new iterates
    ``heads``, their moving average ``evaluated`` (the iterates themselves without
    averaging) and, when the request had one, the ``beside`` request's :class:`Stepped`."""

    heads: object
    evaluated: object
    beside: Optional["Stepped"] = None


@dataclass(frozen=True)
class StepRequest:
    """A run's request for ``n_steps`` SGD steps of its stack from ``step``: everything the
    steps read, fixed when the request is made.

    ``heads`` are the iterates and ``evaluated`` their moving average (the iterates
    themselves when ``average_decay`` is 0); ``sources`` the rows to draw from;
    ``pairs`` the pair distribution of each head; ``draws`` the run's randomness; the
    rest the step settings (learning-rate schedule, batch size, averaging, weight decay)
    and the run's device with its profile, resolved once for the run. ``beside`` is the
    request of a stack stepped with this one under the same settings but never judged
    (the all-rows head of a cross-fitted fit, with its own rows, pair distribution and
    draws), or None.
    """

    heads: object  # a LinearStack or NetworkStack (see heads.py, network.py)
    evaluated: object
    sources: StepSources
    pairs: PairDistribution
    draws: RunDraws
    step: int
    n_steps: int
    learning_rate: float
    max_iter: int
    average_decay: float
    l2: float
    device: Optional[torch.device] = None
    profile: Optional[DeviceProfile] = None
    beside: Optional["StepRequest"] = None

    def learning_rate_at(self, step):
        return cosine_learning_rate(step, self.learning_rate, self.max_iter)

    @property
    def key(self):
        """Requests with equal keys step together: everything a step reads but the draws."""
        return (
            self.step, self.n_steps, self.draws.batch_size, self.learning_rate, self.max_iter, self.average_decay,
            self.l2, tuple(self.heads.coef.shape), self.heads.architecture, self.beside is not None,
        )
