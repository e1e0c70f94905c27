"""The torch device a fit runs on, and the one home of what depends on its kind.

Every constant tuned for a kind of device, and every branch on the device's kind,
reads a :class:`DeviceProfile` from :func:`profile_for`: a GPU-only speed path is a
field here and one use where it applies. Why each value was chosen, with the
measurements, is in ``benchmarks/perf_notes.md`` ("Device profile").
"""

import contextlib
import contextvars
import os
from dataclasses import dataclass

import torch

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceProfile:
    """Sizes and switches of the fit's hot paths on one kind of device.

    Attributes
    ----------
    limit_threads : bool
        Run small problems on one intra-op (and BLAS) thread: OpenMP barriers
        between tiny operations cost more than a second core gains; larger ones
        run BLAS on one thread (``threads.fit_threads``).
    small_step_work : int
        Multiply-adds of one SGD step's largest product (heads x batch x D x K)
        below which the step runs on one thread.
    small_fit_work : int
        Multiply-adds of one pass over the training rows (rows x D x K) below
        which the whole fit runs on one thread, and below which the fold heads'
        warm start evaluates every head on every row (fewest operations).
    step_chunk_elements : int
        Float32 elements of mixed features and targets drawn at once for a run
        of SGD steps (sized to stay in cache).
    written_out_softmax_below : int
        Class counts below which the softmax is three vectorised passes instead
        of torch's kernel (0: always torch's).
    map_in_place : bool
        Map float32 features into the output tensor directly (no device copy).
    flush_tiny_operands : bool
        Zero the mapped features below ``features.FEATURE_FLOOR`` and the
        probabilities below ``softmax.TINY_PROBABILITY`` before they enter a
        matrix product: a product that underflows to a subnormal float made a
        CPU GEMM 10 to 180 times slower (benchmarks/perf_notes.md, issue 35).
    activation_block : int
        Elements of one (rows x K) block of activations in the warm start and
        the feedback's predictions: bounds peak memory.
    joint_history_bytes, joint_history_fraction : int, float
        Fold heads share one L-BFGS run while its history stays within this many
        bytes or this fraction of the float32 features; above, each has its own run
        from a nested start (``fold_starts``).
    float32_products_from_classes : int
        Classes from which the gain's three K^3 products run in float32
        (``_gain.ProductPrecision``): float64 GEMMs take twice as long on the CPU (about
        18 s against 9 s at K = 8192 on two cores), and the gains differ by about 1e-7 of
        their range (``benchmarks/results/large_k.md``). Below, float64, as every recorded fit.
    exact_dtype : torch.dtype
        The dtype policy: what the fit's weights, class totals, uniform draws and
        the warm start's loss and moments are held in on the device. float64 on
        the CPU and CUDA (exact integer weights up to 2^53, a smooth loss for
        scipy's line search); a device without float64 (Apple's MPS) would set
        float32 here.
    """

    limit_threads: bool
    small_step_work: int
    small_fit_work: int
    step_chunk_elements: int
    written_out_softmax_below: int
    map_in_place: bool
    flush_tiny_operands: bool
    activation_block: int = 2**21
    joint_history_bytes: int = 64 << 20
    joint_history_fraction: float = 0.25
    float32_products_from_classes: int = 2048
    exact_dtype: torch.dtype = torch.float64


CPU = DeviceProfile(
    limit_threads=True,
    small_step_work=1 << 22,
    small_fit_work=1 << 27,
    step_chunk_elements=1 << 18,
    written_out_softmax_below=16,  # one AVX-512 register of float32
    map_in_place=True,
    flush_tiny_operands=True,
)
# No GPU measurement has tuned these yet: the chunk and work sizes are the CPU's (the
# fold-head threshold changes operation counts, not threads), and the CPU-only paths are off.
CUDA = DeviceProfile(
    limit_threads=False,
    small_step_work=CPU.small_step_work,
    small_fit_work=CPU.small_fit_work,
    step_chunk_elements=CPU.step_chunk_elements,
    written_out_softmax_below=0,
    map_in_place=False,
    flush_tiny_operands=False,  # GPU kernels flush subnormals to zero at full speed
)


#: The profile :func:`profile_with` asks for in this context (thread or task), else None.
_GIVEN_PROFILE = contextvars.ContextVar("skselmix_device_profile", default=None)


def profile_for(device):
    """The :class:`DeviceProfile` of a :class:`torch.device` (the CPU's or CUDA's), or the
    one :func:`profile_with` gives in this context."""
    given = _GIVEN_PROFILE.get()
    if given is not None:
        return given
    kind = device.type if isinstance(device, torch.device) else torch.device(device).type
    return CPU if kind == "cpu" else CUDA


@contextlib.contextmanager
def profile_with(profile):
    """Within the block, every fit in this thread (or task) reads ``profile`` for its device:
    how a test reaches a path that a profile's sizes gate (thread limits, blocks, the exact
    dtype) on small data, without replacing the module's profiles for other threads."""
    token = _GIVEN_PROFILE.set(profile)
    try:
        yield profile
    finally:
        _GIVEN_PROFILE.reset(token)


def device_memory(device):
    """Bytes of memory of ``device`` (a :class:`torch.device`): the GPU's, or the machine's
    physical memory for the CPU (no bound but the allocator's where the OS will not say)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows)
        return float("inf")


def zero_tiny_(values, floor, signed=True):
    """``values`` with the entries of magnitude below ``floor`` zero, in place, where the
    device profile's ``flush_tiny_operands`` asks for it (the CPU); ``signed=False`` says
    they are non-negative, which saves a pass."""
    if profile_for(values.device).flush_tiny_operands:
        values.masked_fill_((values.abs() if signed else values) < floor, 0.0)
    return values


def exact_dtype(device):
    """The :attr:`DeviceProfile.exact_dtype` of ``device`` (a :class:`torch.device` or name)."""
    return profile_for(device).exact_dtype


def resolve_device(device):
    """Map the ``device`` parameter to a :class:`torch.device`.

    ``"auto"`` picks CUDA when torch sees a GPU, else the CPU; ``"cuda"`` (or
    ``"cuda:N"``) without a GPU is an error rather than a silent CPU fallback.
    """
    if isinstance(device, torch.device):
        device = str(device)
    # Only "cuda" takes an index ("cuda:1"); "auto:0" or "cpu:x" reached torch's RuntimeError.
    named, _, index = device.partition(":") if isinstance(device, str) else (None, "", "")
    if named not in DEVICES or (":" in device and (named != "cuda" or not index.isdigit())):
        raise ValueError(f"device must be one of {', '.join(map(repr, DEVICES))} (or 'cuda:N'), got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but torch sees no CUDA device; use 'cpu' or 'auto'.")
    return torch.device(device)
