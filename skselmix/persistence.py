"""Saving and loading fitted models with skops, trusting only skselmix's own types.

Pickle and joblib work too (fitted state is numpy only, so a model fitted on a GPU
loads on a CPU-only machine), but unpickling a file can run arbitrary code. The
skops format stores objects as data; :func:`load` accepts a file only when every
type it would have to trust belongs to skselmix, so loading cannot run code from
anywhere else. Needs the optional extra ``skselmix[persistence]``.
"""

from .datasets._cache import require

__all__ = ["dump", "load", "untrusted_foreign_types"]


def _sio():
    return require("skops.io", "the PyPI package 'skops' (pip install 'skselmix[persistence]')")


def dump(model, file):
    """Save ``model`` to ``file`` (a path or a writable binary file) in the skops format."""
    _sio().dump(model, file)


def untrusted_foreign_types(file):
    """Types in ``file`` that skops does not trust by default and that are not skselmix's own."""
    return [t for t in _sio().get_untrusted_types(file=file) if not t.startswith("skselmix.")]


def load(file):
    """Load a model saved by :func:`dump`, trusting skselmix's own types and nothing else.

    Raises
    ------
    ValueError
        When the file holds any other type that skops does not trust by default
        (for example a model whose ``metric`` is a user function): such a file
        must be inspected and loaded with ``skops.io.load(..., trusted=[...])``.
    """
    sio = _sio()
    untrusted = sio.get_untrusted_types(file=file)
    foreign = [t for t in untrusted if not t.startswith("skselmix.")]
    if foreign:
        raise ValueError(
            f"Refusing to load: the file holds types outside skselmix that would need trust: {foreign}. "
            "Inspect them and use skops.io.load(file, trusted=[...]) if you trust them."
        )
    return sio.load(file, trusted=untrusted)
