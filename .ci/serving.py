"""The torch-free serving install, checked where torch is not installed (issue 33).

``python serving.py save DIR`` runs where skselmix was installed with torch: it fits the
model kinds a user serves (linear head, adapter, SelMixClassifierCV, a Pipeline), pickles
them, writes skops files and records what they predict. ``python serving.py check DIR``
runs in the environment README.rst's serving command made, which has no torch at all: it
loads both kinds of file, compares every prediction and score bit for bit, draws both
displays, and checks that ``fit`` says it needs torch.
"""

import importlib.util
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np


def _data():
    rng = np.random.RandomState(0)
    counts = [120, 60, 40, 20]
    X = rng.normal(size=(sum(counts), 6)) + np.repeat(np.eye(4, 6) * 2.5, counts, axis=0)
    y = np.repeat(np.array(["a", "b", "c", "d"]), counts)
    X_test = rng.normal(size=(80, 6)) + np.repeat(np.eye(4, 6) * 2.5, 20, axis=0)
    return X, y, X_test, np.repeat(np.array(["a", "b", "c", "d"]), 20)


def _outputs(model, X, y):
    return {"predict": model.predict(X), "proba": model.predict_proba(X),
            "log_proba": model.predict_log_proba(X), "decision": model.decision_function(X),
            "score": model.score(X, y)}


def save(folder):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skselmix import FitOutcomeWarning, SelMixClassifier, SelMixClassifierCV, persistence

    X, y, X_test, y_test = _data()
    models = {
        "linear": SelMixClassifier(max_iter=40, device="cpu", random_state=0),
        "adapter": SelMixClassifier(hidden_layer_sizes=(8,), max_iter=40, device="cpu", random_state=0),
        "search": SelMixClassifierCV(s_values=[1.0, 10.0], max_iter=40, device="cpu", random_state=0),
        "pipeline": make_pipeline(StandardScaler(), SelMixClassifier("gmean", max_iter=40, device="cpu",
                                                                     random_state=0)),
    }
    expected = {}
    for name, model in models.items():
        with warnings.catch_warnings():  # whether a fit kept its warm start is not served here
            warnings.simplefilter("ignore", FitOutcomeWarning)
            model.fit(X, y)
        persistence.dump(model, folder / f"{name}.skops")
        expected[name] = _outputs(model, X_test, y_test)
    with open(folder / "models.pkl", "wb") as f:
        pickle.dump({"models": models, "expected": expected, "X": X_test, "y": y_test}, f)


def check(folder):
    if importlib.util.find_spec("torch") is not None:
        raise SystemExit("torch is installed here: this check is for an environment without it")
    import matplotlib

    matplotlib.use("Agg")
    from skselmix import HistoryDisplay, PerClassRecallDisplay, persistence

    with open(folder / "models.pkl", "rb") as f:
        saved = pickle.load(f)
    X, y = saved["X"], saved["y"]
    for name, model in saved["models"].items():
        loaded = persistence.load(folder / f"{name}.skops")
        for source, served in (("pickle", model), ("skops", loaded)):
            got = _outputs(served, X, y)
            for key, want in saved["expected"][name].items():
                np.testing.assert_array_equal(got[key], want, err_msg=f"{name} from {source}: {key}")
        PerClassRecallDisplay.from_estimator([model, loaded], X, y, names=["pickle", "skops"])
        HistoryDisplay.from_estimator(loaded)
    try:
        saved["models"]["linear"].fit(X, y)
    except ModuleNotFoundError as exc:
        assert exc.name == "torch", exc
    else:
        raise AssertionError("fit ran without torch")
    assert "torch" not in sys.modules
    print(f"serving without torch: {len(saved['models'])} models from pickle and skops files, "
          "predictions bit-identical, displays drawn, fit asks for torch")


if __name__ == "__main__":
    mode, folder = sys.argv[1], Path(sys.argv[2])
    {"save": save, "check": check}[mode](folder)
