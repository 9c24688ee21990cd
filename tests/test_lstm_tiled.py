"""The LSTM training kernels with tsLSTM's own tiles (``kernels/lstm_tiled.py``).

They must compute what the BLAS kernels (``kernels/lstm.py``) compute, for every
branch they take by shape; the layer must pick them by hidden size; their loops must
compile to vector code for AVX2 and AVX-512; and, calling no BLAS, the layer's
training results must not depend on the OpenBLAS kernel or the vector width. The
PyTorch oracle (``test_torch_oracle.py``) and the finite differences below check the
layers that run them.
"""

import json
import os
import platform
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from test_recurrent import check_gradients, make

from tsLSTM.kernels import lstm, lstm_tiled
from tsLSTM.kernels._jit import JIT_OPTIONS
from tsLSTM.nn import LSTM

# (B, T, I, H, reverse, padded, dH given, dX wanted): rows left over from the 4-row
# tiles, narrow inputs (loops), inputs through the tiles, inputs wider than a panel,
# a hidden size past LONG_TILES_MAX (BLAS for the T*B-row products), one sequence
SHAPES = [
    (5, 7, 1, 16, False, False, True, True),
    (9, 6, 3, 32, True, True, True, True),
    (4, 5, 8, 16, False, True, False, False),
    (13, 3, 20, 48, False, True, True, True),
    (1, 4, 2, 32, True, True, True, True),
    (6, 3, 130, 16, True, False, True, True),
    (7, 3, 5, 144, False, True, True, True),
]


def _run_kernels(forward, backward, shape, dtype):
    B, T, I, H, reverse, padded, has_dH, want_dX = shape
    rng = np.random.default_rng(1)

    def rand(*s):
        return (0.5 * rng.standard_normal(s)).astype(dtype)

    X, W_ihT, W_hhT = rand(T, B, I), rand(I, 4 * H), rand(H, 4 * H)
    b_ih, b_hh, h0, c0 = rand(4 * H), rand(4 * H), rand(B, H), rand(B, H)
    lengths = rng.integers(1, T + 1, B) if padded else np.full(B, T)
    lengths = lengths.astype(np.int64)
    Hs, Cs = np.empty((T + 1, B, H), dtype), np.empty((T + 1, B, H), dtype)
    G = np.empty((T, B, 4 * H), dtype)
    forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, lengths, Hs, Cs, G)
    dH = rand(T, B, H) if has_dH else np.zeros((0, B, H), dtype)
    dh_n, dc_n = rand(B, H), rand(B, H)
    grads = [np.full_like(a, 0.25) for a in (W_ihT, W_hhT, b_ih, b_hh)]  # accumulated into
    dX = np.empty((T if want_dX else 0, B, I), dtype)
    dG = np.empty_like(G)
    W_hh = np.ascontiguousarray(W_hhT.T)
    dh0, dc0 = backward(X, W_ihT, W_hh, Hs, Cs, G, dH, dh_n, dc_n, reverse, lengths, dG, *grads, dX)
    valid = np.arange(T)[:, None] < lengths[None, :]
    return {
        "Hs": Hs, "Cs": Cs, "G": G * valid[..., None], "dG": dG, "dW_ihT": grads[0],
        "dW_hhT": grads[1], "db_ih": grads[2], "db_hh": grads[3], "dX": dX, "dh0": dh0,
        "dc0": dc0,
    }  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_tiled_kernels_equal_the_blas_kernels(shape, dtype):
    H = shape[3]
    assert lstm_tiled.tiles_apply(H, np.dtype(dtype).itemsize)
    ours = _run_kernels(lstm_tiled.lstm_forward_tiled, lstm_tiled.lstm_backward_tiled, shape, dtype)
    blas = _run_kernels(lstm.lstm_forward, lstm.lstm_backward, shape, dtype)
    tol = 1e-12 if dtype == np.float64 else 5e-6
    for name, expected in blas.items():
        assert ours[name].shape == expected.shape, name
        if expected.size:
            scale = np.abs(expected).max()
            np.testing.assert_allclose(ours[name], expected, rtol=0, atol=tol * scale, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, I, H", [(7, 1, 16), (40, 3, 32), (24, 8, 16), (33, 28, 48)])
def test_gate_major_weight_grads_are_the_row_major_bits(N, I, H, dtype):
    """The gate-major weight gradients (small ``dG2``) and the row-major ones (large
    ``dG2``) give the same bits, so where the size threshold falls changes no result."""
    plan = lstm_tiled.products_plan(H, I)
    assert plan != lstm_tiled.PRODUCTS_BLAS
    rng = np.random.default_rng(N)
    X2, H_prev = (
        rng.standard_normal((N, I)).astype(dtype),
        rng.standard_normal((N, H)).astype(dtype),
    )
    dG2 = rng.standard_normal((N, 4 * H)).astype(dtype)
    init = [
        rng.standard_normal(s).astype(dtype) for s in ((I, 4 * H), (H, 4 * H), (4 * H,), (4 * H,))
    ]
    results = []
    for kernels in (lstm_tiled.GATE_MAJOR_KERNELS, lstm_tiled.WEIGHT_GRAD_KERNELS):
        grads = [g.copy() for g in init]
        kernels[plan](X2, H_prev, dG2, *grads)
        results.append(grads)
    for gate_major, row_major in zip(*results, strict=True):
        np.testing.assert_array_equal(gate_major, row_major)
    np.testing.assert_allclose(results[0][1], init[1] + H_prev.T @ dG2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_feature_projection_is_the_two_pass_bits(dtype):
    """The one-pass projection of a single feature gives the bits of the bias pass
    followed by the feature's multiply-add (the path of two features, the second
    zero: adding 0 * 0 changes nothing)."""
    rng = np.random.default_rng(3)
    X2, W_ihT = (
        rng.standard_normal((37, 1)).astype(dtype),
        rng.standard_normal((1, 64)).astype(dtype),
    )
    b_ih, b_hh = rng.standard_normal(64).astype(dtype), rng.standard_normal(64).astype(dtype)
    one, two = np.empty((37, 64), dtype), np.empty((37, 64), dtype)
    lstm_tiled.project_narrow(X2, W_ihT, b_ih, b_hh, one)
    X2_zero, W_zero = np.hstack([X2, 0 * X2]), np.vstack([W_ihT, 0 * W_ihT])
    lstm_tiled.project_narrow(X2_zero, W_zero, b_ih, b_hh, two)
    np.testing.assert_array_equal(one, two)


def test_tiled_forward_refuses_hidden_sizes_of_partial_panels():
    """float32 H = 24: 4H is six whole panels, but the one-pass cell's 16-unit vectors
    would leave 8 units of every row unwritten; the kernel names the problem instead."""
    B, T, I, H = 3, 4, 2, 24
    f32 = np.float32
    X, W_ihT, W_hhT = np.ones((T, B, I), f32), np.ones((I, 4 * H), f32), np.ones((H, 4 * H), f32)
    bias, h0 = np.zeros(4 * H, f32), np.zeros((B, H), f32)
    Hs, G = np.empty((T + 1, B, H), f32), np.empty((T, B, 4 * H), f32)
    lengths = np.full(B, T, np.int64)
    with pytest.raises(ValueError, match="whole number of panels"):
        lstm_tiled.lstm_forward_tiled(
            X, W_ihT, W_hhT, bias, bias, h0, h0, False, lengths, Hs, Hs.copy(), G
        )


def test_layer_picks_the_kernels_by_hidden_size():
    """A whole number of panels (16 float32 or 8 float64 units): tiles; else BLAS."""
    assert LSTM(2, 16)._tiled() and LSTM(2, 256)._tiled() and LSTM(2, 48)._tiled()
    assert not LSTM(2, 15)._tiled() and not LSTM(2, 8)._tiled()
    assert LSTM(2, 8, dtype=np.float64)._tiled() and not LSTM(2, 12, dtype=np.float64)._tiled()


@pytest.mark.parametrize("I", [2, 5])  # input through loops, through tiles
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_tiled_layer_gradients_finite_differences(I, num_layers, bidirectional):
    layer = make("lstm", I=I, H=8, num_layers=num_layers, bidirectional=bidirectional)
    assert layer._tiled()
    check_gradients(layer, B=5, T=4)  # 5 rows: one 4-row tile and one left over


# -- vector code -----------------------------------------------------------------------


def _asm_counts(register):
    """Vector instructions on ``register`` (zmm/ymm) in freshly compiled tiled kernels."""
    f32 = np.float32
    B, T, I, H = 8, 3, 8, 32
    uncached = {**JIT_OPTIONS, "cache": False}  # cached code has no assembly to inspect
    states = (np.zeros((T + 1, B, H), f32), np.zeros((T + 1, B, H), f32))
    G, lengths = np.zeros((T, B, 4 * H), f32), np.full(B, T, np.int64)
    h0 = np.zeros((B, H), f32)
    kernels = {
        "forward": (lstm_tiled.lstm_recurrence, (np.zeros((H, 4 * H), f32), h0, h0, False,
                                                 lengths, *states, G)),
        "backward": (lstm_tiled.lstm_recurrence_backward, (
            np.zeros((4 * H, H), f32), states[1], G, np.zeros((T, B, H), f32), h0, h0, False,
            lengths, np.zeros_like(G))),
        "weight_grads": (lstm_tiled.weight_grads_tiled, (
            np.zeros((T * B, I), f32), np.zeros((T * B, H), f32), np.zeros((T * B, 4 * H), f32),
            np.zeros((I, 4 * H), f32), np.zeros((H, 4 * H), f32), np.zeros(4 * H, f32),
            np.zeros(4 * H, f32))),
    }  # fmt: skip
    counts = {}
    for name, (kernel, args) in kernels.items():
        fresh = numba.njit(**uncached)(kernel.py_func)
        fresh(*args)
        asm = next(iter(fresh.inspect_asm().values()))
        counts[name] = {
            "fmadd": len(re.findall(rf"\tvfmadd\d{{3}}ps\t[^\n]*%{register}", asm)),
            "div": len(re.findall(rf"\tvdivps\t[^\n]*%{register}", asm)),
        }
    return counts


_ASM_PROGRAM = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from test_lstm_tiled import _asm_counts
    print(json.dumps(_asm_counts(sys.argv[2])))
    """
)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 assembly")
@pytest.mark.parametrize("target", ["native", "avx2"])
def test_tiled_kernels_compile_to_vector_code(target):
    """The tiles' fused multiply-adds and the gate arithmetic (the rational tanh's
    division) run on full vector registers: 512-bit where numba targets AVX-512,
    256-bit for an AVX2-only processor (numba told to generate code for Haswell)."""
    env = dict(os.environ)
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    register = "zmm" if target == "native" and " avx512f" in flags else "ymm"
    if target == "avx2":
        env.update(NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="-avx512f")
    proc = subprocess.run(
        [sys.executable, "-c", _ASM_PROGRAM, str(Path(__file__).parent), register],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    for kernel in ("forward", "backward", "weight_grads"):
        assert counts[kernel]["fmadd"] >= 4, (kernel, counts)  # the register tiles
    for kernel in ("forward", "backward"):
        assert counts[kernel]["div"] >= 1, (kernel, counts)  # the vectorised cell loops


# -- no BLAS: the same bits under every OpenBLAS kernel and vector width ------------------

_LAYER_PROGRAM = textwrap.dedent(
    """
    import sys
    import numpy as np
    from tsLSTM.nn import LSTM

    out = {}
    for dtype, I, H in ((np.float32, 3, 16), (np.float32, 20, 32), (np.float64, 5, 8)):
        layer = LSTM(I, H, num_layers=2, bidirectional=True, dtype=dtype, random_state=0)
        assert layer._tiled()
        rng = np.random.default_rng(0)
        X = rng.standard_normal((37, 9, I)).astype(dtype)  # chunks of 18 and 19 rows
        lengths = rng.integers(1, 10, 37)
        y, (h_n, c_n) = layer.forward(X, lengths=lengths, training=True)
        dX, (dh0, dc0) = layer.backward(np.cos(y), np.sin(h_n), np.cos(c_n))
        key = f"{np.dtype(dtype).name}_{H}"
        for name, value in (("y", y), ("dX", dX), ("dh0", dh0), ("dc0", dc0),
                            ("grads", layer.flat_grads)):
            out[f"{key}.{name}"] = value
    np.savez(sys.argv[1], **out)
    """
)


def test_tiled_training_is_bit_identical_across_blas_kernels_and_vector_widths(tmp_path):
    """With hidden and input sizes up to LONG_TILES_MAX the tiled kernels call no BLAS, so
    a layer's outputs and gradients do not depend on the OpenBLAS kernel (which rounds
    differently per kernel) nor on numba's vector width (AVX-512 or AVX2 code)."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        pytest.skip("OPENBLAS_CORETYPE is set for this machine: it is left as it is")
    sys.path.insert(0, str(Path(__file__).parent))
    import determinism_matrix

    cores = determinism_matrix.blas_core_types()
    if len(cores) < 2:
        pytest.skip(f"only one OpenBLAS core type runs here: {cores}")
    runs = [{"OPENBLAS_CORETYPE": cores[0]}, {"OPENBLAS_CORETYPE": cores[-1]}]
    if "avx512f" in determinism_matrix.cpu_flags():
        runs[1].update(determinism_matrix.AVX2_CODEGEN)
    results = []
    for k, extra in enumerate(runs):
        env = {**os.environ, **extra}
        path = tmp_path / f"run{k}.npz"
        proc = subprocess.run(
            [sys.executable, "-c", _LAYER_PROGRAM, str(path)], env=env, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        with np.load(path) as data:
            results.append(dict(data))
    assert results[0].keys() == results[1].keys()
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)
