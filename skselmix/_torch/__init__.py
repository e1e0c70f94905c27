"""The fitting side of skselmix: every module that imports torch lives here.

Importing skselmix, predicting, scoring, loading a model and drawing the displays never
import this package (tests/test_torch_free.py); ``fit`` imports it when it starts. ruff's
banned-import rule (``ruff.toml``, TID251) keeps ``import torch`` out of every module
outside this folder; those that handle tensors a user passes use the lazy
``skselmix._lazy.torch``, which imports nothing until called.

Before torch loads here, OpenMP's threads are told to sleep while they wait for work
(:func:`passive_openmp_wait`).
"""

import os
import sys


def passive_openmp_wait(environ=os.environ, modules=sys.modules):
    """Set ``OMP_WAIT_POLICY=PASSIVE`` when torch is not imported yet and the user has not
    chosen a policy; return whether it was set.

    torch's OpenMP runtime (GNU libgomp on Linux) reads the policy once, when it loads. By
    default a thread that finishes its share of a parallel region spins, waiting for the
    next, which on a busy machine takes the cores the other threads need: a default fit of
    12,000 rows (D = 256, K = 300) took 74.7 s instead of 9.7 s beside four busy processes
    on 2 cores, against 31.1 s with sleeping threads; on a quiet machine sleeping costs
    about 3 % (``benchmarks/results/busy_machine.md``). When torch was imported before,
    the policy it loaded with stays (set ``OMP_WAIT_POLICY=PASSIVE`` before starting Python).
    """
    if "torch" in modules or "OMP_WAIT_POLICY" in environ:
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


passive_openmp_wait()
