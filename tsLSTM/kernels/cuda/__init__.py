"""Deprecated alias of :mod:`tsLSTM.kernels.gpu` (the ``numba.cuda`` kernels).

``from tsLSTM.kernels.cuda import linalg`` (and ``losses``, ``optim``,
``recurrent``) still works, with a ``DeprecationWarning``.
"""

import importlib
import warnings

_MODULES = ("linalg", "losses", "optim", "recurrent")


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module 'tsLSTM.kernels.cuda' has no attribute {name!r}")
    warnings.warn(
        f"tsLSTM.kernels.cuda.{name} is deprecated; use tsLSTM.kernels.gpu.{name}",
        DeprecationWarning,
        stacklevel=2,
    )
    return importlib.import_module(f"tsLSTM.kernels.gpu.{name}")


def __dir__():
    return sorted(list(globals()) + list(_MODULES))
