"""Who fits a fit's warm-start heads: L-BFGS directly, or through a ``joblib.Memory`` cache.

Nothing of the warm start depends on the loop-only parameters (``s``,
``learning_rate``, ...), so a search over them that refits the same rows pays
the same L-BFGS runs again for every candidate. With ``memory=`` the heads are
cached on disk, keyed by everything they are computed from (the mapped features,
labels, folds, weights, kind, L2 strength, start and solver settings): a
candidate whose rows or folds differ misses the cache, so a fold head is only
ever reused for the very rows it was fitted on. The key also holds the versions of
skselmix and of the numeric libraries (:func:`code_version`), so an upgrade that changes
the solver misses the cache instead of serving heads of the old code, and every entry is
checked (shapes, dtypes, finite values) before use: an entry that is not a warm start of
these rows is a ``ValueError`` naming the cache.

The cache is joblib's: entries are pickles, and loading one runs whatever code it names.
Its directory must be as trusted as the code itself.
"""

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_memory

from .._fit_report import warn
from .._progress import PhaseProgress
from .adapter import fit_networks
from .warm_start import feature_preconditioner, fit_linear_heads

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


def code_version():
    """What the cache key holds of the code: skselmix's version and the numeric libraries'."""
    import scipy
    import sklearn

    from .._version import __version__

    return (__version__, torch.__version__, np.__version__, scipy.__version__, sklearn.__version__)


def _fit_heads_on_numpy(X, y, n_classes, device, options, code=None, progress=None):
    """:func:`fit_linear_heads` on numpy inputs, returning numpy heads (what joblib caches).
    ``code`` (:func:`code_version`) is not read: it is part of the cache key; ``progress``
    is not (the cache ignores it)."""
    device = torch.device(device)
    heads = fit_linear_heads(torch.as_tensor(X, device=device), torch.as_tensor(y, device=device), n_classes,
                             progress=progress, **_options_as_tensors(options, device))
    return heads.coef.cpu().numpy(), heads.intercept.cpu().numpy(), heads.n_iter, heads.at_cap


def _fit_networks_on_numpy(X, y, n_classes, device, hidden_layer_sizes, seed, options, code=None):
    """:func:`fit_networks` on numpy inputs, returning numpy arrays (what joblib caches);
    ``code`` as in :func:`_fit_heads_on_numpy`."""
    device = torch.device(device)
    fitted = fit_networks(torch.as_tensor(X, device=device), torch.as_tensor(y, device=device), n_classes,
                          hidden_layer_sizes, seed=seed, **_options_as_tensors(options, device))
    adapter = fitted.adapter
    return (fitted.coef.cpu().numpy(), fitted.intercept.cpu().numpy(),
            [w.cpu().numpy() for w in adapter.weights], [b.cpu().numpy() for b in adapter.biases],
            adapter.input_scale, fitted.n_iter)


def _checked_array(value, shape, what):
    array = np.array(value)  # a copy: a memory-mapped entry (mmap_mode="r") is read-only, which torch warns of
    if array.dtype.kind != "f" or array.shape != tuple(shape) or not np.isfinite(array).all():
        raise ValueError(f"{what} is a {array.dtype} array of shape {array.shape}, not finite floats of shape "
                         f"{tuple(shape)}")
    return array


class HeadFitter:
    """Fits the heads of one set of labelled rows (a feedback mode's training rows).

    Called like :func:`~skselmix._torch.warm_start.fit_linear_heads` (without
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
    (:func:`~skselmix._torch.adapter.fit_networks`, seeded by ``seed``) and returns
    ``(coef, intercept, adapter)``; ``n_iter`` is then their Adam steps.

    With ``verbose``, a linear warm start prints its L-BFGS iterations as it goes
    (:class:`~skselmix._progress.PhaseProgress`): at K = 1000 it is most of a fit.
    """

    def __init__(self, memory=None, hidden_layer_sizes=(), seed=0, verbose=0):
        self.memory = check_memory(memory)
        self.verbose = verbose
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
        # Features on a Dask cluster are not hashed (it would gather every row): refitted, uncached.
        if not self.caches or not isinstance(X, torch.Tensor):
            if isinstance(self._preconditioner, str):
                self._preconditioner = feature_preconditioner(X, options.get("sample_weight"))
            return self._report(*fit_linear_heads(X, y, n_classes, preconditioner=self._preconditioner,
                                                  progress=self._progress(options), **options), options)

        entry = self.memory.cache(_fit_heads_on_numpy, ignore=["progress"])(
            _as_numpy(X), _as_numpy(y), int(n_classes), str(X.device), _options_as_numpy(options), code_version(),
            progress=self._progress(options),
        )
        n_heads = 1 if options.get("n_folds") is None else int(options["n_folds"])
        coef, intercept, n_iter, at_cap = self._checked(entry, [(n_heads, n_classes, X.shape[1]), (n_heads, n_classes)])
        coef = torch.as_tensor(coef, device=X.device)
        return self._report(coef, torch.as_tensor(intercept, device=X.device), n_iter, at_cap, options)

    def _progress(self, options):
        return PhaseProgress(self.verbose, f"{options['kind']} warm start") if self.verbose else None

    def _networks(self, X, y, n_classes, options):
        from .adapter import Adapter

        sizes, seed = self.hidden_layer_sizes, self.seed
        if not self.caches:
            fitted = fit_networks(X, y, n_classes, sizes, seed=seed, **options)
            self.n_iter = max(self.n_iter, fitted.n_iter)
            return fitted.coef, fitted.intercept, fitted.adapter
        entry = self.memory.cache(_fit_networks_on_numpy)(
            _as_numpy(X), _as_numpy(y), int(n_classes), str(X.device), sizes, int(seed), _options_as_numpy(options),
            code_version(),
        )
        n_heads = 1 if options.get("n_folds") is None else int(options["n_folds"])
        widths = (X.shape[1], *sizes)
        shapes = [(n_heads, n_classes, sizes[-1]), (n_heads, n_classes),
                  [(n_heads, out, inp) for inp, out in zip(widths, widths[1:])], [(n_heads, out) for out in sizes]]
        coef, intercept, weights, biases, input_scale, n_iter = self._checked(entry, shapes, n_numbers=2)
        self.n_iter = max(self.n_iter, int(n_iter))
        tensor = lambda array: torch.as_tensor(np.asarray(array), device=X.device)  # noqa: E731
        adapter = Adapter(tuple(map(tensor, weights)), tuple(map(tensor, biases)), float(input_scale))
        return tensor(coef), tensor(intercept), adapter

    def _checked(self, entry, shapes, n_numbers=None):
        """A cache entry whose arrays have ``shapes`` (a shape, or a list of shapes for a list of
        arrays), finite float values, followed by plain numbers; else a ``ValueError`` naming
        the cache (another version's or a tampered entry)."""
        where = getattr(self.memory, "location", self.memory)
        n_arrays = len(shapes)
        try:
            entry = list(entry)
            if len(entry) != n_arrays + (2 if n_numbers is None else n_numbers):
                raise ValueError(f"{len(entry)} parts")
            for i, shape in enumerate(shapes):
                if isinstance(shape, list):
                    if not isinstance(entry[i], (list, tuple)) or len(entry[i]) != len(shape):
                        raise ValueError(f"part {i} is not a list of {len(shape)} arrays")
                    entry[i] = [_checked_array(a, s, f"part {i}") for a, s in zip(entry[i], shape)]
                else:
                    entry[i] = _checked_array(entry[i], shape, f"part {i}")
            for value in entry[n_arrays:]:
                if isinstance(value, (str, bytes)) or not np.isfinite(float(value)):
                    raise ValueError(f"{value!r} is not a finite number")
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"The memory= cache at {where!r} returned a warm start that does not fit this fit ({exc}): it was "
                "written by other code, or tampered with. Clear it (joblib.Memory(...).clear()) or use another "
                "directory."
            ) from exc
        return entry

    def _report(self, coef, intercept, n_iter, at_cap, options):
        self.n_iter = max(self.n_iter, int(n_iter))
        if at_cap:
            cap = options.get("max_iter", fit_linear_heads.__kwdefaults__["max_iter"])
            warn(
                f"The {options['kind']} warm start stopped at its L-BFGS iteration cap ({cap}) before its gradient "
                f"tolerance: the heads are close to, not at, the optimum of their loss. SelMix fine-tunes from them "
                f"all the same; features on very different scales (try column_scaling='standardize') or a tiny "
                f"weight_decay slow it.",
                category=ConvergenceWarning,
            )
        return coef, intercept
