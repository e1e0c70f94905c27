"""Issue 32's security defects: a loaded model cannot run code, write files or allocate beyond
its bound, and the warm-start cache is honest or refuses (M1 to M8, M12, M13, M15)."""

import io
import json
import struct
import time
import warnings
import zipfile

import numpy as np
import pytest
from saved_models import fitted, three_classes
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skselmix import SelMixClassifier

sio = pytest.importorskip("skops.io")
persistence = pytest.importorskip("skselmix.persistence")


@pytest.fixture(scope="module")
def data():
    return three_classes()


def _members(blob):
    source = zipfile.ZipFile(io.BytesIO(blob))
    return {name: source.read(name) for name in source.namelist()}


def _archive(members, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as target:
        for name, content in members.items():
            target.writestr(name, content)
    return out.getvalue()


def _with_schema(blob, change):
    members = _members(blob)
    schema = json.loads(members["schema.json"])
    change(schema)
    members["schema.json"] = json.dumps(schema)
    return _archive(members)


# ------------------------------------------------------------------ M1: memory from a file
def test_memory_is_never_taken_from_a_file(data, tmp_path):
    planted = tmp_path / "attacker"
    planted.mkdir()
    (planted / "marker").write_text("x")
    model = fitted(data, memory=str(planted))
    blob = sio.dumps(model)
    loaded = persistence.load(io.BytesIO(blob))
    assert loaded.memory is None
    before = sorted(p.name for p in planted.rglob("*"))
    loaded.fit(*data)  # a refit of the loaded model neither reads nor writes the file's directory
    assert sorted(p.name for p in planted.rglob("*")) == before


def test_memory_of_a_pipeline_and_its_steps_is_dropped(data, tmp_path):
    pipe = make_pipeline(StandardScaler(), SelMixClassifier(max_iter=20, device="cpu", random_state=0),
                         memory=str(tmp_path / "pipe_cache")).fit(*data)
    pipe[-1].memory = str(tmp_path / "step_cache")
    loaded = persistence.load(io.BytesIO(sio.dumps(pipe)))
    assert loaded.memory is None and loaded[-1].memory is None
    np.testing.assert_array_equal(loaded.predict(data[0]), pipe.predict(data[0]))


# ------------------------------------------------------------------ M3, M6: bytes actually inflated
def _bomb(data, patch_sizes):
    """A small file whose coef_ member inflates to 200 MB of zeros; with ``patch_sizes`` its
    central directory declares a compressed size of 2 GB for it (what the old bound read)."""
    model = fitted(data)
    members = _members(sio.dumps(model))
    coef = next(name for name, content in members.items()
                if name.endswith(".npy") and np.load(io.BytesIO(content)).shape == model.coef_.shape)
    zeros = io.BytesIO()
    np.save(zeros, np.zeros((2500, 10000)))
    members[coef] = zeros.getvalue()
    blob = bytearray(_archive(members, zipfile.ZIP_DEFLATED))
    if patch_sizes:
        name = coef.encode()
        at = blob.find(b"PK\x01\x02")
        while at != -1:  # each central directory entry: compressed size at offset 20, name at 46
            length = struct.unpack_from("<H", blob, at + 28)[0]
            if bytes(blob[at + 46:at + 46 + length]) == name:
                struct.pack_into("<I", blob, at + 20, 2_000_000_000)
            at = blob.find(b"PK\x01\x02", at + 4)
    return bytes(blob)


@pytest.mark.parametrize("patch_sizes", [False, True])
def test_a_bomb_is_refused_on_the_bytes_the_file_holds(data, patch_sizes):
    bomb = _bomb(data, patch_sizes)
    assert len(bomb) < 1 << 20
    start = time.perf_counter()
    with pytest.raises(ValueError, match="Refusing to load"):
        persistence.load(io.BytesIO(bomb))
    with pytest.raises(ValueError, match="Refusing to load"):
        persistence.untrusted_foreign_types(io.BytesIO(bomb))  # M6: the inspection is bounded too
    assert time.perf_counter() - start < 20


def test_a_member_larger_than_its_directory_entry_is_refused(data):
    """A directory entry that declares fewer bytes than the member inflates to."""
    blob = bytearray(_archive(_members(sio.dumps(fitted(data)))))
    at = blob.find(b"PK\x01\x02")
    size = struct.unpack_from("<I", blob, at + 24)[0]
    struct.pack_into("<I", blob, at + 24, size + 10)  # uncompressed size claimed 10 bytes larger
    with pytest.raises(ValueError, match="Refusing to load"):
        persistence.load(io.BytesIO(bytes(blob)))


# ------------------------------------------------------------------ M4, M5: the schema
def _dag(depth, first_id=1000):
    """Nested lists whose every level holds the level below and then a stub with the same id
    (skops returns the node built first for a repeated id): a few hundred bytes per level,
    2**depth paths for skops's audit."""
    node = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": "1", "is_json": True,
            "__id__": first_id - 1}
    for level in range(depth):
        stub = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": "x",
                "__id__": node["__id__"]}
        node = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": [node, stub],
                "__id__": first_id + level}
    return node


def test_a_schema_that_is_not_a_tree_is_refused_at_once(data):
    def plant(schema):
        schema["content"]["content"]["history_"]["content"].append(_dag(40))

    blob = _with_schema(sio.dumps(fitted(data)), plant)
    assert len(blob) < 200_000
    start = time.perf_counter()
    for inspect in (persistence.load, persistence.untrusted_foreign_types):
        with pytest.raises(ValueError, match="walk more than"):
            inspect(io.BytesIO(blob))
    assert time.perf_counter() - start < 5

    def cycle(schema):
        inner = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": [], "__id__": 77}
        outer = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": [inner],
                 "__id__": 77}
        schema["content"]["content"]["history_"]["content"].append(outer)

    with pytest.raises(ValueError, match="a cycle"):
        persistence.load(io.BytesIO(_with_schema(sio.dumps(fitted(data)), cycle)))


def test_a_huge_or_deep_schema_is_refused(data):
    def pad(schema):
        schema["padding"] = "x" * (persistence.MAX_SCHEMA_BYTES + 1)

    blob = _with_schema(sio.dumps(fitted(data)), pad)
    members = _members(blob)
    small = _archive(members, zipfile.ZIP_DEFLATED)
    assert len(small) < 200_000
    with pytest.raises(ValueError, match="schema.json inflates to"):
        persistence.load(io.BytesIO(small))

    def deepen(schema):
        node = {}
        for _ in range(persistence.MAX_SCHEMA_DEPTH + 5):
            node = {"content": node}
        schema["content"]["content"]["history_"]["content"].append(node)

    with pytest.raises(ValueError, match="levels"):
        persistence.load(io.BytesIO(_with_schema(sio.dumps(fitted(data)), deepen)))


# ------------------------------------------------------------------ M7: what the tree may hold
def _ufunc(name="negative"):
    return {"__class__": name, "__module__": "numpy", "__loader__": "FunctionNode", "__id__": 99}


def _set_attribute(node, name, value):
    """Set ``name`` in an object node's state (a DictNode of str keys)."""
    state = node["content"]
    state["content"][name] = value
    state["key_types"]["content"].append(state["key_types"]["content"][0])


def test_the_root_must_be_a_skselmix_estimator_or_a_pipeline_ending_in_one(data):
    X, y = data
    logistic = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="not a skselmix estimator"):
        persistence.load(io.BytesIO(sio.dumps(logistic)))
    with pytest.raises(ValueError, match="not a skselmix estimator"):
        persistence.load(io.BytesIO(sio.dumps({"model": fitted(data)})))
    with pytest.raises(ValueError, match="not a skselmix estimator"):
        persistence.load(io.BytesIO(sio.dumps(make_pipeline(StandardScaler().fit(X), logistic))))


def test_a_scikit_learn_estimator_predicting_with_a_numpy_function_is_refused(data):
    X, y = data
    logistic = LogisticRegression().fit(X, y)
    blob = _with_schema(sio.dumps(logistic), lambda schema: _set_attribute(schema, "predict", _ufunc()))
    assert persistence.untrusted_foreign_types(io.BytesIO(blob)) == []  # skops trusts it
    with pytest.raises(ValueError, match="not a skselmix estimator"):
        persistence.load(io.BytesIO(blob))
    pipe = make_pipeline(StandardScaler().fit(X), fitted(data))

    def tamper(schema):
        steps = schema["content"]["content"]["steps"]["content"]
        _set_attribute(steps[0]["content"][1], "transform", _ufunc())

    blob = _with_schema(sio.dumps(pipe), tamper)
    with pytest.raises(ValueError, match="shadow its methods: \\['transform'\\]"):
        persistence.load(io.BytesIO(blob))


def test_an_objective_replaced_by_another_object_is_refused(data):
    X, y = data
    impostor = _members(sio.dumps(StandardScaler().fit(X)))  # its schema, and its arrays beside the model's
    members = _members(sio.dumps(fitted(data)))
    schema = json.loads(members["schema.json"])
    schema["content"]["content"]["objective_"] = _shifted_ids(json.loads(impostor.pop("schema.json")))
    blob = _archive({**members, **impostor, "schema.json": json.dumps(schema)})
    with pytest.raises(ValueError, match="objective_ of type StandardScaler"):
        persistence.load(io.BytesIO(blob))


def _shifted_ids(node):
    """A schema from another dump with ids that cannot collide with this one's (ids are
    ``id()`` of the objects saved, and two dumps may share some)."""
    if isinstance(node, list):
        return [_shifted_ids(item) for item in node]
    if isinstance(node, dict):
        return {key: (value + 1 if key == "__id__" else _shifted_ids(value)) for key, value in node.items()}
    return node


# ------------------------------------------------------------------ M12: malformed input is a ValueError
@pytest.mark.parametrize("max_bytes", [float("inf"), float("nan"), "1e9", 1.5, True, 0, -5])
def test_max_bytes_is_validated(data, max_bytes):
    with pytest.raises(ValueError, match="max_bytes must be a positive int"):
        persistence.load(io.BytesIO(sio.dumps(fitted(data))), max_bytes=max_bytes)


@pytest.mark.parametrize("breakage", ["no schema", "not json", "unknown loader", "missing content", "not a zip"])
def test_malformed_files_are_value_errors(data, breakage):
    blob = sio.dumps(fitted(data))
    members = _members(blob)
    if breakage == "no schema":
        del members["schema.json"]
    elif breakage == "not json":
        members["schema.json"] = b"{not json"
    elif breakage == "unknown loader":
        schema = json.loads(members["schema.json"])
        schema["__loader__"] = "NoSuchNode"
        members["schema.json"] = json.dumps(schema)
    elif breakage == "missing content":
        schema = json.loads(members["schema.json"])
        del schema["content"]
        members["schema.json"] = json.dumps(schema)
    blob = b"PK\x05\x06" + bytes(10) if breakage == "not a zip" else _archive(members)
    with pytest.raises(ValueError, match="Refusing to load"):
        persistence.load(io.BytesIO(blob))


# ------------------------------------------------------------------ M8, M13, M15: the cache
def _count_fits(monkeypatch):
    from skselmix._torch import architecture as _architecture

    calls = []
    original = _architecture.fit_linear_heads

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_architecture, "fit_linear_heads", counting)
    return calls


def test_an_upgrade_misses_the_cache(data, tmp_path, monkeypatch):
    import skselmix._version

    calls = _count_fits(monkeypatch)
    fitted(data, memory=str(tmp_path), max_iter=0)
    first = len(calls)
    assert first >= 1  # the warm start's L-BFGS runs, counted
    fitted(data, memory=str(tmp_path), max_iter=0)
    assert len(calls) == first  # hit
    monkeypatch.setattr(skselmix._version, "__version__", "99.0")  # the version's one home
    fitted(data, memory=str(tmp_path), max_iter=0)
    assert len(calls) == 2 * first  # another version's heads are not served


@pytest.mark.parametrize("entry", ["nan", "shape", "string", "parts"])
def test_a_wrong_cache_entry_is_refused_naming_the_cache(data, tmp_path, entry):
    import joblib

    reference = fitted(data, memory=str(tmp_path), max_iter=0)
    outputs = list(tmp_path.rglob("output.pkl"))
    assert outputs
    for output in outputs:
        coef, intercept, n_iter, at_cap = joblib.load(output)
        bad = {"nan": (np.full_like(coef, np.nan), intercept, n_iter, at_cap),
               "shape": (coef[..., :1], intercept, n_iter, at_cap),
               "string": ("coef", intercept, n_iter, at_cap),
               "parts": (coef, intercept)}[entry]
        joblib.dump(bad, output)
    with pytest.raises(ValueError, match="memory= cache at .* does not fit this fit"):
        fitted(data, memory=str(tmp_path), max_iter=0)
    assert reference.coef_.shape == (3, 3)


def test_a_cache_that_cannot_hit_says_so(data, tmp_path):
    with pytest.warns(UserWarning, match="random_state=None: every fit draws its own folds"):
        SelMixClassifier(max_iter=0, device="cpu", memory=str(tmp_path)).fit(*data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        SelMixClassifier(max_iter=0, device="cpu", memory=str(tmp_path), random_state=0).fit(*data)
        X, y = data  # a user's X_val draws nothing
        SelMixClassifier(max_iter=0, device="cpu", memory=str(tmp_path)).fit(X, y, X_val=X, y_val=y)


def test_a_long_history_loads_with_an_explicit_max_bytes(data, monkeypatch):
    """The schema's bounds refuse what a hostile file would need, and a trusted file with a
    long history_ (a record per step) loads once the user raises them with max_bytes."""
    model = fitted(data, refresh_every=1, max_iter=200, n_iter_no_change=None, selection_confidence=0)
    blob = sio.dumps(model)
    monkeypatch.setattr(persistence, "MAX_SCHEMA_NODES", 1000)  # as if the history were a hundred times longer
    with pytest.raises(ValueError, match="a larger max_bytes raises"):
        persistence.load(io.BytesIO(blob))
    loaded = persistence.load(io.BytesIO(blob), max_bytes=200 << 20)
    assert len(loaded.history_) == len(model.history_) == 201


def test_the_cache_trust_model_is_documented():
    """M2: the memory= docs say that the directory must be trusted (entries are pickles)."""
    from pathlib import Path

    entry = SelMixClassifier.__doc__.split("memory : ")[1].split("random_state : ")[0]
    assert "must be trusted" in entry and "pickles" in entry
    guide = Path(__file__).resolve().parents[1] / "docs" / "user_guide.rst"
    if guide.exists():  # a source checkout
        text = " ".join(guide.read_text().split())
        assert "entries are pickles" in text and "as trusted as your code" in text
