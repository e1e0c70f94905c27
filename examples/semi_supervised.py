"""
Semi-supervised SelMix: unlabelled rows as mixing partners
==========================================================

Mark unlabelled rows of ``y`` with ``-1`` and pass ``unlabeled_label=-1``. At
every refresh the current head pseudo-labels them, and SelMix draws its mixing
partners from them by pseudo-label; anchors (and their labels) always come
from labelled rows. The true labels of the unlabelled rows are never given to
the fit; the example uses them afterwards only to say how accurate the final
head's pseudo-labels are.
"""

# sphinx_gallery_thumbnail_path = "images/per_class_recall.png"

# %%
import numpy as np
from sklearn.datasets import load_digits

from skselmix import SelMixClassifier
from skselmix.datasets import long_tailed_split
from skselmix.metrics import min_recall_score, objective_scorer

X, y = load_digits(return_X_y=True)
X_train, y_train, X_val, y_val, X_rest, y_rest = long_tailed_split(
    X, y, rho=50, n_val_per_class=25, n_test_per_class=80, random_state=0
)
rng = np.random.RandomState(0)
pool = rng.permutation(len(X_rest))[:300]  # 300 unlabelled images, uniform over classes
test = np.setdiff1d(np.arange(len(X_rest)), pool)
X_all = np.r_[X_train, X_rest[pool]]
y_all = np.r_[y_train, np.full(len(pool), -1)]

# %%
labelled_only = SelMixClassifier(device="cpu", random_state=0).fit(X_train, y_train, X_val=X_val, y_val=y_val)
semi = SelMixClassifier(unlabeled_label=-1, pseudo_label_threshold=0.5, device="cpu", random_state=0)
semi.fit(X_all, y_all, X_val=X_val, y_val=y_val)

X_test, y_test = X_rest[test], y_rest[test]
print(f"unlabelled rows: {semi.n_unlabeled_}, classes: {semi.classes_.tolist()}")
confident = semi.predict_proba(X_rest[pool]).max(axis=1) >= semi.pseudo_label_threshold
accuracy = np.mean(semi.predict(X_rest[pool])[confident] == y_rest[pool][confident])
print(f"final head: {confident.sum()} confident pseudo-labels, {accuracy:.3f} of them correct")
for name, model in [("labelled only", labelled_only), ("semi-supervised", semi)]:
    print(f"{name:<16} test min recall {min_recall_score(y_test, model.predict(X_test)):.3f}")

# %%
# Scoring data that still carries the marker: the scorer ignores those rows.
scorer = objective_scorer("min_recall", unlabeled_label=-1)
print(f"min recall on the labelled rows of the training data: {scorer(semi, X_all, y_all):.3f}")
