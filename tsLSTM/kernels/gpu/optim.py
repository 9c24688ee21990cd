"""Optimizer updates, gradient norm and finiteness checks on the GPU.

One thread per parameter applies the update rule of :mod:`tsLSTM.kernels.optim_rules`
(the same functions the CPU kernels of :mod:`tsLSTM.kernels.optim` compile) to
one-element views of the buffers, with the
step's scalars computed by the optimizer (:meth:`tsLSTM.optim.Optimizer.next_step`).
Two additions fuse work that the CPU does in separate passes: every update first
multiplies the gradient by ``clip`` (the clipping factor of
:func:`tsLSTM.optim.clip_grad_norm`, 1 when not clipping) and writes it back, as the
CPU scales the buffer in place, and sets ``flags[0] = 1`` when a new parameter is
not finite.
"""

import math
from functools import cache

import numpy as np
from numba import cuda

from ..optim_rules import RULES, STATE_SIZES
from ._launch import REDUCTION_BLOCKS, THREADS_1D
from .kernel_set import KernelSet


@cuda.jit(device=True, inline=True)
def _views1(state, i):
    return (state[0][i : i + 1],)


@cuda.jit(device=True, inline=True)
def _views3(state, i):
    # an empty state array (an unused option) gives an empty view, never read
    return (state[0][i : i + 1], state[1][i : i + 1], state[2][i : i + 1])


def _update_kernel(rule, n_state):
    """The kernel ``(p, g, clip, state, scalars, flags)`` applying ``rule`` per element."""
    element = cuda.jit(device=True, inline=True)(rule)
    views = _views1 if n_state == 1 else _views3

    @cuda.jit
    def update(p, g, clip, state, scalars, flags):
        i = cuda.grid(1)
        if i < p.shape[0]:
            g[i] = g[i] * clip
            element(p[i : i + 1], g[i : i + 1], views(state, i), scalars)
            if not math.isfinite(p[i]):
                flags[0] = 1.0

    return update


@cache
def kernels(dtype):
    """The optimizer kernels compiled for ``dtype``: one per rule, and ``sum_of_squares``."""

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

    updates = {name: _update_kernel(rule, STATE_SIZES[name]) for name, rule in RULES.items()}
    return KernelSet(dtype, sum_of_squares=sum_of_squares, **updates)


def sum_of_squares(g, total):
    """Add ``sum(g**2)`` (float64) into the device scalar ``total[0]``."""
    kernels(g.dtype).sum_of_squares[REDUCTION_BLOCKS, THREADS_1D](g, total)
