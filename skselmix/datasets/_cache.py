"""Where embeddings are cached, and the shared compute-once-then-load logic.

A cache file is hostile input, as a model file is (:mod:`skselmix.persistence`): anyone
who can write to the data home can plant one. :func:`cached_arrays` therefore reads only
the members a loader expects, checks each one's header (a plain numeric or string
dtype, never an object array; the shape the loader expects) and bounds what it reads on
the bytes actually inflated, never on what the archive claims. A file that fails a
check is a ``ValueError`` that names it and says to delete it. Caches are written under
a unique temporary name and moved into place, so concurrent fetches of one set each
finish, and their names carry a key of their sources (the source folder and its files,
the embedding package's version), so another folder's embeddings never come back.
"""

import hashlib
import json
import os
import sys
import time
import uuid
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._lazy import require  # noqa: F401 (the loaders import it from here)

DATA_HOME_ENV = "SKSELMIX_DATA"


def get_data_home(data_home=None):
    """Folder for cached embeddings, created if needed.

    Order: the ``data_home`` argument, the ``SKSELMIX_DATA`` environment
    variable, then ``~/skselmix_data`` (like scikit-learn's ``~/scikit_learn_data``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use; ``None`` follows the order above.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(data_home or os.environ.get(DATA_HOME_ENV) or Path.home() / "skselmix_data").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


class Progress:
    """A one-line progress report on stderr (silent when ``verbose`` is false)."""

    def __init__(self, total, label, verbose):
        self.total, self.label, self.verbose = total, label, verbose
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done):
        if not self.verbose:
            return
        now = time.perf_counter()
        if done < self.total and now - self.last < 2.0:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / max(rate, 1e-9)
        end = "\n" if done >= self.total else ""
        print(
            f"\r{self.label}: {done}/{self.total} ({rate:.0f}/s, {eta:.0f}s left)", end=end, file=sys.stderr, flush=True
        )


class Member(NamedTuple):
    """What a cache member must be: its ``shape``, the dtype kinds allowed (``"f"`` float,
    ``"i"`` integer, ``"U"`` text) and the largest item size in bytes."""

    shape: tuple
    kinds: str
    max_itemsize: int


#: The npy header a member may have, in bytes (numpy writes 64 to 4096).
MAX_HEADER_BYTES = 1 << 16


def source_key(folder, names, package=None):
    """A short key of a cache's sources: the resolved ``folder``, the size and modification
    time of each of its files ``names``, and the installed version of ``package`` (the
    embedding model's; ``"absent"`` when it is not installed)."""
    from importlib import metadata

    folder = Path(folder).resolve()
    files = []
    for name in names:
        stat = (folder / name).stat()
        files.append([name, stat.st_size, stat.st_mtime_ns])
    version = None
    if package is not None:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "absent"
    text = json.dumps({"folder": str(folder), "files": files, "package": [package, version]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_embeddings(path, embed, labels, width):
    """``(X, y)``: the ``(n, width)`` float32 embeddings of the cache file ``path`` (or
    ``embed()``, saved there atomically) with the ``labels`` (n,) read from the sources,
    which the file must hold too: a cache of other rows is refused, never returned."""
    members = {"X": Member((labels.shape[0], width), "f", 4), "y": Member(labels.shape, labels.dtype.kind,
                                                                        labels.dtype.itemsize)}
    arrays = cached_arrays(path, lambda: {"X": embed(), "y": labels}, members)
    if not np.array_equal(arrays["y"], labels):
        raise ValueError(f"The cache file {path} holds the labels of other rows. Delete it and fetch again.")
    return arrays["X"], arrays["y"]


def cached_arrays(path, compute, members):
    """Load the arrays cached at ``path`` (.npz), or ``compute()`` them and save them atomically.

    ``members`` maps each array's name to its :class:`Member`; a cache file holding other
    arrays, another shape or dtype, an object array or a member that inflates beyond its
    shape is refused with a ``ValueError`` that names the file. The file is written under
    a unique temporary name and moved into place: concurrent fetches each finish.
    """
    path = Path(path)
    if path.exists():
        return read_cache(path, members)
    arrays = compute()
    # A name of its own (exclusive create, so the umask sets its mode, as for any file the
    # user writes; mkstemp's would be private to them), then moved into place.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return arrays


def read_cache(path, members):
    """The arrays of the cache file ``path``, each checked against its :class:`Member`."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy"): name for name in archive.namelist()}
            if set(names) != set(members):  # the count, not the names: a hostile archive chooses them
                raise _Refused(f"it holds {len(names)} member(s), not {sorted(members)}")
            return {key: _read_member(archive, names[key], key, spec) for key, spec in members.items()}
    except _Refused as exc:
        reason = str(exc)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError) as exc:  # zlib errors are zipfile's, or OSError/ValueError/RuntimeError
        reason = f"{type(exc).__name__}: {exc}"
    raise ValueError(
        f"The cache file {path} is not one this loader wrote ({reason}). Delete it and fetch again."
    )


class _Refused(Exception):
    """A cache member that fails a check (turned into the ValueError of :func:`read_cache`)."""


def _read_member(archive, name, key, spec):
    with archive.open(name) as stream:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise _Refused(f"{key!r} has npy format version {version}")
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(stream, max_header_size=MAX_HEADER_BYTES)
        if dtype.hasobject or dtype.kind not in spec.kinds or dtype.itemsize > spec.max_itemsize:
            raise _Refused(f"{key!r} has dtype {dtype}")
        if tuple(shape) != tuple(spec.shape):
            raise _Refused(f"{key!r} has shape {shape}, not {tuple(spec.shape)}")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        data = stream.read(size + 1)  # bounded on what inflates, whatever the archive claims
        if len(data) != size:
            raise _Refused(f"{key!r} holds {len(data)}{'+' if len(data) > size else ''} bytes for shape {shape}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.copy()  # writable, and free of the buffer
