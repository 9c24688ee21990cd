"""The optimizers' per-element updates, written once for the CPU and the GPU kernels.

Plain Python functions, compiled twice: :mod:`tsLSTM.kernels.optim` compiles them
with ``njit`` as the fused CPU loops over the flat buffers, :mod:`tsLSTM.kernels.gpu.optim`
with ``cuda.jit(device=True)`` and calls them from one GPU thread per parameter, on
one-element views. Each updates the parameters ``p`` and the optimizer ``state`` (a
tuple of arrays, in the order of the optimizer's ``state_names``) in place from the
gradients ``g``, with ``scalars``: the step's scalars as the optimizer computed them
(:meth:`tsLSTM.optim.Optimizer.next_step`), already in the buffers' dtype. The
scalar tuples below name them, in the order the rules unpack them.

The loops run over ``range(p.size)``: a loop index that numba knows to be
non-negative lets LLVM vectorise the CPU loop (no wrap-around checks).

The arithmetic is that of PyTorch's CPU single-tensor optimizers, operation by
operation (see :mod:`tsLSTM.kernels.optim`). There are no literals here, so a
float32 buffer is updated in float32 arithmetic throughout.
"""

import math
from typing import NamedTuple


class SGDScalars(NamedTuple):
    neg_lr: float
    momentum: float
    one_minus_dampening: float
    weight_decay: float
    use_weight_decay: bool
    use_momentum: bool
    nesterov: bool
    first: bool  # the first step with momentum: the buffer starts as the gradient


class AdamScalars(NamedTuple):
    neg_step_size: float  # -lr / (1 - beta1**t)
    bias_correction2_sqrt: float  # sqrt(1 - beta2**t)
    w1: float  # 1 - beta1, the weight of lerp(m, g, w1)
    one_minus_w1: float
    small_w1: bool  # |w1| < 0.5: torch's lerp takes its first form
    beta2: float
    w2: float  # 1 - beta2
    eps: float
    weight_decay: float
    decay: float  # 1 - lr * weight_decay (AdamW)
    use_weight_decay: bool
    decoupled: bool
    amsgrad: bool


class RMSpropScalars(NamedTuple):
    neg_lr: float
    alpha: float
    w: float  # 1 - alpha
    one_minus_w: float
    small_w: bool
    eps: float
    weight_decay: float
    momentum: float
    use_weight_decay: bool
    use_momentum: bool
    centered: bool


class AdagradScalars(NamedTuple):
    neg_clr: float  # -lr / (1 + (t - 1) * lr_decay)
    eps: float
    weight_decay: float
    use_weight_decay: bool


def sgd(p, g, state, scalars):
    (buf,) = state
    neg_lr, mu, one_minus_dampening, wd, use_wd, use_momentum, nesterov, first = scalars
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


def adam(p, g, state, scalars):
    m, v, v_max = state
    (neg_step_size, bias_correction2_sqrt, w1, one_minus_w1, small_w1, b2, w2, eps, wd, decay,
     use_wd, decoupled, amsgrad) = scalars  # fmt: skip
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
            denom = math.sqrt(vm) / bias_correction2_sqrt + eps
        else:
            denom = math.sqrt(vi) / bias_correction2_sqrt + eps
        p[i] = pi + (neg_step_size * mi) / denom


def rmsprop(p, g, state, scalars):
    square_avg, grad_avg, buf = state
    neg_lr, a, w, one_minus_w, small_w, eps, wd, mu, use_wd, use_momentum, centered = scalars
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
            avg = math.sqrt(sq - ga * ga) + eps
        else:
            avg = math.sqrt(sq) + eps
        if use_momentum:
            b = buf[i] * mu + gi / avg
            buf[i] = b
            p[i] = p[i] + neg_lr * b
        else:
            p[i] = p[i] + (neg_lr * gi) / avg


def adagrad(p, g, state, scalars):
    (state_sum,) = state
    neg_clr, eps, wd, use_wd = scalars
    for i in range(p.size):
        gi = g[i]
        if use_wd:
            gi = gi + wd * p[i]
        s = state_sum[i] + gi * gi
        state_sum[i] = s
        p[i] = p[i] + (neg_clr * gi) / (math.sqrt(s) + eps)


RULES = {"sgd": sgd, "adam": adam, "rmsprop": rmsprop, "adagrad": adagrad}
STATE_SIZES = {"sgd": 1, "adam": 3, "rmsprop": 3, "adagrad": 1}  # arrays in ``state``
