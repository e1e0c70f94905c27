"""Imports that wait until they are needed.

Fitting needs torch; a fitted model does not (its state is numpy arrays and a matrix
product). Modules that a fitted model uses (the objectives, the metrics, the input
checks) refer to torch through :data:`torch`, which imports it on first use, so that
``import skselmix``, prediction, scoring, loading and the displays never pay for it.
The fit's own modules import torch directly: they run only inside ``fit``.
"""

import importlib


class LazyModule:
    """A module imported on the first attribute access."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)


torch = LazyModule("torch")


def require(module_name, package_hint):
    """Import an optional dependency or raise an ImportError that says what to install."""
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"{module_name} is needed here: install {package_hint}.") from exc
