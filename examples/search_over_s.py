"""
Choosing the inverse temperature s by cross-validated search
=============================================================

``s`` trades exploration (small: many class pairs are mixed) against
exploitation (large: only the pairs with the largest gains). Search it like any
other hyperparameter, scoring with the metric you optimise, in parallel.

The grid spans four decades so that the choice is not at its edge: on this split
the score rises up to ``s = 100`` and is flat beyond, where ``P`` already puts
almost all its mass on the few pairs with the largest gains (ties go to the
smallest ``s``).
"""

# %%
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skselmix import SelMixClassifier
from skselmix.datasets import long_tailed_split
from skselmix.metrics import objective_scorer, min_recall_score

X, y = load_digits(return_X_y=True)
X_train, y_train, _, _, X_test, y_test = long_tailed_split(
    X, y, rho=10, n_val_per_class=10, n_test_per_class=50, random_state=0
)

# %%
# Each candidate holds out its own stratified validation split inside ``fit``
# (``validation_fraction``); the outer folds score worst-class recall. ``n_jobs=2``
# runs two fits at once; joblib's workers cap torch at cores // n_jobs threads each.
search = GridSearchCV(
    SelMixClassifier(metric="min_recall", max_iter=300, device="cpu", random_state=0),
    {"s": [1.0, 10.0, 100.0, 1000.0, 10000.0]},
    scoring=objective_scorer("min_recall"),
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    n_jobs=2,
).fit(X_train, y_train)

for s, score in zip(search.cv_results_["param_s"], search.cv_results_["mean_test_score"]):
    print(f"s = {s:>6}: cross-validated min recall {score:.3f}")
print(f"best s = {search.best_params_['s']}, test min recall {min_recall_score(y_test, search.predict(X_test)):.3f}")
