"""The LSTM cell backward in explicit vectors: the same bits as the compiled loop."""

import numpy as np
import pytest
from numba import njit

from tsLSTM.kernels import cell_vectors
from tsLSTM.kernels._jit import JIT_OPTIONS
from tsLSTM.kernels.lstm import cell_backward, lstm_cell_backward

_UNCACHED = {**JIT_OPTIONS, "cache": False}  # compiled as the kernels are


@njit(**_UNCACHED)
def _rows_dispatched(G, C_prev, C, dH_out, dH_rec, dC, dG):
    for b in range(G.shape[0]):
        cell_backward(G[b], C_prev[b], C[b], dH_out[b], dH_rec[b], dC[b], dG[b])


@njit(**_UNCACHED)
def _rows_loop(G, C_prev, C, dH_out, dH_rec, dC, dG):
    for b in range(G.shape[0]):
        lstm_cell_backward(G[b], C_prev[b], C[b], dH_out[b], dH_rec[b], dC[b], dG[b])


def _rows(B, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.uniform(0, 1, (B, 4 * H))
    G[:, 2 * H : 3 * H] = rng.uniform(-1, 1, (B, H))  # g = tanh(...)
    C = rng.standard_normal((B, H)) * 4
    C[0, :4] = [-20.0, 20.0, -7.99, 8.5]  # inside and past tanh's clamp
    arrays = (G, rng.standard_normal((B, H)), C, rng.standard_normal((B, H)),
              rng.standard_normal((B, H)), rng.standard_normal((B, H)))  # fmt: skip
    return [a.astype(dtype) for a in arrays]


@pytest.mark.parametrize("H", [16, 32, 48, 64, 128, 24, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell_backward_equals_the_loop_bit_for_bit(H, dtype):
    """float32 rows of whole vectors take cell_vectors; the rest, the loop itself."""
    G, C_prev, C, dH_out, dH_rec, dC = _rows(7, H, dtype)
    results = []
    for rows in (_rows_dispatched, _rows_loop):
        dc, dG = dC.copy(), np.full_like(G, np.nan)
        rows(G, C_prev, C, dH_out, dH_rec, dc, dG)
        results.append((dc, dG))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert np.isfinite(results[0][1]).all()  # every gate gradient written


def test_vector_rows_apply_to_float32_contiguous_rows_only():
    from numba import typeof

    row32, row64 = typeof(np.zeros(16, np.float32)), typeof(np.zeros(16, np.float64))
    strided = typeof(np.zeros((16, 2), np.float32)[:, 0])
    assert cell_vectors.applies(row32, row32)
    assert not cell_vectors.applies(row32, row64)
    assert not cell_vectors.applies(row32, strided)
