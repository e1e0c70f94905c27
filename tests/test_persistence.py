"""skops persistence: an explicit allow-list of trusted types, tampered files refused."""

import io
import json
import zipfile

import numpy as np
import pytest

from skselmix import SelMixClassifier, get_objective_names

sio = pytest.importorskip("skops.io")
persistence = pytest.importorskip("skselmix.persistence")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(40, 3)), rng.normal(size=(20, 3)) + 2, rng.normal(size=(10, 3)) - 2]
    return X, np.repeat([0, 1, 2], [40, 20, 10])


def fitted(data, metric="min_recall"):
    return SelMixClassifier(metric=metric, max_iter=20, device="cpu", random_state=0).fit(*data)


@pytest.mark.parametrize("metric", get_objective_names())
def test_every_objective_round_trips(data, metric, tmp_path):
    model = fitted(data, metric)
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
        assert getattr(skselmix, name) is obj  # public classes only
