"""The row-independent matrix products of ``tsLSTM.kernels.gemm`` against numpy."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tsLSTM.kernels.gemm import (
    TALL_TILE_ROWS,
    add_long_product,
    add_transposed_product,
    affine_rows,
    matmul_panels,
    pack_panels,
    panel_width,
    transpose_into,
)

# (M, K, N): lone rows, whole and partial row tiles, whole and partial panels
SHAPES = [(1, 1, 1), (1, 5, 17), (1, 64, 256), (3, 8, 16), (4, 7, 33), (9, 64, 256), (13, 3, 70)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pack_panels_holds_the_columns_zero_padded(dtype):
    W = np.arange(5 * 21, dtype=dtype).reshape(5, 21)
    P = pack_panels(W)
    V = panel_width(W)
    assert V == 64 // np.dtype(dtype).itemsize
    assert P.shape == (-(-21 // V), 5, V)
    flat = np.concatenate(list(P), axis=1)  # panels side by side: (K, n_panels * V)
    np.testing.assert_array_equal(flat[:, :21], W)
    assert not flat[:, 21:].any()
    np.testing.assert_array_equal(pack_panels(np.asfortranarray(W)), P)  # any layout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("accumulate", [False, True])
def test_matmul_panels_equals_numpy_and_each_row_stands_alone(dtype, shape, accumulate):
    M, K, N = shape
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    A = rng.standard_normal((M, K)).astype(dtype)
    W = rng.standard_normal((K, N)).astype(dtype)
    init = rng.standard_normal((M, N)).astype(dtype)
    P = pack_panels(W)
    out = init.copy()
    matmul_panels(A, P, out, accumulate)
    exact = A.astype(np.float64) @ W.astype(np.float64) + (init if accumulate else 0)
    eps = np.finfo(dtype).eps
    bound = (K + 1) * eps * (np.abs(A) @ np.abs(W) + np.abs(init if accumulate else 0))
    assert np.all(np.abs(out - exact) <= bound)
    for r in range(M):  # a row computed alone, or at another position, is the same bits
        alone = init[r : r + 1].copy()
        matmul_panels(A[r : r + 1], P, alone, accumulate)
        np.testing.assert_array_equal(alone, out[r : r + 1])
    order = rng.permutation(M)
    shuffled = init[order].copy()
    matmul_panels(A[order], P, shuffled, accumulate)
    np.testing.assert_array_equal(shuffled, out[order])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M, K, N", [(8, 1, 1), (16, 40, 16), (32, 7, 28), (64, 300, 48)])
def test_transposed_product_is_the_row_major_products_bits(dtype, M, K, N):
    """``outT += (A @ W).T`` gate-major gives the bits of ``outT += W.T @ A.T`` in
    the row tiles: the same order of fused multiply-adds per element."""
    rng = np.random.default_rng(M + K + N)
    A = rng.standard_normal((K, M)).astype(dtype).T  # strided, as dG.T
    W = rng.standard_normal((K, N)).astype(dtype)
    init = rng.standard_normal((N, M)).astype(dtype)
    gate_major = init.copy()
    add_transposed_product(A, pack_panels(W), gate_major)
    row_major = init.copy()
    matmul_panels(np.ascontiguousarray(W.T), pack_panels(np.ascontiguousarray(A.T)), row_major,
                  True)  # fmt: skip
    np.testing.assert_array_equal(gate_major, row_major)
    np.testing.assert_allclose(gate_major, init + (A @ W).T, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("target", ["native", "avx2"])
def test_tall_tiles_follow_numbas_target(target):
    """Eight-row tiles where numba generates AVX-512 code, four under AVX2 (numba told
    to generate code for Haswell, as an AVX2-only processor runs it)."""
    env = dict(os.environ)
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    expected = 8 if target == "native" and " avx512f" in flags else 4
    if target == "avx2":
        env.update(NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="-avx512f")
    program = "from tsLSTM.kernels.gemm import TALL_TILE_ROWS; print(TALL_TILE_ROWS)"
    proc = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) == expected


def test_transposed_product_refuses_partial_tiles_and_mismatches():
    A = np.ones((TALL_TILE_ROWS + 1, 5), np.float32)
    with pytest.raises(ValueError, match="whole tiles"):
        add_transposed_product(A, pack_panels(np.ones((5, 3), np.float32)),
                               np.zeros((3, TALL_TILE_ROWS + 1), np.float32))  # fmt: skip
    with pytest.raises(ValueError, match="disagree"):
        add_transposed_product(A[:-1, :4], pack_panels(np.ones((5, 3), np.float32)),
                               np.zeros((3, TALL_TILE_ROWS), np.float32))  # fmt: skip


def test_strided_rows_and_the_dense_layer():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 20)).astype(np.float32)[:, ::2]  # row and column strides
    W = rng.standard_normal((10, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    out = np.empty((6, 3), np.float32)
    affine_rows(np.ascontiguousarray(A), W, bias, out)
    np.testing.assert_allclose(out, A @ W + bias, rtol=1e-5, atol=1e-5)
    strided = np.empty((6, 3), np.float32)
    matmul_panels(A, pack_panels(W), strided, False)
    np.testing.assert_allclose(strided, A @ W, rtol=1e-5, atol=1e-5)


def test_mismatched_shapes_are_refused():
    P = pack_panels(np.ones((5, 20), np.float32))
    with pytest.raises(ValueError, match="disagree"):
        matmul_panels(np.ones((3, 4), np.float32), P, np.empty((3, 20), np.float32), False)
    with pytest.raises(ValueError, match="disagree"):
        matmul_panels(np.ones((3, 5), np.float32), P, np.empty((3, 40), np.float32), False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (15, 17), (16, 64), (128, 512), (33, 3)])
def test_transpose_into_copies_the_transpose(dtype, shape):
    rng = np.random.default_rng(0)
    src = rng.standard_normal(shape).astype(dtype)
    dst = np.full(shape[::-1], np.nan, dtype=dtype)
    transpose_into(src, dst)
    np.testing.assert_array_equal(dst, src.T)
    strided = rng.standard_normal((shape[0], 2 * shape[1])).astype(dtype)[:, ::2]
    transpose_into(strided, dst)
    np.testing.assert_array_equal(dst, strided.T)
    with pytest.raises(ValueError, match="shape reversed"):
        transpose_into(src, np.empty(shape, dtype=dtype) if shape[0] != shape[1] else dst[:0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M, K", [(4, 1), (9, 127), (13, 128), (28, 700), (3, 1600)])
def test_long_products_in_blocks_of_k_have_one_sweeps_bits(dtype, M, K):
    """``add_long_product`` (weight gradients) runs the inner dimension in blocks of
    ``K_BLOCK``: the same bits as one sweep, accumulated onto what ``out`` holds."""
    rng = np.random.default_rng(0)
    V = panel_width(np.empty(0, dtype))
    A = rng.standard_normal((K, M)).astype(dtype).T  # strided, as X2.T is
    W = rng.standard_normal((K, 2 * V)).astype(dtype)
    start = rng.standard_normal((M, 2 * V)).astype(dtype)
    one_sweep, blocks = start.copy(), start.copy()
    matmul_panels(A, pack_panels(W), one_sweep, True)
    add_long_product(A, pack_panels(W), blocks)
    np.testing.assert_array_equal(blocks, one_sweep)
    with pytest.raises(ValueError, match="disagree"):
        add_long_product(A[:, :-1] if K > 1 else A[:-1], pack_panels(W), blocks)
