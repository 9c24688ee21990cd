"""Slow, obvious float64 references for the recurrent layers.

Written straight from the equations of ``torch.nn.LSTM`` / ``torch.nn.GRU``, one
sample and one step at a time, using PyTorch-layout state dicts. Nothing here shares
code with the package: it is the yardstick the kernels are measured against.
"""

import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step for one sample; gate order i, f, g, o."""
    a = W_ih @ x + b_ih + W_hh @ h + b_hh
    i, f, g, o = np.split(a, 4)
    i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step for one sample; gate order r, z, n."""
    gx_r, gx_z, gx_n = np.split(W_ih @ x + b_ih, 3)
    gh_r, gh_z, gh_n = np.split(W_hh @ h + b_hh, 3)
    r = _sigmoid(gx_r + gh_r)
    z = _sigmoid(gx_z + gh_z)
    n = np.tanh(gx_n + r * gh_n)
    return (1.0 - z) * n + z * h


def recurrent_reference(cell, X, state_dict, num_layers, bidirectional, h0=None, c0=None):
    """Run a stacked (bidirectional) LSTM or GRU over batch-first ``X`` (B, T, I).

    Returns ``output`` (B, T, D*H), ``h_n`` and (LSTM only) ``c_n`` of shape
    (num_layers * D, B, H), as PyTorch does.
    """
    X = np.asarray(X, dtype=np.float64)
    B, T, _ = X.shape
    D = 2 if bidirectional else 1
    H = state_dict["weight_hh_l0"].shape[1]
    h0 = np.zeros((num_layers * D, B, H)) if h0 is None else np.asarray(h0, np.float64)
    c0 = np.zeros((num_layers * D, B, H)) if c0 is None else np.asarray(c0, np.float64)
    h_n = np.zeros_like(h0)
    c_n = np.zeros_like(c0)
    layer_input = X
    for layer in range(num_layers):
        outputs = []
        for direction in range(D):
            sfx = f"_l{layer}" + ("_reverse" if direction else "")
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            weights = [state_dict[f"{k}{sfx}"] for k in names]
            idx = layer * D + direction
            out = np.zeros((B, T, H))
            for b in range(B):
                h, c = h0[idx, b], c0[idx, b]
                steps = range(T - 1, -1, -1) if direction else range(T)
                for t in steps:
                    if cell == "lstm":
                        h, c = lstm_cell(layer_input[b, t], h, c, *weights)
                    else:
                        h = gru_cell(layer_input[b, t], h, *weights)
                    out[b, t] = h
                h_n[idx, b], c_n[idx, b] = h, c
            outputs.append(out)
        layer_input = np.concatenate(outputs, axis=2)
    if cell == "lstm":
        return layer_input, h_n, c_n
    return layer_input, h_n
