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
* its archive inflates to a bounded size: the bound is taken from the bytes the file
  really holds (not from sizes its zip directory declares), every member is inflated
  and counted against it before skops reads anything, and ``schema.json`` (which skops
  parses into Python objects, several times its size) has a bound of its own,
  :data:`MAX_SCHEMA_BYTES`;
* its schema is of bounded depth, and of bounded size as skops walks it: a repeated node
  id makes skops walk a small graph as a huge tree (for ever, in effect), or a cycle;
  at most :data:`MAX_SCHEMA_NODES` visits;
* the loaded object is a skselmix estimator, or a ``Pipeline`` whose last step is one,
  and no object in it holds an attribute that shadows one of its class's methods (a
  scikit-learn step whose ``predict`` is a numpy function is refused too); a skselmix
  estimator's ``objective_`` is a built-in objective.

``memory`` is never taken from a file: every estimator in the loaded tree gets
``memory=None``, because a cache directory chosen by the file's author would be read
(joblib entries are pickles: code) and written by the next ``fit`` of the model.

Every refusal is a ``ValueError`` that says why. The same archive and schema checks
run before :func:`untrusted_foreign_types` inspects a file.

Needs the PyPI package ``skops`` (``pip install skops``, or the extra
``skselmix[persistence]`` where torch is installed for fitting anyway).
"""

import importlib.abc
import inspect
import json
import os
import sys
import zipfile
from contextlib import contextmanager, nullcontext
from numbers import Integral

import numpy as np
from sklearn.model_selection import KFold, LeaveOneOut, PredefinedSplit, StratifiedKFold

from ._classifier import FITTED_ATTRIBUTES, SelMixClassifier
from ._classifier_cv import SEARCH_ATTRIBUTES, SelMixClassifierCV
from ._fit_report import class_list
from ._lazy import require
from ._objectives import BUILTIN_OBJECTIVES

__all__ = [
    "dump", "load", "untrusted_foreign_types", "TRUSTED_TYPES", "MAX_INFLATION", "INFLATION_ALLOWANCE",
    "MAX_SCHEMA_BYTES", "MAX_SCHEMA_NODES", "MAX_SCHEMA_DEPTH",
]

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
#: Largest inflated ``schema.json`` :func:`load` reads (8 MiB; a fitted model's is about 0.1 to 0.2 MiB:
#: its arrays are separate members). ``json`` makes Python objects of several times its size.
MAX_SCHEMA_BYTES = 8 << 20
#: Most node visits skops's walk of a schema may make (a fitted model's: under a thousand).
MAX_SCHEMA_NODES = 200_000
#: Deepest nesting of ``schema.json`` :func:`load` reads (a fitted model's: 9 to 16 levels).
MAX_SCHEMA_DEPTH = 100
_CHUNK = 1 << 20  # bytes inflated at a time while counting


def _sio():
    # skops builds its trusted types from sklearn.utils.all_estimators, whose walk over
    # scikit-learn's packages imports torch through sklearn's array-API shim when torch is
    # installed (seconds, and 750 MB of library) although no loaded model needs it. The walk
    # skips packages that fail to import, so torch is hidden while skops.io is first imported.
    hide = "skops.io" not in sys.modules and "torch" not in sys.modules
    with _torch_hidden() if hide else nullcontext():
        return require("skops.io", "the PyPI package 'skops' (pip install skops; the extra "
                       "'skselmix[persistence]' also installs torch, which loading does not need)")


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
    sio = _sio()
    _check_archive(file, None)
    return [t for t in _skops_call(sio.get_untrusted_types, file=file) if t not in TRUSTED_TYPES]


def load(file, *, max_bytes=None):
    """Load a model saved by :func:`dump`, trusting only :data:`TRUSTED_TYPES`.

    Parameters
    ----------
    file : str, path-like or file object
        A file written by :func:`dump`.
    max_bytes : int or None, default=None
        Largest total size the archive's members may inflate to; ``None``
        allows :data:`MAX_INFLATION` times the file's size (the bytes it
        holds) plus :data:`INFLATION_ALLOWANCE` bytes. Every member is
        inflated and counted against it, and each array's size checked
        against its header, before skops reads anything. Given, it also
        raises the schema's bounds (:data:`MAX_SCHEMA_BYTES`,
        :data:`MAX_SCHEMA_NODES`), which a model whose ``history_`` has a
        record per step over very many steps exceeds.

    Returns
    -------
    model : SelMixClassifier, SelMixClassifierCV or Pipeline
        The loaded estimator (a ``Pipeline`` must end in a skselmix estimator),
        with ``memory=None`` wherever the file had a cache directory.

    Raises
    ------
    ValueError
        When the file holds any other type that skops does not trust by default
        (a model whose ``metric`` is a user function, or a tampered file naming
        a function or an imported class): the message names the types. Inspect
        them and load with ``skops.io.load(file, trusted=[...])`` if you trust
        them. Also when an object holds an attribute its class does not have
        or one that shadows a method, when the root is not a skselmix
        estimator (or a Pipeline ending in one), when the archive would
        inflate beyond ``max_bytes``, its arrays' sizes disagree with their
        headers, or its schema is too large, too deep or not a tree.
    """
    max_bytes = _checked_max_bytes(max_bytes)
    sio = _sio()
    _check_archive(file, max_bytes)
    untrusted = _skops_call(sio.get_untrusted_types, file=file)
    foreign = [t for t in untrusted if t not in TRUSTED_TYPES]
    if foreign:
        raise ValueError(
            f"Refusing to load: the file holds types that skselmix does not trust: {foreign}. "
            "Inspect them and use skops.io.load(file, trusted=[...]) if you trust them."
        )
    _rewind(file)
    model = _skops_call(sio.load, file, trusted=untrusted)
    _check_root(model)
    _check_attribute_names(model)
    _forget_memory(model)
    return model


def _skops_call(function, *args, **kwargs):
    """A skops reader, its errors on a malformed file (a missing member or key, an unknown
    loader, a node of the wrong shape) a ``ValueError``."""
    try:
        return function(*args, **kwargs)
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, RuntimeError, NotImplementedError, RecursionError, OverflowError,
            IndexError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"Refusing to load: the file is not a valid skops model ({type(exc).__name__}: {exc}).") \
            from exc


def _checked_max_bytes(max_bytes):
    """``max_bytes`` as an int (None stays None): a positive integer, not a bool, float or string."""
    if max_bytes is None:
        return None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, Integral) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive int or None, got {max_bytes!r}.")
    return int(max_bytes)


def _file_size(file):
    """Bytes the file really holds (a path, or a file object's length)."""
    if hasattr(file, "seek"):
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(0)
        return size
    return os.path.getsize(file)


def _rewind(file):
    if hasattr(file, "seek"):
        file.seek(0)


def _check_archive(file, max_bytes):
    """Refuse an archive whose members inflate beyond ``max_bytes`` (in total, counted on the
    bytes actually inflated), whose ``.npy`` members' sizes disagree with the shape and dtype
    in their headers, or whose schema is too large or not a bounded tree."""
    stored = _file_size(file)
    limit = MAX_INFLATION * stored + INFLATION_ALLOWANCE if max_bytes is None else max_bytes
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ValueError("Refusing to load: the file is not a skops archive (not a zip file).") from exc
    with archive:
        members = archive.infolist()
        declared = sum(member.file_size for member in members)
        if declared > limit:
            raise _too_large(declared, stored, limit)
        inflated = 0
        for member in members:
            inflated += _inflated_size(archive, member, limit - inflated, stored)
            if member.filename.endswith(".npy"):
                _check_array_member(archive, member)
        names = {member.filename for member in members}
        if "schema.json" not in names:
            raise ValueError("Refusing to load: the archive has no schema.json (not a skops file).")
        _check_schema(archive, archive.getinfo("schema.json"), max_bytes)
    _rewind(file)


def _too_large(size, stored, limit):
    return ValueError(
        f"Refusing to load: the archive would inflate to at least {size} bytes from {stored} stored, above the "
        f"bound of {limit} bytes (max_bytes). A model's arrays barely compress; pass a larger max_bytes only for a "
        "file you trust."
    )


def _inflated_size(archive, member, budget, stored):
    """Inflate ``member`` a chunk at a time, counting: its size, or a ValueError past ``budget``
    or when it is not the size the directory declares (a patched directory)."""
    size = 0
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise _too_large(size, stored, size - budget + max(budget, 0))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"Refusing to load: the member {member.filename!r} cannot be inflated ({exc}).") from exc
    if size != member.file_size:
        raise ValueError(f"Refusing to load: the member {member.filename!r} inflates to {size} bytes, not the "
                         f"{member.file_size} its directory entry declares.")
    return size


def _check_schema(archive, member, max_bytes=None):
    """``schema.json`` within :data:`MAX_SCHEMA_BYTES`, valid JSON, at most
    :data:`MAX_SCHEMA_DEPTH` levels deep, and at most :data:`MAX_SCHEMA_NODES` nodes *as
    skops walks it*: skops builds a node once per ``__id__`` and returns that node wherever
    the id appears again (whatever the later node holds), so a file that repeats ids can
    make a graph of a few kilobytes that its audit walks as a tree of 2**60 paths, or a
    cycle. Counting each node as often as skops would visit it refuses both.

    An explicit ``max_bytes`` (a file the user trusts) raises both bounds: to ``max_bytes``
    bytes and one visit per 64 of them. A model whose ``history_`` holds a refresh per
    step over many steps needs that."""
    byte_bound = MAX_SCHEMA_BYTES if max_bytes is None else max(MAX_SCHEMA_BYTES, max_bytes)
    visit_bound = MAX_SCHEMA_NODES if max_bytes is None else max(MAX_SCHEMA_NODES, max_bytes // 64)
    if member.file_size > byte_bound:
        raise ValueError(f"Refusing to load: schema.json inflates to {member.file_size} bytes, above the bound of "
                         f"{byte_bound} (a larger max_bytes raises it, for a file you trust).")
    try:
        schema = json.loads(archive.read(member))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"Refusing to load: schema.json is not valid JSON ({type(exc).__name__}).") from exc
    _walked_size(schema, {}, set(), 0, visit_bound)


def _walked_size(node, built, building, depth, bound=MAX_SCHEMA_NODES):
    """Nodes skops's audit visits under ``node``: ``built`` maps an id to the size of the node
    first built under it; an id met again while its node is still being built is a cycle."""
    if depth > MAX_SCHEMA_DEPTH:
        raise ValueError(f"Refusing to load: the schema is more than {MAX_SCHEMA_DEPTH} levels deep.")
    if isinstance(node, list):
        return sum(_walked_size(item, built, building, depth + 1, bound) for item in node)
    if not isinstance(node, dict):
        return 0
    node_id = node.get("__id__")
    if node_id is not None:
        if node_id in building:
            raise ValueError(f"Refusing to load: the schema refers to node {node_id!r} inside itself (a cycle).")
        if node_id in built:
            return built[node_id]
        if not isinstance(node_id, int):
            raise ValueError(f"Refusing to load: the schema has a node id that is not an int: {node_id!r}.")
        building.add(node_id)
    size = 1 + sum(_walked_size(value, built, building, depth + 1, bound) for value in node.values()
                   if isinstance(value, (dict, list)))
    if size > bound:
        raise ValueError(f"Refusing to load: the schema makes skops walk more than {bound} nodes (a node id "
                         "repeated to make a graph of a tree, or a very long history_: a larger max_bytes raises "
                         "the bound, for a file you trust).")
    if node_id is not None:
        building.discard(node_id)
        built[node_id] = size
    return size


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


def _check_root(model):
    """A skselmix estimator, or a Pipeline whose last step is one."""
    from sklearn.pipeline import Pipeline

    last = model
    if isinstance(model, Pipeline):
        steps = getattr(model, "steps", None)
        if not isinstance(steps, list) or not steps or not isinstance(steps[-1], tuple) or len(steps[-1]) != 2:
            raise ValueError("Refusing to load: the file holds a Pipeline without valid steps.")
        last = steps[-1][1]
    if type(last) not in _ESTIMATORS:
        raise ValueError(f"Refusing to load: the file holds a {type(model).__name__}, not a skselmix estimator "
                         "or a Pipeline ending in one.")


def _objects(obj, seen=None):
    """Every object of the loaded tree once, parents before their children (lists, tuples and
    dicts are walked through, not yielded; so are an instance's attributes)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        children = obj
    elif isinstance(obj, dict):
        children = obj.values()
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        yield obj
        children = list(vars(obj).values())
    else:
        return
    for child in children:
        yield from _objects(child, seen)


def _forget_memory(model):
    """``memory=None`` on every object of the tree that has the parameter (see the module docstring)."""
    for obj in list(_objects(model)):
        if "memory" in vars(obj):
            obj.memory = None


def _shadowed_methods(obj):
    """Instance attributes of ``obj`` that shadow something its class defines as a method,
    property or other descriptor (``predict`` set to a numpy function, say)."""
    def method_like(attribute):
        return not isinstance(attribute, type) and (
            inspect.isroutine(attribute) or isinstance(attribute, (property, staticmethod, classmethod))
            or inspect.isdatadescriptor(attribute))

    return sorted(name for name in vars(obj)
                  if any(name in vars(base) and method_like(vars(base)[name]) for base in type(obj).__mro__))


def _check_attribute_names(model):
    """Every object in the loaded tree: a trusted one holds its parameters and only attributes
    its class has; any other holds no attribute that shadows one of its methods."""
    for obj in _objects(model):
        _check_object(obj)


def _check_object(obj):
    cls = type(obj)
    if cls in _ESTIMATORS:
        objective = vars(obj).get("objective_")
        if objective is not None and type(objective) not in BUILTIN_OBJECTIVES:
            raise ValueError(f"Refusing to load: the {cls.__name__} in the file holds an objective_ of type "
                             f"{type(objective).__name__}, not a built-in objective.")
        allowed = set(cls._get_param_names()) | set(_ESTIMATORS[cls])
    elif cls in BUILTIN_OBJECTIVES:
        allowed = set(vars(cls()))  # every built-in objective has defaults for all its parameters
    elif cls in _SPLITTERS:
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        allowed = {name for name, p in inspect.signature(cls.__init__).parameters.items() if p.kind in named} - {"self"}
        allowed |= _SPLITTER_STATE.get(cls, set())
    else:  # other objects (a Pipeline, its other steps): no attribute may shadow a method
        shadowing = _shadowed_methods(obj)
        if shadowing:
            raise ValueError(f"Refusing to load: the {cls.__name__} in the file holds attributes that shadow "
                             f"its methods: {class_list(shadowing)}.")
        return
    unknown = sorted(set(vars(obj)) - allowed)
    parameters = cls._get_param_names() if cls in _ESTIMATORS else allowed if cls in BUILTIN_OBJECTIVES else ()
    missing = sorted(set(parameters) - set(vars(obj)))
    if missing:
        raise ValueError(f"Refusing to load: the {cls.__name__} in the file has no value for its parameters "
                         f"{class_list(missing)}.")
    if unknown:
        raise ValueError(
            f"Refusing to load: the {cls.__name__} in the file holds attributes it does not have: "
            f"{class_list(unknown)}."
        )
