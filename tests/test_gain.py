"""The closed-form gain against explicit loops and finite differences."""

import itertools

import numpy as np
import pytest
import torch
from gain_reference import finite_difference_gain, mixup_step, prototype_confusion

from skselmix import CallableObjective, gain_matrix, get_objective, get_objective_names
from skselmix._gain import expected_mixed_sensitivity, objective_logit_sensitivity
from skselmix._torch.device import profile_for


def _problem(seed, k=4, d=5):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(k, d))
    W = rng.normal(size=(k, d))
    b = rng.normal(size=k)
    C = rng.random((k, k)) + 2 * np.eye(k)
    C = C / C.sum(axis=1, keepdims=True) / k
    counts = rng.integers(1, 100, size=k)
    return Z, W, b, C, counts


def _brute_force_gain(Z, W, b, C, dpsi, lbar):
    """G[i, j] = sum_{q,l} M[q,l] (zbar_ij . z_q)(delta_li - p_ij[l]), every index a loop."""
    k = Z.shape[0]
    pi = C.sum(axis=1)
    M = np.zeros((k, k))
    for q, ell in itertools.product(range(k), range(k)):
        M[q, ell] = sum(dpsi[q, m] * C[q, m] * ((m == ell) - C[q, ell] / pi[q]) for m in range(k))
    G = np.zeros((k, k))
    for i, j in itertools.product(range(k), range(k)):
        zbar, p, _ = mixup_step(Z, W, b, i, j, lbar)
        G[i, j] = sum(M[q, ell] * (zbar @ Z[q]) * ((ell == i) - p[ell]) for q in range(k) for ell in range(k))
    return G


def weighted_recall(C):
    """A custom objective: recall weighted towards the last class."""
    k = C.shape[0]
    w = torch.linspace(1.0, 2.0, k, dtype=C.dtype)
    return (w * torch.diagonal(C) * k).sum() / w.sum()


@pytest.mark.parametrize("name", get_objective_names() + ["custom"])
@pytest.mark.parametrize("seed", [0, 1])
def test_gain_matches_brute_force(name, seed):
    Z, W, b, C, counts = _problem(seed)
    objective = CallableObjective(weighted_recall) if name == "custom" else get_objective(name)
    Ct, ct = torch.tensor(C), torch.tensor(counts, dtype=torch.float64)
    mult = objective.update_multipliers(objective.init_multipliers(4, ct), Ct, ct)
    dpsi = objective.gradient(Ct, mult, ct).numpy()
    expected = _brute_force_gain(Z, W, b, C, dpsi, 0.75)
    got = gain_matrix(Z, W, b, C, objective, lambda_mean=0.75, class_counts=counts, confusion_smoothing=0.0)
    assert np.abs(expected).max() > 1e-3  # not a vacuous comparison
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["mean_recall", "gmean", "hmean"])
def test_gain_is_directional_derivative_of_surrogate(name):
    """With C equal to the prototype softmax, G is d/dt psi(pi * softmax(Z (W + t V)^T + b))."""
    Z, W, b, _, _ = _problem(3)
    W = Z + 0.3 * W  # prototypes mostly classified right: every recall above the clipping floor
    k, lbar = 4, 0.8
    objective = get_objective(name)
    C = prototype_confusion(Z, W, b)
    assert (np.diag(C) * k).min() > 0.05
    got = gain_matrix(Z, W, b, C, objective, lambda_mean=lbar, confusion_smoothing=0.0)
    fd = finite_difference_gain(Z, W, b, lambda c: objective.value(torch.tensor(c)).item(), lbar)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-8)


def _expected_direct(A, H, lbar):
    """The K^3 softmax term written out with a (K, K, K) array."""
    probs = torch.softmax(lbar * A[:, None, :] + (1 - lbar) * A[None, :, :], dim=2)
    return (probs * (lbar * H[:, None, :] + (1 - lbar) * H[None, :, :])).sum(dim=2)


@pytest.mark.parametrize("logit_scale", [1.0, 30.0])
def test_factorised_softmax_term_equals_direct(logit_scale):
    rng = np.random.default_rng(0)
    k = 37
    A = torch.tensor(rng.normal(size=(k, k))) * logit_scale
    H = torch.tensor(rng.normal(size=(k, k)))
    torch.testing.assert_close(expected_mixed_sensitivity(A, H, 0.8), _expected_direct(A, H, 0.8))


def test_underflowing_pairs_fall_back_to_exact_softmax():
    """Rows peaking at different classes with logits in the thousands underflow the factorised sums."""
    k = 6
    A = torch.full((k, k), -2000.0, dtype=torch.float64)
    A[torch.arange(k), torch.arange(k)] = 2000.0
    H = torch.tensor(np.random.default_rng(1).normal(size=(k, k)))
    got = expected_mixed_sensitivity(A, H, 0.7)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, _expected_direct(A, H, 0.7))


@pytest.mark.parametrize("logit_scale", [1.0, 30.0, 300.0])
def test_float32_products_of_many_classes_match_the_direct_sum(logit_scale):
    """From the device profile's float32_products_from_classes the products run in float32, with the tiny
    softmax factors and sensitivities flushed (no subnormal number slows the GEMMs) and the
    pairs of tiny normaliser redone exactly: the result stays within float32 rounding of the
    direct float64 sum, whatever the logits' range (at 300 most pairs are redone exactly)."""
    import skselmix._gain as gain_module

    rng = np.random.default_rng(2)
    k = 37
    A = torch.tensor(rng.normal(size=(k, k))) * logit_scale
    H = torch.tensor(rng.normal(size=(k, k))) * 1e-3
    H[0, :5] = 1e-15  # entries below h_floor of the largest: flushed to zero
    precision = gain_module.ProductPrecision.for_classes(k, float32_from_classes=8)
    assert precision.dtype == torch.float32
    got = expected_mixed_sensitivity(A, H, 0.8, float32_from_classes=8)
    assert got.dtype == torch.float64
    direct = _expected_direct(A, H, 0.8)
    assert float((got - direct).abs().max()) < 1e-5 * float(H.abs().max())
    # Below the threshold (the CPU profile's 2048 classes) the float64 products, as before.
    torch.testing.assert_close(expected_mixed_sensitivity(A, H, 0.8), direct)
    assert profile_for(torch.device("cpu")).float32_products_from_classes == 2048


def test_product_order_of_the_prototype_sensitivity_follows_the_shape():
    """H = (Z Z^T) M when D >= K (the order every recorded fit used), Z (Z^T M) when K > D:
    the same matrix at a fraction of the cost."""
    from skselmix._gain import prototype_sensitivity

    rng = np.random.default_rng(3)
    for k, d in ((6, 9), (12, 4)):
        Z = torch.tensor(rng.normal(size=(k, d)))
        M = torch.tensor(rng.normal(size=(k, k)))
        torch.testing.assert_close(prototype_sensitivity(Z, M), Z @ Z.T @ M)
        if k <= d:  # bit for bit the recorded order
            assert torch.equal(prototype_sensitivity(Z, M), (Z @ Z.T) @ M)


def test_sensitivity_ignores_row_constant_in_gradient():
    """Adding a constant per row to dpsi/dC (e.g. autograd of C_ii / rowsum) changes nothing."""
    _, _, _, C, _ = _problem(0)
    C = torch.tensor(C)
    grad = torch.rand(4, 4, dtype=torch.float64)
    shifted = grad + torch.arange(4, dtype=torch.float64).unsqueeze(1)
    torch.testing.assert_close(objective_logit_sensitivity(C, grad), objective_logit_sensitivity(C, shifted))


def test_gain_types_and_dtypes():
    Z, W, b, C, _ = _problem(0)
    out = gain_matrix(Z, W, b, C, "min_recall")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    out_t = gain_matrix(torch.tensor(Z, dtype=torch.float32), W, b, C, "min_recall")
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), out, rtol=1e-4, atol=1e-6)


def test_gain_scales_with_squared_feature_norm():
    """The un-normalised gain grows with ||z||^2 (why the estimator normalises it)."""
    Z, W, b, C, _ = _problem(0)
    G = gain_matrix(Z, W, b, C, "mean_recall")
    G10 = gain_matrix(10 * Z, W / 10, b, C, "mean_recall")  # same logits, 100x the gain
    np.testing.assert_allclose(G10, 100 * G, rtol=1e-9)


def test_gain_rejects_bad_shapes():
    Z, W, b, C, _ = _problem(0)
    with pytest.raises(ValueError, match="Inconsistent shapes"):
        gain_matrix(Z, W[:3], b, C, "mean_recall")
    with pytest.raises(ValueError, match="Unknown metric 'nope'"):
        gain_matrix(Z, W, b, C, "nope")
    with pytest.raises(ValueError, match="lambda_mean"):
        gain_matrix(Z, W, b, C, "mean_recall", lambda_mean=1.5)


def test_explicit_multipliers_are_used():
    Z, W, b, C, _ = _problem(0)
    focus_last = np.array([0.0, 0.0, 0.0, 1.0])
    G = gain_matrix(Z, W, b, C, "min_recall", multipliers=focus_last)
    # Only the last class's recall counts: same as a custom objective on that recall.
    custom = gain_matrix(Z, W, b, C, lambda c: 4 * c[3, 3])
    np.testing.assert_allclose(G, custom, rtol=1e-9, atol=1e-12)


def _class1_never_recognised():
    Z, W, b, C, _ = _problem(0)
    C[1] = 0.0
    C[1, 0] = 0.25
    return Z, W, b, C


@pytest.mark.parametrize("name", ["min_recall", "gmean", "hmean", "hmean_min_coverage"])
def test_zero_recall_class_still_gets_gain(name):
    """Gains that help a zero-recall class must not vanish (paper's Jacobian: they do)."""
    Z, W, b, C = _class1_never_recognised()
    G = gain_matrix(Z, W, b, C, name)
    assert G[1].max() > 1e-3 * np.abs(G).max() > 0


def test_unsmoothed_jacobian_kills_min_recall_gains():
    """Documents the dead zone that confusion_smoothing removes."""
    Z, W, b, C = _class1_never_recognised()
    assert np.abs(gain_matrix(Z, W, b, C, "min_recall", confusion_smoothing=0.0)).max() < 1e-12
    G = gain_matrix(Z, W, b, C, "min_recall")
    assert int(np.argmax(G.max(axis=1))) == 1  # label-1 mixups are the way out


@pytest.mark.parametrize("metric, kwargs, match", [
    ("min_recall", {"multipliers": np.ones(2) / 2}, r"multipliers has shape \(2,\); metric 'min_recall' holds \(3,\)"),
    ("mean_recall", {"multipliers": np.ones(3)}, "metric 'mean_recall' has no multipliers"),
    ("min_head_tail_recall", {"class_counts": [5, 3]}, r"class_counts has shape \(2,\).*\(3,\)"),
    ("min_group_recall", {"class_counts": np.ones((3, 1))}, r"class_counts has shape \(3, 1\)"),
])
def test_gain_matrix_names_wrong_length_multipliers_and_counts(metric, kwargs, match):
    """R10 (issue 41): wrong-length multipliers or class_counts raised torch's RuntimeError
    or an IndexError."""
    from skselmix import gain_matrix

    C = np.diag([0.3, 0.2, 0.25]) + 0.0
    C = C + (1 / 3 - C.sum(axis=1, keepdims=True)) / 3
    with pytest.raises(ValueError, match=match):
        gain_matrix(np.eye(3), np.eye(3), np.zeros(3), C, metric, **kwargs)


def test_rows_at_risk_bound_every_row_whose_normaliser_underflows():
    """The O(K^2) lower bound never misses a row with an underflowing pair (issue 41, R06)."""
    from skselmix._gain import rows_at_risk

    rng = np.random.default_rng(3)
    for scale in (1.0, 10.0, 40.0, 200.0):
        A = torch.tensor(rng.normal(size=(40, 40))) * scale
        lbar = 0.8
        a1 = lbar * A - (lbar * A).max(dim=1, keepdim=True).values
        a2 = (1 - lbar) * A - ((1 - lbar) * A).max(dim=1, keepdim=True).values
        log_z = torch.logsumexp(a1[:, None, :] + a2[None, :, :], dim=2)  # exact log normalisers
        underflowing = (log_z < np.log(1e-6)).any(dim=1)
        risky = rows_at_risk(A, lbar, 1e-6)
        assert not bool((underflowing & ~risky).any())
        if scale == 1.0:
            assert not bool(risky.any())


def test_a_confident_head_takes_float64_products_not_a_softmax_per_pair(monkeypatch):
    """R06 (issue 41): from 2048 classes, a confident head's pairs (a nearest-centroid
    coef_init) were redone one K-wide softmax at a time: 39 to 160 s a refresh where the
    float64 products took 2.7 s. Now a head whose rows are mostly at risk takes the float64
    products at once, and a few risky rows are redone by float64 products."""
    import skselmix._gain as gain_module

    softmaxes = []
    original = torch.softmax
    monkeypatch.setattr(torch, "softmax", lambda *a, **kw: softmaxes.append(1) or original(*a, **kw))
    rng = np.random.default_rng(4)
    k = 48
    H = torch.tensor(rng.normal(size=(k, k)))
    confident = torch.tensor(rng.normal(size=(k, k))) + 200.0 * torch.eye(k, dtype=torch.float64)
    got = expected_mixed_sensitivity(confident, H, 0.8, float32_from_classes=8)
    assert not softmaxes  # no pair underflows the float64 products
    torch.testing.assert_close(got, _expected_direct(confident, H, 0.8))
    # Two confident rows among ordinary ones: those rows are redone by products.
    mixed = torch.tensor(rng.normal(size=(k, k)))
    mixed[:2] += 200.0 * torch.eye(k, dtype=torch.float64)[:2]
    assert 0 < float(gain_module.rows_at_risk(mixed, 0.8, 1e-6).float().mean()) <= 0.5
    softmaxes.clear()  # the reference above takes one
    got = expected_mixed_sensitivity(mixed, H, 0.8, float32_from_classes=8)
    assert not softmaxes
    assert float((got - _expected_direct(mixed, H, 0.8)).abs().max()) < 1e-5 * float(H.abs().max())


# --------------------------------------------------------------- the blocked gain (issue 42)
@pytest.mark.parametrize("head_scale, float32_from", [(None, 10**9), (None, 2), (60.0, 10**9), (60.0, 2), (8.0, 2)])
@pytest.mark.parametrize("columns_whole", [True, False])
def test_the_blocked_gain_is_the_whole_matrix_gain(head_scale, float32_from, columns_whole, monkeypatch):
    """By blocks of rows (and of columns when the column factors exceed their budget) the gain
    equals the whole-matrix one to float32 rounding, on every path: float64 products,
    float32 ones, a confident head whose pairs underflow (redone in float64, then by a
    softmax each), and float32 products kept for a confident head (rows redone)."""
    import skselmix._gain as gain_module
    from skselmix._limits import Limits

    if head_scale == 8.0:  # keep float32 products however many rows are at risk: the redo path
        monkeypatch.setattr(gain_module, "FLOAT64_ROWS_SHARE", 1.1)
    g = torch.Generator().manual_seed(3)
    k, d = 300, 16
    z = torch.randn(k, d, generator=g)
    coef = 0.05 * torch.randn(k, d, generator=g) if head_scale is None else z * head_scale
    intercept = 0.1 * torch.randn(k, generator=g)
    sensitivity = 1e-3 * torch.randn(k, k, generator=g)
    whole = gain_module.gain_from_sensitivity(z, coef, intercept, sensitivity, 0.8, float32_from)
    limits = Limits(blocked_refresh_classes=10, refresh_block=41 * k, refresh_columns=1 << 27 if columns_whole else 1)
    blocked = gain_module.gain_from_sensitivity(z, coef, intercept, sensitivity, 0.8, float32_from, limits)
    assert blocked.dtype == whole.dtype and blocked.shape == (k, k)
    assert float((blocked - whole).abs().max()) <= 2e-6 * float(whole.abs().max())


def test_the_blocked_gain_takes_over_above_its_limit(monkeypatch):
    import skselmix._gain as gain_module
    from skselmix._limits import Limits

    calls = []
    monkeypatch.setattr(gain_module, "blocked_gain_from_sensitivity", lambda *args: calls.append(args) or "blocked")
    z = torch.randn(20, 4)
    args = (z, z.clone(), torch.zeros(20), torch.zeros(20, 20), 0.8)
    assert gain_module.gain_from_sensitivity(*args, limits=Limits(blocked_refresh_classes=19)) == "blocked"
    assert torch.is_tensor(gain_module.gain_from_sensitivity(*args, limits=Limits(blocked_refresh_classes=20)))
    assert len(calls) == 1


def test_the_pair_entropy_by_blocks_is_the_one_pass_entropy():
    from skselmix._limits import Limits
    from skselmix._torch.sampler import MaskedPairDistribution, PairDistribution, restrict_to_heads
    from skselmix._torch.training import pair_entropy

    probs = torch.rand(64, 64, dtype=torch.float64)
    probs[3] = 0.0  # 0 log 0 = 0
    probs /= probs.sum()
    available = torch.rand(3, 64) > 0.2
    blocks = Limits(blocked_refresh_classes=8, refresh_block=5 * 64)
    for pairs in (PairDistribution(probs), PairDistribution(restrict_to_heads(probs, available.long())),
                  MaskedPairDistribution(probs, available)):
        one_pass = pair_entropy(pairs)
        assert one_pass == float(torch.special.entr(pairs.mean()).sum())
        assert pair_entropy(pairs, blocks) == pytest.approx(one_pass, rel=1e-12)
        torch.testing.assert_close(torch.cat([pairs.mean_rows(slice(s, s + 7)) for s in range(0, 64, 7)]),
                                   pairs.mean(), rtol=1e-14, atol=0)


def test_the_sensitivity_leaves_the_confusion_matrix_alone():
    from skselmix._gain import objective_logit_sensitivity

    confusion = torch.rand(6, 6, dtype=torch.float64)
    kept = confusion.clone()
    for smoothing in (0.0, 0.01):
        m = objective_logit_sensitivity(confusion, torch.randn(6, 6, dtype=torch.float64), smoothing)
        assert torch.equal(confusion, kept) and m.shape == (6, 6)
    assert objective_logit_sensitivity(confusion.float(), torch.randn(6, 6, dtype=torch.float64), 0.01).dtype \
        == torch.float64
