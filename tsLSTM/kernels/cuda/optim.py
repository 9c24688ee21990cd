"""Optimizer updates, gradient norm and finiteness checks on the GPU.

The update kernels are the CUDA twins of :mod:`tsLSTM.kernels.optim` (same
arithmetic, operation by operation, with the scalar hyper-parameters computed on
the host in float64 and cast to the buffer dtype), one thread per parameter. Two
additions fuse work that the CPU does in separate passes: every update multiplies
the gradient by ``clip`` first (the clipping factor of
:func:`tsLSTM.optim.clip_grad_norm`, 1 when not clipping) and writes it back, as
the CPU scales the buffer in place, and sets ``flags[0] = 1`` when a new parameter
is not finite.
"""

import math
from functools import cache

import numpy as np
from numba import cuda

from ._launch import REDUCTION_BLOCKS, THREADS_1D


@cache
def kernels(dtype):
    """The optimizer kernels compiled for ``dtype`` (float32 or float64)."""
    dt = np.dtype(dtype).type

    @cuda.jit(device=True, inline=True)
    def clipped(g, i, clip):
        gi = g[i] * clip
        g[i] = gi
        return gi

    @cuda.jit(device=True, inline=True)
    def store(p, i, value, flags):
        p[i] = value
        if not math.isfinite(value):
            flags[0] = 1.0

    @cuda.jit
    def sgd(p, g, clip, buf, neg_lr, mu, one_minus_dampening, wd, use_wd, use_momentum,
            nesterov, first, flags):  # fmt: skip
        i = cuda.grid(1)
        if i < p.shape[0]:
            d = clipped(g, i, clip)
            if use_wd:
                d = d + wd * p[i]
            if use_momentum:
                if first:
                    b = d
                else:
                    b = buf[i] * mu + one_minus_dampening * d
                buf[i] = b
                d = d + mu * b if nesterov else b
            store(p, i, p[i] + neg_lr * d, flags)

    @cuda.jit
    def adam(p, g, clip, m, v, v_max, neg_step_size, bc2_sqrt, w1, one_minus_w1, small_w1,
             b2, w2, eps, wd, decay, use_wd, decoupled, amsgrad, flags):  # fmt: skip
        i = cuda.grid(1)
        if i < p.shape[0]:
            pi = p[i]
            gi = clipped(g, i, clip)
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
                vm = max(v_max[i], vi)
                v_max[i] = vm
                denom = math.sqrt(vm) / bc2_sqrt + eps
            else:
                denom = math.sqrt(vi) / bc2_sqrt + eps
            store(p, i, pi + (neg_step_size * mi) / denom, flags)

    @cuda.jit
    def rmsprop(p, g, clip, square_avg, grad_avg, buf, neg_lr, a, w, one_minus_w, small_w,
                eps, wd, mu, use_wd, use_momentum, centered, flags):  # fmt: skip
        i = cuda.grid(1)
        if i < p.shape[0]:
            gi = clipped(g, i, clip)
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
                store(p, i, p[i] + neg_lr * b, flags)
            else:
                store(p, i, p[i] + (neg_lr * gi) / avg, flags)

    @cuda.jit
    def adagrad(p, g, clip, state_sum, neg_clr, eps, wd, use_wd, flags):
        i = cuda.grid(1)
        if i < p.shape[0]:
            gi = clipped(g, i, clip)
            if use_wd:
                gi = gi + wd * p[i]
            s = state_sum[i] + gi * gi
            state_sum[i] = s
            store(p, i, p[i] + (neg_clr * gi) / (math.sqrt(s) + eps), flags)

    @cuda.jit
    def sum_of_squares(g, total):
        """``total[0] += sum(g**2)`` in float64: grid-stride, then a block tree reduction."""
        partial = cuda.shared.array(THREADS_1D, np.float64)
        tid = cuda.threadIdx.x
        acc = 0.0
        for i in range(cuda.grid(1), g.shape[0], cuda.gridsize(1)):
            x = np.float64(g[i])
            acc += x * x
        partial[tid] = acc
        cuda.syncthreads()
        width = THREADS_1D // 2
        while width > 0:
            if tid < width:
                partial[tid] += partial[tid + width]
            cuda.syncthreads()
            width //= 2
        if tid == 0:
            cuda.atomic.add(total, 0, partial[0])

    return {
        "sgd": sgd, "adam": adam, "rmsprop": rmsprop, "adagrad": adagrad,
        "sum_of_squares": sum_of_squares, "dtype": dt,
    }  # fmt: skip


def sum_of_squares(g, total):
    """Add ``sum(g**2)`` (float64) into the device scalar ``total[0]``."""
    kernels(g.dtype)["sum_of_squares"][REDUCTION_BLOCKS, THREADS_1D](g, total)
