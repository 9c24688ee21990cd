"""Fused optimizer updates over one flat parameter buffer.

Every network keeps its parameters in one contiguous 1-D buffer ``p`` and its
gradients in a second buffer ``g`` of the same shape and dtype, so an optimizer
step is one loop over ``p.size`` elements instead of a Python loop over tensors.

The kernels reproduce the arithmetic of PyTorch's CPU single-tensor
(``foreach=False``) implementations operation by operation, so that float64
trajectories agree with ``torch.optim`` to rounding:

- scalar quantities that torch computes with Python floats (``1 - beta1``,
  ``lr / bias_correction1``, ``1 - lr * weight_decay``, ...) are computed here in
  float64 and only then cast to the buffer's dtype, as torch casts a Python scalar
  operand to the tensor dtype;
- per-element products and sums follow torch's kernels: ``a.add(b, alpha=s)`` is
  ``a + s * b``, ``a.addcmul(b, c, value=s)`` is ``a + (s * b) * c``,
  ``a.addcdiv(b, c, value=s)`` is ``a + (s * b) / c`` and ``a.lerp(b, w)`` is
  ``a + w * (b - a)`` for ``|w| < 0.5``, else ``b - (b - a) * (1 - w)``.

Two differences remain, both of the order of one unit in the last place per step:
torch's vectorised CPU kernels fuse ``a + s * b`` into one FMA, and its vectorised
``sqrt`` (SLEEF, 0.5001 ulp) is not always correctly rounded. These kernels
compile without fast-math, so nothing is contracted and ``np.sqrt`` is exact.

Hyper-parameters arrive as Python floats (numba float64) and are cast inside the
kernel with ``p.dtype.type``, so a float32 buffer is updated in float32 arithmetic
throughout. The kernels allocate nothing; state buffers are owned by the caller
(see :mod:`tsLSTM.optim`). ``error_model="numpy"`` lets divisions vectorise
(division by zero gives inf/nan instead of raising).
"""

import numpy as np
from numba import njit

from ._jit import JIT_OPTIONS

_CACHE = JIT_OPTIONS["cache"]  # False where numba finds no writable cache directory


@njit(cache=_CACHE, error_model="numpy", nogil=True)
def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step with optional momentum, dampening, Nesterov and L2 decay.

    With ``d = g + weight_decay * p``::

        buf = d                                        (first momentum step)
        buf = momentum * buf + (1 - dampening) * d     (later steps)
        d   = d + momentum * buf   if nesterov else buf
        p   = p - lr * d

    Parameters
    ----------
    p : ndarray, shape (n,)
        Flat parameters (float32 or float64), updated in place.
    g : ndarray, shape (n,)
        Flat gradients, same dtype as ``p``; not modified.
    buf : ndarray, shape (n,)
        Momentum buffer, updated in place; only touched when ``momentum != 0``.
    lr : float
        Learning rate.
    momentum : float
        Momentum factor; ``0`` disables the buffer.
    dampening : float
        Dampening of the gradient term of the momentum update.
    weight_decay : float
        L2 penalty added to the gradient.
    nesterov : bool
        Use Nesterov momentum.
    first : bool
        True on the first step that uses momentum: the buffer is set to the
        (decayed) gradient instead of being updated, as in torch.
    """
    dt = p.dtype.type
    neg_lr = dt(-lr)
    wd = dt(weight_decay)
    mu = dt(momentum)
    one_minus_dampening = dt(1.0 - dampening)
    use_wd = weight_decay != 0.0
    use_momentum = momentum != 0.0
    for i in range(p.size):
        d = g[i]
        if use_wd:
            d = d + wd * p[i]
        if use_momentum:
            if first:
                b = d
            else:
                b = buf[i] * mu + one_minus_dampening * d
            buf[i] = b
            if nesterov:
                d = d + mu * b
            else:
                d = b
        p[i] = p[i] + neg_lr * d


@njit(cache=_CACHE, error_model="numpy", nogil=True)
def adam_step(p, g, m, v, v_max, lr, beta1, beta2, eps, weight_decay, step, amsgrad, decoupled):
    """One Adam / AdamW step (torch's bias-corrected form).

    With ``t = step`` (already incremented) and, for Adam, ``g = g + weight_decay * p``
    or, for AdamW (``decoupled``), ``p = p * (1 - lr * weight_decay)`` first::

        m     = m + (1 - beta1) * (g - m)
        v     = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                                  (amsgrad only)
        denom = sqrt(v or v_max) / sqrt(1 - beta2**t) + eps
        p     = p - lr / (1 - beta1**t) * m / denom

    Parameters
    ----------
    p : ndarray, shape (n,)
        Flat parameters (float32 or float64), updated in place.
    g : ndarray, shape (n,)
        Flat gradients, same dtype as ``p``; not modified.
    m : ndarray, shape (n,)
        First-moment running average (``exp_avg``), updated in place.
    v : ndarray, shape (n,)
        Second-moment running average (``exp_avg_sq``), updated in place.
    v_max : ndarray, shape (n,) or (0,)
        Running maximum of ``v`` (``max_exp_avg_sq``); only used when ``amsgrad``.
    lr : float
        Learning rate.
    beta1, beta2 : float
        Decay rates of the first and second moment averages.
    eps : float
        Added to the denominator after the bias-corrected square root.
    weight_decay : float
        L2 penalty (Adam) or decoupled decay rate (AdamW).
    step : float
        Step count ``t`` including this step (1 on the first call).
    amsgrad : bool
        Normalise by the running maximum of ``v``.
    decoupled : bool
        Decoupled weight decay (AdamW) instead of an L2 gradient term.
    """
    dt = p.dtype.type
    bias_correction1 = 1.0 - beta1**step
    bias_correction2 = 1.0 - beta2**step
    neg_step_size = dt(-(lr / bias_correction1))
    bias_correction2_sqrt = dt(bias_correction2**0.5)
    w1 = dt(1.0 - beta1)
    one_minus_w1 = dt(1.0) - w1
    small_w1 = abs(w1) < 0.5
    b2 = dt(beta2)
    w2 = dt(1.0 - beta2)
    eps_ = dt(eps)
    wd = dt(weight_decay)
    decay = dt(1.0 - lr * weight_decay)
    use_wd = weight_decay != 0.0
    for i in range(p.size):
        pi = p[i]
        gi = g[i]
        if use_wd:
            if decoupled:
                pi = pi * decay
            else:
                gi = gi + wd * pi
        mi = m[i]
        if small_w1:
            mi = mi + w1 * (gi - mi)
        else:
            mi = gi - (gi - mi) * one_minus_w1
        m[i] = mi
        vi = v[i] * b2 + (w2 * gi) * gi
        v[i] = vi
        if amsgrad:
            vm = v_max[i]
            if vi > vm:
                vm = vi
            v_max[i] = vm
            denom = np.sqrt(vm) / bias_correction2_sqrt + eps_
        else:
            denom = np.sqrt(vi) / bias_correction2_sqrt + eps_
        p[i] = pi + (neg_step_size * mi) / denom


@njit(cache=_CACHE, error_model="numpy", nogil=True)
def rmsprop_step(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum, centered):
    """One RMSprop step, optionally centered and with momentum.

    With ``g = g + weight_decay * p``::

        square_avg = alpha * square_avg + (1 - alpha) * g * g
        grad_avg   = grad_avg + (1 - alpha) * (g - grad_avg)          (centered)
        avg        = sqrt(square_avg - grad_avg**2 if centered else square_avg) + eps
        buf        = momentum * buf + g / avg;  p = p - lr * buf      (momentum > 0)
        p          = p - lr * g / avg                                 (otherwise)

    Parameters
    ----------
    p : ndarray, shape (n,)
        Flat parameters (float32 or float64), updated in place.
    g : ndarray, shape (n,)
        Flat gradients, same dtype as ``p``; not modified.
    square_avg : ndarray, shape (n,)
        Running average of ``g**2``, updated in place.
    grad_avg : ndarray, shape (n,) or (0,)
        Running average of ``g``; only used when ``centered``.
    buf : ndarray, shape (n,) or (0,)
        Momentum buffer; only used when ``momentum > 0``.
    lr : float
        Learning rate.
    alpha : float
        Smoothing constant of the running averages.
    eps : float
        Added to the root mean square.
    weight_decay : float
        L2 penalty added to the gradient.
    momentum : float
        Momentum factor; ``0`` updates the parameters directly.
    centered : bool
        Normalise by the estimated variance instead of the raw second moment.
    """
    dt = p.dtype.type
    neg_lr = dt(-lr)
    a = dt(alpha)
    w = dt(1.0 - alpha)
    one_minus_w = dt(1.0) - w
    small_w = abs(w) < 0.5
    eps_ = dt(eps)
    wd = dt(weight_decay)
    mu = dt(momentum)
    use_wd = weight_decay != 0.0
    use_momentum = momentum > 0.0
    for i in range(p.size):
        gi = g[i]
        if use_wd:
            gi = gi + wd * p[i]
        sq = square_avg[i] * a + (w * gi) * gi
        square_avg[i] = sq
        if centered:
            ga = grad_avg[i]
            if small_w:
                ga = ga + w * (gi - ga)
            else:
                ga = gi - (gi - ga) * one_minus_w
            grad_avg[i] = ga
            avg = np.sqrt(sq - ga * ga) + eps_
        else:
            avg = np.sqrt(sq) + eps_
        if use_momentum:
            b = buf[i] * mu + gi / avg
            buf[i] = b
            p[i] = p[i] + neg_lr * b
        else:
            p[i] = p[i] + (neg_lr * gi) / avg


@njit(cache=_CACHE, error_model="numpy", nogil=True)
def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step):
    """One Adagrad step.

    With ``t = step`` (already incremented) and ``g = g + weight_decay * p``::

        clr       = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g * g
        p         = p - clr * g / (sqrt(state_sum) + eps)

    Parameters
    ----------
    p : ndarray, shape (n,)
        Flat parameters (float32 or float64), updated in place.
    g : ndarray, shape (n,)
        Flat gradients, same dtype as ``p``; not modified.
    state_sum : ndarray, shape (n,)
        Accumulated squared gradients, updated in place.
    lr : float
        Learning rate.
    lr_decay : float
        Learning-rate decay per step.
    weight_decay : float
        L2 penalty added to the gradient.
    eps : float
        Added to the square root of the accumulator.
    step : float
        Step count ``t`` including this step (1 on the first call).
    """
    dt = p.dtype.type
    clr = lr / (1.0 + (step - 1.0) * lr_decay)
    neg_clr = dt(-clr)
    eps_ = dt(eps)
    wd = dt(weight_decay)
    use_wd = weight_decay != 0.0
    for i in range(p.size):
        gi = g[i]
        if use_wd:
            gi = gi + wd * p[i]
        s = state_sum[i] + gi * gi
        state_sum[i] = s
        p[i] = p[i] + (neg_clr * gi) / (np.sqrt(s) + eps_)


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
