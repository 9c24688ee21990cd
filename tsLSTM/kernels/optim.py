"""Fused optimizer updates over one flat parameter buffer.

Every network keeps its parameters in one contiguous 1-D buffer ``p`` and its
gradients in a second buffer ``g`` of the same shape and dtype, so an optimizer
step is one loop over ``p.size`` elements instead of a Python loop over tensors.

The kernels reproduce the arithmetic of PyTorch's CPU single-tensor
(``foreach=False``) implementations operation by operation, so that float64
trajectories agree with ``torch.optim`` to rounding:

- scalar quantities that torch computes with Python floats (``1 - beta1``,
  ``lr / bias_correction1``, ``1 - lr * weight_decay``, ...) are computed by the
  optimizer in float64 and only then cast to the buffer's dtype, as torch casts a
  Python scalar operand to the tensor dtype;
- per-element products and sums follow torch's kernels: ``a.add(b, alpha=s)`` is
  ``a + s * b``, ``a.addcmul(b, c, value=s)`` is ``a + (s * b) * c``,
  ``a.addcdiv(b, c, value=s)`` is ``a + (s * b) / c`` and ``a.lerp(b, w)`` is
  ``a + w * (b - a)`` for ``|w| < 0.5``, else ``b - (b - a) * (1 - w)``.

Two differences remain, both of the order of one unit in the last place per step:
torch's vectorised CPU kernels fuse ``a + s * b`` into one FMA, and its vectorised
``sqrt`` (SLEEF, 0.5001 ulp) is not always correctly rounded. These kernels
compile without fast-math, so nothing is contracted and ``sqrt`` is exact.

The per-element arithmetic is written once, in :mod:`tsLSTM.kernels.optim_rules`,
and compiled here as one loop per optimizer (and, by :mod:`tsLSTM.kernels.gpu.optim`,
for one GPU thread per parameter). The step's scalars (bias corrections, decayed
learning rate, ...) arrive already computed in float64 and cast to the buffers'
dtype by the optimizer (:meth:`tsLSTM.optim.Optimizer.next_step`), so a float32
buffer is updated in float32 arithmetic throughout. The kernels allocate nothing;
state buffers are owned by the caller (see :mod:`tsLSTM.optim`).
``error_model="numpy"`` lets divisions vectorise (division by zero gives inf/nan
instead of raising).
"""

import numpy as np
from numba import njit

from . import optim_rules as rules
from ._jit import JIT_OPTIONS

_CACHE = JIT_OPTIONS["cache"]  # False where numba finds no writable cache directory


_STEP = {"cache": _CACHE, "error_model": "numpy", "nogil": True}

_PARAMETERS = """
    Parameters
    ----------
    p : ndarray, shape (n,)
        Flat parameters (float32 or float64), updated in place.
    g : ndarray, shape (n,)
        Flat gradients, same dtype as ``p``; not modified.
    state : tuple of ndarray
        The optimizer's state arrays, updated in place: {state}.
    scalars : {scalars}
        The step's scalars (see :mod:`tsLSTM.kernels.optim_rules`).
"""

sgd_step = njit(**_STEP)(rules.sgd)
adam_step = njit(**_STEP)(rules.adam)
rmsprop_step = njit(**_STEP)(rules.rmsprop)
adagrad_step = njit(**_STEP)(rules.adagrad)

sgd_step.__doc__ = """One SGD step with optional momentum, dampening, Nesterov and L2 decay.

    With ``d = g + weight_decay * p``::

        buf = d                                        (first momentum step)
        buf = momentum * buf + (1 - dampening) * d     (later steps)
        d   = d + momentum * buf   if nesterov else buf
        p   = p - lr * d
""" + _PARAMETERS.format(state="``(momentum_buffer,)``", scalars="SGDScalars")

adam_step.__doc__ = """One Adam / AdamW step (torch's bias-corrected form).

    With ``t`` the step count and, for Adam, ``g = g + weight_decay * p`` or, for
    AdamW (``decoupled``), ``p = p * (1 - lr * weight_decay)`` first::

        m     = m + (1 - beta1) * (g - m)
        v     = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                                  (amsgrad only)
        denom = sqrt(v or v_max) / sqrt(1 - beta2**t) + eps
        p     = p - lr / (1 - beta1**t) * m / denom
""" + _PARAMETERS.format(
    state="``(exp_avg, exp_avg_sq, max_exp_avg_sq)`` (the last empty without amsgrad)",
    scalars="AdamScalars",
)

rmsprop_step.__doc__ = """One RMSprop step, optionally centered and with momentum.

    With ``g = g + weight_decay * p``::

        square_avg = alpha * square_avg + (1 - alpha) * g * g
        grad_avg   = grad_avg + (1 - alpha) * (g - grad_avg)          (centered)
        avg        = sqrt(square_avg - grad_avg**2 if centered else square_avg) + eps
        buf        = momentum * buf + g / avg;  p = p - lr * buf      (momentum > 0)
        p          = p - lr * g / avg                                 (otherwise)
""" + _PARAMETERS.format(
    state="``(square_avg, grad_avg, momentum_buffer)`` (grad_avg empty unless centered)",
    scalars="RMSpropScalars",
)

adagrad_step.__doc__ = """One Adagrad step.

    With ``t`` the step count and ``g = g + weight_decay * p``::

        clr       = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g * g
        p         = p - clr * g / (sqrt(state_sum) + eps)
""" + _PARAMETERS.format(state="``(state_sum,)``", scalars="AdagradScalars")

STEPS = {"sgd": sgd_step, "adam": adam_step, "rmsprop": rmsprop_step, "adagrad": adagrad_step}


@njit(cache=_CACHE, fastmath={"reassoc"}, nogil=True)
def sum_of_squares(g):
    """Sum of ``g[i]**2`` accumulated in float64.

    Only re-association is allowed to the compiler (``fastmath={"reassoc"}``) so the
    reduction vectorises; NaN and infinity still propagate.

    Parameters
    ----------
    g : ndarray, shape (n,)
        Flat buffer (float32 or float64).

    Returns
    -------
    float
        ``sum(g.astype(float64)**2)``.
    """
    total = 0.0
    for i in range(g.size):
        x = np.float64(g[i])
        total += x * x
    return total


@njit(cache=_CACHE, nogil=True)
def scale_(g, factor):
    """Multiply ``g`` in place by ``factor`` cast to ``g``'s dtype.

    Parameters
    ----------
    g : ndarray, shape (n,)
        Flat buffer (float32 or float64), scaled in place.
    factor : float
        Scale factor.
    """
    f = g.dtype.type(factor)
    for i in range(g.size):
        g[i] = g[i] * f
