"""Whether a floating-point array is finite, in one compiled pass.

Every forward, backward and prediction validates its inputs; ``np.isfinite(a).all()``
costs two numpy calls and a temporary boolean array, the largest part of a
one-window prediction's checks. Here the test is on the bits: a float32 or float64
value is NaN or infinite exactly when all of its exponent bits are set, so the
largest ``bits & EXPONENT`` over the array equals ``EXPONENT`` exactly when some
element is not finite. An integer maximum vectorises and has no rounding to get wrong.
"""

import numpy as np
from numba import njit

from ._jit import JIT_OPTIONS

# Not the kernels' fastmath: this kernel compares integers, and its result must not
# rest on an assumption that the values are finite.
_OPTIONS = {"cache": JIT_OPTIONS["cache"], "nogil": True}


@njit(**_OPTIONS)
def finite_f32(a):
    """Whether the 1-D C-contiguous float32 array ``a`` is finite everywhere."""
    bits = a.view(np.uint32)
    exponent = np.uint32(0x7F800000)
    m = exponent - exponent
    for k in range(bits.shape[0]):
        m = max(m, bits[k] & exponent)
    return m != exponent


@njit(**_OPTIONS)
def finite_f64(a):
    """Whether the 1-D C-contiguous float64 array ``a`` is finite everywhere."""
    bits = a.view(np.uint64)
    exponent = np.uint64(0x7FF0000000000000)
    m = exponent - exponent
    for k in range(bits.shape[0]):
        m = max(m, bits[k] & exponent)
    return m != exponent


def all_finite(a):
    """Whether every element of the floating-point array ``a`` is finite.

    Parameters
    ----------
    a : ndarray of a floating-point type, any shape and layout
        float32 and float64 take the compiled pass (a non-contiguous array is copied
        once); other types, ``np.isfinite``.

    Returns
    -------
    bool
    """
    kernel = _KERNELS.get(a.dtype)
    if kernel is None:
        return bool(np.isfinite(a).all())
    return bool(kernel(a.reshape(-1)))


_KERNELS = {np.dtype(np.float32): finite_f32, np.dtype(np.float64): finite_f64}
