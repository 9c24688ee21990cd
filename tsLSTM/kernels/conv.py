"""1-D convolution (as im2col + a matrix product) and max pooling, forward and backward.

Arrays are batch-first and channels-last, ``(B, L, C)``, the layout the recurrent
layers take. Weights follow ``torch.nn.Conv1d``: ``(C_out, C_in, K)``, used here
reshaped to ``(C_out, C_in * K)`` with column ``c * K + k``.
"""

import numpy as np
from numba import njit

from ._jit import JIT_OPTIONS
from .gemm import matmul_panels, pack_panels


@njit(**JIT_OPTIONS)
def im2col(Xp, K, stride, L_out, cols):
    """Rows of ``cols`` (B * L_out, C * K) are the receptive fields of ``Xp`` (B, Lp, C)."""
    B, _, C = Xp.shape
    for b in range(B):
        for o in range(L_out):
            row = b * L_out + o
            start = o * stride
            for c in range(C):
                for k in range(K):
                    cols[row, c * K + k] = Xp[b, start + k, c]


@njit(**JIT_OPTIONS)
def col2im(dcols, K, stride, L_out, dXp):
    """Scatter-add ``dcols`` (B * L_out, C * K) back onto ``dXp`` (B, Lp, C) (zeroed)."""
    B, _, C = dXp.shape
    for b in range(B):
        for o in range(L_out):
            row = b * L_out + o
            start = o * stride
            for c in range(C):
                for k in range(K):
                    dXp[b, start + k, c] += dcols[row, c * K + k]


@njit(**JIT_OPTIONS)
def conv1d_relu_forward(Xp, W2, bias, K, stride, cols, Y):
    """``Y = relu(conv1d(Xp))``; ``Xp`` (B, Lp, C_in) already padded.

    Parameters
    ----------
    Xp : ndarray, shape (B, Lp, C_in)
    W2 : ndarray, shape (C_out, C_in * K)
    bias : ndarray, shape (C_out,)
    K, stride : int
    cols : ndarray, shape (B * L_out, C_in * K)
        Output: the receptive fields (saved for the backward pass).
    Y : ndarray, shape (B, L_out, C_out)
        Output: the rectified convolution. Its product is
        :func:`~tsLSTM.kernels.gemm.matmul_panels`, so each sequence's output depends
        on that sequence only, whatever the batch.
    """
    B, L_out, C_out = Y.shape
    im2col(Xp, K, stride, L_out, cols)
    Y2 = Y.reshape(B * L_out, C_out)
    matmul_panels(cols, pack_panels(W2.T), Y2, False)
    zero = Y.dtype.type(0.0)
    for r in range(B * L_out):
        for j in range(C_out):
            v = Y2[r, j] + bias[j]
            Y2[r, j] = v if v > zero else zero


@njit(**JIT_OPTIONS)
def conv1d_relu_backward(dY, Y, cols, W2, K, stride, dW2, dbias, dXp):
    """Gradients of :func:`conv1d_relu_forward`: accumulates ``dW2``, ``dbias``; fills ``dXp``.

    ``dY`` is overwritten with the gradient before the ReLU.
    """
    B, L_out, C_out = Y.shape
    dY2 = dY.reshape(B * L_out, C_out)
    Y2 = Y.reshape(B * L_out, C_out)
    acc = np.zeros(C_out, dtype=np.float64)
    for r in range(B * L_out):
        for j in range(C_out):
            if Y2[r, j] <= 0:
                dY2[r, j] = 0
            acc[j] += dY2[r, j]
    for j in range(C_out):
        dbias[j] += acc[j]
    dW2 += np.dot(dY2.T, cols)
    dcols = np.dot(dY2, W2)
    dXp[...] = 0
    col2im(dcols, K, stride, L_out, dXp)


@njit(**JIT_OPTIONS)
def maxpool_forward(Y, pool, P, argmax):
    """``P[b, o, c] = max(Y[b, o*pool : (o+1)*pool, c])``; ``argmax`` keeps the index."""
    B, L_pool, C = P.shape
    for b in range(B):
        for o in range(L_pool):
            for c in range(C):
                best = o * pool
                for i in range(o * pool + 1, (o + 1) * pool):
                    if Y[b, i, c] > Y[b, best, c]:
                        best = i
                P[b, o, c] = Y[b, best, c]
                argmax[b, o, c] = best


@njit(**JIT_OPTIONS)
def maxpool_backward(dP, argmax, dY):
    """Route ``dP`` to the maxima: ``dY`` (zeroed here) gets ``dP`` at ``argmax``."""
    dY[...] = 0
    B, L_pool, C = dP.shape
    for b in range(B):
        for o in range(L_pool):
            for c in range(C):
                dY[b, argmax[b, o, c], c] += dP[b, o, c]
