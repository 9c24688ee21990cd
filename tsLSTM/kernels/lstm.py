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
from numba import njit, types
from numba.extending import overload

from . import cell_vectors
from ._common import (
    add_into,
    column_sums,
    copy_row,
    copy_rows,
    project_block,
    projection_steps,
    state_slots,
)
from ._jit import JIT_OPTIONS, WIDE_VECTORS
from .activations import tanh
from .gemm import matmul_panels, pack_panels

# The per-row cell kernels work on 1-D contiguous rows of one sample: with that shape
# LLVM vectorises the gate math (with 3-D indexing into several arrays it gave up).
#
# The forward step runs in two passes over the batch: the four gate activations of
# every row (one loop over 4H independent columns), then the cell and hidden states.
# One fused loop over the H units of a row chained two activations per unit and, for
# small H, waited on their latency (timings in the README's "Measurements behind the
# design"). Float32 rows of whole vectors take one pass of explicit vectors instead
# (lstm_step_whole_vectors): there each unit's four gates are independent vector
# chains, and the pass carries none of the loop vectoriser's run-time overlap checks.


@njit(**JIT_OPTIONS)
def gate_coefficients(nh, like):
    """Per-column ``scale, shift`` of the gate activations, arrays of shape (4H,).

    Column ``k`` of the pre-activations goes through
    ``act_k(x) = shift_k + scale_k * tanh(scale_k * x)``: the logistic function
    ``0.5 + 0.5 * tanh(x / 2)`` for the gates i, f and o, ``tanh`` for g. With one
    formula for every column the activation loop is a single vectorisable loop.
    ``like`` gives the floating-point type.
    """
    scale = np.empty(4 * nh, dtype=like.dtype)
    shift = np.empty(4 * nh, dtype=like.dtype)
    for k in range(4 * nh):
        is_g = 2 * nh <= k < 3 * nh
        scale[k] = 1.0 if is_g else 0.5
        shift[k] = 0.0 if is_g else 0.5
    return scale, shift


@njit(**JIT_OPTIONS)
def lstm_gates(gh, gates, bias, scale, shift):
    """Gate activations of one sample: ``gates = act(gh + gates + bias)``.

    Parameters
    ----------
    gh : ndarray, shape (4H,)
        ``h_{t-1} @ W_hhT``.
    gates : ndarray, shape (4H,)
        In: the input projection ``x_t @ W_ihT``. Out: activations ``i, f, g, o``.
    bias : ndarray, shape (4H,)
        ``b_ih + b_hh``.
    scale, shift : ndarray, shape (4H,)
        From :func:`gate_coefficients`.
    """
    for k in range(gates.shape[0]):
        s = scale[k]
        gates[k] = shift[k] + s * tanh(s * (gh[k] + gates[k] + bias[k]))


@njit(**JIT_OPTIONS)
def lstm_activate(z, scale, shift):
    """Gate activations of one sample in place: ``z = act(z)`` (see :func:`lstm_gates`).

    ``z`` (4H,) holds the whole pre-activation ``x_t @ W_ihT + h_{t-1} @ W_hhT + b``.
    """
    for k in range(z.shape[0]):
        s = scale[k]
        z[k] = shift[k] + s * tanh(s * z[k])


@njit(**JIT_OPTIONS)
def lstm_state(gates, c_prev, c, h):
    """Cell and hidden state of one sample from its gate activations.

    Parameters
    ----------
    gates : ndarray, shape (4H,)
        Activations ``i, f, g, o`` (:func:`lstm_gates`).
    c_prev : ndarray, shape (H,)
        Previous cell state.
    c, h : ndarray, shape (H,)
        Output: new cell and hidden state.
    """
    nh = c.shape[0]
    for j in range(nh):
        c_new = gates[nh + j] * c_prev[j] + gates[j] * gates[2 * nh + j]
        c[j] = c_new
        h[j] = gates[3 * nh + j] * tanh(c_new)


@njit(**JIT_OPTIONS)
def lstm_step(gh, gates, bias, scale, shift, c_prev, c, h, h_prev, t, lengths):
    """One LSTM step for a batch: rows with ``t >= lengths[b]`` carry their state.

    ``gh``, ``gates`` are (B, 4H) and the states (B, H); see :func:`lstm_gates` and
    :func:`lstm_state`.
    """
    B = gh.shape[0]
    for b in range(B):
        if t < lengths[b]:
            lstm_gates(gh[b], gates[b], bias, scale, shift)
    for b in range(B):
        if t < lengths[b]:
            lstm_state(gates[b], c_prev[b], c[b], h[b])
        else:
            copy_row(c[b], c_prev[b])
            copy_row(h[b], h_prev[b])


@njit(**JIT_OPTIONS)
def lstm_step_two_passes(Z, scale, shift, c_prev, c, h, h_prev, t, lengths):
    """:func:`lstm_step_preactivated` in two loops over the batch: the gate
    activations of every row, then the states."""
    B = Z.shape[0]
    for b in range(B):
        if t < lengths[b]:
            lstm_activate(Z[b], scale, shift)
    for b in range(B):
        if t < lengths[b]:
            lstm_state(Z[b], c_prev[b], c[b], h[b])
        else:
            copy_row(c[b], c_prev[b])
            copy_row(h[b], h_prev[b])


def lstm_step_whole_vectors(Z, scale, shift, c_prev, c, h, h_prev, t, lengths, wide):
    """:func:`lstm_step_preactivated` for rows of a whole number of vectors (of
    :data:`~tsLSTM.kernels.cell_vectors.FLOATS32` units: the tiled kernels' rows).

    Inside numba, chosen when it compiles: C-contiguous float32 arrays take each row
    in one pass of explicit vectors, with the same bits as the two loops
    (:func:`~tsLSTM.kernels.cell_vectors.cell_forward_f32`, whose blocks are two
    vectors wide with ``wide``, a compile-time constant); others
    :func:`lstm_step_two_passes`. One of the two is compiled, not both.
    """
    lstm_step_two_passes(Z, scale, shift, c_prev, c, h, h_prev, t, lengths)


@overload(lstm_step_whole_vectors, jit_options={"forceinline": True}, prefer_literal=True)
def _ol_lstm_step_whole_vectors(Z, scale, shift, c_prev, c, h, h_prev, t, lengths, wide):
    if not all(
        isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" and a.dtype == types.float32
        for a in (Z, c_prev, c, h, h_prev)
    ):
        return lambda Z, scale, shift, c_prev, c, h, h_prev, t, lengths, wide: lstm_step_two_passes(
            Z, scale, shift, c_prev, c, h, h_prev, t, lengths
        )
    if not isinstance(wide, types.BooleanLiteral):
        return None  # numba then retries with the constant's literal type

    def one_pass(Z, scale, shift, c_prev, c, h, h_prev, t, lengths, wide):
        for b in range(Z.shape[0]):
            if t < lengths[b]:
                cell_vectors.cell_forward_f32(Z[b], c_prev[b], c[b], h[b], wide)
            else:
                copy_row(c[b], c_prev[b])
                copy_row(h[b], h_prev[b])

    return one_pass


# Whether inference's one-pass cell takes blocks of two vectors (the same bits): faster
# under AVX-512, where one vector is one register. With AVX2 code (two registers a
# vector) they gained nothing in inference and slowed training down, and in the
# training kernels they were slower under AVX-512 too (the README's "Measurements
# behind the design"), so those keep blocks of one vector.
INFER_WIDE_CELL = WIDE_VECTORS


@njit(**JIT_OPTIONS)
def lstm_step_preactivated(Z, scale, shift, c_prev, c, h, h_prev, t, lengths):
    """:func:`lstm_step` when ``Z`` (B, 4H) already holds the whole pre-activations.

    The kernels whose recurrent product accumulates onto the input projection plus
    bias (:mod:`tsLSTM.kernels.lstm_tiled`, :func:`lstm_infer`) need neither a
    separate product buffer nor a bias pass. Rows of a whole number of vectors take
    :func:`lstm_step_whole_vectors` (in one pass of explicit vectors for float32),
    others :func:`lstm_step_two_passes`; the tiled kernels, whose rows always are,
    call the former directly.
    """
    if c.shape[1] % cell_vectors.FLOATS32 == 0:
        lstm_step_whole_vectors(Z, scale, shift, c_prev, c, h, h_prev, t, lengths, INFER_WIDE_CELL)
    else:
        lstm_step_two_passes(Z, scale, shift, c_prev, c, h, h_prev, t, lengths)


@njit(**JIT_OPTIONS)
def lstm_cell_backward(gates, c_prev, c, dh_out, dh_rec, dc, dgates):
    """Backward through one LSTM step for one sample.

    Parameters
    ----------
    gates : ndarray, shape (4H,)
        Saved activations ``i, f, g, o``.
    c_prev, c : ndarray, shape (H,)
        Cell state before and after the step.
    dh_out : ndarray, shape (H,)
        Gradient w.r.t. the step's output from the layer above.
    dh_rec : ndarray, shape (H,)
        Gradient w.r.t. ``h_t`` from the following step.
    dc : ndarray, shape (H,)
        In: gradient w.r.t. ``c_t``; out: gradient w.r.t. ``c_{t-1}``.
    dgates : ndarray, shape (4H,)
        Output: gradient w.r.t. the gate pre-activations.
    """
    nh = c.shape[0]
    one = c.dtype.type(1.0)
    for j in range(nh):
        i = gates[j]
        f = gates[nh + j]
        g = gates[2 * nh + j]
        o = gates[3 * nh + j]
        tc = tanh(c[j])
        dh = dh_out[j] + dh_rec[j]
        dct = dc[j] + dh * o * (one - tc * tc)
        dc[j] = dct * f
        dgates[j] = dct * g * i * (one - i)
        dgates[nh + j] = dct * c_prev[j] * f * (one - f)
        dgates[2 * nh + j] = dct * i * (one - g * g)
        dgates[3 * nh + j] = dh * tc * o * (one - o)


def cell_backward(gates, c_prev, c, dh_out, dh_rec, dc, dgates):
    """:func:`lstm_cell_backward` (inside numba: in explicit vectors where they apply)."""
    lstm_cell_backward(gates, c_prev, c, dh_out, dh_rec, dc, dgates)


@overload(cell_backward, jit_options={"forceinline": True})  # see kernels._jit
def _ol_cell_backward(gates, c_prev, c, dh_out, dh_rec, dc, dgates):
    """float32 rows of whole vectors: :mod:`tsLSTM.kernels.cell_vectors`, bit-identical
    to :func:`lstm_cell_backward`, without the vectoriser's per-row overlap checks."""
    if not cell_vectors.applies(gates, c_prev, c, dh_out, dh_rec, dc, dgates):
        return lambda gates, c_prev, c, dh_out, dh_rec, dc, dgates: lstm_cell_backward(
            gates, c_prev, c, dh_out, dh_rec, dc, dgates
        )

    def vectors(gates, c_prev, c, dh_out, dh_rec, dc, dgates):
        if c.shape[0] % cell_vectors.FLOATS32 == 0:
            cell_vectors.cell_backward_f32(gates, c_prev, c, dh_out, dh_rec, dc, dgates)
        else:
            lstm_cell_backward(gates, c_prev, c, dh_out, dh_rec, dc, dgates)

    return vectors


@njit(**JIT_OPTIONS)
def lstm_step_backward(G, Cs, dH, no_dH, t, prev, cur, lengths, padded, dh_rec, dc, carry, dG):
    """The cell backward of step ``t`` for a batch (before the recurrent product).

    ``G``, ``Cs``, ``dH`` and ``dG`` are the whole sequences' arrays of
    :func:`lstm_backward` (``dH`` of zero length: ``no_dH``, zeros of shape (H,), for
    every row); ``prev`` and ``cur`` the state slots of the step. Rows with
    ``t >= lengths[b]`` get no gate gradient and keep their ``dh_rec`` in ``carry``, to
    pass it through the padded step.
    """
    B = G.shape[1]
    has_dH = dH.shape[0] == G.shape[0]
    for b in range(B):
        if t < lengths[b]:
            dh_out = dH[t, b] if has_dH else no_dH
            cell_backward(G[t, b], Cs[prev, b], Cs[cur, b], dh_out, dh_rec[b], dc[b], dG[t, b])
            if padded:
                carry[b] = 0
        else:
            dG[t, b] = 0
            copy_row(carry[b], dh_rec[b])


@njit(**JIT_OPTIONS)
def lstm_forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, lengths, Hs, Cs, G):
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
    lengths : ndarray of int64, shape (B,)
        Valid steps of each sequence (right padding beyond): at padded steps the
        state is carried through unchanged, so the final state is the one after the
        last valid step (forward) or after step 0 (reverse), as with PyTorch's packed
        sequences.
    Hs, Cs : ndarray, shape (T + 1, B, H)
        Output: hidden and cell states, slot layout of :func:`~tsLSTM.kernels._common.state_slots`.
    G : ndarray, shape (T, B, 4H)
        Output: gate activations ``i, f, g, o`` of every step.
    """
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    np.dot(X.reshape(T * B, I), W_ihT, G.reshape(T * B, 4 * nh))
    bias = b_ih + b_hh
    scale, shift = gate_coefficients(nh, G)
    gh = np.empty((B, 4 * nh), dtype=G.dtype)
    init, out_start, prev_start = state_slots(T, reverse)
    copy_rows(Hs[init], h0)
    copy_rows(Cs[init], c0)
    for step in range(T):
        t = T - 1 - step if reverse else step
        prev = prev_start + t
        cur = out_start + t
        np.dot(Hs[prev], W_hhT, gh)
        lstm_step(gh, G[t], bias, scale, shift, Cs[prev], Cs[cur], Hs[cur], Hs[prev], t, lengths)


@njit(**JIT_OPTIONS)
def lstm_backward(
    X, W_ihT, W_hh, Hs, Cs, G, dH, dh_n, dc_n, reverse, lengths, dG, dW_ihT, dW_hhT, db_ih,
    db_hh, dX,
):  # fmt: skip
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
    dH : ndarray, shape (T, B, H) or (0, B, H)
        Gradient of the loss w.r.t. the direction's output at every step; zero
        length means zeros (a model that reads only the final state).
    dh_n, dc_n : ndarray, shape (B, H)
        Gradient w.r.t. the final hidden and cell state.
    reverse : bool
        Direction of the forward pass.
    lengths : ndarray of int64, shape (B,)
        As in :func:`lstm_forward`; padded steps pass the state gradients through.
    dG : ndarray, shape (T, B, 4H)
        Scratch: gradients w.r.t. the gate pre-activations (overwritten). It must not
        overlap ``G``, ``Cs`` or ``dH`` (the float32 cell backward reads and writes
        whole vectors, see :mod:`tsLSTM.kernels.cell_vectors`).
    dW_ihT, dW_hhT, db_ih, db_hh : ndarray
        Parameter gradients, accumulated into (``+=``).
    dX : ndarray, shape (T, B, I) or (0, B, I)
        Output: gradient w.r.t. the input (overwritten); with zero length it is not
        computed (the first layer, when nothing needs the input gradient).

    Returns
    -------
    dh0, dc0 : ndarray, shape (B, H)
        Gradients w.r.t. the initial states.
    """
    T, B, I = X.shape
    nh = W_hh.shape[1]
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
        np.dot(dG[t], W_hh, dh_rec)
        if padded:
            dh_rec += carry
    dG2 = dG.reshape(T * B, 4 * nh)
    dW_ihT += np.dot(X.reshape(T * B, I).T, dG2)
    H_prev = Hs[prev_start : prev_start + T]
    dW_hhT += np.dot(H_prev.reshape(T * B, nh).T, dG2)
    db = column_sums(dG2)  # both biases receive the same gradient
    add_into(db_ih, db)
    add_into(db_hh, db)
    if dX.shape[0] == T:
        np.dot(dG2, W_ihT.T, dX.reshape(T * B, I))
    return dh_rec, dc


@njit(**JIT_OPTIONS)
def lstm_infer(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, lengths, H_out, h_n, c_n, row):
    """Inference-only LSTM direction: no saved gates, two (B, H) state buffers.

    The input projection is one product per block of steps (:func:`project_block`),
    in a buffer of at most ``PROJECTION_BLOCK_FLOATS``, so memory stays O(B * H) apart
    from ``H_out``. The products are :func:`~tsLSTM.kernels.gemm.matmul_panels`, not
    BLAS: each sequence's result depends on that sequence only, whatever the batch.

    Parameters
    ----------
    X, W_ihT, W_hhT, b_ih, b_hh, reverse, lengths
        As :func:`lstm_forward`.
    h0, c0 : ndarray, shape (L, B, H)
        Initial hidden and cell states of a whole stack; this direction starts from
        ``h0[row]``, ``c0[row]``.
    H_out : ndarray, shape (T, B, H) or (0, B, H)
        Output: the hidden state of every step; pass a zero-length array when only
        the final state is needed.
    h_n, c_n : ndarray, shape (L, B, H)
        Output: row ``row`` receives the final hidden and cell states (written in
        place: one call from Python returns nothing to box).
    row : int
        This direction's row of the state arrays (``layer * D + direction``): the
        stack's arrays are passed whole, so the caller takes no views.
    """
    T = X.shape[0]
    B = X.shape[1]
    nh = W_hhT.shape[0]
    bias = b_ih + b_hh
    scale, shift = gate_coefficients(nh, h0)
    hs = np.empty((2, B, nh), dtype=h0.dtype)
    copy_rows(hs[0], h0[row])
    # two state buffers used in turn: reading and writing one row in place would
    # alias, and LLVM's runtime alias check then falls back to scalar code
    cs = np.empty((2, B, nh), dtype=h0.dtype)
    copy_rows(cs[0], c0[row])
    GX = np.empty((projection_steps(T, B, 4 * nh), B, 4 * nh), dtype=h0.dtype)
    P_ih, P_hh = pack_panels(W_ihT), pack_panels(W_hhT)
    store = H_out.shape[0] == T
    t0 = 0
    for step in range(T):
        t = T - 1 - step if reverse else step
        if step % GX.shape[0] == 0:
            t0 = project_block(X, P_ih, bias, GX, step, reverse)
        h_prev, h = hs[step % 2], hs[(step + 1) % 2]
        c_prev, c = cs[step % 2], cs[(step + 1) % 2]
        # the recurrent product accumulates onto x_t @ W_ihT + b_ih + b_hh
        matmul_panels(h_prev, P_hh, GX[t - t0], True)
        lstm_step_preactivated(GX[t - t0], scale, shift, c_prev, c, h, h_prev, t, lengths)
        if store:
            copy_rows(H_out[t], h)
    copy_rows(h_n[row], hs[T % 2])
    copy_rows(c_n[row], cs[T % 2])
