"""LSTM forward pass and BPTT with tsLSTM's own register-tile products instead of BLAS.

The kernels of :mod:`tsLSTM.kernels.lstm` call BLAS once per step for the recurrent
product ``h_{t-1} @ W_hhT`` (and ``dgates @ W_hh`` backward). For the hidden sizes of
time-series models each call is small (a chunk of at most 32 sequences) and OpenBLAS
spends much of it on packing ``W_hh`` again and on dispatch, its Haswell kernels
(AVX2 processors) most of all. Here the recurrent weights are packed once per call
into panels (:func:`~tsLSTM.kernels.gemm.pack_panels`) and every step runs the
register tiles of :func:`~tsLSTM.kernels.gemm.matmul_panels`:

- forward, the product accumulates directly onto the step's pre-activations, which
  already hold ``x_t @ W_ihT + b_ih + b_hh`` (no separate ``(B, 4H)`` buffer and no
  bias pass), and the gate and state passes of
  :func:`~tsLSTM.kernels.lstm.lstm_step_preactivated` follow on the same block;
- backward, the cell backward of the step, then ``dh = dgates @ W_hh``.

The products over all ``T * B`` rows (input projection, weight gradients, input
gradient) also run through the tiles, with their right operand packed once, for the
shapes where that measured faster than OpenBLAS on one thread
(:func:`long_products_tiled`), and otherwise through BLAS. With hidden and input
sizes up to :data:`LONG_TILES_MAX` a training step therefore calls no BLAS at all.

A finer fusion, the product and the cell per block of 4 rows by one panel of hidden
units (the block's gate values never leaving the L1 cache), compiled to vector code
too but measured slower on both processor types (the README's "Measurements behind
the design").

Each element of a tile product is accumulated in one fixed order of fused
multiply-adds (see :mod:`tsLSTM.kernels.gemm`), whatever the processor or the BLAS
library. These kernels apply when ``H`` is a whole number of panels
(:func:`tiles_apply`); otherwise :mod:`tsLSTM.kernels.lstm` runs.
"""

import numpy as np
from numba import njit

from ._common import add_into, column_sums, copy_row, copy_rows, state_slots
from ._jit import JIT_OPTIONS
from .gemm import PANEL_BYTES, matmul_panels, pack_panels
from .lstm import gate_coefficients, lstm_cell_backward, lstm_step_preactivated

# The T * B-row products (input projection, weight gradients, input gradient) use the
# tiles when the hidden size and the input size are at most LONG_TILES_MAX (beyond,
# OpenBLAS's cache blocking wins); inputs of fewer than NARROW_INPUT features take
# plain loops instead (a tile would have too few multiply-adds per accumulator).
LONG_TILES_MAX = 128
NARROW_INPUT = 4


def tiles_apply(hidden_size, itemsize):
    """Whether :func:`lstm_forward_tiled` / :func:`lstm_backward_tiled` take this shape.

    Parameters
    ----------
    hidden_size : int
        ``H``; it must be a whole number of panels: 16 units in float32, 8 in float64.
    itemsize : int
        Bytes per element of the floating-point type.
    """
    return hidden_size > 0 and hidden_size % (PANEL_BYTES // itemsize) == 0


@njit(**JIT_OPTIONS)
def long_products_tiled(nh, I):
    """Whether the ``T * B``-row products use tiles and loops (True) or BLAS."""
    return nh <= LONG_TILES_MAX and I <= LONG_TILES_MAX


@njit(**JIT_OPTIONS)
def input_projection(X2, W_ihT, b_ih, b_hh, Z2, tiled):
    """``Z2 = X2 @ W_ihT + b_ih + b_hh`` for ``X2`` (N, I) and ``Z2`` (N, 4H).

    With ``tiled``, each row starts as the bias and accumulates the product, in the
    register tiles or, for narrow inputs, a loop over the features; otherwise BLAS,
    then the bias.
    """
    N, I = X2.shape
    G = Z2.shape[1]
    bias = b_ih + b_hh
    if not tiled:
        np.dot(X2, W_ihT, Z2)
        for r in range(N):
            for k in range(G):
                Z2[r, k] += bias[k]
        return
    for r in range(N):
        copy_row(Z2[r], bias)
    if I >= NARROW_INPUT:
        matmul_panels(X2, pack_panels(W_ihT), Z2, True)
        return
    for r in range(N):
        z = Z2[r]
        for i in range(I):
            x = X2[r, i]
            w = W_ihT[i]
            for k in range(G):
                z[k] += x * w[k]


@njit(**JIT_OPTIONS)
def add_narrow_weight_grad(X2, dG2, dW):
    """``dW += X2.T @ dG2`` for ``X2`` (N, I) with few features, summed over rows in order."""
    N, I = X2.shape
    G = dG2.shape[1]
    for r in range(N):
        dz = dG2[r]
        for i in range(I):
            x = X2[r, i]
            w = dW[i]
            for k in range(G):
                w[k] += x * dz[k]


@njit(**JIT_OPTIONS)
def lstm_forward_tiled(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, lengths, Hs, Cs, G):
    """:func:`~tsLSTM.kernels.lstm.lstm_forward` with the recurrent product in tiles.

    Same arguments and outputs (``G``: the activations ``i, f, g, o``; at padded
    steps of a row, unspecified); ``H`` must satisfy :func:`tiles_apply`.
    """
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    tiled = long_products_tiled(nh, I)
    input_projection(X.reshape(T * B, I), W_ihT, b_ih, b_hh, G.reshape(T * B, 4 * nh), tiled)
    P_hh = pack_panels(W_hhT)
    scale, shift = gate_coefficients(nh, G)
    init, out_start, prev_start = state_slots(T, reverse)
    copy_rows(Hs[init], h0)
    copy_rows(Cs[init], c0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        prev = prev_start + t
        cur = out_start + t
        matmul_panels(Hs[prev], P_hh, G[t], True)
        lstm_step_preactivated(G[t], scale, shift, Cs[prev], Cs[cur], Hs[cur], Hs[prev], t, lengths)


@njit(**JIT_OPTIONS)
def lstm_backward_tiled(
    X, W_ihT, W_hh, Hs, Cs, G, dH, dh_n, dc_n, reverse, lengths, dG, dW_ihT, dW_hhT, db_ih,
    db_hh, dX,
):  # fmt: skip
    """:func:`~tsLSTM.kernels.lstm.lstm_backward` with the recurrent product in tiles.

    Same arguments, outputs and return value; ``H`` must satisfy :func:`tiles_apply`.
    """
    T, B, I = X.shape
    nh = W_hh.shape[1]
    P_w = pack_panels(W_hh)
    dh_rec = dh_n.copy()  # dL/dh flowing back from the step processed after this one
    dc = dc_n.copy()
    carry = np.zeros_like(dh_rec)  # dL/dh passed through padded steps unchanged
    padded = np.any(lengths < T)
    has_dH = dH.shape[0] == T
    no_dH = np.zeros(nh, dtype=G.dtype)
    _, out_start, prev_start = state_slots(T, reverse)
    for step in range(T):
        t = step if reverse else T - 1 - step
        prev = prev_start + t
        cur = out_start + t
        for b in range(B):
            if t < lengths[b]:
                lstm_cell_backward(
                    G[t, b], Cs[prev, b], Cs[cur, b], dH[t, b] if has_dH else no_dH, dh_rec[b],
                    dc[b], dG[t, b],
                )  # fmt: skip
                if padded:
                    carry[b] = 0
            else:
                dG[t, b] = 0
                copy_row(carry[b], dh_rec[b])
        matmul_panels(dG[t], P_w, dh_rec, False)
        if padded:
            dh_rec += carry
    dG2 = dG.reshape(T * B, 4 * nh)
    X2 = X.reshape(T * B, I)
    H_prev = Hs[prev_start : prev_start + T].reshape(T * B, nh)
    if long_products_tiled(nh, I):
        P_dG = pack_panels(dG2)
        if I >= NARROW_INPUT:
            matmul_panels(X2.T, P_dG, dW_ihT, True)
        else:
            add_narrow_weight_grad(X2, dG2, dW_ihT)
        matmul_panels(H_prev.T, P_dG, dW_hhT, True)
        if dX.shape[0] == T:
            matmul_panels(dG2, pack_panels(W_ihT.T), dX.reshape(T * B, I), False)
    else:
        dW_ihT += np.dot(X2.T, dG2)
        dW_hhT += np.dot(H_prev.T, dG2)
        if dX.shape[0] == T:
            np.dot(dG2, W_ihT.T, dX.reshape(T * B, I))
    db = column_sums(dG2)  # both biases receive the same gradient
    add_into(db_ih, db)
    add_into(db_hh, db)
    return dh_rec, dc
