"""Who fits a fit's warm-start heads: L-BFGS directly, or through a ``joblib.Memory`` cache.

Nothing of the warm start depends on the loop-only parameters (``s``,
``learning_rate``, ...), so a search over them that refits the same rows pays
the same L-BFGS runs again for every candidate. With ``memory=`` the heads are
cached on disk, keyed by everything they are computed from (the mapped features,
labels, folds, weights, kind, L2 strength, start and solver settings): a
candidate whose rows or folds differ misses the cache, so a fold head is only
ever reused for the very rows it was fitted on.
"""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_memory

from ._adapter import fit_networks
from ._warm_start import feature_preconditioner, fit_linear_heads

_TENSOR_OPTIONS = ("fold", "class_weight", "sample_weight")


def _as_numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


def _options_as_numpy(options):
    """Fit options with their tensors as numpy arrays: what the cache hashes and stores."""
    numpy_options = {name: _as_numpy(value) for name, value in options.items()}
    if numpy_options.get("init") is not None:
        numpy_options["init"] = tuple(_as_numpy(part) for part in numpy_options["init"])
    return numpy_options


def _options_as_tensors(options, device):
    """The inverse of :func:`_options_as_numpy`, on ``device``."""
    def tensor(array):
        return None if array is None else torch.as_tensor(array, device=device)

    options = {name: tensor(value) if name in _TENSOR_OPTIONS else value for name, value in options.items()}
    if options.get("init") is not None:
        options["init"] = tuple(tensor(part) for part in options["init"])
    return options


def _fit_heads_on_numpy(X, y, n_classes, device, options):
    """:func:`fit_linear_heads` on numpy inputs, returning numpy heads (what joblib caches)."""
    device = torch.device(device)
    heads = fit_linear_heads(torch.as_tensor(X, device=device), torch.as_tensor(y, device=device), n_classes,
                             **_options_as_tensors(options, device))
    return heads.coef.cpu().numpy(), heads.intercept.cpu().numpy(), heads.n_iter, heads.at_cap


def _fit_networks_on_numpy(X, y, n_classes, device, hidden_layer_sizes, seed, options):
    """:func:`fit_networks` on numpy inputs, returning numpy arrays (what joblib caches)."""
    device = torch.device(device)
    fitted = fit_networks(torch.as_tensor(X, device=device), torch.as_tensor(y, device=device), n_classes,
                          hidden_layer_sizes, seed=seed, **_options_as_tensors(options, device))
    adapter = fitted.adapter
    return (fitted.coef.cpu().numpy(), fitted.intercept.cpu().numpy(),
            [w.cpu().numpy() for w in adapter.weights], [b.cpu().numpy() for b in adapter.biases],
            adapter.input_scale, fitted.n_iter)


class HeadFitter:
    """Fits the heads of one set of labelled rows (a feedback mode's training rows).

    Called like :func:`~skselmix._warm_start.fit_linear_heads` (without
    ``preconditioner``). Without a cache, the rows' L-BFGS preconditioner is
    computed once and serves every call (the warm start, a second ``init``, the
    step-0 refit on all rows). With ``memory`` (a path or a ``joblib.Memory``,
    as ``Pipeline`` takes), each call goes through the cache, which computes the
    same preconditioner inside on a miss, so a cached head equals an uncached one.

    Returns ``(coef, intercept)`` and keeps what the solver said: ``n_iter`` is
    the most L-BFGS iterations of any call so far (what ``n_iter_warm_start_``
    reports), and a call that stops at its iteration cap raises a
    ``ConvergenceWarning`` (from the cache too: the cached heads are the same).

    With ``hidden_layer_sizes`` it fits networks instead
    (:func:`~skselmix._adapter.fit_networks`, seeded by ``seed``) and returns
    ``(coef, intercept, adapter)``; ``n_iter`` is then their Adam steps.
    """

    def __init__(self, memory=None, hidden_layer_sizes=(), seed=0):
        self.memory = check_memory(memory)
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.seed = seed
        self._preconditioner = "auto"
        self.n_iter = 0

    @property
    def caches(self):
        return getattr(self.memory, "location", None) is not None

    def __call__(self, X, y, n_classes, **options):
        if self.hidden_layer_sizes:
            return self._networks(X, y, n_classes, options)
        if not self.caches:
            if isinstance(self._preconditioner, str):
                self._preconditioner = feature_preconditioner(X, options.get("sample_weight"))
            return self._report(*fit_linear_heads(X, y, n_classes, preconditioner=self._preconditioner, **options),
                                options)

        coef, intercept, n_iter, at_cap = self.memory.cache(_fit_heads_on_numpy)(
            _as_numpy(X), _as_numpy(y), int(n_classes), str(X.device), _options_as_numpy(options)
        )
        coef = torch.as_tensor(np.asarray(coef), device=X.device)
        return self._report(coef, torch.as_tensor(np.asarray(intercept), device=X.device), n_iter, at_cap, options)

    def _networks(self, X, y, n_classes, options):
        from ._adapter import Adapter

        sizes, seed = self.hidden_layer_sizes, self.seed
        if not self.caches:
            fitted = fit_networks(X, y, n_classes, sizes, seed=seed, **options)
            self.n_iter = max(self.n_iter, fitted.n_iter)
            return fitted.coef, fitted.intercept, fitted.adapter
        coef, intercept, weights, biases, input_scale, n_iter = self.memory.cache(_fit_networks_on_numpy)(
            _as_numpy(X), _as_numpy(y), int(n_classes), str(X.device), sizes, int(seed), _options_as_numpy(options)
        )
        self.n_iter = max(self.n_iter, int(n_iter))
        tensor = lambda array: torch.as_tensor(np.asarray(array), device=X.device)  # noqa: E731
        adapter = Adapter(tuple(map(tensor, weights)), tuple(map(tensor, biases)), float(input_scale))
        return tensor(coef), tensor(intercept), adapter

    def _report(self, coef, intercept, n_iter, at_cap, options):
        self.n_iter = max(self.n_iter, int(n_iter))
        if at_cap:
            cap = options.get("max_iter", fit_linear_heads.__kwdefaults__["max_iter"])
            warnings.warn(
                f"The {options['kind']} warm start stopped at its L-BFGS iteration cap ({cap}) before its gradient "
                f"tolerance: the heads are close to, not at, the optimum of their loss. SelMix fine-tunes from them "
                f"all the same; features on very different scales (try StandardScaler) or a tiny weight_decay slow it.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return coef, intercept
