"""The CUDA path: same results as the CPU path, numpy fitted state, CPU unpickling.

Skipped where torch sees no GPU (CI); run on a GPU machine with ``python -m pytest tests/test_cuda.py``.
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from skselmix import SelMixClassifier, gain_matrix
from skselmix.metrics import min_recall_score

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _digits_split(digits_lt, seed=0):
    Xtr, ytr, Xva, yva, Xte, yte = digits_lt[seed]
    return (Xtr, ytr), {"X_val": Xva, "y_val": yva}, (Xte, yte)


def test_auto_device_is_cuda(blobs3):
    clf = SelMixClassifier(max_iter=50, random_state=0).fit(*blobs3)
    # the fit ran on the GPU, yet every fitted array is numpy
    assert all(not isinstance(v, torch.Tensor) for v in vars(clf).values())
    assert isinstance(clf.coef_, np.ndarray) and clf.coef_.dtype == np.float64


def test_warm_start_head_matches_cpu(digits_lt):
    (X, y), val, _ = _digits_split(digits_lt)
    cpu = SelMixClassifier(max_iter=0, device="cpu").fit(X, y, **val)
    gpu = SelMixClassifier(max_iter=0, device="cuda").fit(X, y, **val)
    # Same deterministic L-BFGS; float32 GEMMs reduce in another order on the GPU.
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=0, atol=1e-3 * np.abs(cpu.coef_).max())
    assert np.mean(gpu.predict(X) == cpu.predict(X)) > 0.99


def test_gain_matrix_matches_cpu():
    rng = np.random.default_rng(0)
    k, d = 50, 64
    z, coef, b = rng.normal(size=(k, d)), 0.1 * rng.normal(size=(k, d)), rng.normal(size=k)
    c = rng.random((k, k)) + k * np.eye(k)
    c = c / c.sum(axis=1, keepdims=True) / k
    on_cpu = gain_matrix(z, coef, b, c, "gmean")
    as_cuda = [torch.as_tensor(a, device="cuda") for a in (z, coef, b, c)]
    on_gpu = gain_matrix(*as_cuda, "gmean")
    on_gpu = on_gpu.cpu().numpy() if isinstance(on_gpu, torch.Tensor) else on_gpu
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-5, atol=1e-8 * np.abs(on_cpu).max())


def test_selmix_on_gpu_improves_min_recall_like_cpu(digits_lt):
    """The whole loop on the GPU: fine-tuning raises held-out min recall over the warm start."""
    gains = []
    for seed in range(len(digits_lt)):
        (X, y), val, (Xte, yte) = _digits_split(digits_lt, seed)
        warm = SelMixClassifier(max_iter=0, device="cuda").fit(X, y, **val)
        tuned = SelMixClassifier(device="cuda", random_state=seed).fit(X, y, **val)
        gains.append(min_recall_score(yte, tuned.predict(Xte)) - min_recall_score(yte, warm.predict(Xte)))
    assert np.mean(gains) >= 0.04 and min(gains) >= 0.0, gains


def test_gpu_fit_is_deterministic(digits_lt):
    (X, y), val, _ = _digits_split(digits_lt)
    a = SelMixClassifier(device="cuda", random_state=3).fit(X, y, **val)
    b = SelMixClassifier(device="cuda", random_state=3).fit(X, y, **val)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-5 * np.abs(a.coef_).max())


def test_semi_supervised_on_gpu(digits_lt):
    (X, y), val, _ = _digits_split(digits_lt)
    y_semi = y.copy()
    y_semi[::3] = -1
    clf = SelMixClassifier(unlabeled_label=-1, max_iter=200, device="cuda", random_state=0).fit(X, y_semi, **val)
    assert clf.n_unlabeled_ == int(np.sum(y_semi == -1))
    assert -1 not in clf.classes_


def test_gpu_model_unpickles_where_cuda_is_hidden(blobs3, tmp_path):
    clf = SelMixClassifier(max_iter=50, device="cuda", random_state=0).fit(*blobs3)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(clf))
    expected = clf.predict_proba(blobs3[0])
    np.save(tmp_path / "X.npy", blobs3[0])
    code = (
        "import pickle, sys, numpy as np, torch; assert not torch.cuda.is_available(); "
        f"m = pickle.loads(open({str(path)!r}, 'rb').read()); "
        f"np.save({str(tmp_path / 'p.npy')!r}, m.predict_proba(np.load({str(tmp_path / 'X.npy')!r})))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, rtol=1e-6)


def test_cross_fitting_on_cuda(digits_lt):
    (X, y), _, (X_test, y_test) = _digits_split(digits_lt)
    gpu = SelMixClassifier(cv=5, max_iter=200, device="cuda", random_state=0).fit(X, y)
    cpu = SelMixClassifier(cv=5, max_iter=200, device="cpu", random_state=0).fit(X, y)
    assert all(not isinstance(v, torch.Tensor) for v in vars(gpu).values())
    assert gpu.cv_heads_[0].shape == (5, 10, X.shape[1])
    # Draws are seeded alike but come from another generator on the GPU: compare quality, not bits.
    assert abs(min_recall_score(y_test, gpu.predict(X_test)) - min_recall_score(y_test, cpu.predict(X_test))) <= 0.1


def test_adapter_on_cuda_matches_cpu_in_quality(digits_lt):
    """hidden_layer_sizes on CUDA: the same initialisation (drawn on the CPU), a model that
    predicts like the CPU one and unpickles as numpy."""
    (X, y), val, _ = _digits_split(digits_lt)
    cpu = SelMixClassifier(hidden_layer_sizes=(64,), max_iter=200, device="cpu", random_state=0).fit(X, y)
    gpu = SelMixClassifier(hidden_layer_sizes=(64,), max_iter=200, device="cuda", random_state=0).fit(X, y)
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float64 for w in gpu.network_coefs_)
    assert np.mean(cpu.predict(val["X_val"]) == gpu.predict(val["X_val"])) > 0.9


def test_many_class_gain_and_pair_draws_on_cuda():
    """The paths of thousands of classes (issue 35) on the GPU: the float32 products from
    2048 classes agree with the CPU's, and the masked per-head pair distributions draw only
    pairs the head's pool has, on the device."""
    from skselmix._gain import gain_from_sensitivity
    from skselmix._torch.sampler import MaskedPairDistribution

    k, d = 2048, 64
    g = torch.Generator().manual_seed(0)
    z, coef = torch.randn(k, d, generator=g), 0.05 * torch.randn(k, d, generator=g)
    sensitivity = torch.randn(k, k, generator=g) / k
    cpu = gain_from_sensitivity(z, coef, torch.zeros(k), sensitivity, 0.8)
    gpu = gain_from_sensitivity(z.cuda(), coef.cuda(), torch.zeros(k).cuda(), sensitivity.cuda(), 0.8).cpu()
    assert float((gpu - cpu).abs().max()) < 1e-4 * float(cpu.abs().max())
    probs = torch.rand(k, k, generator=g, dtype=torch.float64).cuda()
    probs /= probs.sum()
    available = torch.rand(3, k, generator=g).cuda() > 0.5
    i, j = MaskedPairDistribution(probs, available).sample(4096, torch.Generator(device="cuda").manual_seed(0))
    heads = torch.arange(3, device="cuda").unsqueeze(1)
    assert i.is_cuda and bool(available[heads, i].all()) and bool(available[heads, j].all())
