"""About 1000 classes offline: WordNet noun definitions labelled by a cut of the hypernym tree.

The lexicographer files of :func:`fetch_wordnet_embeddings` give 45 classes. The
hypernym tree gives as many as one asks: every noun synset hangs below ``entity``
through its first hypernym (``@``, or ``@i`` for an instance), and a cut of the tree
at subtrees of at most ``max_class_size`` synsets makes each synset's class the
highest ancestor whose subtree fits. The class sizes are whatever WordNet's
branching makes them, so the set is naturally long-tailed: at the defaults 1052
classes, of 189 training rows down to 5, with 10 test rows each.
"""

import numbers
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from .._stratify import shuffled_class_ranks
from ._wordnet import WORDNET_DIR, data_line, fetch_wordnet_embeddings


def load_wordnet_noun_tree(*, source_dir=None):
    """The noun synsets of WordNet 3.0, in file order, with their first hypernym.

    Parameters
    ----------
    source_dir : path-like, default=None
        Folder of ``data.noun`` (default ``/usr/share/wordnet``).

    Returns
    -------
    names : ndarray of shape (n,), str
        ``"lemma.offset"`` of each synset (``"dog.02084071"``).
    parent : ndarray of shape (n,), int
        Row of each synset's first hypernym, -1 for the root ``entity``.
    """
    path = (Path(source_dir) if source_dir is not None else WORDNET_DIR) / "data.noun"
    if not path.exists():
        raise FileNotFoundError(
            f"WordNet file {path} not found. Install the Debian package 'wordnet-base' "
            "(apt-get install wordnet-base) or pass source_dir."
        )
    offsets, names, parents = [], [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if line.startswith("  "):  # licence header
                continue
            with data_line(path, number):
                offset, name, parent = _synset_and_first_hypernym(line.partition(" | ")[0].split())
            offsets.append(offset)
            names.append(name)
            parents.append(parent)
    row = {offset: i for i, offset in enumerate(offsets)}
    try:
        parent = np.array([-1 if p is None else row[p] for p in parents], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"{path}: a hypernym pointer names synset {exc.args[0]}, which the file lacks.") from None
    return np.asarray(names), parent


def _synset_and_first_hypernym(fields):
    """Offset, ``"lemma.offset"`` and first noun hypernym (``@``, else ``@i``; None for the root)
    of the fields of one ``data.noun`` line (see wndb(5WN))."""
    n_words = int(fields[3], 16)
    at = 4 + 2 * n_words
    n_pointers = int(fields[at])
    pointers = [fields[at + 1 + 4 * p: at + 5 + 4 * p] for p in range(n_pointers)]
    if n_words < 1 or any(len(pointer) != 4 for pointer in pointers):
        raise ValueError(f"{n_words} words and {n_pointers} pointers do not fit its {len(fields)} fields")
    hypernym = next((t for s, t, pos, _ in pointers if s == "@" and pos == "n"), None)
    instance_of = next((t for s, t, pos, _ in pointers if s == "@i" and pos == "n"), None)
    return fields[0], f"{fields[4]}.{fields[0]}", hypernym or instance_of


def hypernym_classes(parent, max_class_size):
    """Each synset's class in the cut of the tree at subtrees of at most ``max_class_size``.

    Returns the row of the class's top synset for every synset, -1 for a synset whose
    own subtree is larger (it is above the cut and belongs to no class).
    """
    n = parent.shape[0]
    depth = np.where(parent < 0, 0, -1)
    for _ in range(n):  # one pass per level of the tree (about 20), each vectorised
        todo = depth < 0
        if not todo.any():
            break
        ready = todo & (depth[np.maximum(parent, 0)] >= 0)
        if not ready.any():
            raise ValueError("The hypernym pointers of data.noun form a cycle: it is not WordNet's tree.")
        depth[ready] = depth[parent[ready]] + 1
    size = np.ones(n, dtype=np.int64)
    for level in np.unique(depth)[::-1]:  # deepest first: a subtree is summed before its parent reads it
        rows = np.flatnonzero((depth == level) & (parent >= 0))
        np.add.at(size, parent[rows], size[rows])
    label = np.full(n, -1, dtype=np.int64)
    for level in np.unique(depth):  # root first: a class is inherited down the tree
        rows = np.flatnonzero(depth == level)
        fits = size[rows] <= max_class_size
        up = parent[rows]
        top = fits & ((up < 0) | (size[np.maximum(up, 0)] > max_class_size))
        label[rows[top]] = rows[top]
        inherit = fits & ~top
        label[rows[inherit]] = label[up[inherit]]
    return label


def _check_count(value, name, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def fetch_wordnet_hypernyms(*, max_class_size=200, n_test_per_class=10, min_train_per_class=5, random_state=0,
                            data_home=None, source_dir=None, verbose=True):
    """About 1000 long-tailed classes of WordNet noun definitions, with a balanced test set.

    Each noun synset's definition, embedded by all-MiniLM-L6-v2 (the cached
    embeddings of :func:`fetch_wordnet_embeddings`), is labelled by its class in the cut
    of the hypernym tree at subtrees of at most ``max_class_size`` synsets (see the
    module notes). Classes with fewer than ``n_test_per_class + min_train_per_class``
    synsets are left out; each kept class gives ``n_test_per_class`` random rows to the
    test set and the rest to training. At the defaults: 1052 classes, 50,180 training
    rows (189 down to 5 per class), 10,520 test rows.

    Parameters
    ----------
    max_class_size : int, default=200
        Largest subtree that makes a class; smaller values give more, smaller classes.
    n_test_per_class : int, default=10
        Test rows of every class.
    min_train_per_class : int, default=5
        Fewest training rows a kept class has.
    random_state : int, RandomState instance or None, default=0
        Which rows of each class go to the test set.
    data_home, source_dir, verbose
        As in :func:`fetch_wordnet_embeddings`.

    Returns
    -------
    X_train : ndarray of shape (n_train, 384), float32
    y_train : ndarray of shape (n_train,), str
        Class names ``"lemma.offset"`` of the classes' top synsets.
    X_test : ndarray of shape (n_test, 384), float32
    y_test : ndarray of shape (n_test,), str
    """
    max_class_size = _check_count(max_class_size, "max_class_size", 1)
    n_test = _check_count(n_test_per_class, "n_test_per_class", 1)
    min_train = _check_count(min_train_per_class, "min_train_per_class", 1)
    names, parent = load_wordnet_noun_tree(source_dir=source_dir)
    X, lexnames = fetch_wordnet_embeddings(data_home=data_home, source_dir=source_dir, verbose=verbose)
    n = names.shape[0]
    # The definitions are in file order, nouns first: the noun rows must be exactly those.
    if X.ndim != 2 or X.shape[0] < n or not np.char.startswith(lexnames[:n].astype(str), "noun.").all() or (
            X.shape[0] > n and str(lexnames[n]).startswith("noun.")):
        raise ValueError(
            f"The cached WordNet embeddings ({X.shape}) do not line up with the {n} noun synsets of data.noun: "
            "delete the cache file under get_data_home() and fetch again."
        )
    label = hypernym_classes(parent, max_class_size)
    classes, y_enc, counts = np.unique(label[label >= 0], return_inverse=True, return_counts=True)
    rows = np.flatnonzero(label >= 0)
    kept = counts >= n_test + min_train
    keep_rows = kept[y_enc]
    rows, y_enc = rows[keep_rows], np.cumsum(kept)[y_enc[keep_rows]] - 1
    classes = classes[kept]
    order, rank, _ = shuffled_class_ranks(y_enc, classes.shape[0], check_random_state(random_state))
    is_test = np.zeros(rows.shape[0], dtype=bool)
    is_test[order] = rank < n_test
    y = names[classes][y_enc]
    return X[rows[~is_test]], y[~is_test], X[rows[is_test]], y[is_test]
