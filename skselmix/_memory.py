"""Giving freed memory back to the system between the blocks of a large computation.

glibc serves a freed block of memory again to the process rather than to the system:
each time a large block is freed it raises its mmap threshold (up to 32 MiB), so the next
blocks of that size come from the heap, and their pages stay with the process when freed
(benchmarks/perf_notes.md measured 426 bytes a row kept after a warm start for 68 with a
fixed threshold). A computation that works in blocks of tens of MiB, such as the K = 8192
gain, then holds the sum of its blocks' peaks instead of one block's. ``malloc_trim(0)``
returns those pages; it is what Dask's workers call for the same reason. Elsewhere (macOS,
Windows, musl) this does nothing.
"""

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory():
    """Hand the pages of the heap's free blocks back to the system (glibc), if it can; return
    whether it could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
