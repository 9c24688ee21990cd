"""Matrix products in which every output row depends on its own input row only.

A BLAS library is free to round a row of ``A @ B`` differently depending on the other
rows of ``A``: OpenBLAS's Haswell and Zen kernels give a row different bits at
different positions of the same 32-row product, its one-row products go to a gemv
kernel, and its thread count changes the rounding too. Inference must not depend on
what else is in the batch, so its products are computed here instead, with one fixed
order of operations per output element::

    out[r, j] = fmuladd(A[r, K-1], B[K-1, j], ... fmuladd(A[r, 0], B[0, j], init))

where ``init`` is 0 or, when accumulating, the value already in ``out``. The order
does not depend on the row's position, the number of rows, the tile that computes it
or the vector width, so results are bit-identical whatever the batch. On processors
with FMA (x86-64 since Haswell) ``fmuladd`` is one fused multiply-add.

``B`` is first packed into panels of ``V`` columns (one 64-byte cache line: 16
float32 or 8 float64), each ``(K, V)`` and contiguous, zero-padded at the right edge:
the inner loop then reads consecutive cache lines instead of rows a power of two
apart, which thrash the L1 cache's sets. A tile of ``TILE_ROWS`` rows times one panel
(or, for a lone row, one row times ``ROW_PANELS`` panels) keeps its accumulators in
vector registers for the whole ``K`` loop.

The tile is written as LLVM IR (:func:`_tile_fmuladd`): numba leaves LLVM's
superword (SLP) vectoriser off, and without it a register tile of scalar
accumulators compiles to scalar code.
"""

import llvmlite.ir as llvm_ir
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import JIT_OPTIONS, WIDE_VECTORS

PANEL_BYTES = 64
TILE_ROWS = 4  # rows of a tile (one panel wide)
ROW_PANELS = 4  # panels of a one-row tile (rows left over, matrix-vector products)
# rows of the tiles of add_transposed_product: eight accumulators of one 64-byte vector
# fit AVX-512's 32 vector registers; under AVX2 (16 registers of 32 bytes) they spill
TALL_TILE_ROWS = 8 if WIDE_VECTORS else 4


@intrinsic
def _tile_fmuladd(typingctx, A, r0, P, p0, out, n_rows, n_panels, accumulate):
    """``out[r0:r0+R, j:j+C*V] (+)= A[r0:r0+R] @ W[:, j:j+C*V]``, ``j = p0 * V``.

    ``P`` holds ``W`` (K, N) packed in panels (:func:`pack_panels`); the tile covers
    rows ``r0 .. r0+R-1`` and panels ``p0 .. p0+C-1``, all of which must be full-width
    and lie inside ``out``. ``n_rows`` (R), ``n_panels`` (C) and ``accumulate`` must be
    compile-time constants. ``A`` and ``out`` may have any row stride; ``out``'s rows
    must be contiguous. The ``K`` loop runs in order with one ``llvm.fmuladd`` per
    element and step (see the module docstring); the R * C accumulators stay in vector
    registers, independent chains that hide the multiply-add's latency.
    """
    literals = (
        isinstance(n_rows, types.IntegerLiteral),
        isinstance(n_panels, types.IntegerLiteral),
        isinstance(accumulate, types.BooleanLiteral),
    )
    if not all(literals) or not A.dtype == P.dtype == out.dtype:
        return None  # numba then reports a typing error naming the arguments
    R, C, init_from_out = n_rows.literal_value, n_panels.literal_value, accumulate.literal_value
    signature = types.void(A, r0, P, p0, out, n_rows, n_panels, accumulate)

    def codegen(context, builder, sig, args):
        a_arr = context.make_array(A)(context, builder, args[0])
        p_arr = context.make_array(P)(context, builder, args[2])
        o_arr = context.make_array(out)(context, builder, args[4])
        row0, panel0 = args[1], args[3]
        T = context.get_data_type(out.dtype)
        size = context.get_abi_sizeof(T)
        V = PANEL_BYTES // size
        vec = llvm_ir.VectorType(T, V)
        i64 = llvm_ir.IntType(64)
        i32 = llvm_ir.IntType(32)
        suffix = f"v{V}{'f32' if size == 4 else 'f64'}"
        fmuladd = cgutils.get_or_insert_function(
            builder.module, llvm_ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fmuladd.{suffix}"
        )
        K = cgutils.unpack_tuple(builder, p_arr.shape)[1]
        a_stride_row, a_stride_col = cgutils.unpack_tuple(builder, a_arr.strides)
        p_stride_panel = cgutils.unpack_tuple(builder, p_arr.strides)[0]
        o_stride_row = cgutils.unpack_tuple(builder, o_arr.strides)[0]

        def const(value):
            return llvm_ir.Constant(i64, value)

        def pointer(data, byte_offset, ty):
            address = builder.add(builder.ptrtoint(data, i64), byte_offset)
            return builder.inttoptr(address, ty.as_pointer())

        accumulators = {}  # (r, c) -> (stack slot, destination in out)
        a_rows, panels = [], []
        for c in range(C):
            panel = builder.add(panel0, const(c))
            panels.append(builder.mul(panel, p_stride_panel))
        for r in range(R):
            row = builder.add(row0, const(r))
            a_rows.append(builder.mul(row, a_stride_row))
            for c in range(C):
                col_bytes = builder.mul(builder.add(panel0, const(c)), const(V * size))
                offset = builder.add(builder.mul(row, o_stride_row), col_bytes)
                dest = pointer(o_arr.data, offset, vec)
                slot = cgutils.alloca_once(builder, vec)  # promoted to a register by LLVM
                init = (
                    builder.load(dest, align=size) if init_from_out else llvm_ir.Constant(vec, None)
                )
                builder.store(init, slot)
                accumulators[r, c] = (slot, dest)
        undef = llvm_ir.Constant(vec, llvm_ir.Undefined)
        broadcast = llvm_ir.Constant(llvm_ir.VectorType(i32, V), [0] * V)
        with cgutils.for_range(builder, K) as loop:
            k = loop.index
            k_bytes = builder.mul(k, const(V * size))
            b = [builder.load(pointer(p_arr.data, builder.add(panels[c], k_bytes), vec), align=size)
                 for c in range(C)]  # fmt: skip
            a_col = builder.mul(k, a_stride_col)
            for r in range(R):
                a = builder.load(pointer(a_arr.data, builder.add(a_rows[r], a_col), T), align=size)
                a_vec = builder.insert_element(undef, a, llvm_ir.Constant(i32, 0))
                a_vec = builder.shuffle_vector(a_vec, undef, broadcast)
                for c in range(C):
                    slot = accumulators[r, c][0]
                    builder.store(builder.call(fmuladd, [a_vec, b[c], builder.load(slot)]), slot)
        for slot, dest in accumulators.values():
            builder.store(builder.load(slot), dest, align=size)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def _copy_panel_row(typingctx, W, k, p, P):
    """``P[p, k, :] = W[k, p * V : (p + 1) * V]``: one vector load and store.

    ``W``'s rows must be contiguous and hold the whole panel, ``P`` must be
    C-contiguous (the caller checks). Written as IR so that the copy of one cache line
    carries none of the run-time overlap checks LLVM puts before a vectorised loop.
    """
    if not (isinstance(W, types.Array) and isinstance(P, types.Array) and W.dtype == P.dtype):
        return None
    signature = types.void(W, k, p, P)

    def codegen(context, builder, sig, args):
        w_arr = context.make_array(W)(context, builder, args[0])
        p_arr = context.make_array(P)(context, builder, args[3])
        row, panel = args[1], args[2]
        T = context.get_data_type(P.dtype)
        size = context.get_abi_sizeof(T)
        vec = llvm_ir.VectorType(T, PANEL_BYTES // size)
        i64 = llvm_ir.IntType(64)
        w_row_stride = cgutils.unpack_tuple(builder, w_arr.strides)[0]
        p_stride_panel, p_stride_row = cgutils.unpack_tuple(builder, p_arr.strides)[:2]
        source = builder.add(
            builder.mul(row, w_row_stride), builder.mul(panel, llvm_ir.Constant(i64, PANEL_BYTES))
        )
        dest = builder.add(builder.mul(panel, p_stride_panel), builder.mul(row, p_stride_row))

        def pointer(data, offset):
            address = builder.add(builder.ptrtoint(data, i64), offset)
            return builder.inttoptr(address, vec.as_pointer())

        value = builder.load(pointer(w_arr.data, source), align=size)
        builder.store(value, pointer(p_arr.data, dest), align=size)
        return context.get_dummy_value()

    return signature, codegen


@njit(**JIT_OPTIONS)
def panel_width(like):
    """Columns per panel for arrays of ``like``'s type: one 64-byte cache line."""
    return PANEL_BYTES // like.itemsize


@njit(**JIT_OPTIONS)
def pack_panels(W):
    """``W`` (K, N) as panels (ceil(N / V), K, V), zero-padded past column N.

    Panel ``p`` holds columns ``p * V .. p * V + V - 1`` of ``W``. ``V`` is a
    compile-time constant (from the dtype), so each panel row is copied as one vector.
    """
    K, N = W.shape
    V = panel_width(W)
    full = N // V
    n_panels = (N + V - 1) // V
    P = np.empty((n_panels, K, V), dtype=W.dtype)
    zero = W.dtype.type(0.0)
    if W.strides[1] == W.itemsize:  # rows contiguous: a vector per panel row
        for p in range(full):
            for k in range(K):
                _copy_panel_row(W, k, p, P)
    for k in range(K):
        row = W[k]
        if W.strides[1] != W.itemsize:
            for p in range(full):
                dst = P[p, k]
                for v in range(V):
                    dst[v] = row[p * V + v]
        if full < n_panels:
            dst = P[full, k]
            for v in range(V):
                dst[v] = row[full * V + v] if full * V + v < N else zero
    return P


@njit(**JIT_OPTIONS)
def transpose_into(src, dst):
    """``dst[:, :] = src.T`` for ``src`` (K, N) and a C-contiguous ``dst`` (N, K).

    In blocks of 16 x 16 elements: copying the transposed view row by row (as
    ``np.copyto`` does) reads a whole column of ``src`` per row of ``dst``, several
    times slower for the recurrent weights of 128 hidden units (the README's
    "Measurements behind the design").
    """
    K, N = src.shape
    if dst.shape[0] != N or dst.shape[1] != K:
        raise ValueError("transpose_into: dst must have src's shape reversed")
    for i0 in range(0, K, 16):
        i1 = min(i0 + 16, K)
        for j0 in range(0, N, 16):
            for j in range(j0, min(j0 + 16, N)):
                row = dst[j]
                for i in range(i0, i1):
                    row[i] = src[i, j]


@njit(**JIT_OPTIONS)
def _full_panels(A, P, n_panels, out, accumulate):
    """``out[:, :n_panels * V] (+)= A @ W[:, :n_panels * V]``, in register tiles.

    Tiles of ``TILE_ROWS`` rows by one panel, and for the remaining rows (a single row:
    a matrix-vector product) tiles of one row by ``ROW_PANELS`` panels, so that every
    tile has several independent accumulators.
    """
    M = A.shape[0]
    whole = M - M % TILE_ROWS
    for p in range(n_panels):
        for r in range(0, whole, TILE_ROWS):
            if accumulate:
                _tile_fmuladd(A, r, P, p, out, TILE_ROWS, 1, True)
            else:
                _tile_fmuladd(A, r, P, p, out, TILE_ROWS, 1, False)
    grouped = n_panels - n_panels % ROW_PANELS
    for r in range(whole, M):
        for p in range(0, grouped, ROW_PANELS):
            if accumulate:
                _tile_fmuladd(A, r, P, p, out, 1, ROW_PANELS, True)
            else:
                _tile_fmuladd(A, r, P, p, out, 1, ROW_PANELS, False)
        for p in range(grouped, n_panels):
            if accumulate:
                _tile_fmuladd(A, r, P, p, out, 1, 1, True)
            else:
                _tile_fmuladd(A, r, P, p, out, 1, 1, False)


@njit(**JIT_OPTIONS)
def matmul_panels(A, P, out, accumulate):
    """``out = A @ W`` (or ``out += A @ W`` with ``accumulate``), ``W`` packed as ``P``.

    Parameters
    ----------
    A : ndarray, shape (M, K)
        Left operand; any strides.
    P : ndarray, shape (n_panels, K, V)
        The right operand ``W`` (K, N) from :func:`pack_panels`.
    out : ndarray, shape (M, N)
        Output, rows contiguous. Each element is computed as the module docstring
        says, so row ``r`` of the result depends on ``A[r]`` and ``W`` only.
    accumulate : bool
        Add the product to ``out`` instead of overwriting it.
    """
    M, N = out.shape
    V = P.shape[2]
    if A.shape[0] != M or A.shape[1] != P.shape[1] or not N <= P.shape[0] * V < N + V:
        raise ValueError("matmul_panels: A (M, K), panels of W (K, N) and out (M, N) disagree")
    whole = N // V
    _full_panels(A, P, whole, out, accumulate)
    if whole < P.shape[0]:  # the last, partial panel goes through a V-wide scratch
        j0 = whole * V
        edge = N - j0
        last = P[whole:]
        scratch = np.zeros((M, V), dtype=out.dtype)
        if accumulate:
            for r in range(M):
                for v in range(edge):
                    scratch[r, v] = out[r, j0 + v]
        _full_panels(A, last, 1, scratch, accumulate)
        for r in range(M):
            for v in range(edge):
                out[r, j0 + v] = scratch[r, v]


@njit(**JIT_OPTIONS)
def matmul_whole_panels(A, P, out, accumulate):
    """:func:`matmul_panels` for an ``out`` whose width is a whole number of panels.

    Without the partial last panel's scratch path: less code to compile where the
    shapes guarantee whole panels (the tiled LSTM kernels).
    """
    M, N = out.shape
    if A.shape[0] != M or A.shape[1] != P.shape[1] or N != P.shape[0] * P.shape[2]:
        raise ValueError("matmul_whole_panels: A (M, K), W (K, N) and out (M, N) disagree")
    _full_panels(A, P, P.shape[0], out, accumulate)


# Rows of the packed operand per block of a long product (add_long_product): a block of
# a panel, K_BLOCK * 64 bytes, stays in the L1 cache while every row tile uses it.
K_BLOCK = 128


@njit(**JIT_OPTIONS)
def add_long_product(A, P, out):
    """``out += A @ W`` for a long inner dimension ``K``, ``W`` (K, N) packed as ``P``
    and ``N`` a whole number of panels (a weight gradient: ``K`` counts the rows of
    a batch chunk's steps).

    :func:`matmul_whole_panels` with ``accumulate``, over blocks of
    :data:`K_BLOCK` rows of ``W`` in turn: a tile sweeping all of ``K`` reads its panel
    from the L2 cache, one block at a time it reads it from L1. Each element still
    takes its multiply-adds in order of ``k`` (kept in ``out`` between blocks, which
    rounds nothing), so the bits are those of one sweep.
    """
    M, N = out.shape
    K = P.shape[1]
    if A.shape[0] != M or A.shape[1] != K or N != P.shape[0] * P.shape[2]:
        raise ValueError("add_long_product: A (M, K), W (K, N) and out (M, N) disagree")
    for k0 in range(0, K, K_BLOCK):
        k1 = min(K, k0 + K_BLOCK)
        _full_panels(A[:, k0:k1], P[:, k0:k1], P.shape[0], out, True)


@njit(**JIT_OPTIONS)
def affine_rows(X, W, bias, out):
    """``out = bias + X @ W`` row by row: a dense layer's inference.

    ``W`` (K, N) is packed here (one call instead of two from Python); ``out`` (M, N)
    starts as the bias, then accumulates the products in order.
    """
    M, N = out.shape
    for r in range(M):
        for j in range(N):
            out[r, j] = bias[j]
    matmul_panels(X, pack_panels(W), out, True)


@njit(**JIT_OPTIONS)
def add_transposed_product(A, P, outT):
    """``outT += (A @ W).T``, ``W`` (K, N) packed as ``P``, in tiles of ``TALL_TILE_ROWS``.

    A weight gradient ``dW = Y.T @ dG`` computed "gate-major" as ``(dG.T @ Y).T``:
    the small operand ``Y`` is packed instead of the wide ``dG``, and the tiles run
    down the rows of ``dG.T``. ``outT[j, r]`` starts from its value and accumulates
    ``A[r, k] * W[k, j]`` over ``k`` in order, one fused multiply-add each: the
    order of :func:`matmul_panels` for ``outT += W.T @ A.T``, so the same bits.

    Parameters
    ----------
    A : ndarray, shape (M, K)
        Any strides (``dG.T``); ``M`` a multiple of ``TALL_TILE_ROWS``.
    P : ndarray, shape (n_panels, K, V)
        ``W`` from :func:`pack_panels`.
    outT : ndarray, shape (N, M)
        Accumulated into; C-contiguous.
    """
    M, K = A.shape
    N = outT.shape[0]
    n_panels, V = P.shape[0], P.shape[2]
    if outT.shape[1] != M or P.shape[1] != K or not N <= n_panels * V < N + V:
        raise ValueError("add_transposed_product: A (M, K), W (K, N) and outT (N, M) disagree")
    if M % TALL_TILE_ROWS:
        raise ValueError("add_transposed_product: A's rows are not whole tiles")
    out = np.zeros((M, n_panels * V), dtype=outT.dtype)  # (A @ W), zero past column N
    for j in range(N):
        src = outT[j]
        for r in range(M):
            out[r, j] = src[r]
    for p in range(n_panels):
        for r in range(0, M, TALL_TILE_ROWS):
            _tile_fmuladd(A, r, P, p, out, TALL_TILE_ROWS, 1, True)
    for j in range(N):
        dst = outT[j]
        for r in range(M):
            dst[r] = out[r, j]
