"""GRU forward pass and BPTT with tsLSTM's own register tiles for the per-step products.

:mod:`tsLSTM.kernels.gru` calls BLAS once per step for ``h_{t-1} @ W_hhT`` (and
``dgates_h @ W_hh`` backward), small products for which OpenBLAS's dispatch and
packing of ``W_hh`` take much of the time, under its Haswell kernels (AVX2 processors)
most of all. Here, as in :mod:`tsLSTM.kernels.lstm_tiled`, the recurrent weights are
packed once per call and every step runs the register tiles of
:func:`~tsLSTM.kernels.gemm.matmul_whole_panels`; the cells are those of
:mod:`tsLSTM.kernels.gru`. The GRU keeps the recurrent product apart from the input
projection (the reset gate multiplies only its candidate block), so the product goes
to its own ``(B, 3H)`` buffer. The products over all ``T * B`` rows stay with BLAS
(:func:`~tsLSTM.kernels.gru.gru_weight_grads`).

These kernels apply when ``H`` is a whole number of panels
(:func:`~tsLSTM.kernels.lstm_tiled.tiles_apply`); otherwise :mod:`tsLSTM.kernels.gru`
runs. Each element of a tile product is accumulated in one fixed order of fused
multiply-adds (see :mod:`tsLSTM.kernels.gemm`).
"""

import numpy as np
from numba import njit

from ._common import copy_rows, state_slots
from ._jit import JIT_OPTIONS
from .gemm import matmul_whole_panels, pack_panels
from .gru import gru_step_cells, gru_step_cells_backward, gru_weight_grads


@njit(**JIT_OPTIONS)
def gru_forward_tiled(X, W_ihT, W_hhT, b_ih, b_hh, h0, reverse, lengths, Hs, G, HN):
    """:func:`~tsLSTM.kernels.gru.gru_forward` with the per-step product in the tiles.

    Same arguments and outputs; ``H`` must satisfy
    :func:`~tsLSTM.kernels.lstm_tiled.tiles_apply`.
    """
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    np.dot(X.reshape(T * B, I), W_ihT, G.reshape(T * B, 3 * nh))
    P_hh = pack_panels(W_hhT)
    gh = np.empty((B, 3 * nh), dtype=G.dtype)
    init, out_start, prev_start = state_slots(T, reverse)
    copy_rows(Hs[init], h0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        prev = prev_start + t
        matmul_whole_panels(Hs[prev], P_hh, gh, False)
        gru_step_cells(gh, G, b_ih, b_hh, Hs, HN, t, prev, out_start + t, lengths)


@njit(**JIT_OPTIONS)
def gru_backward_tiled(
    X, W_ihT, W_hh, Hs, G, HN, dH, dh_n, reverse, lengths, dGx, dGh, dW_ihT, dW_hhT, db_ih,
    db_hh, dX,
):  # fmt: skip
    """:func:`~tsLSTM.kernels.gru.gru_backward` with the per-step product in the tiles.

    Same arguments, outputs and return value (``dh0``); ``H`` must satisfy
    :func:`~tsLSTM.kernels.lstm_tiled.tiles_apply`.
    """
    T, B, I = X.shape
    nh = W_hh.shape[1]
    P_w = pack_panels(W_hh)
    dh_rec = dh_n.copy()
    dh_direct = np.empty_like(dh_rec)  # dL/dh_{t-1} through h_t = ... + z_t h_{t-1}
    no_dH = np.zeros(nh, dtype=G.dtype)
    prev_start = state_slots(T, reverse)[2]
    for step in range(T):
        t = step if reverse else T - 1 - step
        prev = prev_start + t
        gru_step_cells_backward(G, HN, Hs, dH, no_dH, dh_rec, dGx, dGh, dh_direct, t, prev,
                                lengths)  # fmt: skip
        matmul_whole_panels(dGh[t], P_w, dh_rec, False)
        dh_rec += dh_direct
    H_prev = Hs[prev_start : prev_start + T].reshape(T * B, nh)
    gru_weight_grads(
        X.reshape(T * B, I), H_prev, dGx.reshape(T * B, 3 * nh), dGh.reshape(T * B, 3 * nh),
        W_ihT, dW_ihT, dW_hhT, db_ih, db_hh, dX.reshape(dX.shape[0] * B, I),
    )  # fmt: skip
    return dh_rec
