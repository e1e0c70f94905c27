"""Checks shared by the estimator and the objectives: finite numeric parameters,
tensors given as data, and the fit's local random state."""

import sys
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ._sklearn_compat import Interval


class Finite(Interval):
    """scikit-learn's ``Interval``, restricted to finite numbers that are not bools.

    ``Interval`` accepts infinities and ``True`` (the integer 1); both reach torch as
    silent nonsense (an empty validation set, a crash in ``multinomial``). NaN is
    refused by ``Interval`` already.
    """

    def is_satisfied_by(self, val):
        if isinstance(val, (bool, np.bool_)):
            return False
        return super().is_satisfied_by(val) and (isinstance(val, Integral) or bool(np.isfinite(val)))

    def __str__(self):
        return f"a finite {'int' if self.type is Integral else 'float'} (not a bool) in the range " + \
            super().__str__().split(" in the range ", 1)[1]


def tensor_to_numpy(data):
    """A torch tensor as a numpy array (detached, on the CPU); anything else unchanged.

    ``np.asarray`` refuses a tensor that requires grad or lives on a GPU, and numpy has
    no bfloat16 (or float8): such tensors become float32, which holds their values
    exactly. A user passing the output of their network should not have to know that.
    """
    torch = sys.modules.get("torch")  # without torch imported, data cannot be a tensor
    if torch is not None and isinstance(data, torch.Tensor):
        data = data.detach().cpu()
        if data.dtype in (torch.bfloat16,) or str(data.dtype).startswith("torch.float8"):
            data = data.to(torch.float32)  # numpy has no such dtype; float32 holds their values exactly
        return data.numpy()
    return data


def final_estimator(estimator):
    """The estimator itself, or a Pipeline's last step (where a SelMixClassifier sits)."""
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


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
