"""How much a fit's blocked computations may hold at once: the one home of its memory budgets.

Every computation that could hold an array as large as the rows, or as K x K x heads, works
in blocks whose size a field of :class:`Limits` bounds, each field with the measurement
behind it. Code reads them from the :class:`Limits` it is given (default :data:`LIMITS`),
so a test passes smaller limits to reach a blocked path on small data instead of patching
a module's globals. Device facts (flushing, the exact dtype, float32 products, thread and
activation sizes) are the device profile's (``_torch/device.py``), not budgets.

Torch-free: prediction and scoring read these too.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """A fit's memory budgets (entries are array values, not bytes, unless said).

    Attributes
    ----------
    prediction_block : int
        Values in a block of rows read from an out-of-core input, or predicted at once
        (the widest of the block's input and logits): 2**21 float64 values are 16 MiB,
        whatever the width. ``predict`` on 100,000 rows at K = 1000 in one product held
        1574 MiB and took 2.24 s; in these blocks 1 MiB and 1.44 s
        (``benchmarks/results/out_of_core.md``).
    feature_block : int
        float64 values in a block of the column statistics and of the feature mapping:
        2**20 is an 8 MiB temporary; larger blocks raised a fit's peak memory at no gain in
        speed (``benchmarks/perf_notes.md``). The blocks set the order of the statistics'
        sums, hence the feature map's last bits: changing it changes every fingerprint.
    calibration_logits : int
        Logits (rows x K) the temperature fit reads: a class keeps all its rows up to its
        share, at least one. One scalar needs few rows; the out-of-fold logits at
        N = 100k, K = 1000 would be 10^8 numbers.
    resample_values : int
        Bootstrap resample counts (resamples x rows) the step selection may hold: fewer
        resamples when the rows are many (at least ``_selection.MIN_RESAMPLES``).
    dense_resample_product : int
        Entries of the dense (rows x 2K) matrix that turns resample counts into recalls and
        coverages in one product; a sparse product beyond (K in the thousands).
    resample_chunk : int
        Entries of the (resamples x rows) counts made float32 at once in the sparse product:
        the counts stay in their one-byte type otherwise (49 MB instead of 195 MB at a
        million rows). Its blocks set the order of the product's float32 sums.
    resample_draw_chunk : int
        Draws (resamples x rows) made at once when the resample counts are drawn: each draw
        holds five 8-byte temporaries (its uniform, class position, row, flat index and
        count), so 2**20 draws are 40 MiB. Drawn in chunks of ``resample_chunk`` (2**22)
        before 0.16 they held 160 MiB at the start of a WordNet fit's loop, its peak but one.
        Chunks of whole resamples draw the same uniforms in the same order: the counts do
        not depend on it.
    gain_fallback_chunk : int
        Entries of one chunk of the gain's exact recomputation of underflowing pairs (each
        pair a K-wide softmax).
    dense_head_pairs : int
        Entries of the (heads, K, K) per-head pair distributions above which they are not
        formed: 2**26 float64 is 512 MiB (K = 3664 with five fold heads), and a K = 8192 fit
        held 2.5 GiB of them plus as much of their cumulative sums. Above, the masked
        distribution draws from the same distributions without forming them.
    blocked_refresh_classes : int
        Classes above which a refresh works a block of rows at a time: the gain
        (``_gain.blocked_gain_from_sensitivity``) and the pair distribution's entropy. The
        whole-matrix gain holds about nine K x K arrays: at K = 8192 in float32 it took
        2333 MiB and 26.7-30.8 s, by blocks 935-960 MiB (the 256 MiB result included) and
        33.1-33.3 s (benchmarks/perf_notes.md, "a K = 8192 refresh within 1 GiB"). Up to
        4096 classes (every fit measured at K = 1000 and below, and the fingerprints) the
        arithmetic is unchanged.
    refresh_block : int
        Entries of a block of rows (rows x K) of the blocked gain's temporaries: 2**22 float32
        values are 16 MiB (512 rows at K = 8192). 2**20 held 869 MiB but took 42 s; 2**23
        held 1089 MiB.
    refresh_columns : int
        Values of the blocked gain's two K x K column factors (``e2`` and ``e2 H``), held
        whole up to this many: 2**27 is 512 MiB in float32 (K = 8192). Above (float64 at
        K = 8192, or more classes) each block of rows makes them a block at a time, at
        K^2 D more multiply-adds a block of rows.
    prefetch_values : int
        float32 values of the rows a fit on a Dask cluster gathers at once for its coming
        SGD steps (64 MiB); a gather per chunk of steps (2,000 round trips) took 88 s of a
        110 s fit on a 2-worker ``LocalCluster``.
    precondition_max_features : int
        Widest features the warm start's L-BFGS is preconditioned for (a D x D matrix and
        K x D x D work an evaluation); wider features keep the scalar preconditioner.
    """

    prediction_block: int = 1 << 21
    feature_block: int = 1 << 20
    calibration_logits: int = 1 << 19
    resample_values: int = 20_000_000
    dense_resample_product: int = 1 << 24
    resample_chunk: int = 1 << 22
    resample_draw_chunk: int = 1 << 20
    gain_fallback_chunk: int = 1 << 22
    dense_head_pairs: int = 1 << 26
    blocked_refresh_classes: int = 4096
    refresh_block: int = 1 << 22
    refresh_columns: int = 1 << 27
    prefetch_values: int = 1 << 24
    precondition_max_features: int = 4096


#: The budgets every fit uses.
LIMITS = Limits()
