"""Who fits a fit's warm-start heads: L-BFGS directly, or through a ``joblib.Memory`` cache.

Nothing of the warm start depends on the loop-only parameters (``s``,
``learning_rate``, ...), so a search over them that refits the same rows pays
the same L-BFGS runs again for every candidate. With ``memory=`` the heads are
cached on disk, keyed by everything they are computed from (the mapped features,
labels, folds, weights, kind, L2 strength, start and solver settings): a
candidate whose rows or folds differ misses the cache, so a fold head is only
ever reused for the very rows it was fitted on.
"""

import numpy as np
import torch
from sklearn.utils.validation import check_memory

from ._warm_start import feature_preconditioner, fit_linear_heads

_TENSOR_OPTIONS = ("fold", "class_weight", "sample_weight")


def _fit_heads_on_numpy(X, y, n_classes, device, options):
    """:func:`fit_linear_heads` on numpy inputs, returning numpy heads (what joblib caches)."""
    device = torch.device(device)

    def tensor(array):
        return None if array is None else torch.as_tensor(array, device=device)

    options = dict(options)
    for name in _TENSOR_OPTIONS:
        options[name] = tensor(options.get(name))
    if options.get("init") is not None:
        options["init"] = tuple(tensor(part) for part in options["init"])
    coef, intercept = fit_linear_heads(tensor(X), tensor(y), n_classes, **options)
    return coef.cpu().numpy(), intercept.cpu().numpy()


class HeadFitter:
    """Fits the heads of one set of labelled rows (a feedback mode's training rows).

    Called like :func:`~skselmix._warm_start.fit_linear_heads` (without
    ``preconditioner``). Without a cache, the rows' L-BFGS preconditioner is
    computed once and serves every call (the warm start, a second ``init``, the
    step-0 refit on all rows). With ``memory`` (a path or a ``joblib.Memory``,
    as ``Pipeline`` takes), each call goes through the cache, which computes the
    same preconditioner inside on a miss, so a cached head equals an uncached one.
    """

    def __init__(self, memory=None):
        self.memory = check_memory(memory)
        self._preconditioner = "auto"

    @property
    def caches(self):
        return getattr(self.memory, "location", None) is not None

    def __call__(self, X, y, n_classes, **options):
        if not self.caches:
            if isinstance(self._preconditioner, str):
                self._preconditioner = feature_preconditioner(X, options.get("sample_weight"))
            return fit_linear_heads(X, y, n_classes, preconditioner=self._preconditioner, **options)

        def to_numpy(value):
            return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value

        numpy_options = {name: to_numpy(value) for name, value in options.items()}
        if numpy_options.get("init") is not None:
            numpy_options["init"] = tuple(to_numpy(part) for part in numpy_options["init"])
        coef, intercept = self.memory.cache(_fit_heads_on_numpy)(
            to_numpy(X), to_numpy(y), int(n_classes), str(X.device), numpy_options
        )
        return torch.as_tensor(np.asarray(coef), device=X.device), torch.as_tensor(np.asarray(intercept), device=X.device)
