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
  bias pass), and the cell of :func:`~tsLSTM.kernels.lstm.lstm_step_whole_vectors`
  (for float32, each row in one pass of explicit vectors) follows on the same block;
- backward, the cell backward of the step, then ``dh = dgates @ W_hh``.

The products over all ``T * B`` rows (input projection, weight gradients, input
gradient) also run through the tiles, with their right operand packed once, for the
shapes where that measured faster than OpenBLAS on one thread, and otherwise through
BLAS (:func:`products_plan`). With hidden and input sizes up to
:data:`LONG_TILES_MAX` a training step therefore calls no BLAS at all. These
products are kernels of their own, which :func:`lstm_forward_tiled` and
:func:`lstm_backward_tiled` (plain Python) pick by shape: numba then compiles only
the variants a model uses (a first training step compiles in a few seconds; every
branch in one kernel took twice as long, and numba cannot cache kernels specialised
on a constant argument).

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
from .gemm import (
    PANEL_BYTES,
    add_long_product,
    add_transposed_product,
    matmul_panels,
    matmul_whole_panels,
    pack_panels,
    panel_width,
)
from .lstm import gate_coefficients, lstm_step_backward, lstm_step_whole_vectors

# The T * B-row products use the tiles when the hidden size and the input size are at
# most LONG_TILES_MAX (beyond, OpenBLAS's cache blocking wins); inputs of fewer than
# NARROW_INPUT features take plain loops instead (a tile would have too few
# multiply-adds per accumulator).
LONG_TILES_MAX = 128
NARROW_INPUT = 4

# How the products over all T * B rows are computed (see products_plan).
PRODUCTS_BLAS = "blas"  # OpenBLAS
PRODUCTS_TILED = "tiled"  # register tiles
PRODUCTS_NARROW = "narrow"  # register tiles, loops for the products with the input


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


def products_plan(hidden_size, input_size):
    """How the ``T * B``-row products of these sizes are computed: ``PRODUCTS_*``."""
    if hidden_size > LONG_TILES_MAX or input_size > LONG_TILES_MAX:
        return PRODUCTS_BLAS
    return PRODUCTS_NARROW if input_size < NARROW_INPUT else PRODUCTS_TILED


# -- the input projection: Z2 = X2 @ W_ihT + b_ih + b_hh for X2 (N, I), Z2 (N, 4H) ----


@njit(**JIT_OPTIONS)
def _bias_rows(b_ih, b_hh, Z2):
    bias = b_ih + b_hh
    for r in range(Z2.shape[0]):
        copy_row(Z2[r], bias)


@njit(**JIT_OPTIONS)
def project_tiled(X2, W_ihT, b_ih, b_hh, Z2):
    """Each row starts as the bias and accumulates its product in the register tiles."""
    _bias_rows(b_ih, b_hh, Z2)
    matmul_whole_panels(X2, pack_panels(W_ihT), Z2, True)


@njit(**JIT_OPTIONS)
def project_narrow(X2, W_ihT, b_ih, b_hh, Z2):
    """Each row starts as the bias and adds the features' terms in order (few features).

    One feature (a univariate series) takes one pass, ``bias + x * w``: the same
    multiply-add as the bias pass followed by the feature's, without writing the rows
    twice.
    """
    N, I = X2.shape
    G = Z2.shape[1]
    if I == 1:
        bias = b_ih + b_hh
        w = W_ihT[0]
        for r in range(N):
            z = Z2[r]
            x = X2[r, 0]
            for k in range(G):
                z[k] = bias[k] + x * w[k]
        return
    _bias_rows(b_ih, b_hh, Z2)
    for r in range(N):
        z = Z2[r]
        for i in range(I):
            x = X2[r, i]
            w = W_ihT[i]
            for k in range(G):
                z[k] += x * w[k]


@njit(**JIT_OPTIONS)
def project_blas(X2, W_ihT, b_ih, b_hh, Z2):
    """BLAS's product, then the bias."""
    np.dot(X2, W_ihT, Z2)
    bias = b_ih + b_hh
    for r in range(Z2.shape[0]):
        add_into(Z2[r], bias)


# -- the weight gradients: dW_ihT += X2.T @ dG2, dW_hhT += H_prev.T @ dG2, biases -----


@njit(**JIT_OPTIONS)
def _bias_grads(dG2, db_ih, db_hh):
    db = column_sums(dG2)  # both biases receive the same gradient
    add_into(db_ih, db)
    add_into(db_hh, db)


@njit(**JIT_OPTIONS)
def weight_grads_tiled(X2, H_prev, dG2, dW_ihT, dW_hhT, db_ih, db_hh):
    """Both weight gradients in the register tiles, ``dG2`` packed once."""
    P_dG = pack_panels(dG2)
    add_long_product(X2.T, P_dG, dW_ihT)
    add_long_product(H_prev.T, P_dG, dW_hhT)
    _bias_grads(dG2, db_ih, db_hh)


@njit(**JIT_OPTIONS)
def _add_narrow_input_grads(X2, dG2, dW_ihT):
    """``dW_ihT += X2.T @ dG2`` for few features: a loop that adds the rows' terms in
    order."""
    N, I = X2.shape
    G = dG2.shape[1]
    for r in range(N):
        dz = dG2[r]
        for i in range(I):
            x = X2[r, i]
            w = dW_ihT[i]
            for k in range(G):
                w[k] += x * dz[k]


@njit(**JIT_OPTIONS)
def weight_grads_narrow(X2, H_prev, dG2, dW_ihT, dW_hhT, db_ih, db_hh):
    """The recurrent weights' gradient in the tiles; the input weights' (few features)
    by a loop that adds the rows' terms in order."""
    add_long_product(H_prev.T, pack_panels(dG2), dW_hhT)
    _add_narrow_input_grads(X2, dG2, dW_ihT)
    _bias_grads(dG2, db_ih, db_hh)


@njit(**JIT_OPTIONS)
def weight_grads_gate_major(X2, H_prev, dG2, dW_ihT, dW_hhT, db_ih, db_hh):
    """:func:`weight_grads_tiled` gate-major (same bits): ``X2`` and ``H_prev`` are
    packed, not ``dG2`` (:func:`~tsLSTM.kernels.gemm.add_transposed_product`)."""
    add_transposed_product(dG2.T, pack_panels(X2), dW_ihT)
    add_transposed_product(dG2.T, pack_panels(H_prev), dW_hhT)
    _bias_grads(dG2, db_ih, db_hh)


@njit(**JIT_OPTIONS)
def weight_grads_narrow_gate_major(X2, H_prev, dG2, dW_ihT, dW_hhT, db_ih, db_hh):
    """:func:`weight_grads_narrow` with the recurrent weights' gradient gate-major."""
    add_transposed_product(dG2.T, pack_panels(H_prev), dW_hhT)
    _add_narrow_input_grads(X2, dG2, dW_ihT)
    _bias_grads(dG2, db_ih, db_hh)


@njit(**JIT_OPTIONS)
def weight_grads_blas(X2, H_prev, dG2, dW_ihT, dW_hhT, db_ih, db_hh):
    """Both weight gradients by BLAS."""
    dW_ihT += np.dot(X2.T, dG2)
    dW_hhT += np.dot(H_prev.T, dG2)
    _bias_grads(dG2, db_ih, db_hh)


# -- the input gradient: dX2 = dG2 @ W_ihT.T ---------------------------------------------


@njit(**JIT_OPTIONS)
def input_grad_tiled(dG2, W_ihT, dX2):
    """In the register tiles (the last panel partial where ``I`` is not whole panels)."""
    matmul_panels(dG2, pack_panels(W_ihT.T), dX2, False)


@njit(**JIT_OPTIONS)
def input_grad_blas(dG2, W_ihT, dX2):
    """By BLAS."""
    np.dot(dG2, W_ihT.T, dX2)


# the kernel of each T * B-row product for each products_plan
PROJECT_KERNELS = {PRODUCTS_TILED: project_tiled, PRODUCTS_NARROW: project_narrow,
            PRODUCTS_BLAS: project_blas}  # fmt: skip
WEIGHT_GRAD_KERNELS = {PRODUCTS_TILED: weight_grads_tiled, PRODUCTS_NARROW: weight_grads_narrow,
                 PRODUCTS_BLAS: weight_grads_blas}  # fmt: skip
# Gate-major weight gradients (same bits) where dG2 takes at most this many bytes: it is
# read once per panel of the packed operand, which is fast while it stays in the L2
# cache, and measured slower for larger dG2 with two chunks running at once (the
# README's "Measurements behind the design").
GATE_MAJOR_MAX_BYTES = 512 * 1024
GATE_MAJOR_KERNELS = {PRODUCTS_TILED: weight_grads_gate_major,
                      PRODUCTS_NARROW: weight_grads_narrow_gate_major}  # fmt: skip


def weight_grads_kernel(plan, dG_bytes):
    """The weight-gradient kernel for a ``products_plan`` and a ``dG2`` of this size."""
    if plan != PRODUCTS_BLAS and dG_bytes <= GATE_MAJOR_MAX_BYTES:
        return GATE_MAJOR_KERNELS[plan]
    return WEIGHT_GRAD_KERNELS[plan]


INPUT_GRAD_KERNELS = {PRODUCTS_TILED: input_grad_tiled, PRODUCTS_NARROW: input_grad_tiled,
               PRODUCTS_BLAS: input_grad_blas}  # fmt: skip


# -- the time loops ----------------------------------------------------------------------


@njit(**JIT_OPTIONS)
def lstm_recurrence(W_hhT, h0, c0, reverse, lengths, Hs, Cs, G):
    """The forward time loop: ``G`` holds ``x_t @ W_ihT + b_ih + b_hh`` on entry and the
    activations ``i, f, g, o`` on exit (at padded steps of a row, unspecified)."""
    T = G.shape[0]
    nh = W_hhT.shape[0]
    if nh % panel_width(G):  # the cell's vectors cover whole panels only
        raise ValueError("lstm_recurrence: the hidden size is not a whole number of panels")
    P_hh = pack_panels(W_hhT)
    scale, shift = gate_coefficients(nh, G)
    init, out_start, prev_start = state_slots(T, reverse)
    copy_rows(Hs[init], h0)
    copy_rows(Cs[init], c0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        prev = prev_start + t
        cur = out_start + t
        matmul_whole_panels(Hs[prev], P_hh, G[t], True)
        lstm_step_whole_vectors(
            G[t], scale, shift, Cs[prev], Cs[cur], Hs[cur], Hs[prev], t, lengths, False
        )


@njit(**JIT_OPTIONS)
def lstm_recurrence_backward(W_hh, Cs, G, dH, dh_n, dc_n, reverse, lengths, dG):
    """The backward time loop: fills ``dG`` and returns ``dh0, dc0`` (see
    :func:`~tsLSTM.kernels.lstm.lstm_backward`)."""
    T = G.shape[0]
    nh = W_hh.shape[1]
    P_w = pack_panels(W_hh)
    dh_rec = dh_n.copy()  # dL/dh flowing back from the step processed after this one
    dc = dc_n.copy()
    carry = np.zeros_like(dh_rec)  # dL/dh passed through padded steps unchanged
    padded = np.any(lengths < T)
    no_dH = np.zeros(nh, dtype=G.dtype)
    _, out_start, prev_start = state_slots(T, reverse)
    for step in range(T):
        t = step if reverse else T - 1 - step
        prev = prev_start + t
        cur = out_start + t
        lstm_step_backward(G, Cs, dH, no_dH, t, prev, cur, lengths, padded, dh_rec, dc, carry, dG)
        matmul_whole_panels(dG[t], P_w, dh_rec, False)
        if padded:
            dh_rec += carry
    return dh_rec, dc


# -- what the layer calls: the arguments of kernels.lstm's forward and backward ----------


def lstm_forward_tiled(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, lengths, Hs, Cs, G):
    """:func:`~tsLSTM.kernels.lstm.lstm_forward` with tsLSTM's own products.

    Same arguments and outputs (``G``: the activations ``i, f, g, o``; at padded
    steps of a row, unspecified); ``H`` must satisfy :func:`tiles_apply`. Two
    kernels: the input projection for these sizes, then :func:`lstm_recurrence`.
    """
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    project = PROJECT_KERNELS[products_plan(nh, I)]
    project(X.reshape(T * B, I), W_ihT, b_ih, b_hh, G.reshape(T * B, 4 * nh))
    lstm_recurrence(W_hhT, h0, c0, reverse, lengths, Hs, Cs, G)


def lstm_backward_tiled(
    X, W_ihT, W_hh, Hs, Cs, G, dH, dh_n, dc_n, reverse, lengths, dG, dW_ihT, dW_hhT, db_ih,
    db_hh, dX,
):  # fmt: skip
    """:func:`~tsLSTM.kernels.lstm.lstm_backward` with tsLSTM's own products.

    Same arguments, outputs and return value; ``H`` must satisfy :func:`tiles_apply`.
    Up to three kernels: :func:`lstm_recurrence_backward`, the weight gradients and,
    when ``dX`` has ``T`` steps, the input gradient, each for these sizes.
    """
    T, B, I = X.shape
    nh = W_hh.shape[1]
    dh0, dc0 = lstm_recurrence_backward(W_hh, Cs, G, dH, dh_n, dc_n, reverse, lengths, dG)
    plan = products_plan(nh, I)
    prev_start = 1 if reverse else 0  # state_slots: the states each step starts from
    H_prev = Hs[prev_start : prev_start + T].reshape(T * B, nh)
    dG2 = dG.reshape(T * B, 4 * nh)
    weight_grads = weight_grads_kernel(plan, dG2.nbytes)
    weight_grads(X.reshape(T * B, I), H_prev, dG2, dW_ihT, dW_hhT, db_ih, db_hh)
    if dX.shape[0] == T:
        INPUT_GRAD_KERNELS[plan](dG2, W_ihT, dX.reshape(T * B, I))
    return dh0, dc0
