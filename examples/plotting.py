"""
Plotting per-class recall and the SelMix training history
=========================================================

``PerClassRecallDisplay`` compares models class by class; ``HistoryDisplay``
shows how the validation objective, the worst classes' recalls, the
multipliers, the largest gain and the entropy of the pair distribution evolve
during fine-tuning.
"""

# %%
import os

import matplotlib

matplotlib.use("Agg")
from sklearn.datasets import load_digits

from skselmix import HistoryDisplay, PerClassRecallDisplay, SelMixClassifier
from skselmix.datasets import long_tailed_split

X, y = load_digits(return_X_y=True)
X_train, y_train, X_val, y_val, X_test, y_test = long_tailed_split(
    X, y, rho=50, n_val_per_class=25, n_test_per_class=50, random_state=0
)
warm = SelMixClassifier(max_iter=0, device="cpu").fit(X_train, y_train, X_val=X_val, y_val=y_val)
selmix = SelMixClassifier(device="cpu", random_state=0).fit(X_train, y_train, X_val=X_val, y_val=y_val)

# %%
# Per-class test recall of the warm start and of SelMix, worst class first. With more
# than 30 classes the display switches to one horizontal row per class.
# Figures are also saved to ./skselmix_plots (or $SKSELMIX_EXAMPLES_OUT), never into the
# repository's tracked docs/images: README's figures are rebuilt on purpose with
# SKSELMIX_EXAMPLES_OUT=docs/images python examples/plotting.py
out_dir = os.environ.get("SKSELMIX_EXAMPLES_OUT", "skselmix_plots")
os.makedirs(out_dir, exist_ok=True)
recall = PerClassRecallDisplay.from_estimator([warm, selmix], X_test, y_test, names=["warm start (LA)", "SelMix"])
recall.ax_.set_title("Long-tailed digits: test recall per class (worst first)")
recall.figure_.tight_layout()
recall.figure_.savefig(os.path.join(out_dir, "per_class_recall.png"), dpi=100)

# %%
# The training history: validation min recall with the selected step starred, the recalls
# of the classes that were worst at that step, the Lagrange multipliers of min recall, the
# largest gain, the entropy of the pair distribution and the smallest coverage.
history = HistoryDisplay.from_estimator(selmix)
history.figure_.savefig(os.path.join(out_dir, "history.png"), dpi=100)
print(f"selected step {selmix.best_step_}; saved {out_dir}/per_class_recall.png and {out_dir}/history.png")
