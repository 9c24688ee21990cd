"""Gate activations for the recurrent kernels, specialised by floating-point type.

PyPI's llvmlite has no SVML, so ``np.tanh``/``np.exp`` inside a ``@njit`` loop are
scalar library calls that stop the loop from vectorising. For float32 we use a
clamped rational approximation of tanh (the Eigen/MLAS form; absolute error below
4e-7, a few float32 ulp) that compiles to straight-line arithmetic and vectorises; sigmoid follows
from ``sigmoid(x) = 0.5 + 0.5 * tanh(x / 2)``. For float64, the precision the
gradient checks and the PyTorch oracle rely on, the exact library functions are used.

``tanh`` and ``sigmoid`` are plain Python functions for use outside numba; inside a
jitted kernel the ``@overload`` below picks the implementation from the argument's
type at compile time. They are not inlined at numba's level (``inline="always"``
typed a copy of each for every call site, a second of the first-ever compile) but
marked ``alwaysinline`` for LLVM, like every kernel (see :mod:`tsLSTM.kernels._jit`).
"""

import numpy as np
from numba import types
from numba.extending import overload, register_jitable

# Rational approximation tanh(x) ~= x * P(x^2) / Q(x^2) on [-CLAMP, CLAMP], the
# coefficients of Eigen's ``ptanh_float`` (also used by ONNX Runtime's MLAS).
_CLAMP = np.float32(7.99881172180175781)
_A1 = np.float32(4.89352455891786e-03)
_A3 = np.float32(6.37261928875436e-04)
_A5 = np.float32(1.48572235717979e-05)
_A7 = np.float32(5.12229709037114e-08)
_A9 = np.float32(-8.60467152213735e-11)
_A11 = np.float32(2.00018790482477e-13)
_A13 = np.float32(-2.76076847742355e-16)
_B0 = np.float32(4.89352518554385e-03)
_B2 = np.float32(2.26843463243900e-03)
_B4 = np.float32(1.18534705686654e-04)
_B6 = np.float32(1.19825839466702e-06)
# the same coefficients, highest degree first, for code generated outside numba
# (tsLSTM.kernels.cell_vectors): numerator in x^2 (times x), denominator in x^2
TANH32_CLAMP = _CLAMP
TANH32_P = (_A13, _A11, _A9, _A7, _A5, _A3, _A1)
TANH32_Q = (_B6, _B4, _B2, _B0)
_HALF32 = np.float32(0.5)
_INLINE = {"forceinline": True}  # see tsLSTM.kernels._jit
_ONE64 = np.float64(1.0)


def tanh(x):
    """Hyperbolic tangent (``np.tanh`` outside numba)."""
    return np.tanh(x)


def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))`` (exact outside numba)."""
    return 1.0 / (1.0 + np.exp(-x))


@register_jitable(forceinline=True)
def _tanh_f32(x):
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    p = x * p
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    return p / q


@register_jitable(forceinline=True)
def _sigmoid_f32(x):
    return _HALF32 + _HALF32 * _tanh_f32(_HALF32 * x)


@register_jitable(forceinline=True)
def _tanh_f64(x):
    return np.tanh(x)


@register_jitable(forceinline=True)
def _sigmoid_f64(x):
    return _ONE64 / (_ONE64 + np.exp(-x))


def _is_float32(x):
    return isinstance(x, types.Float) and x.bitwidth == 32


@overload(tanh, jit_options=_INLINE)
def _ol_tanh(x):
    if _is_float32(x):
        return _tanh_f32
    return _tanh_f64


@overload(sigmoid, jit_options=_INLINE)
def _ol_sigmoid(x):
    if _is_float32(x):
        return _sigmoid_f32
    return _sigmoid_f64
