"""Where a network runs: device names and the choice between the CPU and a CUDA GPU.

This module is the bottom of the GPU path and imports no device code: it asks
``numba.cuda`` whether a GPU is usable only when a device is resolved, so CPU users
pay nothing. Everything that runs on a GPU lives in :mod:`tsLSTM.gpu` (the driver
code) and :mod:`tsLSTM.kernels.gpu` (the ``numba.cuda`` kernels); the one place that
picks between the CPU and the GPU engines is :mod:`tsLSTM.training`.
"""

DEVICES = ("cpu", "cuda", "auto")

__all__ = ["DEVICES", "DeviceUnavailableError", "cuda_unavailable_reason", "resolve_device"]


class DeviceUnavailableError(RuntimeError):
    """``device='cuda'`` was requested but no usable CUDA GPU is present."""


def cuda_unavailable_reason():
    """Why ``device='cuda'`` cannot run here, or None when it can."""
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - numba always ships a stub
        return f"numba.cuda cannot be imported ({exc})"
    if getattr(cuda, "implementation", "Built-in") != "NVIDIA":
        return "the numba-cuda package is not installed (pip install 'tsLSTM[cuda]')"
    try:
        available = cuda.is_available()
    except Exception as exc:  # a broken driver installation
        return f"the CUDA driver could not be initialised ({exc})"
    if not available:
        return "no CUDA GPU or driver was found (numba.cuda.is_available() is False)"
    return None


def resolve_device(device):
    """``'cpu'`` or ``'cuda'`` for a requested ``device`` in ``{'cpu', 'cuda', 'auto'}``.

    Raises
    ------
    ValueError
        For any other value.
    DeviceUnavailableError
        For ``'cuda'`` when the GPU path cannot run; the message says why.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return "cpu"
    reason = cuda_unavailable_reason()
    if reason is None:
        return "cuda"
    if device == "auto":
        return "cpu"
    raise DeviceUnavailableError(
        f"device='cuda' was requested but {reason}. Use device='cpu' or device='auto' "
        "(which falls back to the CPU)."
    )
