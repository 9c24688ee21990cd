"""Dense linear algebra and data movement on the GPU.

``numba.cuda`` has no matrix product, so :func:`kernels` provides a tiled
shared-memory GEMM with optional transposes, bias and accumulation; it covers every
product of the engine (input projections, dense head, weight gradients, input
gradients). The other kernels move data: fills, transposes, column blocks,
minibatch gathers, dropout masks.
"""

from functools import cache

import numpy as np
from numba import cuda
from numba.cuda.random import xoroshiro128p_uniform_float64

from ._launch import REDUCTION_BLOCKS, THREADS_1D, TILE, grid_1d, grid_rows, grid_tiles
from .kernel_set import KernelSet


@cache
def kernels(dtype):
    """The linear-algebra kernels compiled for ``dtype`` (float32 or float64)."""
    dt = np.dtype(dtype).type
    zero = dt(0.0)
    one = dt(1.0)

    @cuda.jit
    def gemm(A, B, C, bias, trans_a, trans_b, accumulate):
        """``C (=|+=) op(A) @ op(B) (+ bias)``: one TILE x TILE output tile per block."""
        sA = cuda.shared.array((TILE, TILE), dt)
        sB = cuda.shared.array((TILE, TILE), dt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        M, N = C.shape
        K = A.shape[0] if trans_a else A.shape[1]
        acc = zero
        for k0 in range(0, K, TILE):
            ka = k0 + tx
            if row < M and ka < K:
                sA[ty, tx] = A[ka, row] if trans_a else A[row, ka]
            else:
                sA[ty, tx] = zero
            kb = k0 + ty
            if kb < K and col < N:
                sB[ty, tx] = B[col, kb] if trans_b else B[kb, col]
            else:
                sB[ty, tx] = zero
            cuda.syncthreads()
            for k in range(TILE):
                acc += sA[ty, k] * sB[k, tx]
            cuda.syncthreads()
        if row < M and col < N:
            if bias.shape[0] > 0:
                acc += bias[col]
            if accumulate:
                C[row, col] += acc
            else:
                C[row, col] = acc

    @cuda.jit
    def fill(a, value):
        i = cuda.grid(1)
        if i < a.shape[0]:
            a[i] = value

    @cuda.jit
    def multiply(a, b):
        """``a *= b`` elementwise (1-D views)."""
        i = cuda.grid(1)
        if i < a.shape[0]:
            a[i] *= b[i]

    @cuda.jit
    def transpose(src, dst):
        j, i = cuda.grid(2)
        if i < src.shape[0] and j < src.shape[1]:
            dst[j, i] = src[i, j]

    @cuda.jit
    def add_column_sums(M, out):
        """``out += M.sum(axis=0)``, each column summed in float64 by one thread."""
        c = cuda.grid(1)
        if c < M.shape[1]:
            acc = 0.0
            for r in range(M.shape[0]):
                acc += M[r, c]
            out[c] += acc

    @cuda.jit
    def copy_columns(src, src_off, dst, dst_off, width, accumulate):
        """``dst[:, dst_off:dst_off+width] (=|+=) src[:, src_off:src_off+width]``."""
        j, r = cuda.grid(2)
        if r < src.shape[0] and j < width:
            if accumulate:
                dst[r, dst_off + j] += src[r, src_off + j]
            else:
                dst[r, dst_off + j] = src[r, src_off + j]

    @cuda.jit
    def gather_batch(X, order, start, lengths, Xb, lengths_b):
        """Minibatch ``order[start:start+B]`` of batch-major ``X`` into time-major ``Xb``."""
        i = cuda.grid(1)
        T, B, F = Xb.shape
        if i < T * B * F:
            t = i // (B * F)
            r = (i // F) % B
            f = i % F
            n = order[start + r]
            Xb[t, r, f] = X[n, t, f]
            if t == 0 and f == 0:
                lengths_b[r] = lengths[n]

    @cuda.jit
    def zero_padded_steps(Y, lengths):
        """``Y[t, b, :] = 0`` where step ``t`` is padding of sequence ``b``."""
        j, row = cuda.grid(2)
        T, B, C = Y.shape
        if row < T * B and j < C:
            t = row // B
            b = row % B
            if t >= lengths[b]:
                Y[t, b, j] = zero

    @cuda.jit
    def dropout_mask(states, mask, keep):
        """Inverted-dropout mask: ``1 / keep`` with probability ``keep``, else 0."""
        tid = cuda.grid(1)
        stride = cuda.gridsize(1)
        scale = one / keep
        for i in range(tid, mask.shape[0], stride):
            u = xoroshiro128p_uniform_float64(states, tid)
            mask[i] = scale if u < keep else zero

    return KernelSet(
        dtype, gemm=gemm, fill=fill, multiply=multiply, transpose=transpose,
        add_column_sums=add_column_sums, copy_columns=copy_columns, gather_batch=gather_batch,
        zero_padded_steps=zero_padded_steps, dropout_mask=dropout_mask,
    )  # fmt: skip


# -- launchers: shapes in, kernels out -------------------------------------------------


def _k(a):
    return kernels(a.dtype)


def matmul(A, B, C, bias=None, trans_a=False, trans_b=False, accumulate=False):
    """``C (=|+=) op(A) @ op(B) (+ bias)`` for 2-D device arrays."""
    k = _k(C)
    if bias is None:
        bias = _empty(np.dtype(C.dtype))
    blocks, threads = grid_tiles(*C.shape)
    k.gemm[blocks, threads](A, B, C, bias, trans_a, trans_b, accumulate)


def fill(a, value):
    """Set every element of a contiguous device array to ``value``."""
    flat = a.reshape(a.size)
    blocks, threads = grid_1d(a.size)
    if a.size:
        _k(a).fill[blocks, threads](flat, a.dtype.type(value))
    return a


def zeros(shape, dtype):
    """A zero-filled device array."""
    return fill(cuda.device_array(shape, dtype=dtype), 0)


def multiply(a, b):
    """``a *= b`` for contiguous device arrays of one shape."""
    blocks, threads = grid_1d(a.size)
    _k(a).multiply[blocks, threads](a.reshape(a.size), b.reshape(b.size))


def transpose(src):
    """A new device array holding ``src.T`` (2-D)."""
    dst = cuda.device_array((src.shape[1], src.shape[0]), dtype=src.dtype)
    blocks, threads = grid_rows(src.shape[0], src.shape[1])
    _k(src).transpose[blocks, threads](src, dst)
    return dst


def add_column_sums(M, out):
    """``out += M.sum(axis=0)`` (float64 accumulation)."""
    blocks, threads = grid_1d(M.shape[1])
    _k(M).add_column_sums[blocks, threads](M, out)


def copy_columns(src, src_off, dst, dst_off, width, accumulate=False):
    """Copy (or add) a block of ``width`` columns between 2-D device arrays."""
    blocks, threads = grid_rows(src.shape[0], width)
    _k(src).copy_columns[blocks, threads](src, src_off, dst, dst_off, width, accumulate)


def gather_batch(X, order, start, lengths, Xb, lengths_b):
    """Gather a minibatch (see the kernel) into preallocated ``Xb`` and ``lengths_b``."""
    blocks, threads = grid_1d(Xb.size)
    _k(Xb).gather_batch[blocks, threads](X, order, start, lengths, Xb, lengths_b)


def zero_padded_steps(Y, lengths):
    """Zero the padded steps of a time-major (T, B, C) device array in place."""
    T, B, C = Y.shape
    blocks, threads = grid_rows(T * B, C)
    _k(Y).zero_padded_steps[blocks, threads](Y, lengths)


def random_states(seed):
    """xoroshiro128+ states for :func:`dropout_mask`, seeded by ``seed``."""
    from numba.cuda.random import create_xoroshiro128p_states

    return create_xoroshiro128p_states(REDUCTION_BLOCKS * THREADS_1D, seed=seed)


def dropout_mask(states, mask, keep):
    """Fill ``mask`` with an inverted-dropout mask of keep probability ``keep``."""
    _k(mask).dropout_mask[REDUCTION_BLOCKS, THREADS_1D](states, mask.reshape(mask.size), keep)


@cache
def _empty(dtype):
    return cuda.to_device(np.zeros(0, dtype=dtype))
