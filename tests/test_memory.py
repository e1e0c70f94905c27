"""skselmix/_memory.py: freed heap pages handed back between the blocks of a large computation."""

import sys

from skselmix._memory import _malloc_trim, release_freed_memory


def test_release_freed_memory_trims_where_glibc_is_and_is_harmless_elsewhere(monkeypatch):
    import platform

    released = release_freed_memory()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert released is True and _malloc_trim() is not None
    monkeypatch.setattr(sys, "platform", "darwin")
    _malloc_trim.cache_clear()
    try:
        assert release_freed_memory() is False  # nothing to call: a no-op
    finally:
        monkeypatch.undo()
        _malloc_trim.cache_clear()
