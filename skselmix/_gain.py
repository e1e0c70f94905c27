"""The SelMix gain matrix in closed form.

``G[i, j]`` is the first-order change of the objective caused by one SGD step on
mixups of class ``i`` (label) with class ``j``, at the mean mixing coefficient
``lbar``, evaluated through class prototypes (REFERENCE.md, "The gain matrix")::

    A      = Z W^T + b                      (prototype logits, K x K)
    M[q,l] = sum_m D[q,m] C[q,m] (delta_ml - C[q,l] / pi_q)      D = dpsi/dC
    H      = (Z Z^T) M
    G[i,j] = lbar H[i,i] + (1-lbar) H[j,i]
             - sum_l p_ij[l] (lbar H[i,l] + (1-lbar) H[j,l]),
    p_ij   = softmax(lbar A[i] + (1-lbar) A[j]).

Cost: O(K^2 D + K^3) time and O(K^2 + K D) memory. Only the last sum touches
K^3 numbers; it factorises into three K x K matrix products
(:func:`expected_mixed_sensitivity`), so no K^3 array is ever formed.
"""

import math
from numbers import Real

import numpy as np

from ._lazy import torch
from ._limits import LIMITS
from ._memory import release_freed_memory
from ._objectives import get_objective
from ._sklearn_compat import validate_parameter_constraints
from ._validation import Finite

# Share of each confusion row spread uniformly before it enters the softmax Jacobian.
DEFAULT_CONFUSION_SMOOTHING = 0.01


def objective_logit_sensitivity(confusion, objective_gradient, smoothing=0.0):
    """``M = dpsi/dA``: sensitivity of the objective to prototype logits.

    Uses the softmax Jacobian with the empirical confusion matrix in place of the
    prototype softmax outputs, ``C[q, l] ~ pi_q softmax(A[q])[l]``.

    With ``smoothing = eps > 0`` the Jacobian uses ``(1 - eps) C + eps pi_q / K``
    (row sums kept). Without it, a class that is never predicted correctly has
    ``C[q, q] = 0`` and hence a zero row in ``M`` (the softmax is flat where its
    output is zero): its gains vanish exactly when it needs them most, e.g. every
    gain is zero for min recall once the worst class has recall zero.
    """
    priors = confusion.sum(dim=1, keepdim=True)
    if smoothing:
        confusion = torch.mul(confusion, 1.0 - smoothing).add_(smoothing * priors / confusion.shape[1])
    weighted = objective_gradient * confusion
    # weighted - rowsum(weighted) C / pi, in place on one K x K temporary (the same operations
    # in the same order): at K = 8192 each float64 temporary is 512 MiB.
    own = smoothing and confusion.dtype == weighted.dtype  # a copy made above, of the result's dtype
    spread = torch.mul(confusion, weighted.sum(dim=1, keepdim=True), out=confusion if own else None)
    return weighted.sub_(spread.div_(priors.clamp_min(torch.finfo(confusion.dtype).tiny)))


def gain_from_sensitivity(prototypes, coef, intercept, sensitivity, lambda_mean, float32_from_classes=None,
                          limits=LIMITS):
    """Closed-form gain matrix from the logit sensitivity ``M`` (all torch tensors); the
    products of :func:`expected_mixed_sensitivity` run in float32 from ``float32_from_classes``
    classes (None: the device profile's ``float32_products_from_classes``). Above
    ``limits.blocked_refresh_classes`` classes the gain is made a block of rows at a time
    (:func:`blocked_gain_from_sensitivity`)."""
    if prototypes.shape[0] > limits.blocked_refresh_classes:
        return blocked_gain_from_sensitivity(prototypes, coef, intercept, sensitivity, lambda_mean,
                                             float32_from_classes, limits)
    logits = prototypes @ coef.T + intercept  # A, (K, K)
    h = prototype_sensitivity(prototypes, sensitivity)  # H = Z Z^T M, (K, K)
    lbar = float(lambda_mean)
    # [i, j]: lbar H_ii + (1-lbar) H_ji - E_ij, in place (one K x K result instead of three).
    gain = torch.mul(h.T, 1.0 - lbar).add_(lbar * torch.diagonal(h).unsqueeze(1))
    return gain.sub_(expected_mixed_sensitivity(logits, h, lbar, float32_from_classes, limits))


def prototype_sensitivity(prototypes, sensitivity):
    """``H = (Z Z^T) M`` in the cheaper order of its two products.

    ``(Z Z^T) M`` costs K^2 D + K^3 multiply-adds and ``Z (Z^T M)`` 2 K^2 D: with
    more classes than features (K = 8192, D = 256) the first is 17 times the
    second. Below that the order of the products is the one every recorded fit used.
    """
    k, d = prototypes.shape
    if k > d:
        return prototypes @ (prototypes.T @ sensitivity)
    return (prototypes @ prototypes.T) @ sensitivity


def expected_mixed_sensitivity(logits, h, lbar, float32_from_classes=None, limits=LIMITS):
    """``E[i, j] = sum_l p_ij[l] (lbar H[i, l] + (1 - lbar) H[j, l])`` without a K^3 array.

    The mixed softmax factorises, ``p_ij[l] ~ e1[i, l] e2[j, l]`` with
    ``e1 = exp(lbar A - rowmax)`` and ``e2 = exp((1 - lbar) A - rowmax)``, so its
    normaliser and both weighted sums are K x K matrix products:
    ``Z = e1 e2^T``, ``N1 = (e1 * H) e2^T``, ``N2 = e1 (e2 * H)^T`` and
    ``E = (lbar N1 + (1 - lbar) N2) / Z``: O(K^3) multiply-adds in GEMMs, O(K^2)
    memory. Pairs whose normaliser underflows (rows of ``lbar A`` and
    ``(1 - lbar) A`` peaking at far-apart classes with huge logits) are
    recomputed exactly with a stable softmax.

    The products run in float64 below ``float32_from_classes`` classes (None: the
    profile of ``logits``' device, ``float32_products_from_classes``) and
    in float32 from there (:class:`ProductPrecision`). In float32, the rows with a pair
    whose normaliser underflows are redone by float64 products (their pairs that
    underflow even there, exactly); and when more than ``FLOAT64_ROWS_SHARE`` of the
    rows are at risk before any product (a confident head: see :func:`rows_at_risk`),
    the products run in float64 from the start. Either way the refresh costs about what
    the float64 products cost (a confident head: 0.74 s and 5.58 s at K = 2048 and 4096
    against 0.67 s and 5.00 s for the products alone, benchmarks/results/large_k.md);
    redoing its pairs one softmax at a time took 39 to 160 s.
    """
    k = logits.shape[0]
    if float32_from_classes is None:
        float32_from_classes = _float32_products_from(logits.device)
    precision = ProductPrecision.for_classes(k, float32_from_classes)
    if precision.dtype == torch.float32 and float(rows_at_risk(logits, lbar, precision.underflow).float().mean()) \
            > FLOAT64_ROWS_SHARE:
        precision = ProductPrecision.exact()
    hw, h_scale = precision.scaled(h)
    expected, bad = _mixed_products(logits, hw, logits, hw, lbar, precision)
    if h_scale != 1.0:
        expected.mul_(h_scale)
    expected = expected.to(h.dtype)
    if not bool(bad.any()):
        return expected
    if precision.dtype != torch.float64:  # the rows with an underflowing pair, by float64 products
        rows = bad.any(dim=1).nonzero().squeeze(1)
        exact = ProductPrecision.exact()
        h64, _ = exact.scaled(h)
        redone, bad_rows = _mixed_products(logits[rows], h64[rows], logits, h64, lbar, exact)
        expected[rows] = redone.to(h.dtype)
        bad = torch.zeros_like(bad)
        bad[rows] = bad_rows
        precision, hw = exact, h64
    i, j = bad.nonzero(as_tuple=True)
    # In chunks of pairs: each holds a K-wide softmax.
    step = max(1, limits.gain_fallback_chunk // k)
    work = precision.dtype
    for start in range(0, i.shape[0], step):
        ic, jc = i[start:start + step], j[start:start + step]
        expected[ic, jc] = _softmax_pairs(logits[ic], logits[jc], hw[ic], hw[jc], lbar, work).to(h.dtype)
    return expected


def _softmax_pairs(anchor_logits, partner_logits, anchor_h, partner_h, lbar, work):
    """``E`` of pairs one stable softmax each (rows of the anchors' and partners' logits and
    ``H``, in the ``work`` dtype): what a pair whose normaliser underflows even in float64
    is given, by the whole-matrix gain and the blocked one alike."""
    probs = torch.softmax(lbar * anchor_logits.to(work) + (1.0 - lbar) * partner_logits.to(work), dim=1)
    return (probs * (lbar * anchor_h.to(work) + (1.0 - lbar) * partner_h.to(work))).sum(dim=1)


def _mixed_products(logits_i, h_i, logits, h, lbar, precision):
    """``E`` of the rows ``i`` (their logits ``logits_i`` and ``h_i``, in ``precision``'s
    scaled units) against every class, by the three products of
    :func:`expected_mixed_sensitivity`, and which of those pairs underflow."""
    work = precision.dtype
    e1 = precision.flushed(torch.mul(logits_i.to(work), lbar))
    e2 = precision.flushed(torch.mul(logits.to(work), 1.0 - lbar))
    # lbar N1 + (1 - lbar) N2, then / Z, with one K x K temporary at a time (what bounds
    # memory at K in the thousands); the same operations in the same order as the expression.
    product = e1 * h_i
    expected = product @ e2.T
    expected.mul_(lbar)
    product = torch.mul(e2, h, out=product if product.shape == e2.shape else None)
    second = e1 @ product.T
    del product
    second.mul_(1.0 - lbar)
    expected.add_(second)
    normaliser = torch.mm(e1, e2.T, out=second)
    del e1, e2
    expected.div_(normaliser)
    # The largest term of Z[i, j] is at least exp(-(range of a1[i]) - (range of a2[j])); below
    # the precision's underflow the relative precision of the sums is gone, so those pairs
    # are redone exactly.
    bad = ~(normaliser > precision.underflow)
    return expected, bad


def rows_at_risk(logits, lbar, underflow):
    """Rows ``i`` with some pair ``(i, j)`` whose mixed normaliser may fall below ``underflow``,
    from a lower bound in O(K^2): ``Z[i, j]`` holds the term of ``j``'s arg-max class,
    ``exp(-lbar gap[i, m_j])``, and that of ``i``'s, ``exp(-(1 - lbar) gap[j, m_i])``, where
    ``gap[r, c]`` is how far class ``c``'s logit lies below row ``r``'s largest. A row none of
    whose pairs can underflow is never at risk; a confident head puts most rows at risk."""
    top, argmax = logits.max(dim=1)
    gaps = (top.unsqueeze(1) - logits).index_select(1, argmax)  # [i, j]: gap of row i at j's arg max
    return _pairs_at_risk(gaps, gaps.T.clone(), lbar, underflow).any(dim=1)


def _pairs_at_risk(anchor_gaps, partner_gaps, lbar, underflow):
    """Pairs ``(i, j)`` whose normaliser's two bounding terms both fall below ``underflow``:
    ``anchor_gaps[i, j]`` is row ``i``'s gap at ``j``'s arg max, ``partner_gaps[i, j]`` row
    ``j``'s gap at ``i``'s (:func:`rows_at_risk`; both may be overwritten)."""
    limit = -math.log(underflow)
    return (anchor_gaps.mul_(lbar) > limit).logical_and_(partner_gaps.mul_(1.0 - lbar) > limit)


#: Share of rows at risk of an underflowing normaliser (:func:`rows_at_risk`) above which the
#: float32 products give way to float64 ones at once: redoing that many rows in float64 after
#: the float32 products would cost more than the float64 products alone (which take about
#: twice the float32 ones).
FLOAT64_ROWS_SHARE = 0.5


class ProductPrecision:
    """How :func:`expected_mixed_sensitivity` keeps its products exact enough, and fast.

    float64 (below the device profile's ``float32_products_from_classes``): the factors as they are;
    a pair is redone exactly when its normaliser is below 1e-250.

    float32: a subnormal number in a CPU's matrix product makes it about 200 times
    slower (a K = 4096 refresh took 30 s instead of 1.5 s inside a fit), and the far
    tail of ``exp(row - rowmax)`` is one. So no factor or product of factors may be
    subnormal: the softmax factors ``e1``, ``e2`` are zero below ``floor`` (1e-14), ``H`` is
    divided by its largest magnitude and zero below ``h_floor`` (1e-9) of it, so every
    product of a GEMM is at least 1e-37 or zero. Pairs whose normaliser is below 1e-6
    are redone exactly; in the others the flushed terms (at most K x 1e-14) are below
    1e-4 of the normaliser even at K = 8192, and in practice far below the float32
    rounding of the sums.
    """

    def __init__(self, dtype, underflow, floor=0.0, h_floor=0.0):
        self.dtype, self.underflow, self.floor, self.h_floor = dtype, underflow, floor, h_floor

    @classmethod
    def for_classes(cls, n_classes, float32_from_classes):
        if n_classes >= float32_from_classes:
            return cls(torch.float32, 1e-6, floor=1e-14, h_floor=1e-9)
        return cls.exact()

    @classmethod
    def exact(cls):
        """The float64 products: factors as they are, pairs redone below 1e-250."""
        return cls(torch.float64, 1e-250)

    def flushed(self, scaled_logits):
        """``exp(row - rowmax)`` of ``scaled_logits`` (overwritten), zero below ``floor``."""
        factor = scaled_logits.sub_(scaled_logits.max(dim=1, keepdim=True).values).exp_()
        return factor.masked_fill_(factor < self.floor, 0.0) if self.floor else factor

    def scaled(self, h):
        """``(H / scale, scale)`` in the work dtype, entries below ``h_floor`` zero (float32 only)."""
        if not self.h_floor:
            return h.to(self.dtype), 1.0
        low, high = torch.aminmax(h)
        scale = max(-float(low), float(high))
        if not scale > 0:
            return h.to(self.dtype), 1.0
        return self.scaled_by(h, scale), scale

    def scale_of(self, largest):
        """The scale :meth:`scaled` divides by, from ``H``'s largest magnitude ``largest``."""
        return largest if self.h_floor and largest > 0 else 1.0

    def scaled_by(self, h, scale):
        """Rows ``h`` of ``H`` divided by ``scale`` in the work dtype, entries below ``h_floor`` zero."""
        if scale == 1.0 and not self.h_floor:
            return h.to(self.dtype)
        hw = (h / scale).to(self.dtype)
        return hw.masked_fill_((hw < self.h_floor) & (hw > -self.h_floor), 0.0) if self.h_floor else hw


class _BlockedProblem:
    """The rows of ``A = Z W^T + b`` and ``H = Z (Z^T M)`` a block at a time, never all of
    them: what :func:`blocked_gain_from_sensitivity` reads."""

    def __init__(self, prototypes, coef, intercept, sensitivity, rows):
        self.z, self.coef, self.intercept = prototypes, coef, intercept
        self.ztm = prototypes.T @ sensitivity  # (D, K)
        self.k, self.rows = prototypes.shape[0], rows
        self.blocks = [slice(start, min(start + rows, self.k)) for start in range(0, self.k, rows)]

    def logits(self, rows):
        return torch.addmm(self.intercept, self.z[rows], self.coef.T)

    def h(self, rows):
        return self.z[rows] @ self.ztm

    def h_columns(self, rows):
        """``H[:, rows]^T``: what ``H^T`` holds in those rows."""
        return (self.z @ self.ztm[:, rows]).T

    def diagonal(self):
        return (self.z * self.ztm.T).sum(dim=1)

    def largest_h(self):
        """The largest magnitude of ``H``."""
        return max(max(-float(low), float(high)) for low, high in (torch.aminmax(self.h(rows)) for rows in self.blocks))

    def rows_at_risk(self, lbar, underflow):
        """:func:`rows_at_risk` of ``A``, a block of rows at a time."""
        tops = [self.logits(rows).max(dim=1) for rows in self.blocks]
        top, argmax = torch.cat([t.values for t in tops]), torch.cat([t.indices for t in tops])
        risky = []
        for rows in self.blocks:
            # [i, j] for i in rows: the gap of row i at j's arg max (top - A, as -A + top, in place).
            gaps = self.logits(rows).neg_().add_(top[rows].unsqueeze(1)).index_select(1, argmax)
            # [j, i]: the gap of row j at i's arg max, from the columns of A at those classes.
            columns = torch.addmm(self.intercept[argmax[rows]], self.z, self.coef[argmax[rows]].T)
            partner_gaps = columns.neg_().add_(top.unsqueeze(1)).T
            risky.append(_pairs_at_risk(gaps, partner_gaps, lbar, underflow).any(dim=1))
            del gaps, columns, partner_gaps
        return torch.cat(risky)

    def column_factors(self, lbar, precision, scale, budget):
        """``e2`` and ``e2 * H`` of every class (two K x K arrays in the work dtype) when they
        hold at most ``budget`` values together, else None: each block of rows then makes
        them a block of columns at a time (K^2 D more multiply-adds a block of rows)."""
        if 2 * self.k * self.k > budget:
            return None
        e2 = torch.empty(self.k, self.k, dtype=precision.dtype, device=self.z.device)
        e2h = torch.empty_like(e2)
        for columns in self.blocks:  # written in place: no second copy while they are joined
            e2[columns] = self._e2(columns, lbar, precision)
            torch.mul(e2[columns], precision.scaled_by(self.h(columns), scale), out=e2h[columns])
        return e2, e2h

    def _e2(self, columns, lbar, precision):
        return precision.flushed(self.logits(columns).to(precision.dtype).mul_(1.0 - lbar))

    def products(self, rows, lbar, precision, scale, factors=None):
        """``E`` of ``rows`` against every class in ``precision`` (H divided by ``scale``), by
        :func:`expected_mixed_sensitivity`'s three products (against the
        :meth:`column_factors` ``factors``, or a block of columns at a time), and which of
        those pairs underflow."""
        work = precision.dtype
        e1 = precision.flushed(self.logits(rows).to(work).mul_(lbar))
        e1h = e1 * precision.scaled_by(self.h(rows), scale)
        n = e1.shape[0]
        expected = torch.empty(n, self.k, dtype=work, device=e1.device)
        bad = torch.empty(n, self.k, dtype=torch.bool, device=e1.device)
        for columns in ([slice(None)] if factors is not None else self.blocks):
            if factors is not None:
                e2, e2h = factors
            else:
                e2, e2h = self._e2(columns, lbar, precision), None
            normaliser = e1 @ e2.T
            part = e1h @ e2.T
            part.mul_(lbar)
            if e2h is None:
                e2h = e2.mul_(precision.scaled_by(self.h(columns), scale))  # e2 is spent: its products are taken
            second = e1 @ e2h.T
            part.add_(second.mul_(1.0 - lbar)).div_(normaliser)
            expected[:, columns] = part
            bad[:, columns] = ~(normaliser > precision.underflow)
        return expected, bad


def blocked_gain_from_sensitivity(prototypes, coef, intercept, sensitivity, lambda_mean, float32_from_classes=None,
                                  limits=LIMITS):
    """:func:`gain_from_sensitivity` a block of rows (and, inside, of columns) at a time.

    The same gains as the whole-matrix computation up to float rounding, holding the
    K x K result and blocks of ``limits.refresh_block`` entries instead of about nine
    K x K arrays (at K = 8192 in float32, 2.6 GiB). ``A`` and ``H`` are recomputed for
    each block from the K x D prototypes and head (``H = Z (Z^T M)``): K^2 D more
    multiply-adds against the K^3 of the products.
    """
    k = prototypes.shape[0]
    lbar = float(lambda_mean)
    problem = _BlockedProblem(prototypes, coef, intercept, sensitivity, max(1, limits.refresh_block // k))
    if float32_from_classes is None:
        float32_from_classes = _float32_products_from(prototypes.device)
    precision = ProductPrecision.for_classes(k, float32_from_classes)
    if precision.dtype == torch.float32 and float(
            problem.rows_at_risk(lbar, precision.underflow).float().mean()) > FLOAT64_ROWS_SHARE:
        precision = ProductPrecision.exact()
    release_freed_memory()  # each block's temporaries, which glibc would keep (see _memory.py)
    scale = precision.scale_of(problem.largest_h()) if precision.h_floor else 1.0
    diagonal = problem.diagonal()

    def write(rows, expected):  # gain[i, j] = lbar H_ii + (1-lbar) H_ji - E_ij on those rows
        block = problem.h_columns(rows).mul_(1.0 - lbar).add_(lbar * diagonal[rows].unsqueeze(1))
        gain[rows] = block.sub_(expected.to(gain.dtype))

    factors = problem.column_factors(lbar, precision, scale, limits.refresh_columns)
    gain = torch.empty(k, k, dtype=sensitivity.dtype, device=sensitivity.device)
    underflowing = []  # rows with a pair whose normaliser underflows, and those pairs
    for rows in problem.blocks:
        expected, bad = problem.products(rows, lbar, precision, scale, factors)
        if scale != 1.0:
            expected.mul_(scale)
        write(rows, expected)
        release_freed_memory()
        if bool(bad.any()):
            at = bad.any(dim=1).nonzero().squeeze(1)
            # float64 products keep their rows (only the pairs are redone); float32 ones redo them.
            kept = expected[at] if precision.dtype == torch.float64 else None
            underflowing.append((at + rows.start, bad[at], kept))
    del factors
    if not underflowing:
        return gain
    exact = ProductPrecision.exact()
    redo = torch.cat([at for at, _, _ in underflowing])
    bad = torch.cat([pairs for _, pairs, _ in underflowing])
    kept = None if precision.dtype != torch.float64 else torch.cat([rows for _, _, rows in underflowing])
    step = problem.rows
    for start in range(0, redo.shape[0], step):
        rows, pairs = redo[start:start + step], bad[start:start + step]
        if kept is None:  # those rows again, by float64 products
            expected, pairs = problem.products(rows, lbar, exact, 1.0)
        else:
            expected = kept[start:start + step]
        write(rows, _exact_pairs(problem, rows, pairs, expected, lbar, limits))
    return gain


def _exact_pairs(problem, rows, pairs, expected, lbar, limits):
    """``expected`` (float64 products of ``rows``) with its ``pairs`` that underflow even
    there redone by a stable softmax each, in chunks of pairs."""
    i, j = pairs.nonzero(as_tuple=True)
    step = max(1, limits.gain_fallback_chunk // problem.k)
    for start in range(0, i.shape[0], step):
        ic, jc = i[start:start + step], j[start:start + step]
        anchors = rows[ic]
        expected[ic, jc] = _softmax_pairs(problem.logits(anchors), problem.logits(jc), problem.h(anchors),
                                          problem.h(jc), lbar, torch.float64)
    return expected


#: Constraints of :func:`gain_matrix`'s scalar parameters (its arrays are checked by shape).
_GAIN_MATRIX_CONSTRAINTS = {
    "lambda_mean": [Finite(Real, 0, 1, closed="both")],
    "confusion_smoothing": [Finite(Real, 0, 1, closed="left")],
}


def gain_matrix(
    prototypes,
    coef,
    intercept,
    confusion,
    objective,
    *,
    lambda_mean=0.8,
    multipliers=None,
    class_counts=None,
    confusion_smoothing=DEFAULT_CONFUSION_SMOOTHING,
):
    """First-order gain of the objective for every mixup pair (i, j).

    Parameters
    ----------
    prototypes : array-like of shape (n_classes, n_features)
        Class prototypes ``Z`` (mean feature of each class).
    coef : array-like of shape (n_classes, n_features)
        Weights of the linear head, as in scikit-learn's linear models.
    intercept : array-like of shape (n_classes,)
        Biases of the linear head.
    confusion : array-like of shape (n_classes, n_classes)
        Balanced validation confusion matrix (rows sum to ``1/K``, total 1).
    objective : str, Objective or callable
        Target objective, as accepted by ``SelMixClassifier(metric=...)``.
    lambda_mean : float, default=0.8
        Mean mixing coefficient ``(lambda_min + 1) / 2``.
    multipliers : array-like, default=None
        Multiplier state of min-type and constrained objectives. ``None`` uses
        the multipliers implied by ``confusion`` itself (one update from the
        objective's initial state).
    class_counts : array-like of shape (n_classes,), default=None
        Training class counts, needed by ``min_head_tail_recall``.
    confusion_smoothing : float, default=0.01
        Share ``eps`` of each confusion row spread uniformly inside the softmax
        Jacobian, ``(1 - eps) C + eps pi / K``. ``0`` gives the formula of the
        paper exactly; a positive value keeps gains alive for classes that are
        never predicted correctly (see Notes).

    Returns
    -------
    gain : ndarray or torch.Tensor of shape (n_classes, n_classes)
        ``gain[i, j]``: gain of mixing class ``i`` (label) with class ``j``.
        A torch tensor when ``prototypes`` is one, else a numpy array. Computed
        in the floating dtype of ``prototypes`` (float64 for other inputs).

    Notes
    -----
    This is the exact directional derivative of the prototype surrogate along
    the SGD step on the head weights ``W`` (the bias is held fixed, as in the
    paper). It costs O(K^2 D + K^3) time and O(K^2 + K D) extra memory.

    The paper approximates the prototype softmax outputs by the empirical
    confusion matrix. For a class with zero recall that makes its softmax
    derivative, and hence every gain that would help it, exactly zero; the
    smoothing of ``confusion_smoothing`` removes this dead zone while changing
    other entries by about ``eps``.

    Examples
    --------
    >>> import numpy as np
    >>> from skselmix import gain_matrix
    >>> Z = np.eye(3)
    >>> C = np.array([[0.3, 0.03, 0.0], [0.1, 0.2, 0.03], [0.0, 0.0, 1 / 3]])
    >>> C = C / C.sum(axis=1, keepdims=True) / 3
    >>> G = gain_matrix(Z, np.eye(3), np.zeros(3), C, "min_recall")
    >>> G.shape
    (3, 3)
    >>> int(np.argmax(G.max(axis=1)))  # the worst class gains most from being mixed
    1
    """
    as_torch = isinstance(prototypes, torch.Tensor)
    z = _as_float_tensor(prototypes, None)
    dtype, device = z.dtype, z.device
    w = _as_float_tensor(coef, z)
    b = _as_float_tensor(intercept, z)
    c = _as_float_tensor(confusion, z)
    k = z.shape[0]
    if z.ndim != 2 or w.shape != z.shape or b.shape != (k,) or c.shape != (k, k):
        raise ValueError(
            "Inconsistent shapes: expected prototypes (K, D), coef (K, D), intercept (K,), "
            f"confusion (K, K); got {tuple(z.shape)}, {tuple(w.shape)}, {tuple(b.shape)}, {tuple(c.shape)}."
        )
    validate_parameter_constraints(
        _GAIN_MATRIX_CONSTRAINTS, {"lambda_mean": lambda_mean, "confusion_smoothing": confusion_smoothing},
        caller_name="gain_matrix",
    )
    obj = get_objective(objective)
    counts = None if class_counts is None else torch.as_tensor(np.asarray(class_counts), dtype=torch.float64)
    if counts is not None and tuple(counts.shape) != (k,):
        raise ValueError(f"class_counts has shape {tuple(counts.shape)}; gain_matrix needs one count per class, "
                         f"({k},).")
    initial = obj.init_multipliers(k, counts)
    if multipliers is None:
        mult = obj.update_multipliers(initial, c, counts)
    else:
        mult = torch.as_tensor(np.asarray(multipliers) if not isinstance(multipliers, torch.Tensor) else multipliers)
        if initial is None:
            raise ValueError(f"metric {obj.name!r} has no multipliers; pass multipliers=None.")
        if tuple(mult.shape) != tuple(initial.shape):
            raise ValueError(f"multipliers has shape {tuple(mult.shape)}; metric {obj.name!r} holds "
                             f"{tuple(initial.shape)} (see its init_multipliers).")
    grad = obj.gradient(c, mult, counts).to(dtype=dtype, device=device)
    sensitivity = objective_logit_sensitivity(c, grad, float(confusion_smoothing))
    gain = gain_from_sensitivity(z, w, b, sensitivity, lambda_mean)
    return gain if as_torch else gain.cpu().numpy()


def _float32_products_from(device):
    """The device profile's ``float32_products_from_classes`` (read when a gain is computed:
    the profiles live with torch)."""
    from ._torch.device import profile_for

    return profile_for(device).float32_products_from_classes


def _as_float_tensor(value, like):
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        t = torch.as_tensor(np.asarray(value))
    if like is None:
        return t if t.is_floating_point() else t.to(torch.float64)
    return t.to(dtype=like.dtype, device=like.device)
