"""Where each fold head's L-BFGS run starts: nested starts that never see the fold.

A fold head ``h`` is the minimiser of the loss on every row outside fold ``h``. Started
from zero, each of ``F`` fold heads pays the whole way to its optimum; on the large
problems where the warm start dominates a fit (K = 1052 WordNet hypernyms, 40,000 rows a
head) that was 55 L-BFGS iterations a head. Started from a head fitted on a subset of its
own rows, the same run needed 16 (benchmarks/perf_notes.md).

The plan halves the folds still to serve: a head fitted on every fold outside a group
``G`` is a valid start for the head of every fold in ``G``, whose rows include all of it.
So the two halves of the folds each get a head fitted on the other half's rows (from zero:
the only fits that start from nothing), and each half is served from it, halving again,
until a group is one fold and its head is that fold's head. No run starts from a head that
saw the rows of a fold the run must not see: the out-of-fold predictions stay out of fold
(a start from the all-rows head would not: a tail row's pull is below L-BFGS's gradient
tolerance, so the run could stop before forgetting it).
"""

from typing import NamedTuple


class StartRun(NamedTuple):
    """One L-BFGS run of the plan: the head on every row outside the folds ``held_out``.

    ``start``: the index in the plan of the run it starts from (None: from zero), whose
    held-out folds include ``held_out`` (so its rows are a subset of this run's rows).
    ``fold``: the fold whose head this run fits, or None for a start of later runs.
    """

    held_out: tuple
    start: object
    fold: object


def nested_fold_plan(n_folds):
    """The runs that fit ``n_folds`` fold heads from nested starts, in the order to run them.

    Every fold's head is fitted by exactly one run (``fold`` set); every other run is the
    start of later ones. For five folds: the heads outside folds (0, 1) and (2, 3, 4) from
    zero, folds 0 and 1 from the first, fold 2 and the head outside (3, 4) from the second,
    folds 3 and 4 from that: eight runs, two from zero.
    """
    plan = []

    def serve(group, start):
        half = len(group) // 2
        for part in (group[:half], group[half:]):
            if not part:
                continue
            plan.append(StartRun(tuple(part), start, part[0] if len(part) == 1 else None))
            if len(part) > 1:
                serve(part, len(plan) - 1)

    serve(list(range(n_folds)), None)
    return plan
