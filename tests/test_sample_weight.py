"""sample_weight, sample_weight_val and class_weight: integer weights act like repeated rows."""

import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skselmix import SelMixClassifier
from skselmix._torch.sampler import ClassIndex, head_pools


def fitted(X, y, sample_weight=None, **params):
    kwargs = {k: params.pop(k) for k in ("X_val", "y_val", "sample_weight_val") if k in params}
    clf = SelMixClassifier(device="cpu", random_state=0, **params)
    return clf.fit(X, y, sample_weight, **kwargs)


@pytest.fixture
def weighted_blobs(blobs3):
    X, y = blobs3
    w = np.random.RandomState(1).randint(0, 4, size=len(y)).astype(float)
    w[np.flatnonzero(y == 2)[:3]] = 3.0  # the tail class keeps weight
    return X, y, w


def test_weighted_draws_match_repeated_rows():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    weights = torch.tensor([1.0, 3.0, 0.0, 2.0, 5.0, 0.5])
    index = ClassIndex(labels, 3, weights=weights)
    generator = torch.Generator().manual_seed(0)
    n = 200_000
    counts = {}
    for k in range(3):
        rows = index.draw(torch.full((n,), k), generator)
        assert bool((labels[rows] == k).all())
        counts[k] = torch.bincount(rows, minlength=6).double() / n
    np.testing.assert_allclose(counts[0][:3], [0.25, 0.75, 0.0], atol=0.005)  # weight 0: never drawn
    np.testing.assert_allclose(counts[1][3:5], [2 / 7, 5 / 7], atol=0.005)
    assert float(counts[2][5]) == 1.0


def test_weighted_head_pools_drop_zero_weight_rows():
    labels = torch.tensor([0, 0, 1, 1, 1, 0])
    fold = torch.tensor([0, 1, 0, 1, 0, 1])
    weights = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.0, 4.0])
    pools = head_pools(labels, 2, fold=fold, n_heads=2, weights=weights)
    # head 0 trains on fold 1 (rows 1, 3, 5), head 1 on fold 0 (rows 0, 2, 4); zero weights drop rows 1 and 4
    assert pools.counts.reshape(2, 2).tolist() == [[1, 1], [1, 1]]
    generator = torch.Generator().manual_seed(0)
    drawn = pools.draw(torch.tensor([0, 1, 2, 3] * 50), generator).reshape(50, 4)
    assert (drawn == torch.tensor([5, 3, 0, 2])).all()


def test_unit_weights_are_the_unweighted_fit(blobs3):
    X, y = blobs3
    plain = fitted(X, y, max_iter=100)
    ones = fitted(X, y, np.ones(len(y)), max_iter=100)
    np.testing.assert_array_equal(plain.coef_, ones.coef_)
    assert plain.class_counts_.dtype.kind == "i"


def test_integer_weights_equal_repeated_rows_in_the_warm_start(weighted_blobs):
    """max_iter=0 is deterministic: the warm start (loss, prior, L2 "auto"), the feature map,
    the prototypes and the validation objective must match the repeated rows."""
    X, y, w = weighted_blobs
    X_val, y_val = X[::3], y[::3]
    repeat = w.astype(int)
    weighted = fitted(X, y, w, max_iter=0, cv=None, X_val=X_val, y_val=y_val)
    repeated = fitted(np.repeat(X, repeat, axis=0), np.repeat(y, repeat), max_iter=0, cv=None, X_val=X_val, y_val=y_val)
    np.testing.assert_allclose(weighted.feature_offset_, repeated.feature_offset_, rtol=1e-10)
    np.testing.assert_allclose(weighted.feature_scale_, repeated.feature_scale_, rtol=1e-10)
    assert weighted.weight_decay_ == pytest.approx(repeated.weight_decay_, rel=1e-12)
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(weighted.class_counts_, np.bincount(np.repeat(y, repeat)))
    assert weighted.best_validation_score_ == repeated.best_validation_score_


def test_integer_weights_equal_repeated_rows_with_cross_fitting(weighted_blobs):
    """Copies of a row stay in its fold, so the out-of-fold feedback is the same."""
    X, y, w = weighted_blobs
    fold = np.arange(len(y)) % 3
    repeat = w.astype(int)
    splits = lambda f: [(np.flatnonzero(f != k), np.flatnonzero(f == k)) for k in range(3)]  # noqa: E731
    weighted = SelMixClassifier(max_iter=0, cv=splits(fold), device="cpu").fit(X, y, sample_weight=w)
    repeated = SelMixClassifier(max_iter=0, cv=splits(np.repeat(fold, repeat)), device="cpu").fit(
        np.repeat(X, repeat, axis=0), np.repeat(y, repeat)
    )
    assert weighted.history_[0]["objective"] == pytest.approx(repeated.history_[0]["objective"], abs=1e-12)
    np.testing.assert_allclose(weighted.prototypes_, repeated.prototypes_, rtol=1e-5, atol=1e-5)  # float32 sums
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-3, atol=1e-3)


def test_sample_weight_val_equals_repeated_validation_rows(blobs3):
    X, y = blobs3
    X_val, y_val = X[1::2], y[1::2]
    w_val = np.random.RandomState(2).randint(1, 4, size=len(y_val)).astype(float)
    weighted = fitted(X, y, max_iter=100, X_val=X_val, y_val=y_val, sample_weight_val=w_val)
    r = w_val.astype(int)
    repeated = fitted(X, y, max_iter=100, X_val=np.repeat(X_val, r, axis=0), y_val=np.repeat(y_val, r))
    # Validation weights enter no random draw: the whole fit is the same.
    for a, b in zip(weighted.history_, repeated.history_):
        assert a["objective"] == pytest.approx(b["objective"], abs=1e-12)
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-5, atol=1e-6)
    unweighted = fitted(X, y, max_iter=100, X_val=X_val, y_val=y_val)
    assert unweighted.history_[0]["objective"] != weighted.history_[0]["objective"]


def test_weighted_full_fit_draws_like_repeated_rows(weighted_blobs):
    """The SGD phase differs only in its random draws: over seeds, the weighted and the
    repeated fits reach the same validation objective on average."""
    X, y, w = weighted_blobs
    X_val, y_val = X[::2], y[::2]
    r = w.astype(int)
    gaps = []
    for seed in range(4):
        kwargs = dict(max_iter=200, cv=None, n_iter_no_change=None, random_state=seed, device="cpu")
        a = SelMixClassifier(**kwargs).fit(X, y, w, X_val=X_val, y_val=y_val)
        b = SelMixClassifier(**kwargs).fit(np.repeat(X, r, axis=0), np.repeat(y, r), X_val=X_val, y_val=y_val)
        gaps.append(a.history_[-1]["objective"] - b.history_[-1]["objective"])
    assert abs(np.mean(gaps)) < 0.05


def test_zero_weight_rows_take_no_part(weighted_blobs):
    X, y, w = weighted_blobs
    X_val, y_val = X[::3], y[::3]
    keep = w > 0
    noisy = X.copy()
    noisy[~keep] = 1e3  # rows of weight zero: anything they held would show
    a = fitted(noisy, y, w, max_iter=50, X_val=X_val, y_val=y_val)
    b = fitted(X[keep], y[keep], w[keep], max_iter=50, X_val=X_val, y_val=y_val)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-4, atol=1e-5)


def test_sample_weight_errors(blobs3):
    X, y = blobs3
    with pytest.raises(ValueError, match="Negative values"):
        fitted(X, y, -np.ones(len(y)), max_iter=0)
    with pytest.raises(ValueError, match="sample_weight"):
        fitted(X, y, np.ones(len(y) - 1), max_iter=0)
    with pytest.raises(ValueError, match=r"zero on every row of class\(es\) \[2\]"):
        fitted(X, y, (y != 2).astype(float), max_iter=0)
    with pytest.raises(ValueError, match="sample_weight_val was given without X_val"):
        SelMixClassifier(max_iter=0, device="cpu").fit(X, y, sample_weight_val=np.ones(3))
    with pytest.raises(
        ValueError,
        match=r"'class_weight' parameter of SelMixClassifier must be an instance of 'dict', "
        r"a str among \{'balanced'\} or None",
    ):
        SelMixClassifier(class_weight="auto", max_iter=0, device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        SelMixClassifier(class_weight={7: 2.0}, max_iter=0, device="cpu").fit(X, y)
    w = np.ones(len(y))
    fitted(X, y, w, max_iter=0)
    assert (w == 1).all()  # the user's array is not modified


def test_class_weight_weighs_the_warm_start(blobs3):
    X, y = blobs3
    kw = dict(max_iter=0, cv=None, X_val=X[::2], y_val=y[::2])
    balanced = fitted(X, y, init="balanced", **kw)
    via_class_weight = fitted(X, y, init="cross_entropy", class_weight="balanced", **kw)
    np.testing.assert_allclose(via_class_weight.coef_, balanced.coef_, rtol=1e-3, atol=1e-3)
    constant = fitted(X, y, init="cross_entropy", class_weight={0: 2.0, 1: 2.0, 2: 2.0}, **kw)
    plain = fitted(X, y, init="cross_entropy", **kw)
    np.testing.assert_allclose(constant.coef_, plain.coef_, rtol=1e-3, atol=1e-3)  # the loss is a weighted mean
    tail_heavy = fitted(X, y, init="cross_entropy", class_weight={2: 20.0}, **kw)
    assert (tail_heavy.predict(X) == 2).sum() > (plain.predict(X) == 2).sum()


def test_fit_requests_and_routing(blobs3):
    X, y = blobs3
    w = np.where(y == 2, 3.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        requests = SelMixClassifier().set_fit_request(sample_weight=True).get_metadata_routing().fit.requests
        assert {"sample_weight", "sample_weight_val", "X_val", "y_val"} <= set(requests)
        assert "hidden_labels" not in requests
        clf = SelMixClassifier(max_iter=30, device="cpu", random_state=0).set_fit_request(sample_weight=True)
        clf = clf.set_score_request(sample_weight=True)
        routed = cross_validate(clf, X, y, cv=2, params={"sample_weight": w}, return_estimator=True)
    plain = cross_validate(
        SelMixClassifier(max_iter=30, device="cpu", random_state=0), X, y, cv=2, return_estimator=True
    )
    assert routed["estimator"][0].class_counts_.dtype.kind == "f"  # the weights reached fit
    assert not np.array_equal(routed["estimator"][0].coef_, plain["estimator"][0].coef_)


def test_unscaled_validation_set_warns_and_matching_one_does_not(digits_lt):
    X_train, y_train, X_val, y_val, _, _ = digits_lt[0]
    pipe = make_pipeline(StandardScaler(), SelMixClassifier(max_iter=0, cv=None, device="cpu"))
    with pytest.warns(UserWarning, match=r"X_val looks like it is on another scale.*transform_input=\[.X_val.\]"):
        pipe.fit(X_train, y_train, selmixclassifier__X_val=X_val, selmixclassifier__y_val=y_val)
    scaled = StandardScaler().fit(X_train)
    with pytest.warns(UserWarning, match="another scale"):  # the reverse mistake: scaled X_val, raw X
        SelMixClassifier(max_iter=0, device="cpu").fit(X_train, y_train, X_val=scaled.transform(X_val), y_val=y_val)
    for split in digits_lt:  # validation rows from the training distribution: never a false alarm
        X_train, y_train, X_val, y_val, X_test, y_test = split
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            SelMixClassifier(max_iter=0, device="cpu").fit(X_train, y_train, X_val=X_val, y_val=y_val)
            one_each = np.unique(y_test, return_index=True)[1]  # ten rows: the smallest set with every class
            SelMixClassifier(max_iter=0, device="cpu").fit(
                X_train, y_train, X_val=X_test[one_each], y_val=y_test[one_each]
            )
            pipe.fit(X_train, y_train, selmixclassifier__X_val=scaled.transform(X_val), selmixclassifier__y_val=y_val)


def test_weights_in_semi_supervised_mode(blobs3):
    """Unlabelled rows of weight zero are left out of the partner pool; the rest keep their weights."""
    X, y = blobs3
    y_semi = y.copy()
    y_semi[::4] = -1  # every fourth row unlabelled
    w = np.ones(len(y))
    w[::8] = 0.0  # half the unlabelled rows weigh nothing
    clf = SelMixClassifier(unlabeled_label=-1, max_iter=50, device="cpu", random_state=0).fit(X, y_semi, w)
    assert clf.n_unlabeled_ == int(((y_semi == -1) & (w > 0)).sum())
    assert -1 not in clf.classes_


def test_class_weight_dict_with_string_labels(blobs3):
    X, y = blobs3
    labels = np.array(["a", "b", "c"])[y]
    kw = dict(max_iter=0, cv=None, init="cross_entropy", device="cpu")
    plain = SelMixClassifier(**kw).fit(X, labels, X_val=X[::2], y_val=labels[::2])
    heavy = SelMixClassifier(class_weight={"c": 20.0}, **kw).fit(X, labels, X_val=X[::2], y_val=labels[::2])
    assert (heavy.predict(X) == "c").sum() > (plain.predict(X) == "c").sum()


# ---------------------------------------------- reliability pass 3: weights at the extremes
@pytest.mark.parametrize("class_weight", [{0: np.nan}, {0: np.inf}, {0: -1.0}, {0: 0.0, 1: 0.0, 2: 0.0}, {1: 0.0}])
def test_bad_class_weight_values_are_refused(blobs3, class_weight):
    with pytest.raises(ValueError, match=r"class_weight must give every class a finite, positive weight"):
        SelMixClassifier(class_weight=class_weight, max_iter=10, device="cpu").fit(*blobs3)


def test_class_weight_scale_does_not_matter(blobs3):
    X, y = blobs3
    small = SelMixClassifier(class_weight={0: 1.0, 1: 2.0, 2: 4.0}, max_iter=30, device="cpu", random_state=0)
    huge = SelMixClassifier(class_weight={0: 1e300, 1: 2e300, 2: 4e300}, max_iter=30, device="cpu", random_state=0)
    np.testing.assert_array_equal(small.fit(X, y).coef_, huge.fit(X, y).coef_)


@pytest.mark.parametrize("cv", [None, 3])
def test_huge_uniform_weights_fit_as_the_unweighted_model(blobs3, cv):
    """Uniform 3e38 weights overflowed float32 class means ("every class is empty in the
    mixing pools"). Uniform weights give the unweighted fit; weight_decay="auto" reads their
    total as the row count, so with a fixed weight_decay they are the same model, bit for bit."""
    X, y = blobs3
    params = dict(max_iter=60, device="cpu", random_state=0, cv=cv, weight_decay=1e-3)
    plain = SelMixClassifier(**params).fit(X, y)
    for value in (3e38, 1e300):
        heavy = SelMixClassifier(**params).fit(X, y, sample_weight=np.full(y.shape[0], value))
        np.testing.assert_array_equal(heavy.coef_, plain.coef_)
    auto = SelMixClassifier(**{**params, "weight_decay": "auto"}).fit(X, y, sample_weight=np.full(y.shape[0], 3e38))
    assert auto.weight_decay_ == pytest.approx(0.1 / (3e38 * y.shape[0]))
    assert np.isfinite(auto.coef_).all()


def test_one_huge_weight_is_a_clear_error_or_a_fit(blobs3):
    X, y = blobs3
    w = np.ones(y.shape[0])
    w[0] = 1e300  # every other row, and so classes 1 and 2, weigh 1e-300 of it: zero in float32
    with pytest.raises(ValueError, match=r"sample_weight spans more than the fit's float32 arithmetic holds"):
        SelMixClassifier(max_iter=10, device="cpu").fit(X, y, sample_weight=w)
    w[0] = 1e30  # within float32's range: a fit
    model = SelMixClassifier(max_iter=10, device="cpu", random_state=0).fit(X, y, sample_weight=w)
    assert np.isfinite(model.coef_).all()


def test_huge_validation_weights(blobs3):
    X, y = blobs3
    clf = SelMixClassifier(cv=None, max_iter=30, device="cpu", random_state=0)
    plain = clf.fit(X, y, X_val=X[::2], y_val=y[::2]).coef_
    heavy = clf.fit(X, y, X_val=X[::2], y_val=y[::2], sample_weight_val=np.full(y[::2].shape[0], 1e39)).coef_
    np.testing.assert_array_equal(plain, heavy)


def test_cv_with_a_fold_head_that_trains_on_nothing(blobs3):
    from sklearn.model_selection import KFold

    X, y = blobs3
    splits = list(KFold(3, shuffle=True, random_state=0).split(X))
    w = np.zeros(y.shape[0])
    w[splits[1][1]] = 1.0  # only fold 1's rows weigh: head 1 trains on weight zero
    with pytest.raises(ValueError, match=r"sample_weight is zero on every row outside cv fold\(s\) \[1\]"):
        SelMixClassifier(cv=splits, max_iter=10, device="cpu").fit(X, y, sample_weight=w)


def test_a_class_whose_validation_rows_weigh_zero_warns(blobs3):
    X, y = blobs3
    X_val, y_val = X[::2], y[::2]
    w_val = np.where(y_val == 2, 0.0, 1.0)
    with pytest.warns(UserWarning, match=r"Class\(es\) \[2\] have no validation row \(or only rows of weight zero\)"):
        SelMixClassifier(cv=None, max_iter=10, device="cpu").fit(
            X, y, X_val=X_val, y_val=y_val, sample_weight_val=w_val
        )
