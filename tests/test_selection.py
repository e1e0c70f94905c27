"""The step selection (issue 31): leave the warm start only for a gain beyond noise."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_classification

from skselmix import FitOutcomeWarning, SelMixClassifier, SelMixClassifierCV
from skselmix._classifier_cv import tied_with_best
from skselmix._confusion import balanced_confusion, coverages, recalls
from skselmix._limits import LIMITS, Limits
from skselmix._objectives import BUILTIN_OBJECTIVES, CallableObjective, get_objective
from skselmix._selection import VERDICT_REFRESHES, StepSelection, stratified_resample_counts
from skselmix.datasets import long_tailed_split


def _labels(sizes):
    return np.repeat(np.arange(len(sizes)), sizes)


def test_resamples_keep_each_class_size_and_follow_the_weights():
    y = _labels([30, 7, 2])
    weights = np.r_[np.ones(30), np.linspace(1, 7, 7), [0.0, 5.0]]
    counts = stratified_resample_counts(y, weights, 3, 400, np.random.RandomState(0))
    assert counts.dtype == np.uint8 and counts.shape == (400, 39)
    per_class = np.stack([counts[:, y == c].sum(axis=1) for c in range(3)], axis=1)
    assert (per_class == [30, 7, 1]).all()  # rows of positive weight, every resample
    assert (counts[:, 37] == 0).all() and (counts[:, 38] == 1).all()  # the zero-weight row is never drawn
    drawn = counts[:, 30:37].mean(axis=0)
    assert np.corrcoef(drawn, weights[30:37])[0, 1] > 0.95  # in proportion to the weights
    again = stratified_resample_counts(y, weights, 3, 400, np.random.RandomState(0))
    np.testing.assert_array_equal(counts, again)


@pytest.mark.parametrize("weighted", [False, True])
def test_resample_counts_do_not_depend_on_the_draw_chunk(weighted):
    # Chunks of whole resamples (here 1, 3 and all 50 of them at once) draw the same uniforms
    # in the same order: the chunk bounds the temporaries, never the counts.
    y = _labels([40, 11, 3])
    weights = np.linspace(0.5, 2.0, y.size) if weighted else None
    whole = stratified_resample_counts(y, weights, 3, 50, np.random.RandomState(3),
                                       Limits(resample_draw_chunk=50 * y.size))
    for draws in (1, 3 * y.size):
        chunked = stratified_resample_counts(y, weights, 3, 50, np.random.RandomState(3),
                                             Limits(resample_draw_chunk=draws))
        np.testing.assert_array_equal(chunked, whole)


@pytest.mark.parametrize("objective", [cls.name for cls in BUILTIN_OBJECTIVES])
def test_values_from_rates_equal_value_for_every_builtin_objective(objective):
    rng = np.random.RandomState(1)
    obj = get_objective(objective)
    class_counts = np.array([50.0, 20, 9, 4, 2])
    matrices = []
    for _ in range(6):
        y = rng.randint(0, 5, 80)
        pred = np.where(rng.rand(80) < 0.6, y, rng.randint(0, 5, 80))
        if len(matrices) == 5:  # a class never predicted right: G- and H-mean are 0
            pred = np.where(y == 4, 0, pred)
        matrices.append(balanced_confusion(y, pred, 5)[0])
    r = np.stack([recalls(c) for c in matrices])
    cov = np.stack([coverages(c) for c in matrices])
    expected = [float(obj.value(c, class_counts)) for c in matrices]
    np.testing.assert_allclose(obj.values_from_rates(r, cov, class_counts), expected, rtol=1e-12, atol=1e-12)


def _selection(y, confidence=0.8, objective="min_recall", seed=0):
    return StepSelection(y, None, int(y.max()) + 1, get_objective(objective), np.bincount(y).astype(float),
                         np.random.RandomState(seed), confidence)


def test_a_step_that_fixes_a_well_judged_class_is_kept():
    y = _labels([40, 40, 30])
    start = y.copy()
    start[80:95] = 0  # class 2 at recall 0.5
    better = start.copy()
    better[80:92] = 2  # class 2 at 0.9
    selection = _selection(y)
    assert np.isnan(selection.add(start))
    assert selection.add(better) > 0.99
    choice = selection.choose(1, [0.5, 0.9])
    assert choice.index == 1 and choice.probability > 0.99
    # The raw gain is 0.4; the optimism correction moves it a little (either way).
    assert 0.3 < choice.gain < 0.45 and 0 < choice.gain_std < 0.15


def test_one_row_of_a_two_row_class_is_within_noise():
    y = _labels([40, 40, 2])
    start = y.copy()
    start[80:82] = 0  # class 2 at recall 0
    one_right = start.copy()
    one_right[80] = 2  # 0.5: beats the start on the 3 resamples in 4 that draw that row
    selection = _selection(y)
    selection.add(start)
    probability = selection.add(one_right)
    assert 0.6 < probability < 0.9
    choice = selection.choose(1, [0.0, 0.5])
    assert choice.index == 0 and choice.best_index == 1 and choice.gain == choice.gain_std == 0.0
    anyway = _selection(y, confidence=0)
    anyway.add(start)
    anyway.add(one_right)
    assert anyway.choose(1, [0.0, 0.5]).index == 1  # confidence 0: the best refresh, whatever the noise


def test_the_selection_optimism_is_taken_off_the_gain():
    """Refreshes that are pure noise around the warm start: the best of them looks better than
    it is, and the corrected gain is smaller than the raw one."""
    rng = np.random.RandomState(3)
    y = _labels([60, 30, 12])
    start = np.where(rng.rand(y.size) < 0.75, y, (y + 1) % 3)
    right = start == y
    selection = _selection(y)
    full = [float(get_objective("min_recall").value(balanced_confusion(y, start, 3)[0]))]
    selection.add(start)
    for _ in range(20):  # as many right rows turned wrong as wrong ones right, on average
        flip = np.where(right, rng.rand(y.size) < 0.3 * (~right).mean() / right.mean(), rng.rand(y.size) < 0.3)
        noisy = np.where(flip, np.where(right, (y + 1) % 3, y), start)
        selection.add(noisy)
        full.append(float(get_objective("min_recall").value(balanced_confusion(y, noisy, 3)[0])))
    best = int(np.argmax(full))
    assert best > 0 and full[best] > full[0]
    choice = selection.choose(best, full)
    assert choice.best_gain < full[best] - full[0]


def test_the_early_verdict_needs_coarse_feedback_and_four_refreshes():
    tiny, wide = _labels([40, 40, 3]), _labels([40, 40, 12])
    for y, expected in ((tiny, True), (wide, False)):
        selection = _selection(y)
        for refresh in range(VERDICT_REFRESHES + 1):
            selection.add(y * 0)  # every refresh as bad as the warm start: never beats it
            if refresh < VERDICT_REFRESHES:
                assert not selection.futile()
        assert selection.futile() is expected


def test_a_custom_objective_is_judged_on_whole_matrices():
    y = _labels([20, 20, 10])
    recall_of_2 = CallableObjective(lambda c: c[2, 2] * 3, name="recall_of_2")
    selection = StepSelection(y, None, 3, recall_of_2, np.bincount(y).astype(float), np.random.RandomState(0), 0.8)
    selection.add(np.zeros_like(y))
    probability = selection.add(y)
    assert probability == 1.0 and (selection.values_of(1) == 1.0).all()


def test_a_nan_on_a_resample_is_an_error_naming_the_metric():
    X, y = make_classification(n_samples=150, n_classes=3, n_informative=4, random_state=0)
    calls = []

    def nan_on_resamples(confusion):
        calls.append(1)
        return confusion.trace() * (float("nan") if len(calls) == 5 else 1.0)

    with pytest.raises(ValueError, match="metric 'nan_on_resamples' failed at step 0: it returned nan on a bootstrap"):
        SelMixClassifier(nan_on_resamples, max_iter=50, device="cpu", random_state=0).fit(X, y)


# ----------------------------------------------------------------- estimator level
def _digits_tiny(seed):
    X, y = load_digits(return_X_y=True)
    X_tr, y_tr, _, _, X_te, y_te = long_tailed_split(X, y, rho=50, n_val_per_class=0, n_test_per_class=50,
                                                     random_state=seed)
    return X_tr, y_tr, X_te, y_te


def _synthetic(seed):
    X, y = make_classification(n_samples=8000, n_features=16, n_informative=12, n_redundant=2, n_classes=10,
                               n_clusters_per_class=3, class_sep=1.5, random_state=0)
    X_tr, y_tr, _, _, X_te, y_te = long_tailed_split(X, y, rho=20, n_val_per_class=0, n_test_per_class=200,
                                                     random_state=seed)
    return X_tr, y_tr, X_te, y_te


@pytest.mark.parametrize("seed", [102, 103])
def test_tiny_tails_keep_the_warm_start_cheaply_and_say_why(seed):
    """Tails of 2 to 3 rows (tuning seeds of benchmarks/selection_traces.py): the early verdict
    stops the loop at step 150 and the fit is its warm start, with one sentence why."""
    X, y, _, _ = _digits_tiny(seed)
    with pytest.warns(FitOutcomeWarning, match="kept its warm start .* stopped early, at step 150"):
        model = SelMixClassifier(device="cpu", random_state=seed).fit(X, y)
    warm = SelMixClassifier(max_iter=0, device="cpu", random_state=seed).fit(X, y)
    assert model.best_step_ == 0 and model.n_iter_ == 150
    np.testing.assert_array_equal(model.coef_, warm.coef_)
    assert model.validation_gain_ == model.validation_gain_std_ == 0.0
    assert model.best_validation_score_ == model.history_[0]["objective"]
    assert np.isnan(model.history_[0]["p_beats_start"])
    assert all(record["p_beats_start"] < 0.5 for record in model.history_[1:])


def test_a_real_gain_leaves_the_warm_start():
    """Tails of 20 rows of a nonlinear problem (a smaller cousin of benchmarks.tabular's):
    the steps beat the warm start beyond noise, on the feedback and on the test set."""
    X, y, X_te, y_te = _synthetic(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitOutcomeWarning)
        model = SelMixClassifier(device="cpu", random_state=0).fit(X, y)
    warm = SelMixClassifier(max_iter=0, device="cpu", random_state=0).fit(X, y)
    assert model.best_step_ > 0
    returned = next(record for record in model.history_ if record["step"] == model.best_step_)
    assert returned["p_beats_start"] >= 0.8
    assert 0 < model.validation_gain_ < model.best_validation_score_ - model.history_[0]["objective"] + 1e-12
    assert model.validation_gain_std_ > 0
    assert model.score(X_te, y_te) > warm.score(X_te, y_te)


def test_selection_confidence_zero_returns_the_best_step():
    X, y, _, _ = _digits_tiny(102)
    model = SelMixClassifier(device="cpu", random_state=102, selection_confidence=0, max_iter=300).fit(X, y)
    assert model.best_validation_score_ == max(record["objective"] for record in model.history_)
    assert model.n_iter_ == 300  # no early verdict either


def test_a_search_whose_candidates_all_keep_the_warm_start_says_so_and_reports_the_default():
    X, y, _, _ = _digits_tiny(102)
    with pytest.warns(FitOutcomeWarning, match="Every one of the 3 candidates kept the warm start"):
        search = SelMixClassifierCV(s_values=[1.0, 10.0, 100.0], device="cpu", random_state=102).fit(X, y)
    assert search.s_ == 10.0 and search.best_step_ == 0
    assert list(search.cv_results_["rank_validation_score"]) == [1, 1, 1]


def test_candidates_tied_within_noise_rank_equally_and_the_default_wins():
    def result(values, score, step):
        return SimpleNamespace(selection_values=np.asarray(values, dtype=float), best_validation_score=score,
                               best_step=step)

    resamples = np.linspace(0.4, 0.6, 50)
    results = [result(resamples + 0.01, 0.51, 300), result(resamples, 0.50, 0), result(resamples - 0.2, 0.3, 100)]
    scores = np.array([r.best_validation_score for r in results])
    # The best beats the second on every resample: never tied with it.
    assert list(tied_with_best(results, scores, 0.8)) == [True, False, False]
    assert list(tied_with_best(results, scores, 1.0)) == [True, False, False]
    mostly = resamples + np.where(np.arange(50) < 5, -0.05, 0.01)  # better on 45 of 50 resamples
    results[0] = result(mostly, 0.51, 300)
    assert list(tied_with_best(results, scores, 0.8)) == [True, False, False]
    assert list(tied_with_best(results, scores, 0.95)) == [True, True, False]
    noisy = [result(resamples[::-1], 0.52, 300), result(resamples, 0.50, 0), results[2]]  # better on half
    assert list(tied_with_best(noisy, np.array([0.52, 0.50, 0.3]), 0.8)) == [True, True, False]
    assert list(tied_with_best(noisy, np.array([0.52, 0.50, 0.3]), 0.0)) == [True, False, False]


def test_search_ranks_ties_equally_and_prefers_the_default_s(monkeypatch):
    """Three candidates whose results tie within noise: all rank 1, the default s (10) is
    returned although another has the higher score."""
    X, y, _, _ = _synthetic(0)
    search = SelMixClassifierCV(s_values=[1.0, 10.0, 100.0], max_iter=300, device="cpu", random_state=0)
    import skselmix._classifier_cv as cv_module

    monkeypatch.setattr(cv_module, "tied_with_best", lambda results, scores, confidence: np.ones(len(scores), bool))
    search.fit(X, y)
    assert search.s_ == 10.0 and list(search.cv_results_["rank_validation_score"]) == [1, 1, 1]
    single = SelMixClassifier(s=10.0, max_iter=300, device="cpu", random_state=0).fit(X, y)
    np.testing.assert_array_equal(search.coef_, single.coef_)


def test_history_and_gain_attributes_survive_pickling():
    import pickle

    X, y, _, _ = _synthetic(0)
    model = SelMixClassifier(max_iter=200, device="cpu", random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    assert again.validation_gain_ == model.validation_gain_
    assert torch.is_tensor(model.validation_gain_) is False and isinstance(model.validation_gain_, float)


@pytest.mark.parametrize("rows_per_block", [None, 7])
@pytest.mark.parametrize("objective", ["min_recall", "mean_recall_min_coverage", "custom"])
def test_the_sparse_product_for_many_classes_equals_the_dense_one(objective, rows_per_block):
    """K in the thousands takes a sparse product (a dense rows x 2K matrix would not fit), a
    block of rows at a time (the counts are held as bytes and made float32 per block)."""
    import skselmix._selection as selection_module

    rng = np.random.RandomState(5)
    y = rng.randint(0, 6, 300)
    pred = np.where(rng.rand(300) < 0.6, y, rng.randint(0, 6, 300))
    obj = CallableObjective(lambda c: c.trace(), name="trace") if objective == "custom" else get_objective(objective)

    def values(limits=LIMITS):
        selection = StepSelection(y, None, 6, obj, np.bincount(y).astype(float), np.random.RandomState(0), 0.8,
                                  limits=limits)
        selection.add(y)
        selection.add(pred)
        return selection.values_of(1)

    dense = values()
    sparse = Limits(dense_resample_product=0) if rows_per_block is None else Limits(
        dense_resample_product=0, resample_chunk=rows_per_block * selection_module.N_RESAMPLES)
    # The rates are float32 sums taken in another order (and by another BLAS kernel on another
    # CPU): on an AMD EPYC one coverage-penalised value of 0.26 differed by 4e-7 (the
    # penalty multiplies coverage errors by K). 1e-6 is a few float32 roundings of values in [-K, 1].
    np.testing.assert_allclose(values(sparse), dense, rtol=1e-6, atol=1e-6)


# ------------------------------------- reliability pass 5 (issue 41): user objectives, counts
def test_resample_counts_never_clip_a_heavy_row():
    """R05: counts were uint8 and clipped at 255: one heavy-weighted row of a 1000-row class
    (drawn about 1000 times a resample) made a gain of 0.500 read as 0.681."""
    y = np.repeat([0, 1], [1000, 10])
    weights = np.ones(y.size)
    weights[0] = 1e6
    counts = stratified_resample_counts(y, weights, 2, 50, np.random.RandomState(0))
    assert counts[:, 0].min() > 900 and counts.dtype == np.uint16
    # Held as a type every torch release has (no uint16 before torch 2.3); bytes where they hold.
    held = StepSelection(y, weights, 2, get_objective("min_recall"), np.bincount(y).astype(float),
                         np.random.RandomState(0), 0.8).counts
    assert held.dtype == torch.int32 and int(held[:, 0].min()) > 900
    small = StepSelection(y[800:], None, 2, get_objective("min_recall"), None, np.random.RandomState(0), 0.8).counts
    assert small.dtype == torch.uint8  # classes of 200 and 10 rows
    np.testing.assert_array_equal(counts[:, y == 0].sum(axis=1), 1000)  # every draw counted
    np.testing.assert_array_equal(counts[:, y == 1].sum(axis=1), 10)


def test_a_subclass_that_overrides_value_is_judged_by_its_own_value():
    """R16: a subclass of a built-in objective overriding value() alone was judged on the
    resamples by its parent's values_from_rates (another objective)."""
    from skselmix import MeanRecall, MinRecall
    from skselmix._confusion import recalls

    class MeanOfMin(MinRecall):
        def value(self, confusion, class_counts=None):
            return recalls(confusion).mean()

    class BothOverridden(MinRecall):
        def value(self, confusion, class_counts=None):
            return recalls(confusion).mean()

        def values_from_rates(self, recalls, coverages, class_counts=None):
            return recalls.mean(axis=1)

    assert MinRecall.rates_give_value() and not MeanOfMin.rates_give_value() and BothOverridden.rates_give_value()
    rng = np.random.RandomState(1)
    y = rng.randint(0, 4, 200)
    pred = np.where(rng.rand(200) < 0.7, y, rng.randint(0, 4, 200))

    def values(objective):
        selection = StepSelection(y, None, 4, objective, np.bincount(y).astype(float), np.random.RandomState(0), 0.8)
        selection.add(y)
        selection.add(pred)
        return selection.values_of(1)

    np.testing.assert_allclose(values(MeanOfMin()), values(MeanRecall()), atol=1e-6)
    assert not np.allclose(values(MeanOfMin()), values(MinRecall()), atol=1e-3)


def test_a_torch_valued_user_objective_fits_with_and_without_selection():
    """R01: value() got numpy resamples, so an objective written in torch (as documented)
    failed every fit, even with selection_confidence=0."""
    import torch

    from skselmix import Objective, SelMixClassifier

    class TorchMinRecall(Objective):
        name = "torch_min_recall"

        def value(self, confusion, class_counts=None):
            assert isinstance(confusion, torch.Tensor)
            return (torch.diagonal(confusion) * confusion.shape[0]).min()

        def gradient(self, confusion, multipliers=None, class_counts=None):
            worst = torch.argmin(torch.diagonal(confusion))
            grad = torch.zeros_like(confusion)
            grad[worst, worst] = confusion.shape[0]
            return grad

    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 4)) + np.repeat(np.eye(3, 4) * 2, [90, 40, 20], axis=0)
    y = np.repeat([0, 1, 2], [90, 40, 20])
    for confidence in (0.8, 0.0):
        model = SelMixClassifier(metric=TorchMinRecall(), max_iter=40, refresh_every=20,
                                 selection_confidence=confidence, device="cpu", random_state=0).fit(X, y)
        assert np.isfinite(model.validation_gain_) and len(model.history_) == 3


def test_validation_gain_never_exceeds_the_gain_the_history_shows():
    """Issue 40: a negative bootstrap optimism made validation_gain_ larger than the fit's own
    best-minus-start (+3.005 against +2.43 on a user's K = 500 coverage fit)."""
    y = _labels([20, 20])
    selection = StepSelection(y, None, 2, get_objective("mean_recall"), np.array([20.0, 20.0]),
                              np.random.RandomState(0), 0.0)
    # Resamples where the best refresh gains less (0.1) than on the full feedback (0.3): an
    # optimism estimate of -0.2, which would have reported a gain of 0.5.
    selection.values = [np.zeros(50), np.full(50, 0.1)]
    choice = selection.choose(1, [0.0, 0.3])
    assert choice.gain == pytest.approx(0.3)
    rng = np.random.RandomState(1)
    for seed in range(4):
        X = rng.normal(size=(300, 6)) + np.repeat(rng.normal(size=(6, 6)) * 1.2, [120, 70, 45, 30, 20, 15], axis=0)
        y = np.repeat(np.arange(6), [120, 70, 45, 30, 20, 15])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SelMixClassifier(metric="mean_recall_min_coverage", selection_confidence=0, max_iter=300,
                                     device="cpu", random_state=seed).fit(X, y)
        best = next(r["objective"] for r in model.history_ if r["step"] == model.best_step_)
        assert model.validation_gain_ <= best - model.history_[0]["objective"] + 1e-12
