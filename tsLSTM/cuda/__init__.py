"""The optional GPU path: device selection and the device-side engine.

``device='cuda'`` runs the recurrent engine, the dense head, the losses and the
optimizer update on an NVIDIA GPU through ``numba.cuda`` kernels
(:mod:`tsLSTM.kernels.cuda`); it needs the ``numba-cuda`` package
(``pip install "tsLSTM[cuda]"``) and a CUDA driver. ``device='auto'`` uses the GPU
when both are present and the CPU otherwise. Nothing here imports ``numba.cuda``
until a device is resolved, so CPU users pay nothing.

Host arrays stay the source of truth between calls: a fit uploads the parameters,
the optimizer state and the training data once, trains on the device, and copies
the parameters back at the end of every epoch, so a model trained on the GPU is an
ordinary fitted estimator that saves, loads and predicts on a machine without one.
"""

DEVICES = ("cpu", "cuda", "auto")


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
