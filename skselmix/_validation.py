"""Checks of scalar parameters shared by the estimator and the objectives.

``sklearn.utils.check_scalar`` lets NaN through (every comparison with NaN is
False, so no bound is violated) and accepts ``True`` as the number 1. Both reach
torch as silent nonsense (an empty validation set, a crash in ``multinomial``),
so every numeric parameter goes through :func:`check_number` instead.
"""

import math
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state, check_scalar


def check_number(value, name, *, integral=False, min_val=None, max_val=None, include_boundaries="both", finite=True):
    """Validate a real (or integral) scalar parameter and return it.

    Parameters
    ----------
    value : object
        The parameter's value.
    name : str
        Its name, used in the error messages.
    integral : bool, default=False
        Require an integer instead of a real number.
    min_val, max_val : float or None, default=None
        Bounds (``None``: unbounded on that side).
    include_boundaries : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values, as in ``sklearn.utils.check_scalar``.
    finite : bool, default=True
        Reject infinite values (NaN is always rejected).

    Returns
    -------
    value : numbers.Real
        ``value`` unchanged.

    Raises
    ------
    TypeError
        When ``value`` is a bool or not a number of the required kind.
    ValueError
        When ``value`` is NaN, infinite (with ``finite=True``) or out of bounds.
    """
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "b"):
        raise TypeError(f"{name} must be {'an int' if integral else 'a real number'}, got a bool ({value!r}).")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        if math.isnan(value):
            raise ValueError(f"{name} must be a number, got NaN.")
        if finite and math.isinf(value):
            raise ValueError(f"{name} must be finite, got {value!r}.")
    check_scalar(value, name, kind, min_val=min_val, max_val=max_val, include_boundaries=include_boundaries)
    return value


def tensor_to_numpy(data):
    """A torch tensor as a numpy array (detached, on the CPU); anything else unchanged.

    ``np.asarray`` refuses a tensor that requires grad or lives on a GPU; a user
    passing the output of their network should not have to know that.
    """
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return data


def local_random_state(random_state):
    """A ``RandomState`` for one fit that never reads or advances numpy's global stream.

    ``None`` draws fresh entropy from the operating system (so two fits differ),
    unlike ``sklearn.utils.check_random_state(None)``, which returns the global
    ``RandomState`` and would consume its draws. Ints and ``RandomState``
    instances behave as in sklearn.
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(4))
    return check_random_state(random_state)
