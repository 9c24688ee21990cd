"""LSTM forward pass and backpropagation through time, one direction of one layer.

Notation follows ``torch.nn.LSTM`` (gate blocks in the order i, f, g, o)::

    i_t = sigmoid(x_t W_ii^T + b_ii + h_{t-1} W_hi^T + b_hi)
    f_t = sigmoid(x_t W_if^T + b_if + h_{t-1} W_hf^T + b_hf)
    g_t = tanh(x_t W_ig^T + b_ig + h_{t-1} W_hg^T + b_hg)
    o_t = sigmoid(x_t W_io^T + b_io + h_{t-1} W_ho^T + b_ho)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

Arrays are time-major: ``X`` is ``(T, B, I)``. Weights arrive transposed,
``W_ihT`` ``(I, 4H)`` and ``W_hhT`` ``(H, 4H)``, so that both projections are
row-major GEMMs. The input projection of all ``T * B`` rows is one GEMM before the
time loop; inside the loop only ``h_{t-1} @ W_hhT`` remains; the weight gradients are
one GEMM each after the backward loop. Nothing is allocated inside the time loops.

States live in ``(T + 1, B, H)`` buffers holding the initial state and the ``T``
states the direction produces. For the forward direction slot 0 is the initial state
and slot ``t + 1`` the state after step ``t``; for the reverse direction (which runs
``t = T - 1 .. 0``) slot ``T`` is the initial state and slot ``t`` the state after
step ``t``. Either way the outputs and the "previous state" of every step are
contiguous slices of one buffer (see :func:`~tsLSTM.kernels._common.state_slots`).
"""

import numpy as np
from numba import njit

from ._common import add_column_sums, state_slots
from ._jit import JIT_OPTIONS
from .activations import sigmoid, tanh


@njit(**JIT_OPTIONS)
def lstm_forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, Hs, Cs, G):
    """Run one LSTM direction over a sequence, saving what BPTT needs.

    Parameters
    ----------
    X : ndarray, shape (T, B, I)
        Input sequence, time-major, C-contiguous.
    W_ihT : ndarray, shape (I, 4H)
        Input weights, transposed.
    W_hhT : ndarray, shape (H, 4H)
        Recurrent weights, transposed.
    b_ih, b_hh : ndarray, shape (4H,)
        Input and recurrent biases.
    h0, c0 : ndarray, shape (B, H)
        Initial hidden and cell state.
    reverse : bool
        Process the sequence from ``t = T - 1`` down to 0.
    Hs, Cs : ndarray, shape (T + 1, B, H)
        Output: hidden and cell states, slot layout of :func:`~tsLSTM.kernels._common.state_slots`.
    G : ndarray, shape (T, B, 4H)
        Output: gate activations ``i, f, g, o`` of every step.
    """
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    np.dot(X.reshape(T * B, I), W_ihT, G.reshape(T * B, 4 * nh))
    bias = b_ih + b_hh
    gh = np.empty((B, 4 * nh), dtype=G.dtype)
    init, out_start, prev_start = state_slots(T, reverse)
    Hs[init] = h0
    Cs[init] = c0
    for step in range(T):
        t = T - 1 - step if reverse else step
        prev = prev_start + t
        cur = out_start + t
        np.dot(Hs[prev], W_hhT, gh)
        for b in range(B):
            for j in range(nh):
                i = sigmoid(G[t, b, j] + gh[b, j] + bias[j])
                f = sigmoid(G[t, b, nh + j] + gh[b, nh + j] + bias[nh + j])
                g = tanh(G[t, b, 2 * nh + j] + gh[b, 2 * nh + j] + bias[2 * nh + j])
                o = sigmoid(G[t, b, 3 * nh + j] + gh[b, 3 * nh + j] + bias[3 * nh + j])
                c = f * Cs[prev, b, j] + i * g
                Cs[cur, b, j] = c
                Hs[cur, b, j] = o * tanh(c)
                G[t, b, j] = i
                G[t, b, nh + j] = f
                G[t, b, 2 * nh + j] = g
                G[t, b, 3 * nh + j] = o


@njit(**JIT_OPTIONS)
def lstm_backward(
    X, W_ihT, W_hh, Hs, Cs, G, dH, dh_n, dc_n, reverse, dW_ihT, dW_hhT, db_ih, db_hh, dX
):
    """Backpropagate through one LSTM direction.

    Parameters
    ----------
    X, Hs, Cs, G : ndarray
        The input and what :func:`lstm_forward` saved.
    W_ihT : ndarray, shape (I, 4H)
        Input weights, transposed (as in the forward pass).
    W_hh : ndarray, shape (4H, H)
        Recurrent weights in PyTorch's layout, C-contiguous: ``dgates @ W_hh`` is the
        gradient flowing to the previous hidden state.
    dH : ndarray, shape (T, B, H)
        Gradient of the loss w.r.t. the direction's output at every step.
    dh_n, dc_n : ndarray, shape (B, H)
        Gradient w.r.t. the final hidden and cell state.
    reverse : bool
        Direction of the forward pass.
    dW_ihT, dW_hhT, db_ih, db_hh : ndarray
        Parameter gradients, accumulated into (``+=``).
    dX : ndarray, shape (T, B, I)
        Output: gradient w.r.t. the input (overwritten).

    Returns
    -------
    dh0, dc0 : ndarray, shape (B, H)
        Gradients w.r.t. the initial states.
    """
    T, B, I = X.shape
    nh = W_hh.shape[1]
    one = G.dtype.type(1.0)
    dG = np.empty((T, B, 4 * nh), dtype=G.dtype)
    dh_rec = dh_n.copy()  # dL/dh flowing back from the step processed after this one
    dc = dc_n.copy()
    _, out_start, prev_start = state_slots(T, reverse)
    for step in range(T):
        t = step if reverse else T - 1 - step
        prev = prev_start + t
        cur = out_start + t
        for b in range(B):
            for j in range(nh):
                i = G[t, b, j]
                f = G[t, b, nh + j]
                g = G[t, b, 2 * nh + j]
                o = G[t, b, 3 * nh + j]
                tc = tanh(Cs[cur, b, j])
                dh = dH[t, b, j] + dh_rec[b, j]
                do = dh * tc
                dct = dc[b, j] + dh * o * (one - tc * tc)
                dc[b, j] = dct * f
                dG[t, b, j] = dct * g * i * (one - i)
                dG[t, b, nh + j] = dct * Cs[prev, b, j] * f * (one - f)
                dG[t, b, 2 * nh + j] = dct * i * (one - g * g)
                dG[t, b, 3 * nh + j] = do * o * (one - o)
        np.dot(dG[t], W_hh, dh_rec)
    dG2 = dG.reshape(T * B, 4 * nh)
    dW_ihT += np.dot(X.reshape(T * B, I).T, dG2)
    H_prev = Hs[prev_start : prev_start + T]
    dW_hhT += np.dot(H_prev.reshape(T * B, nh).T, dG2)
    add_column_sums(dG2, db_ih)  # both biases receive the same gradient
    add_column_sums(dG2, db_hh)
    np.dot(dG2, W_ihT.T, dX.reshape(T * B, I))
    return dh_rec, dc
