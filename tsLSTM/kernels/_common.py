"""Small kernels shared by the LSTM and GRU kernels."""

import numpy as np
from numba import njit

from ._jit import JIT_OPTIONS


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


@njit(**JIT_OPTIONS)
def add_column_sums(dG, db):
    """``db += dG.sum(axis=0)`` for ``dG`` of shape (N, K), summed in float64."""
    N, K = dG.shape
    acc = np.zeros(K, dtype=np.float64)
    for r in range(N):
        for k in range(K):
            acc[k] += dG[r, k]
    for k in range(K):
        db[k] += acc[k]
