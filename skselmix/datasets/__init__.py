"""Datasets and splits for long-tailed benchmarks."""

from ._long_tail import long_tailed_split, long_tailed_profile

__all__ = ["long_tailed_split", "long_tailed_profile"]
