"""Every random number a fit draws from its ``random_state``: drawn once, in one order.

A fit's randomness is a handful of draws from one local ``RandomState`` (never the
global one): the networks' initialisation, the folds' shuffle or the hold-out's order of
the rows, and four seeds of each candidate's loop. :meth:`FitSeeds.draw` makes them all,
in the order every release since 0.11 made them in (so a ``random_state`` gives the same
fit as before), and the fit reads them from the frozen record instead of passing the
generator on.
"""

from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from .._validation import local_random_state

_SEED_BOUND = np.iinfo(np.int32).max


class RunSeeds(NamedTuple):
    """The seeds of one candidate's loop (every candidate of a search gets the same, so
    each is the fit its parameters alone would give, and their comparison is paired):
    the SGD draws' generator (``steps``), the temperature's calibration rows
    (``calibration``), the step selection's bootstrap resamples (``selection``) and the
    all-rows head's draws (``all_rows``: drawn last, so the judged heads' draws are those
    of the releases before it was carried)."""

    steps: int
    calibration: int
    selection: int
    all_rows: int


@dataclass(frozen=True)
class FitSeeds:
    """What a fit draws: ``network`` (the networks' initialisation, or None for a linear
    head), ``folds`` (the shuffle of ``cv=int`` folds, or None), ``hold_out_order`` (the
    permutation of the labelled rows that the stratified hold-out is cut from, or None)
    and ``run`` (:class:`RunSeeds`)."""

    network: Optional[int]
    folds: Optional[int]
    hold_out_order: Optional[np.ndarray]
    run: RunSeeds

    @classmethod
    def draw(cls, random_state, *, network=False, folds=False, hold_out_rows=None):
        """The record of a fit with ``random_state``: a network seed when ``network``, a
        folds seed when ``folds``, an order of ``hold_out_rows`` rows when given, and the
        loop's seeds, in that order."""
        rng = local_random_state(random_state)
        network_seed = _seed(rng) if network else None
        folds_seed = _seed(rng) if folds else None
        order = None if hold_out_rows is None else rng.permutation(hold_out_rows)
        return cls(network_seed, folds_seed, order, RunSeeds(*(_seed(rng) for _ in RunSeeds._fields)))

    @property
    def draws_rows(self):
        """Whether the fit's rows are split by a draw (folds or hold-out) rather than by the user."""
        return self.folds is not None or self.hold_out_order is not None


def _seed(rng):
    return int(rng.randint(_SEED_BOUND))
