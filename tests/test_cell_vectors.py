"""The LSTM cell in explicit vectors, forward and backward: the same bits as the
compiled loops."""

import numpy as np
import pytest
from numba import njit

from tsLSTM.kernels import activations, cell_vectors
from tsLSTM.kernels._jit import JIT_OPTIONS
from tsLSTM.kernels.lstm import (
    cell_backward,
    gate_coefficients,
    lstm_activate,
    lstm_cell_backward,
    lstm_state,
    lstm_step_preactivated,
    lstm_step_whole_vectors,
)

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


@njit(**_UNCACHED)
def _step_dispatched(Z, C_prev, C, Hh, H_prev, t, lengths):
    scale, shift = gate_coefficients(C.shape[1], Z)
    lstm_step_preactivated(Z, scale, shift, C_prev, C, Hh, H_prev, t, lengths)


@njit(**_UNCACHED)
def _step_two_loops(Z, C_prev, C, Hh, H_prev, t, lengths):
    scale, shift = gate_coefficients(C.shape[1], Z)
    for b in range(Z.shape[0]):
        if t < lengths[b]:
            lstm_activate(Z[b], scale, shift)
            lstm_state(Z[b], C_prev[b], C[b], Hh[b])
        else:
            C[b] = C_prev[b]
            Hh[b] = H_prev[b]


def _same_bits(steps, Z, C_prev, H_prev, t, lengths):
    """Run each forward step on copies of the same inputs; assert that the activations,
    cell and hidden states agree bit for bit, and return the first step's."""
    results = []
    for step in steps:
        z, c, h = Z.copy(), np.full_like(C_prev, np.nan), np.full_like(C_prev, np.nan)
        step(z, C_prev, c, h, H_prev, t, lengths)
        results.append((z, c, h))
    for first, other in zip(*results, strict=True):
        np.testing.assert_array_equal(first, other)
    return results[0]


@pytest.mark.parametrize("H", [16, 32, 48, 64, 128, 24, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell_forward_equals_the_loops_bit_for_bit(H, dtype):
    """float32 rows of whole vectors take cell_vectors' one pass, with the bits of the
    two loops (activations, cell and hidden states); padded rows carry their state."""
    rng = np.random.default_rng(1)
    B = 9
    Z = rng.standard_normal((B, 4 * H)) * 4
    Z[0, :6] = [-40.0, 40.0, -15.9, 16.5, 0.0, 1e-30]  # past and inside tanh's clamp
    C_prev = rng.standard_normal((B, H)) * 3
    C_prev[1, :2] = [-30.0, 30.0]
    H_prev = rng.standard_normal((B, H))
    Z, C_prev, H_prev = (a.astype(dtype) for a in (Z, C_prev, H_prev))
    lengths = np.full(B, 5, dtype=np.int64)
    lengths[[2, 7]] = 3  # step 4 is padding for these rows
    _, c, h = _same_bits((_step_dispatched, _step_two_loops), Z, C_prev, H_prev, 4, lengths)
    assert np.isfinite(c).all() and np.isfinite(h).all()  # every state written
    np.testing.assert_array_equal(c[[2, 7]], C_prev[[2, 7]])
    np.testing.assert_array_equal(h[[2, 7]], H_prev[[2, 7]])


@njit(**_UNCACHED)
def _step_blocks_of_one_vector(Z, C_prev, C, Hh, H_prev, t, lengths):
    scale, shift = gate_coefficients(C.shape[1], Z)
    lstm_step_whole_vectors(Z, scale, shift, C_prev, C, Hh, H_prev, t, lengths, False)


@njit(**_UNCACHED)
def _step_blocks_of_two_vectors(Z, C_prev, C, Hh, H_prev, t, lengths):
    scale, shift = gate_coefficients(C.shape[1], Z)
    lstm_step_whole_vectors(Z, scale, shift, C_prev, C, Hh, H_prev, t, lengths, True)


@pytest.mark.parametrize("H", [16, 32, 48, 64, 128])
def test_one_pass_cell_has_the_same_bits_in_blocks_of_one_or_two_vectors(H):
    """Training's cell (blocks of one vector) and inference's under AVX-512 (two, the
    last of one where H is an odd number of vectors) compute the same bits."""
    rng = np.random.default_rng(2)
    B = 5
    Z = (rng.standard_normal((B, 4 * H)) * 6).astype(np.float32)
    C_prev = (rng.standard_normal((B, H)) * 3).astype(np.float32)
    H_prev = rng.standard_normal((B, H)).astype(np.float32)
    lengths = np.array([3, 3, 1, 3, 3], dtype=np.int64)  # row 2: a padded step
    steps = (_step_blocks_of_one_vector, _step_blocks_of_two_vectors)
    _, c, h = _same_bits(steps, Z, C_prev, H_prev, 2, lengths)
    assert np.isfinite(c).all() and np.isfinite(h).all()


def _preactivations_everywhere(H):
    """Float32 pre-activations (B, 4H) spanning what the gates can see: a dense range
    across tanh's clamp (at 7.99 for g and c, twice that for the sigmoid gates), its
    boundaries to the ulp, magnitudes from the subnormals up, both signs, and zeros."""
    f32 = np.float32
    rng = np.random.default_rng(3)
    clamp = float(activations.TANH32_CLAMP)
    edges = []
    for bound in (clamp, 2 * clamp):
        for sign in (-1, 1):
            x = f32(sign * bound)
            edges += [np.nextafter(x, f32(0)), x, np.nextafter(x, f32(sign * np.inf))]
    tiny = np.finfo(f32).smallest_subnormal * np.array([1, 2, 3, 1000, 2**22])
    values = np.concatenate([
        rng.uniform(-20, 20, 40_000),
        np.logspace(-45, 2, 4_000),
        -np.logspace(-45, 2, 4_000),
        tiny, -tiny, edges, [0.0, -0.0],
    ]).astype(f32)  # fmt: skip
    values = np.resize(values, -(-values.size // (4 * H)) * 4 * H)
    return values.reshape(-1, 4 * H)


@pytest.mark.parametrize("H", [16, 32])
def test_sigmoid_with_folded_halvings_has_the_loops_bits(H):
    """The one-pass cell computes the sigmoid gates with the halvings of ``0.5 + 0.5 *
    tanh(0.5 * z)`` folded into tanh's coefficients: every activation, cell and hidden
    state equals the loops' bit for bit over the whole float32 range."""
    Z = _preactivations_everywhere(H)
    B = Z.shape[0]
    rng = np.random.default_rng(4)
    C_prev = (rng.standard_normal((B, H)) * 3).astype(np.float32)
    H_prev = np.zeros((B, H), np.float32)
    lengths = np.full(B, 1, dtype=np.int64)
    _same_bits((_step_dispatched, _step_two_loops), Z, C_prev, H_prev, 0, lengths)


@pytest.mark.parametrize(
    "target",
    [
        {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "-avx512f"},
        {"NUMBA_CPU_NAME": "generic"},
    ],
    ids=["avx2", "generic"],
)
def test_cell_vectors_bits_under_other_targets(target, tmp_path):
    """The explicit vectors have the loops' bits also where numba compiles for AVX2 or
    for generic x86-64 (no FMA), not only for this machine (a subprocess each: the
    target is fixed when numba starts)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, 'tests'); import numpy as np\n"
        "import test_cell_vectors as t\n"
        "for H in (16, 32, 64, 24):\n"
        "    t.test_cell_forward_equals_the_loops_bit_for_bit(H, np.float32)\n"
        "    t.test_cell_backward_equals_the_loop_bit_for_bit(H, np.float32)\n"
        "t.test_sigmoid_with_folded_halvings_has_the_loops_bits(16)\n"
        "t.test_one_pass_cell_has_the_same_bits_in_blocks_of_one_or_two_vectors(48)\n"
        "print('ok')\n"
    )
    env = {**os.environ, **target, "NUMBA_CACHE_DIR": str(tmp_path)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
