"""Saving and loading fitted models with skops, trusting an explicit allow-list of types.

Pickle and joblib work too (fitted state is numpy only, so a model fitted on a GPU
loads on a CPU-only machine), but unpickling a file can run arbitrary code. The
skops format stores objects as data; :func:`load` accepts a file only when every
type it would have to trust is one that a fitted skselmix model really contains:
:class:`~skselmix.SelMixClassifier`, :class:`~skselmix.SelMixClassifierCV` and the built-in objective classes (plus the
numpy and builtin types skops trusts by default). Anything else, including
functions and names that skselmix modules merely import, is refused. Needs the
optional extra ``skselmix[persistence]``.
"""

from ._classifier import SelMixClassifier
from ._classifier_cv import SelMixClassifierCV
from ._objectives import _BUILTIN
from .datasets._cache import require

__all__ = ["dump", "load", "untrusted_foreign_types", "TRUSTED_TYPES"]

#: Fully qualified names (as skops reports them) of the types :func:`load` trusts
#: beyond skops's defaults. An allow-list, never a prefix: ``skselmix.`` also
#: names functions such as :func:`dump`, which a tampered file could call.
TRUSTED_TYPES = frozenset(
    f"{cls.__module__}.{cls.__qualname__}" for cls in (SelMixClassifier, SelMixClassifierCV, *_BUILTIN.values())
)


def _sio():
    return require("skops.io", "the PyPI package 'skops' (pip install 'skselmix[persistence]')")


def dump(model, file):
    """Save a fitted model in the skops format.

    Parameters
    ----------
    model : SelMixClassifier
        The estimator to save (fitted or not).
    file : str, path-like or file object
        Destination path, or a binary file opened for writing.
    """
    _sio().dump(model, file)


def untrusted_foreign_types(file):
    """Types in a skops file that :func:`load` would refuse.

    Parameters
    ----------
    file : str, path-like or file object
        A file written by :func:`dump` (or by ``skops.io.dump``).

    Returns
    -------
    types : list of str
        Fully qualified type names that skops does not trust by default and
        that are not in :data:`TRUSTED_TYPES`; empty when :func:`load` accepts
        the file.
    """
    return [t for t in _sio().get_untrusted_types(file=file) if t not in TRUSTED_TYPES]


def load(file):
    """Load a model saved by :func:`dump`, trusting only :data:`TRUSTED_TYPES`.

    Parameters
    ----------
    file : str, path-like or file object
        A file written by :func:`dump`.

    Returns
    -------
    model : SelMixClassifier
        The loaded estimator.

    Raises
    ------
    ValueError
        When the file holds any other type that skops does not trust by default
        (a model whose ``metric`` is a user function, or a tampered file naming
        a function or an imported class): the message names the types. Inspect
        them and load with ``skops.io.load(file, trusted=[...])`` if you trust
        them.
    """
    sio = _sio()
    untrusted = sio.get_untrusted_types(file=file)
    foreign = [t for t in untrusted if t not in TRUSTED_TYPES]
    if foreign:
        raise ValueError(
            f"Refusing to load: the file holds types that skselmix does not trust: {foreign}. "
            "Inspect them and use skops.io.load(file, trusted=[...]) if you trust them."
        )
    return sio.load(file, trusted=untrusted)
