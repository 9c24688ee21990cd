"""Small kernels shared by the LSTM and GRU kernels."""

import numpy as np
from numba import njit

from ._jit import JIT_OPTIONS
from .gemm import matmul_panels


@njit(**JIT_OPTIONS)
def state_slots(T, reverse):
    """Slots of a ``(T + 1, B, H)`` state buffer: ``(init, out_start, prev_start)``.

    For the forward direction slot 0 holds the initial state and slot ``t + 1`` the
    state after step ``t``; the reverse direction (which runs ``t = T - 1 .. 0``)
    keeps its initial state in slot ``T`` and the state after step ``t`` in slot
    ``t``. Either way ``buffer[out_start:out_start + T]`` are the outputs in time
    order and ``buffer[prev_start:prev_start + T]`` the state each step starts from,
    both contiguous.
    """
    if reverse:
        return T, 0, 1
    return 0, 1, 0


# The kernels copy arrays with these loops rather than with slice assignment
# (``dst[...] = src``): numba compiles the latter together with a formatted
# shape-mismatch message (string formatting, joins, reprs), a large share of the
# first-ever compile of the LSTM kernels.


@njit(**JIT_OPTIONS)
def copy_row(dst, src):
    """``dst[:] = src`` for 1-D arrays of equal length."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(**JIT_OPTIONS)
def copy_rows(dst, src):
    """``dst[:, :] = src`` for 2-D arrays of equal shape."""
    for b in range(dst.shape[0]):
        copy_row(dst[b], src[b])


@njit(**JIT_OPTIONS)
def column_sums(dG):
    """``dG.sum(axis=0)`` for ``dG`` of shape (N, K), summed in float64."""
    N, K = dG.shape
    acc = np.zeros(K, dtype=np.float64)
    for r in range(N):
        for k in range(K):
            acc[k] += dG[r, k]
    return acc


@njit(**JIT_OPTIONS)
def add_into(db, acc):
    """``db += acc`` (``acc`` in float64, ``db`` in the parameters' type)."""
    for k in range(db.shape[0]):
        db[k] += acc[k]


@njit(**JIT_OPTIONS)
def add_column_sums(dG, db):
    """``db += dG.sum(axis=0)`` for ``dG`` of shape (N, K), summed in float64."""
    add_into(db, column_sums(dG))


# Inference projects the inputs of this many floats' worth of steps with one product
# (a block of 256 KiB in float32 stays in the L2 cache while the steps consume it).
PROJECTION_BLOCK_FLOATS = 1 << 16


@njit(**JIT_OPTIONS)
def projection_steps(T, B, G):
    """Steps per input-projection block for ``B`` rows of ``G`` gate pre-activations."""
    return max(1, min(T, PROJECTION_BLOCK_FLOATS // (B * G)))


@njit(**JIT_OPTIONS)
def project_block(X, P_ih, bias, GX, step, reverse):
    """``GX[:n] = bias + X[t0:t0 + n] @ W_ihT`` for the block of steps that starts at
    ``step``.

    ``P_ih`` is ``W_ihT`` packed by :func:`~tsLSTM.kernels.gemm.pack_panels`; each
    element starts from its bias and accumulates the products in order (the order of
    :func:`~tsLSTM.kernels.gemm.matmul_panels`), so a row depends on its own input row
    only. A zero-length ``bias`` means none: the products alone. ``step`` counts in
    processing order (``t = T - 1 - step`` for the reverse direction); the block holds
    the next ``n = min(len(GX), T - step)`` steps. Returns ``t0``, the time index of
    ``GX[0]``: step ``t`` reads ``GX[t - t0]``.
    """
    T, B, I = X.shape
    n = min(GX.shape[0], T - step)
    t0 = T - step - n if reverse else step
    A = X[t0 : t0 + n].reshape(n * B, I)
    Z = GX[:n].reshape(n * B, GX.shape[2])
    if bias.shape[0] == 0:
        matmul_panels(A, P_ih, Z, False)
    elif I == 1:  # a univariate series: the one multiply-add, in one pass
        w = P_ih.reshape(P_ih.size)  # K = 1: the panels side by side are W_ihT's row
        for r in range(Z.shape[0]):
            z = Z[r]
            x = A[r, 0]
            for k in range(Z.shape[1]):
                z[k] = bias[k] + x * w[k]
    else:
        for r in range(Z.shape[0]):
            copy_row(Z[r], bias)
        matmul_panels(A, P_ih, Z, True)
    return t0
