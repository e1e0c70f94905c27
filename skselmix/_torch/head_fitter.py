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
from .architecture import LINEAR
from .heads import FittedStart
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


def _fit_start_on_numpy(architecture, X, y, n_classes, device, seed, options, code=None, progress=None):
    """``architecture.fit`` on numpy inputs, returning its stack's tensors as numpy arrays
    followed by its iterations and whether it hit its cap (what joblib caches). ``code``
    (:func:`code_version`) is not read: it is part of the cache key; ``progress`` is not
    (the cache ignores it)."""
    device = torch.device(device)
    fitted = architecture.fit(torch.as_tensor(X, device=device), torch.as_tensor(y, device=device), n_classes,
                              seed=seed, progress=progress, **_options_as_tensors(options, device))
    return [*(t.cpu().numpy() for t in fitted.stack.tensors()), fitted.n_iter, fitted.at_cap]


def _checked_array(value, shape, what):
    array = np.array(value)  # a copy: a memory-mapped entry (mmap_mode="r") is read-only, which torch warns of
    if array.dtype.kind != "f" or array.shape != tuple(shape) or not np.isfinite(array).all():
        raise ValueError(f"{what} is a {array.dtype} array of shape {array.shape}, not finite floats of shape "
                         f"{tuple(shape)}")
    return array


class HeadFitter:
    """Fits the warm-start heads of one set of labelled rows (a feedback mode's training rows).

    Called like :func:`~skselmix._torch.warm_start.fit_linear_heads` (without
    ``preconditioner``), it returns the heads' stack, fitted as ``architecture`` (a linear
    head by default, or networks seeded by ``seed``: see
    :mod:`~skselmix._torch.architecture`) fits them. Without a cache, a linear fit's L-BFGS
    preconditioner is computed once and serves every call (the warm start, a second
    ``init``, the step-0 refit on all rows). With ``memory`` (a path or a
    ``joblib.Memory``, as ``Pipeline`` takes), each call goes through the cache, which
    computes the same preconditioner inside on a miss, so a cached head equals an uncached
    one; every entry is checked against the shapes the architecture expects.

    It keeps what the solver said: ``n_iter`` is the most iterations of any call so far
    (L-BFGS iterations, or a network's Adam steps: what ``n_iter_warm_start_`` reports), and
    a call that stops at its iteration cap raises a ``ConvergenceWarning`` (from the cache
    too: the cached heads are the same).

    With ``verbose``, a linear warm start prints its L-BFGS iterations as it goes
    (:class:`~skselmix._progress.PhaseProgress`): at K = 1000 it is most of a fit.
    """

    def __init__(self, memory=None, architecture=LINEAR, seed=None, verbose=0):
        self.memory = check_memory(memory)
        self.verbose = verbose
        self.architecture = architecture
        self.seed = seed
        self._preconditioner = "auto"
        self.n_iter = 0

    @property
    def caches(self):
        return getattr(self.memory, "location", None) is not None

    def __call__(self, X, y, n_classes, **options):
        # Features on a Dask cluster are not hashed (it would gather every row): refitted, uncached.
        if self.caches and isinstance(X, torch.Tensor):
            return self._report(self._cached(X, y, n_classes, options), options)
        if self.architecture.preconditioned and isinstance(self._preconditioner, str):
            self._preconditioner = feature_preconditioner(X, options.get("sample_weight"))
        fitted = self.architecture.fit(X, y, n_classes, seed=self.seed, preconditioner=self._preconditioner,
                                       progress=self._progress(options), **options)
        return self._report(fitted, options)

    def _cached(self, X, y, n_classes, options):
        entry = self.memory.cache(_fit_start_on_numpy, ignore=["progress"])(
            self.architecture, _as_numpy(X), _as_numpy(y), int(n_classes), str(X.device), self.seed,
            _options_as_numpy(options), code_version(), progress=self._progress(options),
        )
        n_heads = 1 if options.get("n_folds") is None else int(options["n_folds"])
        shapes = self.architecture.tensor_shapes(n_heads, n_classes, X.shape[1])
        *arrays, n_iter, at_cap = self._checked(entry, shapes)
        tensors = [torch.as_tensor(array, device=X.device) for array in arrays]
        return FittedStart(self.architecture.stack_of(tensors, X.shape[1]), int(n_iter), bool(at_cap))

    def _progress(self, options):
        return PhaseProgress(self.verbose, f"{options['kind']} warm start") if self.verbose else None

    def _checked(self, entry, shapes):
        """A cache entry of arrays of ``shapes``, finite float values, followed by two plain
        numbers; else a ``ValueError`` naming the cache (another version's or a tampered
        entry)."""
        where = getattr(self.memory, "location", self.memory)
        n_arrays = len(shapes)
        try:
            entry = list(entry)
            if len(entry) != n_arrays + 2:
                raise ValueError(f"{len(entry)} parts")
            for i, shape in enumerate(shapes):
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

    def _report(self, fitted, options):
        """The stack of ``fitted`` (a :class:`~skselmix._torch.heads.FittedStart`), its
        iterations counted and a stop at the iteration cap warned of."""
        self.n_iter = max(self.n_iter, int(fitted.n_iter))
        if fitted.at_cap:
            cap = options.get("max_iter", fit_linear_heads.__kwdefaults__["max_iter"])
            warn(
                f"The {options['kind']} warm start stopped at its L-BFGS iteration cap ({cap}) before its gradient "
                f"tolerance: the heads are close to, not at, the optimum of their loss. SelMix fine-tunes from them "
                f"all the same; features on very different scales (try column_scaling='standardize') or a tiny "
                f"weight_decay slow it.",
                category=ConvergenceWarning,
            )
        return fitted.stack
