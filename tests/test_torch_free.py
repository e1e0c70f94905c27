"""A fitted model needs no torch: importing skselmix, predicting, scoring, loading and
drawing the displays run in a fresh process that never imports it (issue 24)."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skselmix import SelMixClassifier, SelMixClassifierCV, get_objective_names


def _run_fresh(script, tmp_path):
    check = "\nimport sys\nassert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)[:5]\n"
    code = textwrap.dedent(script) + check
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_does_not_import_torch(tmp_path):
    _run_fresh("import skselmix, skselmix.metrics, skselmix.persistence, skselmix.datasets._long_tail", tmp_path)


def test_a_fit_on_numpy_imports_no_dask(tmp_path):
    """Dask stays optional (issue 42): only a Dask array brings it in."""
    subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import sys
        import numpy as np
        from skselmix import SelMixClassifier
        X = np.random.RandomState(0).normal(size=(60, 3))
        SelMixClassifier(max_iter=10, random_state=0).fit(X, np.arange(60) % 3).predict(X)
        assert not {'dask', 'distributed'} & set(sys.modules), sorted(m for m in sys.modules if 'dask' in m)[:5]
    """)], cwd=tmp_path, check=True, capture_output=True)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 5)) + np.repeat(np.eye(4, 5) * 2.5, [120, 60, 40, 20], axis=0)
    y = np.repeat(np.array(["a", "b", "c", "d"]), [120, 60, 40, 20])
    models = {name: SelMixClassifier(name, max_iter=40, device="cpu", random_state=0).fit(X, y)
              for name in get_objective_names()}
    models["search"] = SelMixClassifierCV(s_values=[1.0, 10.0], max_iter=40, device="cpu", random_state=0).fit(X, y)
    models["adapter"] = SelMixClassifier(hidden_layer_sizes=(8, 4), max_iter=40, device="cpu", random_state=0).fit(X, y)
    folder = tmp_path_factory.mktemp("models")
    X_test = rng.normal(size=(80, 5)) + np.repeat(np.eye(4, 5) * 2.5, 20, axis=0)
    y_test = np.repeat(np.array(["a", "b", "c", "d"]), 20)
    expected = {
        name: {
            "proba": model.predict_proba(X_test), "log_proba": model.predict_log_proba(X_test),
            "decision": model.decision_function(X_test), "predict": model.predict(X_test),
            "score": model.score(X_test, y_test), "weighted": model.score(X_test, y_test, np.linspace(1, 2, 80)),
        }
        for name, model in models.items()
    }
    with open(folder / "models.pkl", "wb") as f:
        pickle.dump({"models": models, "X": X_test, "y": y_test, "expected": expected}, f)
    return folder


def test_a_fitted_model_predicts_and_scores_without_torch(fitted):
    out = _run_fresh(f"""
        import pickle
        import numpy as np
        with open({str(fitted / "models.pkl")!r}, "rb") as f:
            saved = pickle.load(f)
        X, y = saved["X"], saved["y"]
        for name, model in saved["models"].items():
            want = saved["expected"][name]
            np.testing.assert_array_equal(model.predict_proba(X), want["proba"])
            np.testing.assert_array_equal(model.predict_log_proba(X), want["log_proba"])
            np.testing.assert_array_equal(model.decision_function(X), want["decision"])
            np.testing.assert_array_equal(model.predict(X), want["predict"])
            assert model.score(X, y) == want["score"], (name, model.score(X, y), want["score"])
            assert model.score(X, y, np.linspace(1, 2, 80)) == want["weighted"], name
        from skselmix.metrics import classification_report_balanced, objective_scorer, objective_scorers
        model = saved["models"]["min_head_tail_recall"]
        assert objective_scorer("min_head_tail_recall")(model, X, y) == model.score(X, y)
        assert set(objective_scorers()) and classification_report_balanced(y, model.predict(X))
        print("ok")
    """, fitted)
    assert out.strip() == "ok"


def test_persistence_and_displays_without_torch(fitted, tmp_path):
    pytest.importorskip("skops")
    pytest.importorskip("matplotlib")
    out = _run_fresh(f"""
        import pickle
        import matplotlib
        matplotlib.use("Agg")
        import numpy as np
        from skselmix import HistoryDisplay, PerClassRecallDisplay, persistence
        with open({str(fitted / "models.pkl")!r}, "rb") as f:
            saved = pickle.load(f)
        X, y = saved["X"], saved["y"]
        for name in ("min_recall", "adapter"):
            model = saved["models"][name]
            persistence.dump(model, "m.skops")
            loaded = persistence.load("m.skops")
            np.testing.assert_array_equal(loaded.predict_proba(X), saved["expected"][name]["proba"])
            PerClassRecallDisplay.from_estimator([model, loaded], X, y, names=["pickled", "loaded"])
            HistoryDisplay.from_estimator(loaded)
        print("ok")
    """, tmp_path)
    assert out.strip() == "ok"


def test_fit_imports_torch_when_it_needs_it(tmp_path):
    out = _run_fresh("""
        import sys
        import numpy as np
        from skselmix import SelMixClassifier
        X = np.random.RandomState(0).normal(size=(60, 3)) + np.repeat(np.eye(3) * 3, 20, axis=0)
        SelMixClassifier(max_iter=5, device="cpu").fit(X, np.repeat([0, 1, 2], 20))
        print("torch" in sys.modules)
        del sys.modules["torch"]  # the check appended below is about the paths above, not fit
    """, tmp_path)
    assert out.strip() == "True"


def test_serving_works_where_torch_is_not_installed(fitted, tmp_path):
    """With torch impossible to import (a serving machine without it), everything but fit works,
    and fit says what to install."""
    out = _run_fresh(f"""
        import importlib.abc, pickle, sys
        class NoTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        with open({str(fitted / "models.pkl")!r}, "rb") as f:
            saved = pickle.load(f)
        X, y = saved["X"], saved["y"]
        model = saved["models"]["gmean"]
        np.testing.assert_array_equal(model.predict_proba(X), saved["expected"]["gmean"]["proba"])
        assert model.score(X, y) == saved["expected"]["gmean"]["score"]
        try:
            model.fit(X, y)
        except ModuleNotFoundError as exc:
            print("fit needs", exc.name)
    """, tmp_path)
    assert out.strip() == "fit needs torch"


def test_missing_optional_packages_get_advice_that_installs_no_torch(fitted, tmp_path):
    """Without skops or matplotlib, loading and drawing say which package to install, and
    the command they give is that package alone (an extra would resolve torch)."""
    out = _run_fresh(f"""
        import importlib.abc, pickle, re, sys
        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("skops", "matplotlib"):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Hide())
        from skselmix import PerClassRecallDisplay, persistence
        with open({str(fitted / "models.pkl")!r}, "rb") as f:
            saved = pickle.load(f)
        for call in (lambda: persistence.load("m.skops"),
                     lambda: PerClassRecallDisplay.from_estimator(saved["models"]["gmean"], saved["X"], saved["y"])):
            try:
                call()
            except ImportError as exc:
                print(re.search(r"pip install ([\\w'\\[\\]-]+)", str(exc)).group(1))
    """, tmp_path)
    assert out.split() == ["skops", "matplotlib"]


def test_only_the_torch_folder_imports_torch():
    """The boundary ruff's TID251 rule enforces in CI, checked here too: outside
    skselmix/_torch/, no module of the package imports torch, at any level."""
    import ast
    from pathlib import Path

    import skselmix

    package = Path(skselmix.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "_torch":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(package)}:{node.lineno}" for n in names if n.split(".")[0] == "torch"]
    assert not offenders, offenders
