"""The GRU training kernels with tsLSTM's own tiles for the per-step products
(``kernels/gru_tiled.py``): they compute what the BLAS kernels (``kernels/gru.py``)
compute, the layer picks them by hidden size, and a layer that runs them has the
gradients of finite differences. The PyTorch oracle (``test_torch_oracle.py``) checks
the GRU layers of these sizes too.
"""

import numpy as np
import pytest
from test_lstm_tiled import SHAPES as LSTM_SHAPES
from test_recurrent import check_gradients, make

from tsLSTM.kernels import gru, gru_tiled
from tsLSTM.nn import GRU

# the LSTM's shapes (rows left over from the 4-row tiles, one to nine panels, narrow
# and wide inputs, one sequence)
SHAPES = LSTM_SHAPES


def _run_kernels(forward, backward, shape, dtype):
    B, T, I, H, reverse, padded, has_dH, want_dX = shape
    rng = np.random.default_rng(2)

    def rand(*s):
        return (0.5 * rng.standard_normal(s)).astype(dtype)

    X, W_ihT, W_hhT = rand(T, B, I), rand(I, 3 * H), rand(H, 3 * H)
    b_ih, b_hh, h0 = rand(3 * H), rand(3 * H), rand(B, H)
    lengths = rng.integers(1, T + 1, B) if padded else np.full(B, T)
    lengths = lengths.astype(np.int64)
    Hs, G, HN = (
        np.empty((T + 1, B, H), dtype),
        np.empty((T, B, 3 * H), dtype),
        np.empty((T, B, H), dtype),
    )
    forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, reverse, lengths, Hs, G, HN)
    dH = rand(T, B, H) if has_dH else np.zeros((0, B, H), dtype)
    dh_n = rand(B, H)
    grads = [np.full_like(a, 0.25) for a in (W_ihT, W_hhT, b_ih, b_hh)]  # accumulated into
    dX = np.empty((T if want_dX else 0, B, I), dtype)
    dGx, dGh = np.empty_like(G), np.empty_like(G)
    W_hh = np.ascontiguousarray(W_hhT.T)
    dh0 = backward(X, W_ihT, W_hh, Hs, G, HN, dH, dh_n, reverse, lengths, dGx, dGh, *grads, dX)
    valid = (np.arange(T)[:, None] < lengths[None, :])[..., None]
    return {
        "Hs": Hs, "G": np.where(valid, G, 0), "HN": np.where(valid, HN, 0),  # padded: unset
        "dW_ihT": grads[0], "dW_hhT": grads[1],
        "db_ih": grads[2], "db_hh": grads[3], "dX": dX, "dh0": dh0,
    }  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_tiled_gru_kernels_equal_the_blas_kernels(shape, dtype):
    ours = _run_kernels(gru_tiled.gru_forward_tiled, gru_tiled.gru_backward_tiled, shape, dtype)
    blas = _run_kernels(gru.gru_forward, gru.gru_backward, shape, dtype)
    tol = 1e-12 if dtype == np.float64 else 5e-6
    for name, expected in blas.items():
        assert ours[name].shape == expected.shape, name
        if expected.size:
            scale = np.abs(expected).max()
            np.testing.assert_allclose(ours[name], expected, rtol=0, atol=tol * scale, err_msg=name)


def test_gru_picks_the_kernels_by_hidden_size():
    """A whole number of panels (16 float32 or 8 float64 units): tiles; else BLAS."""
    assert GRU(2, 16)._training_kernels() == (
        gru_tiled.gru_forward_tiled,
        gru_tiled.gru_backward_tiled,
    )
    assert GRU(2, 15)._training_kernels() == (gru.gru_forward, gru.gru_backward)
    assert GRU(2, 8, dtype=np.float64)._tiled() and not GRU(2, 12, dtype=np.float64)._tiled()


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_tiled_gru_gradients_finite_differences(num_layers, bidirectional):
    layer = make("gru", I=3, H=8, num_layers=num_layers, bidirectional=bidirectional)
    assert layer._tiled()
    check_gradients(layer, B=5, T=4)  # 5 rows: one 4-row tile and one left over
