"""Do better pseudo-labels help semi-supervised SelMix? An analysis behind semi_supervised.md.

    python -m benchmarks.semi_supervised_oracle [--seeds 100 101]

On the semi-supervised benchmark's splits, SelMix [min_recall] is fitted four ways:
labelled rows only; semi-supervised (pseudo-labelled partners, the default); semi-supervised
with *oracle* partners, i.e. the hidden true labels of the unlabelled rows in place of
their pseudo-labels; and semi-supervised with ``lambda_min=0.3`` (partners weigh up to
0.7 instead of 0.4). The oracle replaces a private method for this analysis only: the
estimator never sees hidden labels (tests/test_semi_supervised.py checks that).
Prints one line per setting and seed: test min recall / mean recall.
"""

import argparse

from skselmix import SelMixClassifier, _training
from skselmix._sampler import ClassIndex
from skselmix.metrics import mean_recall_score, min_recall_score

from ._hidden_labels import fit_recording_pseudo_label_accuracy
from .semi_supervised import SETTINGS, UNLABELED, make_split, with_unlabeled

_PSEUDO_LABEL_POOL = _training.SelMixRun._pseudo_label_pool


def _oracle_pool(run, coef, intercept, xu, hidden, weights=None):
    _, record = _PSEUDO_LABEL_POOL(run, coef, intercept, xu, hidden, weights)
    return ClassIndex(hidden, run.k, weights=weights), record


def fit(variant, seed, X_l, y_l, X_all, y_all, y_u, X_val, y_val):
    params = {"metric": "min_recall", "device": "cpu", "random_state": seed}
    if variant == "labelled only":
        return SelMixClassifier(**params).fit(X_l, y_l, X_val=X_val, y_val=y_val)
    if variant == "semi, lambda_min=0.3":
        params["lambda_min"] = 0.3
    _training.SelMixRun._pseudo_label_pool = _oracle_pool if variant == "semi, oracle partners" else _PSEUDO_LABEL_POOL
    try:
        return fit_recording_pseudo_label_accuracy(
            SelMixClassifier(unlabeled_label=UNLABELED, **params), X_all, y_all, y_u, X_val=X_val, y_val=y_val)
    finally:
        _training.SelMixRun._pseudo_label_pool = _PSEUDO_LABEL_POOL


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    args = parser.parse_args(argv)
    variants = ("labelled only", "semi (default)", "semi, oracle partners", "semi, lambda_min=0.3")
    for setting, (rho_u, n_max_u) in SETTINGS.items():
        for seed in args.seeds:
            X_l, y_l, X_u, y_u, X_val, y_val, X_te, y_te = make_split(seed, rho_u, n_max_u)
            X_all, y_all = with_unlabeled(X_l, y_l, X_u)
            cells = []
            for variant in variants:
                pred = fit(variant, seed, X_l, y_l, X_all, y_all, y_u, X_val, y_val).predict(X_te)
                cells.append(f"{variant} {min_recall_score(y_te, pred):.3f} / {mean_recall_score(y_te, pred):.3f}")
            print(f"{setting}, seed {seed}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
