"""
Choosing the inverse temperature s
==================================

``s`` trades exploration (small: many class pairs are mixed) against
exploitation (large: only the pairs with the largest gains). Nothing of the
warm start depends on it, so there are two ways to search it without paying
for the warm start once per candidate:

* :class:`~skselmix.SelMixClassifierCV` fits the warm start (five fold heads)
  once and runs every candidate's SelMix loop from it, judging each by the
  pooled out-of-fold objective that a single fit selects its step by;
* ``GridSearchCV`` over ``SelMixClassifier(memory=...)`` judges the candidates
  on outer test folds, and the cache fits each outer split's warm start once.
"""

# %%
import tempfile
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skselmix import SelMixClassifier, SelMixClassifierCV
from skselmix.datasets import long_tailed_split
from skselmix.metrics import min_recall_score, objective_scorer

X, y = load_digits(return_X_y=True)
X_train, y_train, _, _, X_test, y_test = long_tailed_split(
    X, y, rho=10, n_val_per_class=10, n_test_per_class=50, random_state=0
)
s_values = [0.1, 1.0, 10.0, 100.0, 1000.0]

# %%
# One warm start, five loops (stepped together). ``best_step`` 0 means that
# candidate kept its warm start: no step beat it beyond the noise of the feedback
# rows. Candidates that the best one does not beat beyond that noise share rank 1,
# and among them the default ``s = 10`` is returned.
start = time.perf_counter()
cv_model = SelMixClassifierCV(metric="min_recall", s_values=s_values, max_iter=300, device="cpu",
                              random_state=0).fit(X_train, y_train)
cv_seconds = time.perf_counter() - start
for params, score, step in zip(cv_model.cv_results_["params"], cv_model.cv_results_["validation_score"],
                               cv_model.cv_results_["best_step"]):
    print(f"s = {params['s']:>6}: out-of-fold min recall {score:.3f} (best step {step})")
print(f"SelMixClassifierCV: s_ = {cv_model.s_}, test min recall "
      f"{min_recall_score(y_test, cv_model.predict(X_test)):.3f}, {cv_seconds:.1f} s")

# %%
# The same grid judged on three outer folds. Each candidate cross-fits its own
# training rows inside ``fit``; ``memory`` caches the warm starts, so each outer
# split fits its fold heads once, not once per value of ``s``.
with tempfile.TemporaryDirectory() as cache:
    start = time.perf_counter()
    search = GridSearchCV(
        SelMixClassifier(metric="min_recall", max_iter=300, device="cpu", random_state=0, memory=cache),
        {"s": s_values},
        scoring=objective_scorer("min_recall"),
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X_train, y_train)
    grid_seconds = time.perf_counter() - start
for s, score in zip(search.cv_results_["param_s"], search.cv_results_["mean_test_score"]):
    print(f"s = {s:>6}: outer-fold min recall {score:.3f}")
print(f"GridSearchCV: best s = {search.best_params_['s']}, test min recall "
      f"{min_recall_score(y_test, search.predict(X_test)):.3f}, {grid_seconds:.1f} s")

# %%
# Both searches' scores against ``s``.
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.semilogx(s_values, cv_model.cv_results_["validation_score"], marker="o", label="SelMixClassifierCV (out of fold)")
ax.semilogx(s_values, search.cv_results_["mean_test_score"], marker="s", label="GridSearchCV (outer folds)")
ax.set(xlabel="s", ylabel="min recall")
ax.legend(fontsize=8)
fig.tight_layout()
