"""GRU forward pass and backpropagation through time, one direction of one layer.

Notation follows ``torch.nn.GRU`` (gate blocks in the order r, z, n)::

    r_t = sigmoid(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
    z_t = sigmoid(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
    n_t = tanh(x_t W_in^T + b_in + r_t * (h_{t-1} W_hn^T + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Because ``b_hn`` sits inside the reset gate's product the two biases cannot be
summed, and the recurrent part of the candidate, ``hn_t = h_{t-1} W_hn^T + b_hn``,
is saved for the backward pass. Layout conventions (time-major arrays, transposed
weights, the ``(T + 1, B, H)`` state buffer) are those of :mod:`tsLSTM.kernels.lstm`.
"""

import numpy as np
from numba import njit

from ._common import (
    add_column_sums,
    copy_row,
    copy_rows,
    project_block,
    projection_steps,
    state_slots,
)
from ._jit import JIT_OPTIONS
from .activations import sigmoid, tanh
from .gemm import matmul_panels, pack_panels


@njit(**JIT_OPTIONS)
def gru_cell_forward(a, gates, b_ih, b_hh, h_prev, h, hn):
    """One GRU step for one sample (1-D rows, see :mod:`tsLSTM.kernels.lstm`).

    Parameters
    ----------
    a : ndarray, shape (3H,)
        ``h_{t-1} @ W_hhT``; used as scratch (overwritten).
    gates : ndarray, shape (3H,)
        In: the input projection ``x_t @ W_ihT``. Out: activations ``r, z, n``.
    b_ih, b_hh : ndarray, shape (3H,)
        Input and recurrent biases.
    h_prev : ndarray, shape (H,)
        Previous hidden state.
    h, hn : ndarray, shape (H,)
        Output: new hidden state and ``h_{t-1} W_hn^T + b_hn``.
    """
    nh = h.shape[0]
    one = h.dtype.type(1.0)
    for k in range(3 * nh):
        a[k] += b_hh[k]
    for k in range(2 * nh):
        a[k] += gates[k] + b_ih[k]
    for j in range(nh):
        r = sigmoid(a[j])
        z = sigmoid(a[nh + j])
        n = tanh(gates[2 * nh + j] + b_ih[2 * nh + j] + r * a[2 * nh + j])
        h[j] = (one - z) * n + z * h_prev[j]
        hn[j] = a[2 * nh + j]
        gates[j] = r
        gates[nh + j] = z
        gates[2 * nh + j] = n


@njit(**JIT_OPTIONS)
def gru_cell_backward(gates, hn, h_prev, dh_out, dh_rec, dgx, dgh, dh_direct):
    """Backward through one GRU step for one sample.

    Parameters
    ----------
    gates : ndarray, shape (3H,)
        Saved activations ``r, z, n``.
    hn : ndarray, shape (H,)
        Saved ``h_{t-1} W_hn^T + b_hn``.
    h_prev : ndarray, shape (H,)
        Hidden state before the step.
    dh_out, dh_rec : ndarray, shape (H,)
        Gradient w.r.t. ``h_t`` from the layer above and from the following step.
    dgx, dgh : ndarray, shape (3H,)
        Output: gradient w.r.t. the input-side and recurrent-side pre-activations.
    dh_direct : ndarray, shape (H,)
        Output: the part of dL/dh_{t-1} that flows through ``z_t * h_{t-1}``.
    """
    nh = h_prev.shape[0]
    one = h_prev.dtype.type(1.0)
    for j in range(nh):
        r = gates[j]
        z = gates[nh + j]
        n = gates[2 * nh + j]
        dh = dh_out[j] + dh_rec[j]
        dn = dh * (one - z) * (one - n * n)
        dr = dn * hn[j] * r * (one - r)
        dz = dh * (h_prev[j] - n) * z * (one - z)
        dgx[j] = dr
        dgx[nh + j] = dz
        dgx[2 * nh + j] = dn
        dgh[j] = dr
        dgh[nh + j] = dz
        dgh[2 * nh + j] = dn * r
        dh_direct[j] = dh * z


@njit(**JIT_OPTIONS)
def gru_step_cells(gh, G, b_ih, b_hh, Hs, HN, t, prev, cur, lengths):
    """The cells of step ``t`` for every row, ``gh`` (B, 3H) holding ``h_{t-1} @ W_hhT``
    (overwritten): rows with ``t >= lengths[b]`` carry their state."""
    for b in range(gh.shape[0]):
        if t < lengths[b]:
            gru_cell_forward(gh[b], G[t, b], b_ih, b_hh, Hs[prev, b], Hs[cur, b], HN[t, b])
        else:
            copy_row(Hs[cur, b], Hs[prev, b])


@njit(**JIT_OPTIONS)
def gru_step_cells_backward(G, HN, Hs, dH, no_dH, dh_rec, dGx, dGh, dh_direct, t, prev,
                            lengths):  # fmt: skip
    """The cell backward of step ``t`` for every row (``dH`` of zero length: the zeros
    ``no_dH`` (H,) instead); padded rows pass ``dh_rec`` through ``dh_direct``."""
    has_dH = dH.shape[0] > 0
    for b in range(dh_rec.shape[0]):
        if t < lengths[b]:
            gru_cell_backward(
                G[t, b], HN[t, b], Hs[prev, b], dH[t, b] if has_dH else no_dH, dh_rec[b],
                dGx[t, b], dGh[t, b], dh_direct[b],
            )  # fmt: skip
        else:
            dGx[t, b] = 0
            dGh[t, b] = 0
            copy_row(dh_direct[b], dh_rec[b])


@njit(**JIT_OPTIONS)
def gru_weight_grads(X2, H_prev, dGx2, dGh2, W_ihT, dW_ihT, dW_hhT, db_ih, db_hh, dX2):
    """The products over all ``T * B`` rows, by BLAS: the weight and bias gradients,
    and ``dX2 = dGx2 @ W_ihT.T`` unless ``dX2`` has no rows."""
    dW_ihT += np.dot(X2.T, dGx2)
    dW_hhT += np.dot(H_prev.T, dGh2)
    add_column_sums(dGx2, db_ih)
    add_column_sums(dGh2, db_hh)
    if dX2.shape[0] == X2.shape[0]:
        np.dot(dGx2, W_ihT.T, dX2)


@njit(**JIT_OPTIONS)
def gru_forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, reverse, lengths, Hs, G, HN):
    """Run one GRU direction over a sequence, saving what BPTT needs.

    Parameters
    ----------
    X : ndarray, shape (T, B, I)
        Input sequence, time-major, C-contiguous.
    W_ihT : ndarray, shape (I, 3H)
        Input weights, transposed.
    W_hhT : ndarray, shape (H, 3H)
        Recurrent weights, transposed.
    b_ih, b_hh : ndarray, shape (3H,)
        Input and recurrent biases.
    h0 : ndarray, shape (B, H)
        Initial hidden state.
    reverse : bool
        Process the sequence from ``t = T - 1`` down to 0.
    lengths : ndarray of int64, shape (B,)
        Valid steps of each sequence (see :func:`~tsLSTM.kernels.lstm.lstm_forward`).
    Hs : ndarray, shape (T + 1, B, H)
        Output: hidden states, slot layout of :func:`~tsLSTM.kernels._common.state_slots`.
    G : ndarray, shape (T, B, 3H)
        Output: gate activations ``r, z, n`` of every step.
    HN : ndarray, shape (T, B, H)
        Output: ``h_{t-1} W_hn^T + b_hn`` of every step.
    """
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    np.dot(X.reshape(T * B, I), W_ihT, G.reshape(T * B, 3 * nh))
    gh = np.empty((B, 3 * nh), dtype=G.dtype)
    init, out_start, prev_start = state_slots(T, reverse)
    copy_rows(Hs[init], h0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        prev = prev_start + t
        cur = out_start + t
        np.dot(Hs[prev], W_hhT, gh)
        gru_step_cells(gh, G, b_ih, b_hh, Hs, HN, t, prev, cur, lengths)


@njit(**JIT_OPTIONS)
def gru_backward(
    X, W_ihT, W_hh, Hs, G, HN, dH, dh_n, reverse, lengths, dGx, dGh, dW_ihT, dW_hhT, db_ih,
    db_hh, dX,
):  # fmt: skip
    """Backpropagate through one GRU direction.

    Parameters
    ----------
    X, Hs, G, HN : ndarray
        The input and what :func:`gru_forward` saved.
    W_ihT : ndarray, shape (I, 3H)
        Input weights, transposed.
    W_hh : ndarray, shape (3H, H)
        Recurrent weights in PyTorch's layout, C-contiguous.
    dH : ndarray, shape (T, B, H) or (0, B, H)
        Gradient of the loss w.r.t. the direction's output at every step; zero
        length means zeros.
    dh_n : ndarray, shape (B, H)
        Gradient w.r.t. the final hidden state.
    reverse : bool
        Direction of the forward pass.
    lengths : ndarray of int64, shape (B,)
        As in :func:`gru_forward`; padded steps pass the state gradient through.
    dGx, dGh : ndarray, shape (T, B, 3H)
        Scratch: gradients w.r.t. the input-side and recurrent-side pre-activations
        (overwritten); they differ only in the candidate block, where the recurrent
        side carries ``r``.
    dW_ihT, dW_hhT, db_ih, db_hh : ndarray
        Parameter gradients, accumulated into (``+=``).
    dX : ndarray, shape (T, B, I) or (0, B, I)
        Output: gradient w.r.t. the input (overwritten); not computed when it has
        zero length.

    Returns
    -------
    dh0 : ndarray, shape (B, H)
        Gradient w.r.t. the initial hidden state.
    """
    T, B, I = X.shape
    nh = W_hh.shape[1]
    dh_rec = dh_n.copy()
    dh_direct = np.empty_like(dh_rec)  # dL/dh_{t-1} through h_t = ... + z_t h_{t-1}
    no_dH = np.zeros(nh, dtype=G.dtype)
    prev_start = state_slots(T, reverse)[2]
    for step in range(T):
        t = step if reverse else T - 1 - step
        prev = prev_start + t
        gru_step_cells_backward(G, HN, Hs, dH, no_dH, dh_rec, dGx, dGh, dh_direct, t, prev,
                                lengths)  # fmt: skip
        np.dot(dGh[t], W_hh, dh_rec)
        dh_rec += dh_direct
    H_prev = Hs[prev_start : prev_start + T].reshape(T * B, nh)
    gru_weight_grads(
        X.reshape(T * B, I), H_prev, dGx.reshape(T * B, 3 * nh), dGh.reshape(T * B, 3 * nh),
        W_ihT, dW_ihT, dW_hhT, db_ih, db_hh, dX.reshape(dX.shape[0] * B, I),
    )  # fmt: skip
    return dh_rec


@njit(**JIT_OPTIONS)
def gru_infer(X, W_ihT, W_hhT, b_ih, b_hh, h0, reverse, lengths, H_out):
    """Inference-only GRU direction (see :func:`~tsLSTM.kernels.lstm.lstm_infer`).

    Returns the final hidden state (B, H); fills ``H_out`` (T, B, H) unless it has
    zero length.
    """
    T = X.shape[0]
    B = X.shape[1]
    nh = W_hhT.shape[0]
    hs = np.empty((2, B, nh), dtype=h0.dtype)  # used in turn (see lstm_infer)
    copy_rows(hs[0], h0)
    GX = np.empty((projection_steps(T, B, 3 * nh), B, 3 * nh), dtype=h0.dtype)
    gh = np.empty((B, 3 * nh), dtype=h0.dtype)
    hn = np.empty((B, nh), dtype=h0.dtype)
    P_ih, P_hh = pack_panels(W_ihT), pack_panels(W_hhT)
    no_bias = b_ih[:0]  # the cell adds both biases
    store = H_out.shape[0] == T
    t0 = 0
    for step in range(T):
        t = T - 1 - step if reverse else step
        if step % GX.shape[0] == 0:
            t0 = project_block(X, P_ih, no_bias, GX, step, reverse)
        h_prev, h = hs[step % 2], hs[(step + 1) % 2]
        matmul_panels(h_prev, P_hh, gh, False)
        gx = GX[t - t0]
        for b in range(B):
            if t < lengths[b]:
                gru_cell_forward(gh[b], gx[b], b_ih, b_hh, h_prev[b], h[b], hn[b])
            else:
                copy_row(h[b], h_prev[b])
        if store:
            copy_rows(H_out[t], h)
    return hs[T % 2].copy()
