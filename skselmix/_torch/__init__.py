"""The fitting side of skselmix: every module that imports torch lives here.

Importing skselmix, predicting, scoring, loading a model and drawing the displays never
import this package (tests/test_torch_free.py); ``fit`` imports it when it starts. ruff's
banned-import rule (``ruff.toml``, TID251) keeps ``import torch`` out of every module
outside this folder; those that handle tensors a user passes use the lazy
``skselmix._lazy.torch``, which imports nothing until called.
"""
