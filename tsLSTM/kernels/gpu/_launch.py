"""Launch geometry shared by the CUDA kernels."""

from numba import config

# Under the CUDA simulator every CUDA thread is a Python thread: small blocks keep
# the tests' thread counts down. On a GPU, 16 x 16 GEMM tiles and 256-thread blocks.
SIMULATED = bool(config.ENABLE_CUDASIM)
TILE = 4 if SIMULATED else 16
THREADS_1D = 32 if SIMULATED else 256
# Blocks of the fused (row, column) kernels: columns (hidden units) on x.
_COLS, _ROWS = (8, 4) if SIMULATED else (32, 8)
# Fixed grid of the grid-stride reductions and random-number kernels.
REDUCTION_BLOCKS = 2 if SIMULATED else 128


def grid_1d(n):
    """``(blocks, threads)`` covering ``n`` elements with one thread each."""
    return max(1, -(-n // THREADS_1D)), THREADS_1D


def grid_tiles(rows, cols):
    """``(blocks, threads)`` of TILE x TILE blocks over a (rows, cols) output."""
    return (max(1, -(-cols // TILE)), max(1, -(-rows // TILE))), (TILE, TILE)


def grid_rows(rows, cols):
    """``(blocks, threads)`` with one thread per (row, col): x over cols, y over rows.

    Threads of a warp share a row and take consecutive columns, so reads of a
    row-major matrix indexed by column coalesce and reads indexed by row broadcast.
    """
    tx, ty = min(_COLS, cols), min(_ROWS, rows)
    return (-(-cols // tx), -(-rows // ty)), (tx, ty)
