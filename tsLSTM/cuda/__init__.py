"""Deprecated alias of :mod:`tsLSTM.devices` and :mod:`tsLSTM.gpu`.

``tsLSTM.cuda.DeviceUnavailableError``, ``resolve_device``, ``DEVICES`` and
``cuda_unavailable_reason`` now live in :mod:`tsLSTM.devices`; the GPU driver
modules (``tsLSTM.cuda.model``, ``training``, ...) moved to :mod:`tsLSTM.gpu`. The
names still resolve from here, with a ``DeprecationWarning``.
"""

import importlib
import warnings

_NAMES = ("DEVICES", "DeviceUnavailableError", "cuda_unavailable_reason", "resolve_device")
_MODULES = ("layers", "model", "optim", "recurrent", "training")


def __getattr__(name):
    if name in _NAMES:
        target = "tsLSTM.devices"
        value = getattr(importlib.import_module(target), name)
    elif name in _MODULES:
        target = f"tsLSTM.gpu.{name}"
        value = importlib.import_module(target)
    else:
        raise AttributeError(f"module 'tsLSTM.cuda' has no attribute {name!r}")
    warnings.warn(
        f"tsLSTM.cuda.{name} is deprecated; use {target}"
        + ("" if name in _MODULES else f".{name}"),
        DeprecationWarning,
        stacklevel=2,
    )
    return value


def __dir__():
    return sorted(list(globals()) + list(_NAMES) + list(_MODULES))
