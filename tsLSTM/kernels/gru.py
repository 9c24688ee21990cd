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

from ._common import add_column_sums, state_slots
from ._jit import JIT_OPTIONS
from .activations import sigmoid, tanh


@njit(**JIT_OPTIONS)
def gru_forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, reverse, Hs, G, HN):
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
    one = G.dtype.type(1.0)
    init, out_start, prev_start = state_slots(T, reverse)
    Hs[init] = h0
    for step in range(T):
        t = T - 1 - step if reverse else step
        prev = prev_start + t
        cur = out_start + t
        np.dot(Hs[prev], W_hhT, gh)
        for b in range(B):
            for j in range(nh):
                r = sigmoid(G[t, b, j] + b_ih[j] + gh[b, j] + b_hh[j])
                z = sigmoid(G[t, b, nh + j] + b_ih[nh + j] + gh[b, nh + j] + b_hh[nh + j])
                hn = gh[b, 2 * nh + j] + b_hh[2 * nh + j]
                n = tanh(G[t, b, 2 * nh + j] + b_ih[2 * nh + j] + r * hn)
                Hs[cur, b, j] = (one - z) * n + z * Hs[prev, b, j]
                G[t, b, j] = r
                G[t, b, nh + j] = z
                G[t, b, 2 * nh + j] = n
                HN[t, b, j] = hn


@njit(**JIT_OPTIONS)
def gru_backward(
    X, W_ihT, W_hh, Hs, G, HN, dH, dh_n, reverse, dW_ihT, dW_hhT, db_ih, db_hh, dX
):
    """Backpropagate through one GRU direction.

    Parameters
    ----------
    X, Hs, G, HN : ndarray
        The input and what :func:`gru_forward` saved.
    W_ihT : ndarray, shape (I, 3H)
        Input weights, transposed.
    W_hh : ndarray, shape (3H, H)
        Recurrent weights in PyTorch's layout, C-contiguous.
    dH : ndarray, shape (T, B, H)
        Gradient of the loss w.r.t. the direction's output at every step.
    dh_n : ndarray, shape (B, H)
        Gradient w.r.t. the final hidden state.
    reverse : bool
        Direction of the forward pass.
    dW_ihT, dW_hhT, db_ih, db_hh : ndarray
        Parameter gradients, accumulated into (``+=``).
    dX : ndarray, shape (T, B, I)
        Output: gradient w.r.t. the input (overwritten).

    Returns
    -------
    dh0 : ndarray, shape (B, H)
        Gradient w.r.t. the initial hidden state.
    """
    T, B, I = X.shape
    nh = W_hh.shape[1]
    one = G.dtype.type(1.0)
    # Pre-activation gradients on the input side (dGx) and the recurrent side (dGh);
    # they differ only in the candidate block, where the recurrent side carries r.
    dGx = np.empty((T, B, 3 * nh), dtype=G.dtype)
    dGh = np.empty((T, B, 3 * nh), dtype=G.dtype)
    dh_rec = dh_n.copy()
    dh_direct = np.empty_like(dh_rec)  # dL/dh_{t-1} through h_t = ... + z_t h_{t-1}
    _, out_start, prev_start = state_slots(T, reverse)
    for step in range(T):
        t = step if reverse else T - 1 - step
        prev = prev_start + t
        for b in range(B):
            for j in range(nh):
                r = G[t, b, j]
                z = G[t, b, nh + j]
                n = G[t, b, 2 * nh + j]
                dh = dH[t, b, j] + dh_rec[b, j]
                dn = dh * (one - z) * (one - n * n)
                dr = dn * HN[t, b, j] * r * (one - r)
                dz = dh * (Hs[prev, b, j] - n) * z * (one - z)
                dGx[t, b, j] = dr
                dGx[t, b, nh + j] = dz
                dGx[t, b, 2 * nh + j] = dn
                dGh[t, b, j] = dr
                dGh[t, b, nh + j] = dz
                dGh[t, b, 2 * nh + j] = dn * r
                dh_direct[b, j] = dh * z
        np.dot(dGh[t], W_hh, dh_rec)
        for b in range(B):
            for j in range(nh):
                dh_rec[b, j] += dh_direct[b, j]
    dGx2 = dGx.reshape(T * B, 3 * nh)
    dGh2 = dGh.reshape(T * B, 3 * nh)
    dW_ihT += np.dot(X.reshape(T * B, I).T, dGx2)
    H_prev = Hs[prev_start : prev_start + T]
    dW_hhT += np.dot(H_prev.reshape(T * B, nh).T, dGh2)
    add_column_sums(dGx2, db_ih)
    add_column_sums(dGh2, db_hh)
    np.dot(dGx2, W_ihT.T, dX.reshape(T * B, I))
    return dh_rec
