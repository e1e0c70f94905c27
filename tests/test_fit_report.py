"""Units of skselmix/_fit_report.py: the sentences a fit says about its outcome."""

import warnings

import numpy as np
import pytest

from skselmix import FitOutcomeWarning
from skselmix._fit_report import (
    _longest_run,
    kept_warm_start_message,
    unjudged_by_folds,
    warn,
)
from skselmix._predict import LinearModel
from skselmix._selection import Choice
from skselmix._torch.records import LoopResult


def _history(values, recalls=None, multipliers=None):
    recalls = recalls if recalls is not None else [np.array([0.5, 0.5])] * len(values)
    return [{"step": 50 * t, "objective": v, "recalls": r, "coverages": np.array([0.5, 0.5]), "lr": 0.01,
             "multipliers": multipliers} for t, (v, r) in enumerate(zip(values, recalls))]


def _result(history, best_step=0, candidate_step=0, verdict=False, probability=0.5, best_gain=-0.1):
    return LoopResult(
        model=LinearModel(np.zeros((2, 2)), np.zeros(2), (np.zeros((1, 2, 2)), np.zeros((1, 2)))),
        prototypes=np.zeros((2, 2)), n_iter=history[-1]["step"], history=history, gain_matrix=np.zeros((2, 2)),
        sampling_distribution=np.zeros((2, 2)), best_validation_score=history[0]["objective"], best_step=best_step,
        init="logit_adjusted", weight_decay=0.0, temperature=1.0,
        selection=Choice(0, 0, probability, 0.0, 0.0, best_gain), candidate_step=candidate_step,
        stopped_by_verdict=verdict,
    )


def test_unjudged_by_folds_names_classes_whose_rows_share_one_test_fold():
    y = np.array([0, 0, 0, 1, 1, 2])
    fold = np.array([0, 1, 2, 0, 1, 2])
    assert unjudged_by_folds(y, fold, 3, 3).tolist() == [2]
    weights = np.array([1, 1, 1, 1, 0, 1.0])  # class 1's second row weighs nothing
    assert unjudged_by_folds(y, fold, 3, 3, weights).tolist() == [1, 2]


def test_each_reason_for_a_kept_warm_start_has_its_sentence():
    moved = _result(_history([0.5, 0.6, 0.7]), best_step=100)
    assert kept_warm_start_message(moved, [0, 1], "min_recall", 0.01, 0.8) is None
    floor = _history([0.0, 0.0, 0.0], recalls=[np.array([0.0, 0.9])] * 3)
    assert "at a floor" in kept_warm_start_message(_result(floor), ["a", "b"], "min_recall", 0.01, 0.8)
    collapsed = _result(_history([0.8, 0.1, 0.1, 0.1]))
    assert "collapsed" in kept_warm_start_message(collapsed, [0, 1], "min_recall", 0.3, 0.8)
    verdict = _result(_history([0.5, 0.5, 0.45]), verdict=True)
    assert "stopped early" in kept_warm_start_message(verdict, [0, 1], "min_recall", 0.01, 0.8)
    noise = _result(_history([0.5, 0.55, 0.5]), candidate_step=50, probability=0.6)
    message = kept_warm_start_message(noise, [0, 1], "min_recall", 0.01, 0.8)
    assert "within noise" in message and "60%" in message and "80% needed" in message
    flat = _result(_history([0.5, 0.5, 0.4]))
    assert "no step raised" in kept_warm_start_message(flat, [0, 1], "min_recall", 0.01, 0.8)


def test_longest_run():
    assert _longest_run([]) == (0, 0)
    assert _longest_run([False, True, True, False, True]) == (1, 2)
    assert _longest_run([True, True, True]) == (0, 3)


def test_warn_points_at_the_callers_line_and_prints_with_verbose(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("a sentence", verbose=1)
    (warning,) = caught
    assert warning.category is FitOutcomeWarning and warning.filename == __file__
    assert "[SelMix] note: a sentence" in capsys.readouterr().out


def test_see_saw_message_needs_large_swings_for_six_refreshes():
    from skselmix._fit_report import see_saw_message

    def history(values):
        return [{"step": 50 * t, "objective": v, "multipliers": None, "lr": 0.01, "recalls": np.ones(2)}
                for t, v in enumerate(values)]

    assert see_saw_message(history([0.6, 0.2, 0.6, 0.2, 0.6, 0.2, 0.6]), [0, 1], "min_recall") is not None
    assert see_saw_message(history([0.6, 0.2, 0.6, 0.2, 0.6, 0.2]), [0, 1], "min_recall") is None  # 5 after step 0
    assert see_saw_message(history([0.6, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6]), [0, 1], "min_recall") is None  # small
    assert see_saw_message(history([0.6, 0.2, 0.6, 0.6, 0.2, 0.6, 0.2, 0.6]), [0, 1], "min_recall") is None


def test_messages_list_a_few_classes_and_count_the_rest():
    """A K = 8192 fit named 1,500 classes in one warning; past ten, the rest are counted."""
    from skselmix._fit_report import class_list, unjudged_message

    assert class_list(["a", "b"]) == "['a', 'b']"
    long = class_list(range(1500))
    assert long.startswith("[0, 1, 2") and "1,490 more (1,500 in all)" in long and "1499" not in long
    assert "1,490 more" in unjudged_message(list(range(1500)), "out of fold")


def test_a_divergence_before_the_first_refresh_is_explained():
    """R07 (issue 41): a fit that diverged before its first refresh returned its warm start
    with a ConvergenceWarning alone, no FitOutcomeWarning saying the warm start was kept."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from skselmix import FitOutcomeWarning, SelMixClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4)) * 1e3 + np.repeat(np.eye(3, 4) * 3e3, [60, 40, 20], axis=0)
    y = np.repeat([0, 1, 2], [60, 40, 20])
    with pytest.warns(ConvergenceWarning, match="diverged"), \
            pytest.warns(FitOutcomeWarning, match=r"diverged by step 100, before a refresh could judge any step"):
        model = SelMixClassifier(learning_rate=1e30, max_iter=100, refresh_every=100, device="cpu",
                                 random_state=0).fit(X, y)
    assert model.best_step_ == 0 and np.isfinite(model.coef_).all()
