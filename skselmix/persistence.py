"""Saving and loading fitted models with skops, trusting explicit allow-lists.

Pickle and joblib work too (fitted state is numpy only, so a model fitted on a GPU
loads on a CPU-only machine), but unpickling a file can run arbitrary code. The
skops format stores objects as data; :func:`load` accepts a file only when

* every type it would have to trust is one that a fitted skselmix model really
  contains: :class:`~skselmix.SelMixClassifier`,
  :class:`~skselmix.SelMixClassifierCV`, the built-in objective classes and the
  scikit-learn splitters that ``cv`` accepts (plus the numpy and builtin types
  skops trusts by default). Anything else, including functions and names that
  skselmix modules merely import, is refused;
* every attribute of those objects is one they have (their parameters and, for the
  estimators, their fitted attributes): a tampered file cannot shadow a method such
  as ``predict`` with an allowed numpy function;
* its archive inflates to a bounded size, checked before anything is inflated.

Needs the optional extra ``skselmix[persistence]``.
"""

import importlib.abc
import inspect
import sys
import zipfile
from contextlib import contextmanager, nullcontext

import numpy as np
from sklearn.model_selection import KFold, LeaveOneOut, PredefinedSplit, StratifiedKFold

from ._classifier import FITTED_ATTRIBUTES, SelMixClassifier
from ._classifier_cv import SEARCH_ATTRIBUTES, SelMixClassifierCV
from ._lazy import require
from ._objectives import BUILTIN_OBJECTIVES

__all__ = ["dump", "load", "untrusted_foreign_types", "TRUSTED_TYPES", "MAX_INFLATION", "INFLATION_ALLOWANCE"]

# The splitters a saved model's ``cv`` may hold: those whose test folds partition the rows.
_SPLITTERS = (KFold, StratifiedKFold, PredefinedSplit, LeaveOneOut)
_SPLITTER_STATE = {PredefinedSplit: {"unique_folds"}}  # set by __init__ from its parameter
_ESTIMATORS = {SelMixClassifier: FITTED_ATTRIBUTES, SelMixClassifierCV: FITTED_ATTRIBUTES + SEARCH_ATTRIBUTES}
_PARAMETER_HOLDERS = (*BUILTIN_OBJECTIVES, *_SPLITTERS)

#: Fully qualified names (as skops reports them) of the types :func:`load` trusts
#: beyond skops's defaults. An allow-list, never a prefix: ``skselmix.`` also
#: names functions such as :func:`dump`, which a tampered file could call.
TRUSTED_TYPES = frozenset(f"{cls.__module__}.{cls.__qualname__}" for cls in (*_ESTIMATORS, *_PARAMETER_HOLDERS))

#: Default bound of :func:`load` on the inflated size of an archive: this many times
#: its stored size, plus :data:`INFLATION_ALLOWANCE` bytes. ``dump`` stores arrays
#: uncompressed (ratio 1) and float arrays barely compress, so a legitimate file is
#: far below it; deflated zeros reach about 1000.
MAX_INFLATION = 32
#: Bytes :func:`load` allows beyond :data:`MAX_INFLATION` times the stored size (64 MiB).
INFLATION_ALLOWANCE = 64 << 20


def _sio():
    # skops builds its trusted types from sklearn.utils.all_estimators, whose walk over
    # scikit-learn's packages imports torch through sklearn's array-API shim when torch is
    # installed (seconds, and 750 MB of library) although no loaded model needs it. The walk
    # skips packages that fail to import, so torch is hidden while skops.io is first imported.
    hide = "skops.io" not in sys.modules and "torch" not in sys.modules
    with _torch_hidden() if hide else nullcontext():
        return require("skops.io", "the PyPI package 'skops' (pip install 'skselmix[persistence]')")


class _HideTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden while skops.io is imported)", name=name)
        return None


@contextmanager
def _torch_hidden():
    finder = _HideTorch()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


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


def load(file, *, max_bytes=None):
    """Load a model saved by :func:`dump`, trusting only :data:`TRUSTED_TYPES`.

    Parameters
    ----------
    file : str, path-like or file object
        A file written by :func:`dump`.
    max_bytes : int or None, default=None
        Largest total size the archive's members may inflate to; ``None``
        allows :data:`MAX_INFLATION` times the file's size plus
        :data:`INFLATION_ALLOWANCE` bytes. Checked from the archive's
        directory and each array's header before anything is inflated.

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
        them. Also when an object holds an attribute its class does not have,
        or when the archive would inflate beyond ``max_bytes`` or its arrays'
        sizes disagree with their headers.
    """
    sio = _sio()
    _check_archive(file, max_bytes)
    untrusted = sio.get_untrusted_types(file=file)
    foreign = [t for t in untrusted if t not in TRUSTED_TYPES]
    if foreign:
        raise ValueError(
            f"Refusing to load: the file holds types that skselmix does not trust: {foreign}. "
            "Inspect them and use skops.io.load(file, trusted=[...]) if you trust them."
        )
    _rewind(file)
    model = sio.load(file, trusted=untrusted)
    _check_attribute_names(model)
    return model


def _rewind(file):
    if hasattr(file, "seek"):
        file.seek(0)


def _check_archive(file, max_bytes):
    """Refuse an archive whose members would inflate beyond ``max_bytes`` (in total), or
    whose ``.npy`` members' sizes disagree with the shape and dtype in their headers."""
    _rewind(file)
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise ValueError("Refusing to load: the file is not a skops archive (not a zip file).") from exc
    with archive:
        members = archive.infolist()
        stored = sum(member.compress_size for member in members)
        limit = MAX_INFLATION * stored + INFLATION_ALLOWANCE if max_bytes is None else int(max_bytes)
        total = sum(member.file_size for member in members)
        if total > limit:
            raise ValueError(
                f"Refusing to load: the archive would inflate to {total} bytes from {stored} stored, above the "
                f"bound of {limit} bytes (max_bytes). A model's arrays barely compress; pass a larger max_bytes "
                "only for a file you trust."
            )
        for member in members:
            if member.filename.endswith(".npy"):
                _check_array_member(archive, member)
    _rewind(file)


def _check_array_member(archive, member):
    """The inflated size of an ``.npy`` member must be its header plus shape x itemsize."""
    with archive.open(member) as stream:  # ZipExtFile inflates only what is read
        try:
            version = np.lib.format.read_magic(stream)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            shape, _, dtype = read_header[version](stream, max_header_size=10000)
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"Refusing to load: the array {member.filename!r} has no valid .npy header.") from exc
        header_bytes = stream.tell()
    expected = header_bytes + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if dtype.hasobject or member.file_size != expected:
        raise ValueError(
            f"Refusing to load: the array {member.filename!r} inflates to {member.file_size} bytes, but its header "
            f"({dtype}, shape {shape}) implies {expected}."
        )


def _check_attribute_names(obj, seen=None):
    """Every trusted object in the loaded tree holds only attributes its class has."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _check_attribute_names(item, seen)
        return
    if isinstance(obj, dict):
        for item in obj.values():
            _check_attribute_names(item, seen)
        return
    cls = type(obj)
    if cls in _ESTIMATORS:
        allowed = set(cls._get_param_names()) | set(_ESTIMATORS[cls])
    elif cls in BUILTIN_OBJECTIVES:
        allowed = set(vars(cls()))  # every built-in objective has defaults for all its parameters
    elif cls in _SPLITTERS:
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        allowed = {name for name, p in inspect.signature(cls.__init__).parameters.items() if p.kind in named} - {"self"}
        allowed |= _SPLITTER_STATE.get(cls, set())
    else:
        return
    unknown = sorted(set(vars(obj)) - allowed)
    if unknown:
        raise ValueError(
            f"Refusing to load: the {cls.__name__} in the file holds attributes it does not have: {unknown}."
        )
    for value in vars(obj).values():
        _check_attribute_names(value, seen)
