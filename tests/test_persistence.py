"""skops persistence: an explicit allow-list of trusted types, tampered files refused."""

import io
import json
import zipfile

import numpy as np
import pytest
from saved_models import fitted, three_classes
from sklearn.base import clone

from skselmix import SelMixClassifier, get_objective_names

sio = pytest.importorskip("skops.io")
persistence = pytest.importorskip("skselmix.persistence")


@pytest.fixture(scope="module")
def data():
    return three_classes()


@pytest.mark.parametrize("metric", get_objective_names())
def test_every_objective_round_trips(data, metric, tmp_path):
    model = fitted(data, metric=metric)
    path = tmp_path / "m.skops"
    persistence.dump(model, path)
    assert persistence.untrusted_foreign_types(path) == []
    loaded = persistence.load(path)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.predict(data[0]), model.predict(data[0]))
    assert loaded.objective_ == model.objective_


def _with_metric_node(model, node):
    """The skops bytes of ``model`` with its ``metric`` parameter replaced by ``node``."""
    source = zipfile.ZipFile(io.BytesIO(sio.dumps(model)))
    schema = json.loads(source.read("schema.json"))
    schema["content"]["content"]["metric"] = node
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, json.dumps(schema) if name == "schema.json" else source.read(name))
    return out.getvalue()


def _call_node(module, name, *args):
    """A skops node that, once trusted, calls ``module.name(*args)`` at load time."""
    args_node = json.loads(zipfile.ZipFile(io.BytesIO(sio.dumps(tuple(args)))).read("schema.json"))
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": args_node,
        "__id__": 1,
    }


def _function_node(module, name):
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode", "__id__": 2}


def test_tampered_call_of_a_skselmix_function_is_refused(data, tmp_path):
    # get_data_home(path) creates directories: a prefix rule ("skselmix.") trusted and ran it.
    target = tmp_path / "created_by_load"
    blob = _with_metric_node(fitted(data), _call_node("skselmix.datasets._cache", "get_data_home", str(target)))
    assert "skselmix.datasets._cache.get_data_home" in persistence.untrusted_foreign_types(io.BytesIO(blob))
    with pytest.raises(ValueError, match=r"skselmix.datasets._cache.get_data_home"):
        persistence.load(io.BytesIO(blob))
    assert not target.exists()


def test_tampered_dump_call_is_refused(data, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    blob = _with_metric_node(fitted(data), _call_node("skselmix.persistence", "dump", "junk", str(victim)))
    with pytest.raises(ValueError, match=r"skselmix.persistence.dump"):
        persistence.load(io.BytesIO(blob))
    assert victim.read_text() == "precious"


@pytest.mark.parametrize(
    "module, name",
    [
        ("skselmix.datasets._cache", "require"),  # a skselmix function (imports a module by name)
        ("skselmix.datasets._cache", "Path"),  # a class imported into a skselmix module from pathlib
        ("skselmix.persistence", "dump"),
        ("skselmix._objectives", "get_objective"),
    ],
)
def test_tampered_references_are_refused(data, module, name):
    blob = _with_metric_node(fitted(data), _function_node(module, name))
    assert f"{module}.{name}" in persistence.untrusted_foreign_types(io.BytesIO(blob))
    with pytest.raises(ValueError, match=f"{module}.{name}"):
        persistence.load(io.BytesIO(blob))


def test_trusted_types_are_classes_a_model_holds():
    import skselmix

    for qualified in persistence.TRUSTED_TYPES:
        module, _, name = qualified.rpartition(".")
        obj = getattr(__import__(module, fromlist=[name]), name)
        assert isinstance(obj, type), qualified
        # public classes only: skselmix's, or the scikit-learn splitters cv accepts
        assert getattr(skselmix, name, None) is obj or qualified.startswith("sklearn.model_selection._split.")


def _replace_member(blob, name, data):
    source = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for member in source.namelist():
            target.writestr(member, data if member == name else source.read(member))
    return out.getvalue()


def _coef_member(model):
    """The archive member holding ``coef_``: the .npy whose array equals it."""
    blob = sio.dumps(model)
    source = zipfile.ZipFile(io.BytesIO(blob))
    for name in source.namelist():
        if name.endswith(".npy"):
            array = np.load(io.BytesIO(source.read(name)))
            if array.shape == model.coef_.shape and np.array_equal(array, model.coef_):
                return blob, name
    raise AssertionError("coef_ not found")


def test_decompression_bomb_is_refused_before_inflating(data):
    """A 0.4 MB file whose coef_ inflates to 400 MB of zeros was loaded (reliability pass 3)."""
    blob, name = _coef_member(fitted(data))
    zeros = io.BytesIO()
    np.save(zeros, np.zeros((5000, 10000)))  # 400 MB, a consistent header
    bomb = _replace_member(blob, name, zeros.getvalue())
    assert len(bomb) < 1 << 20
    with pytest.raises(ValueError, match="would inflate to .* above the bound"):
        persistence.load(io.BytesIO(bomb))
    # The same member padded behind a small header is refused by the header check.
    small = io.BytesIO()
    np.save(small, np.zeros((3, 3)))
    padded = _replace_member(blob, name, small.getvalue() + bytes(1 << 20))
    with pytest.raises(ValueError, match="its header .* implies"):
        persistence.load(io.BytesIO(padded))
    # An explicit bound refuses even a plain file above it; the default loads it.
    with pytest.raises(ValueError, match="max_bytes"):
        persistence.load(io.BytesIO(blob), max_bytes=100)
    assert persistence.load(io.BytesIO(blob)).coef_.shape == (3, 3)


def _with_content(model, key, node):
    source = zipfile.ZipFile(io.BytesIO(sio.dumps(model)))
    schema = json.loads(source.read("schema.json"))
    state = schema["content"]
    state["content"][key] = node
    key_types = state["key_types"]["content"]
    key_types.append(key_types[0])  # the key's type: str, like every other key
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, json.dumps(schema) if name == "schema.json" else source.read(name))
    return out.getvalue()


@pytest.mark.parametrize("attribute", ["predict", "predict_proba", "score", "__class__x"])
def test_tampered_attribute_names_are_refused(data, attribute):
    """An allowed numpy ufunc stored as an instance attribute would shadow a method."""
    node = {"__class__": "add", "__module__": "numpy", "__loader__": "FunctionNode", "__id__": 7}
    blob = _with_content(fitted(data), attribute, node)
    assert persistence.untrusted_foreign_types(io.BytesIO(blob)) == []  # numpy ufuncs are trusted by skops
    with pytest.raises(ValueError, match=f"attributes it does not have: \\['{attribute}'\\]"):
        persistence.load(io.BytesIO(blob))


@pytest.mark.parametrize("cv", ["stratified", "kfold", "predefined", "split list"])
def test_models_fitted_with_a_splitter_load(data, cv, tmp_path):
    from sklearn.model_selection import KFold, PredefinedSplit, StratifiedKFold

    X, y = data
    splitter = {
        "stratified": StratifiedKFold(3, shuffle=True, random_state=0),
        "kfold": KFold(3, shuffle=True, random_state=np.random.RandomState(1)),
        "predefined": PredefinedSplit(np.arange(y.shape[0]) % 3),
        "split list": list(StratifiedKFold(3).split(X, y)),
    }[cv]
    model = SelMixClassifier(cv=splitter, max_iter=20, device="cpu", random_state=0).fit(X, y)
    path = tmp_path / "m.skops"
    persistence.dump(model, path)
    assert persistence.untrusted_foreign_types(path) == []
    loaded = persistence.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    if cv != "kfold":  # a RandomState instance was advanced by the fit's split
        np.testing.assert_array_equal(loaded.fit(X, y).coef_, model.coef_)  # and it refits the same


def test_every_fitted_attribute_is_declared_and_documented(data):
    """FITTED_ATTRIBUTES is load's allow-list: fits in every mode stay within it."""
    from skselmix import SelMixClassifierCV
    from skselmix._classifier import FITTED_ATTRIBUTES
    from skselmix._classifier_cv import SEARCH_ATTRIBUTES

    X, y = data
    y_semi = y.copy()
    y_semi[::4] = -1
    import pandas as pd

    models = [
        fitted(data),
        SelMixClassifier(cv=None, max_iter=20, device="cpu").fit(pd.DataFrame(X, columns=list("abc")), y),
        SelMixClassifier(unlabeled_label=-1, max_iter=20, device="cpu").fit(X, y_semi),
        SelMixClassifier(hidden_layer_sizes=(6,), max_iter=20, device="cpu").fit(X, y),
    ]
    for model in models:
        assert set(vars(model)) - set(model._get_param_names()) <= set(FITTED_ATTRIBUTES)
    search = SelMixClassifierCV(s_values=[1.0], max_iter=20, device="cpu").fit(X, y)
    extra = set(vars(search)) - set(search._get_param_names())
    assert extra <= set(FITTED_ATTRIBUTES + SEARCH_ATTRIBUTES) and set(SEARCH_ATTRIBUTES) <= extra
    documented = SelMixClassifier.__doc__.split("    Attributes\n")[1].split("    See Also")[0]
    for name in FITTED_ATTRIBUTES:
        assert f"\n    {name} : " in documented, name


def test_a_file_that_is_not_an_archive_is_refused():
    with pytest.raises(ValueError, match="not a skops archive"):
        persistence.load(io.BytesIO(b"not a zip file at all"))


@pytest.mark.parametrize("estimator", ["SelMixClassifier", "SelMixClassifierCV"])
def test_a_model_saved_before_a_parameter_existed_loads_with_its_old_behaviour(data, tmp_path, estimator):
    """A 0.7 model (no selection_confidence, no column_scaling) gets the values that reproduce
    0.7's fit, from pickle and from skops files: get_params, clone and refit work."""
    import pickle

    import skselmix
    from skselmix._classifier import PARAMETERS_ADDED_SINCE_SAVED

    X, y = data[:2]
    model = getattr(skselmix, estimator)(max_iter=20, device="cpu", random_state=0).fit(X, y)
    for name in PARAMETERS_ADDED_SINCE_SAVED:
        delattr(model, name)  # as a release before the parameter saved it
    persistence.dump(model, tmp_path / "old.skops")
    for loaded in (pickle.loads(pickle.dumps(model)), persistence.load(tmp_path / "old.skops")):
        params = loaded.get_params()
        assert params["selection_confidence"] == 0.0 and params["column_scaling"] == "keep"
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        assert clone(loaded).fit(X, y).column_scaling_ == "keep"
