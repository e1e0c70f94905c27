"""The package version, in a module of its own so that the torch folder can read it without
importing the package face (``skselmix/__init__.py``)."""

__version__ = "0.17.0"
