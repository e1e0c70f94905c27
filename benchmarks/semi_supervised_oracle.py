"""Do better pseudo-labels help semi-supervised SelMix? An analysis behind semi_supervised.md.

    python -m benchmarks.semi_supervised_oracle [--seeds 100 101]

On the semi-supervised benchmark's splits, SelMix [min_recall] is fitted four ways:
labelled rows only; semi-supervised (pseudo-labelled partners, the default); semi-supervised
with *oracle* partners, i.e. the hidden true labels of the unlabelled rows in place of
their pseudo-labels; and semi-supervised with ``lambda_min=0.3`` (partners weigh up to
0.7 instead of 0.4). The oracle goes through ``_internals.fit_with_hidden_labels``
(``hidden_partners=True``): the estimator's public ``fit`` never sees hidden labels
(tests/test_semi_supervised.py checks that).
Prints one line per setting and seed: test min recall / mean recall.
"""

import argparse

from skselmix import SelMixClassifier
from skselmix.metrics import mean_recall_score, min_recall_score

from ._data import SETTINGS, UNLABELED, make_split, with_unlabeled
from ._internals import fit_with_hidden_labels

VARIANTS = ("labelled only", "semi (default)", "semi, oracle partners", "semi, lambda_min=0.3")


def fit(variant, seed, X_l, y_l, X_all, y_all, y_u, X_val, y_val, **params):
    params = {"metric": "min_recall", "device": "cpu", "random_state": seed, **params}
    if variant == "labelled only":
        return SelMixClassifier(**params).fit(X_l, y_l, X_val=X_val, y_val=y_val)
    if variant == "semi, lambda_min=0.3":
        params["lambda_min"] = 0.3
    return fit_with_hidden_labels(
        SelMixClassifier(unlabeled_label=UNLABELED, **params), X_all, y_all, y_u, X_val=X_val, y_val=y_val,
        hidden_partners=variant == "semi, oracle partners")


def main(argv=None, **params):
    """Print each setting's line; ``params`` (tests: a short ``max_iter``) go to every fit."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    args = parser.parse_args(argv)
    lines = []
    for setting, (rho_u, n_max_u) in SETTINGS.items():
        for seed in args.seeds:
            X_l, y_l, X_u, y_u, X_val, y_val, X_te, y_te = make_split(seed, rho_u, n_max_u)
            X_all, y_all = with_unlabeled(X_l, y_l, X_u)
            cells = []
            for variant in VARIANTS:
                pred = fit(variant, seed, X_l, y_l, X_all, y_all, y_u, X_val, y_val, **params).predict(X_te)
                cells.append(f"{variant} {min_recall_score(y_te, pred):.3f} / {mean_recall_score(y_te, pred):.3f}")
            lines.append(f"{setting}, seed {seed}: " + " | ".join(cells))
            print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main()
