"""skselmix/_sklearn_compat.py is the one importer of scikit-learn's private names."""

import ast
from pathlib import Path

import sklearn

import skselmix._sklearn_compat as compat

PACKAGE = Path(compat.__file__).parent


def _private_sklearn_imports(path):
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sklearn":
            private_module = any(part.startswith("_") for part in node.module.split("."))
            found += [f"{node.module}.{a.name}" for a in node.names if private_module or a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("sklearn") and "._" in a.name]
    return found


def test_only_the_compat_module_imports_private_sklearn_names():
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "_sklearn_compat.py" and (names := _private_sklearn_imports(path))
    }
    assert not offenders, offenders


def test_balanced_class_weight_with_sample_weight_on_every_release(monkeypatch):
    """The 1.6 path (compute_class_weight without sample_weight) gives what 1.7+ gives."""
    import numpy as np

    rng = np.random.RandomState(0)
    y, w = rng.choice(["a", "b", "c"], 60), rng.uniform(0.1, 3.0, 60)
    classes = np.unique(y)
    native = compat.compute_class_weight("balanced", classes=classes, y=y, sample_weight=w)
    monkeypatch.setattr(compat, "_WEIGHTED_CLASS_WEIGHT", False)
    np.testing.assert_allclose(compat.compute_class_weight("balanced", classes=classes, y=y, sample_weight=w), native)
    counts = np.array([np.sum(w[y == c]) for c in classes])
    np.testing.assert_allclose(native, w.sum() / (3 * counts), err_msg=sklearn.__version__)
    unweighted = compat.compute_class_weight({"a": 2.0}, classes=classes, y=y, sample_weight=w)
    np.testing.assert_array_equal(unweighted, [2.0, 1.0, 1.0])
