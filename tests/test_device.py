"""Units of skselmix/_torch/device.py: the device profile, and its dtype policy honoured."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

import skselmix._torch.device as device
from skselmix import SelMixClassifier


def test_profiles_and_their_exact_dtype():
    assert device.profile_for(torch.device("cpu")) is device.CPU
    assert device.profile_for("cuda:0") is device.CUDA
    assert device.exact_dtype("cpu") == device.CPU.exact_dtype == torch.float64


@pytest.mark.parametrize("params", [dict(cv=3), dict(cv=None, average_decay=0.5), dict(hidden_layer_sizes=(6,))])
def test_a_profile_without_float64_fits_in_float32(params):
    """The dtype policy: a device that holds no float64 (Apple's MPS) would set exact_dtype to
    float32. With the CPU's profile so set, every fit mode runs (no float64 tensor meets a
    float32 one on the device) and lands near the float64 fit."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 4)) + np.repeat(np.eye(3, 4) * 2.5, [80, 45, 25], axis=0)
    y = np.repeat([0, 1, 2], [80, 45, 25])
    w = rng.uniform(0.5, 2.0, size=150)
    fit = dict(max_iter=60, refresh_every=20, class_weight="balanced", device="cpu", random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = SelMixClassifier(**fit).fit(X, y, sample_weight=w)
        with device.profile_with(dataclasses.replace(device.CPU, exact_dtype=torch.float32)):
            single = SelMixClassifier(**fit).fit(X, y, sample_weight=w)
    assert np.mean(single.predict(X) == exact.predict(X)) > 0.95
    assert np.isfinite(single.predict_proba(X)).all()


def test_device_memory_is_the_machines_for_the_cpu():
    import os

    memory = device.device_memory(torch.device("cpu"))
    assert memory == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") > 0


def test_a_given_profile_holds_in_its_block_and_thread_only():
    """profile_with gives every fit in the block (this thread) the profile, and nothing else."""
    import threading

    given = dataclasses.replace(device.CPU, activation_block=7)
    seen = []
    with device.profile_with(given):
        assert device.profile_for("cpu") is given and device.profile_for("cuda") is given
        other = threading.Thread(target=lambda: seen.append(device.profile_for("cpu")))
        other.start()
        other.join()
    assert seen == [device.CPU] and device.profile_for("cpu") is device.CPU
