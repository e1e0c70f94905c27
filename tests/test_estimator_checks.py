"""scikit-learn's common estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skselmix import SelMixClassifier

# Small budgets keep ~50 fits fast; behaviour is the same as with the defaults.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [SelMixClassifier(max_iter=100, device="cpu", random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
