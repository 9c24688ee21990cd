"""Fused per-timestep LSTM and GRU kernels: one launch per step and direction.

Each thread owns one hidden unit ``j`` of one sample ``b``. In the forward step it
computes the unit's gate pre-activations, ``h_{t-1} @ W_hhT`` for its columns plus
the input projection and biases, and applies the cell update, so the recurrent
product and the gate math need one launch instead of two. The backward step first
finishes the recurrent gradient of the step processed before it,
``dh_t = dG_{t+1} @ W_hh`` for its unit, then runs the cell backward; a call with
``t = -1`` only finishes the recurrence (giving ``dh0``).

Padded steps (``t >= lengths[b]``) carry the state forward and the state gradients
backward unchanged, as the CPU kernels do. Equations and layouts are those of
:mod:`tsLSTM.kernels.lstm` and :mod:`tsLSTM.kernels.gru`.
"""

import math
from functools import cache

import numpy as np
from numba import cuda

from ._launch import grid_rows
from .kernel_set import KernelSet


@cache
def kernels(dtype):
    """The recurrent step kernels compiled for ``dtype`` (float32 or float64)."""
    dt = np.dtype(dtype).type
    zero = dt(0.0)
    one = dt(1.0)

    @cuda.jit(device=True, inline=True)
    def sigmoid(x):
        return one / (one + math.exp(-x))

    @cuda.jit
    def lstm_forward_step(W_hhT, b_ih, b_hh, G, Hs, Cs, t, prev, cur, lengths):
        """Step ``t``: ``G[t]`` holds ``x_t @ W_ihT`` in, gate activations out."""
        j, b = cuda.grid(2)
        B, nh = Hs.shape[1], Hs.shape[2]
        if b >= B or j >= nh:
            return
        if t >= lengths[b]:
            Hs[cur, b, j] = Hs[prev, b, j]
            Cs[cur, b, j] = Cs[prev, b, j]
            return
        ai = G[t, b, j] + b_ih[j] + b_hh[j]
        af = G[t, b, nh + j] + b_ih[nh + j] + b_hh[nh + j]
        ag = G[t, b, 2 * nh + j] + b_ih[2 * nh + j] + b_hh[2 * nh + j]
        ao = G[t, b, 3 * nh + j] + b_ih[3 * nh + j] + b_hh[3 * nh + j]
        for k in range(nh):
            h = Hs[prev, b, k]
            ai += h * W_hhT[k, j]
            af += h * W_hhT[k, nh + j]
            ag += h * W_hhT[k, 2 * nh + j]
            ao += h * W_hhT[k, 3 * nh + j]
        i = sigmoid(ai)
        f = sigmoid(af)
        g = math.tanh(ag)
        o = sigmoid(ao)
        c = f * Cs[prev, b, j] + i * g
        Cs[cur, b, j] = c
        Hs[cur, b, j] = o * math.tanh(c)
        G[t, b, j] = i
        G[t, b, nh + j] = f
        G[t, b, 2 * nh + j] = g
        G[t, b, 3 * nh + j] = o

    @cuda.jit
    def lstm_backward_step(W_hh, G, Cs, dH, dH_off, dG, dh, dc, t, t_next, prev, cur, lengths):
        """Finish ``dh`` from step ``t_next`` (if any), then backpropagate step ``t``."""
        j, b = cuda.grid(2)
        B, nh = dh.shape
        if b >= B or j >= nh:
            return
        if t_next >= 0 and t_next < lengths[b]:
            acc = zero
            for k in range(4 * nh):
                acc += dG[t_next, b, k] * W_hh[k, j]
            dh[b, j] = acc
        if t < 0:
            return
        if t >= lengths[b]:
            for gate in range(4):
                dG[t, b, gate * nh + j] = zero
            return
        i = G[t, b, j]
        f = G[t, b, nh + j]
        g = G[t, b, 2 * nh + j]
        o = G[t, b, 3 * nh + j]
        tc = math.tanh(Cs[cur, b, j])
        d = dH[t, b, dH_off + j] + dh[b, j]
        dct = dc[b, j] + d * o * (one - tc * tc)
        dc[b, j] = dct * f
        dG[t, b, j] = dct * g * i * (one - i)
        dG[t, b, nh + j] = dct * Cs[prev, b, j] * f * (one - f)
        dG[t, b, 2 * nh + j] = dct * i * (one - g * g)
        dG[t, b, 3 * nh + j] = d * tc * o * (one - o)

    @cuda.jit
    def gru_forward_step(W_hhT, b_ih, b_hh, G, HN, Hs, t, prev, cur, lengths):
        """Step ``t``: ``G[t]`` holds ``x_t @ W_ihT`` in, ``r, z, n`` out."""
        j, b = cuda.grid(2)
        B, nh = Hs.shape[1], Hs.shape[2]
        if b >= B or j >= nh:
            return
        if t >= lengths[b]:
            Hs[cur, b, j] = Hs[prev, b, j]
            return
        ar = G[t, b, j] + b_ih[j] + b_hh[j]
        az = G[t, b, nh + j] + b_ih[nh + j] + b_hh[nh + j]
        hn = b_hh[2 * nh + j]
        for k in range(nh):
            h = Hs[prev, b, k]
            ar += h * W_hhT[k, j]
            az += h * W_hhT[k, nh + j]
            hn += h * W_hhT[k, 2 * nh + j]
        r = sigmoid(ar)
        z = sigmoid(az)
        n = math.tanh(G[t, b, 2 * nh + j] + b_ih[2 * nh + j] + r * hn)
        Hs[cur, b, j] = (one - z) * n + z * Hs[prev, b, j]
        HN[t, b, j] = hn
        G[t, b, j] = r
        G[t, b, nh + j] = z
        G[t, b, 2 * nh + j] = n

    @cuda.jit
    def gru_backward_step(
        W_hh, G, HN, Hs, dH, dH_off, dGx, dGh, dh, dh_direct, t, t_next, prev, lengths
    ):
        """Finish ``dh`` from step ``t_next`` (if any), then backpropagate step ``t``."""
        j, b = cuda.grid(2)
        B, nh = dh.shape
        if b >= B or j >= nh:
            return
        if t_next >= 0 and t_next < lengths[b]:
            acc = dh_direct[b, j]
            for k in range(3 * nh):
                acc += dGh[t_next, b, k] * W_hh[k, j]
            dh[b, j] = acc
        if t < 0:
            return
        if t >= lengths[b]:
            for gate in range(3):
                dGx[t, b, gate * nh + j] = zero
                dGh[t, b, gate * nh + j] = zero
            return
        r = G[t, b, j]
        z = G[t, b, nh + j]
        n = G[t, b, 2 * nh + j]
        d = dH[t, b, dH_off + j] + dh[b, j]
        dn = d * (one - z) * (one - n * n)
        dr = dn * HN[t, b, j] * r * (one - r)
        dz = d * (Hs[prev, b, j] - n) * z * (one - z)
        dGx[t, b, j] = dr
        dGx[t, b, nh + j] = dz
        dGx[t, b, 2 * nh + j] = dn
        dGh[t, b, j] = dr
        dGh[t, b, nh + j] = dz
        dGh[t, b, 2 * nh + j] = dn * r
        dh_direct[b, j] = d * z

    return KernelSet(
        dtype, lstm_forward_step=lstm_forward_step, lstm_backward_step=lstm_backward_step,
        gru_forward_step=gru_forward_step, gru_backward_step=gru_backward_step,
    )  # fmt: skip


def step_grid(B, H):
    """Launch geometry of the step kernels: one thread per (sample, hidden unit)."""
    return grid_rows(B, H)
