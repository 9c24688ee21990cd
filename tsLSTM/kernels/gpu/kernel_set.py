"""The one shape every ``kernels(dtype)`` factory of :mod:`tsLSTM.kernels.gpu` returns."""

from collections.abc import Mapping

import numpy as np


class KernelSet(Mapping):
    """Kernels compiled for one dtype, by name: ``ks.gemm`` or ``ks["gemm"]``.

    A read-only mapping of kernel names to kernels, with attribute access too.

    Parameters
    ----------
    dtype : dtype
        The floating-point type the kernels were compiled for (``ks.dtype``).
    **kernels
        The kernels by name.
    """

    def __init__(self, dtype, **kernels):
        object.__setattr__(self, "dtype", np.dtype(dtype))
        object.__setattr__(self, "_kernels", dict(kernels))

    def __getitem__(self, name):
        return self._kernels[name]

    def __getattr__(self, name):
        try:
            return self.__dict__["_kernels"][name]
        except KeyError:
            raise AttributeError(f"no kernel named {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("a KernelSet is read-only")

    def __iter__(self):
        return iter(self._kernels)

    def __len__(self):
        return len(self._kernels)

    def __repr__(self):
        return f"KernelSet({self.dtype}: {', '.join(self._kernels)})"
