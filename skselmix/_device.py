"""Choosing the torch device a fit runs on."""

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device):
    """Map the ``device`` parameter to a :class:`torch.device`.

    ``"auto"`` picks CUDA when torch sees a GPU, else the CPU; ``"cuda"`` (or
    ``"cuda:N"``) without a GPU is an error rather than a silent CPU fallback.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or device.split(":")[0] not in DEVICES or (device == "auto:"):
        raise ValueError(f"device must be one of {', '.join(map(repr, DEVICES))} (or 'cuda:N'), got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but torch sees no CUDA device; use 'cpu' or 'auto'.")
    return torch.device(device)
