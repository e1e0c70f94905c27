"""
Constrained model selection: best mean recall subject to a coverage floor
========================================================================

Fairness-style constraints ask every class to receive at least ``alpha / K``
of the predictions (on the balanced distribution). Score candidates on both the
objective and the constraint with multi-metric scoring, then let a callable
``refit`` pick the best *feasible* candidate.
"""

# %%
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skselmix import SelMixClassifier
from skselmix.datasets import long_tailed_split
from skselmix.metrics import objective_scorer, mean_recall_score, min_coverage_score

X, y = load_digits(return_X_y=True)
X_train, y_train, _, _, X_test, y_test = long_tailed_split(
    X, y, rho=20, n_val_per_class=10, n_test_per_class=50, random_state=1
)
K, ALPHA = 10, 0.95

# %%
scoring = {"mean_recall": objective_scorer("mean_recall"), "min_coverage": objective_scorer("min_coverage")}


def best_feasible(cv_results):
    """Index of the best mean recall among candidates with min coverage >= alpha / K
    (the candidate closest to feasibility when none is feasible)."""
    feasible = cv_results["mean_test_min_coverage"] >= ALPHA / K
    if not feasible.any():
        return int(np.argmax(cv_results["mean_test_min_coverage"]))
    return int(np.argmax(np.where(feasible, cv_results["mean_test_mean_recall"], -np.inf)))


search = GridSearchCV(
    SelMixClassifier(max_iter=300, device="cpu", random_state=0),
    {"metric": ["mean_recall", "mean_recall_min_coverage"], "s": [1.0, 10.0]},
    scoring=scoring,
    refit=best_feasible,
    cv=3,
).fit(X_train, y_train)

res = search.cv_results_
for i, params in enumerate(res["params"]):
    flag = "feasible" if res["mean_test_min_coverage"][i] >= ALPHA / K else "violates coverage"
    print(f"{params}: mean recall {res['mean_test_mean_recall'][i]:.3f}, "
          f"min coverage x K {K * res['mean_test_min_coverage'][i]:.3f} ({flag})")
pred = search.predict(X_test)
print(f"chosen {search.best_params_}: test mean recall {mean_recall_score(y_test, pred):.3f}, "
      f"min coverage x K {K * min_coverage_score(y_test, pred):.3f}")
