"""A stacked, optionally bidirectional LSTM or GRU running on the device.

The driver walks the host layer's plan (:meth:`tsLSTM.nn.LSTM.directions`,
:meth:`~tsLSTM.nn.LSTM.dropout_after`; padded sequences) with device arrays: per direction one
GEMM for the input projection, one fused kernel launch per time step, and after the
backward loop one GEMM each for the weight and input gradients.
"""

import numpy as np
from numba import cuda

from ..kernels._common import state_slots
from ..kernels.gpu import linalg
from ..kernels.gpu import recurrent as steps


class DeviceRecurrent:
    """Forward and backward of ``rnn`` with parameters in device views.

    Parameters
    ----------
    rnn : LSTM or GRU
        The host layer: sizes, cell type and dropout are read from it.
    params, grads : dict
        Device views by state-dict name (see :meth:`tsLSTM.nn.module.Module.named_views`).
    prefix : str
        Prefix of the layer's names in ``params`` (``'rnn.'`` inside a model).
    """

    def __init__(self, rnn, params, grads, prefix=""):
        self.rnn = rnn
        self.lstm = rnn._has_cell_state
        self.L, self.D, self.H = rnn.num_layers, rnn.num_directions, rnn.hidden_size
        self.n_gates = rnn._n_gates
        self.dtype = np.dtype(rnn.dtype)
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        self.weights, self.weight_grads = {}, {}
        for layer, direction, _, sfx in rnn.directions():
            self.weights[layer, direction] = [params[f"{prefix}{n}{sfx}"] for n in names]
            self.weight_grads[layer, direction] = [grads[f"{prefix}{n}{sfx}"] for n in names]
        self._kernels = steps.kernels(self.dtype)
        self._random_states = None
        self.cache = None

    # -- forward -------------------------------------------------------------------

    def forward(self, X, lengths, h0=None, c0=None, training=False, seed=0):
        """Run the stack over time-major ``X`` (T, B, I); returns the top output (T, B, D*H).

        ``lengths`` (B,) int64 and the optional initial states (L*D, B, H) are
        device arrays. Padded steps of the returned output are zero.
        """
        T, B, _ = X.shape
        H, D, GH = self.H, self.D, self.n_gates * self.H
        k = self._kernels
        forward_step = k.lstm_forward_step if self.lstm else k.gru_forward_step
        blocks, threads = steps.step_grid(B, H)
        inputs, caches, masks = [], [], []
        layer_input = X
        for layer in range(self.L):
            Y = cuda.device_array((T, B, D * H), dtype=self.dtype)
            layer_caches = []
            for direction in range(D):
                idx = layer * D + direction
                W_ihT, W_hhT, b_ih, b_hh = self.weights[layer, direction]
                n_in = layer_input.shape[2]
                G = cuda.device_array((T, B, GH), dtype=self.dtype)
                linalg.matmul(layer_input.reshape(T * B, n_in), W_ihT, G.reshape(T * B, GH))
                Hs = cuda.device_array((T + 1, B, H), dtype=self.dtype)
                init, out_start, prev_start = state_slots(T, direction == 1)
                _set_state(Hs[init], h0, idx)
                if self.lstm:
                    Cs = cuda.device_array((T + 1, B, H), dtype=self.dtype)
                    _set_state(Cs[init], c0, idx)
                    extra = Cs
                else:
                    extra = cuda.device_array((T, B, H), dtype=self.dtype)  # HN
                for step in range(T):
                    t = T - 1 - step if direction == 1 else step
                    if self.lstm:
                        args = (G, Hs, Cs)
                    else:
                        args = (G, extra, Hs)
                    forward_step[blocks, threads](
                        W_hhT, b_ih, b_hh, *args, t, prev_start + t, out_start + t, lengths
                    )
                outputs = Hs[out_start : out_start + T].reshape(T * B, H)
                linalg.copy_columns(outputs, 0, Y.reshape(T * B, D * H), direction * H, H)
                layer_caches.append((Hs, extra, G))
            mask = None
            if training and self.rnn.dropout_after(layer):
                mask = cuda.device_array(Y.shape, dtype=self.dtype)
                keep = self.dtype.type(1.0 - self.rnn.dropout)
                linalg.dropout_mask(self._states(seed), mask, keep)
                linalg.multiply(Y, mask)
            inputs.append(layer_input)
            caches.append(layer_caches)
            masks.append(mask)
            layer_input = Y
        linalg.zero_padded_steps(layer_input, lengths)
        self.cache = (inputs, caches, masks, lengths)
        return layer_input

    def _states(self, seed):
        if self._random_states is None:
            self._random_states = linalg.random_states(seed)
        return self._random_states

    def final_state(self, layer, direction, cell=False):
        """The state after the last valid step of one direction (B, H), a device view."""
        T = self.cache[0][0].shape[0]
        Hs, extra, _ = self.cache[1][layer][direction]
        last = 0 if direction == 1 else T
        return (extra if cell else Hs)[last]

    def final_states(self):
        """``h_n`` (and ``c_n`` for an LSTM, else None) of shape (L*D, B, H), on the device."""
        B = self.cache[0][0].shape[1]
        result = []
        for cell in (False, True) if self.lstm else (False,):
            states = cuda.device_array((self.L * self.D, B, self.H), dtype=self.dtype)
            for layer in range(self.L):
                for direction in range(self.D):
                    states[layer * self.D + direction].copy_to_device(
                        self.final_state(layer, direction, cell)
                    )
            result.append(states)
        return result[0], (result[1] if self.lstm else None)

    @property
    def dropout_masks(self):
        """The dropout masks of the last training forward pass (None where not applied)."""
        return self.cache[2]

    # -- backward ------------------------------------------------------------------

    def backward(self, dY=None, d_h_n=None, d_c_n=None):
        """Backpropagate the last forward pass; returns ``dX, dh0, dc0`` (device).

        Parameter gradients are accumulated into the gradient views. ``dY`` (T, B,
        D*H) and the final-state gradients (L*D, B, H) default to zeros; ``dY`` is
        modified in place.
        """
        inputs, caches, masks, lengths = self.cache
        self.cache = None
        T, B, _ = inputs[0].shape
        H, D, GH = self.H, self.D, self.n_gates * self.H
        lstm = self.lstm
        k = self._kernels
        step_kernel = k.lstm_backward_step if lstm else k.gru_backward_step
        blocks, threads = steps.step_grid(B, H)
        if dY is None:
            dY = linalg.zeros((T, B, D * H), self.dtype)
        dh0 = cuda.device_array((self.L * D, B, H), dtype=self.dtype)
        dc0 = cuda.device_array((self.L * D, B, H), dtype=self.dtype) if lstm else None
        for layer in reversed(range(self.L)):
            X = inputs[layer]
            n_in = X.shape[2]
            if masks[layer] is not None:
                linalg.multiply(dY, masks[layer])
            dX = cuda.device_array((T, B, n_in), dtype=self.dtype)
            for direction in range(D):
                idx = layer * D + direction
                reverse = direction == 1
                W_ihT, W_hhT, _, _ = self.weights[layer, direction]
                dW_ihT, dW_hhT, db_ih, db_hh = self.weight_grads[layer, direction]
                Hs, extra, G = caches[layer][direction]
                W_hh = linalg.transpose(W_hhT)
                dh = dh0[idx]
                _set_state(dh, d_h_n, idx)
                if lstm:
                    dc = dc0[idx]
                    _set_state(dc, d_c_n, idx)
                    dG = cuda.device_array((T, B, GH), dtype=self.dtype)
                    dGh = dG
                else:
                    dh_direct = cuda.device_array((B, H), dtype=self.dtype)
                    dG = cuda.device_array((T, B, GH), dtype=self.dtype)
                    dGh = cuda.device_array((T, B, GH), dtype=self.dtype)
                _, out_start, prev_start = state_slots(T, reverse)
                t_next = -1
                for step in [*range(T), None]:
                    t = -1 if step is None else (step if reverse else T - 1 - step)
                    if lstm:
                        step_kernel[blocks, threads](
                            W_hh, G, extra, dY, direction * H, dG, dh, dc, t, t_next,
                            prev_start + t, out_start + t, lengths,
                        )  # fmt: skip
                    else:
                        step_kernel[blocks, threads](
                            W_hh, G, extra, Hs, dY, direction * H, dG, dGh, dh, dh_direct, t,
                            t_next, prev_start + t, lengths,
                        )  # fmt: skip
                    t_next = t
                dG2, dGh2 = dG.reshape(T * B, GH), dGh.reshape(T * B, GH)
                H_prev = Hs[prev_start : prev_start + T].reshape(T * B, H)
                linalg.matmul(X.reshape(T * B, n_in), dG2, dW_ihT, trans_a=True, accumulate=True)
                linalg.matmul(H_prev, dGh2, dW_hhT, trans_a=True, accumulate=True)
                linalg.add_column_sums(dG2, db_ih)
                linalg.add_column_sums(dGh2, db_hh)
                linalg.matmul(
                    dG2, W_ihT, dX.reshape(T * B, n_in), trans_b=True, accumulate=direction > 0
                )
            dY = dX
        return dY, dh0, dc0


def _set_state(target, states, idx):
    """``target[...] = states[idx]``, or zeros when ``states`` is None (device arrays)."""
    if states is None:
        linalg.fill(target, 0)
    else:
        target.copy_to_device(states[idx])
