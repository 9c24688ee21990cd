"""The LSTM cell backward of one row in explicit vector code (float32).

LLVM's loop vectoriser compiles :func:`~tsLSTM.kernels.lstm.lstm_cell_backward` to
vector code, but it cannot rule out that the row's five outputs (the four gate
gradients and ``dc``) overlap its nine inputs, so before every row it checks all of
those address ranges against each other at run time: 93 comparisons, which cost
more than the arithmetic itself for rows of 16 to 64 hidden units. Here the row is
written as LLVM IR over vectors of one 64-byte cache line (16 float32) with no such
checks. The kernels' rows never overlap (:func:`~tsLSTM.kernels.lstm.lstm_backward`
requires it), and :func:`~tsLSTM.kernels.lstm.cell_backward` takes this code for
rows of a whole number of vectors: every float32 layer on the tiled path
(:func:`~tsLSTM.kernels.lstm_tiled.tiles_apply`).

The arithmetic is :func:`~tsLSTM.kernels.lstm.lstm_cell_backward`'s, operation for
operation, with the rational ``tanh`` of :mod:`tsLSTM.kernels.activations` (each
multiply-add of its polynomials one ``llvm.fmuladd``), and it gives the same bits
(``tests/test_cell_vectors.py``, under AVX-512, AVX2 and generic x86-64 code).
"""

import llvmlite.ir as llvm_ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import activations as act
from .gemm import PANEL_BYTES

FLOATS32 = PANEL_BYTES // 4  # lanes of one vector


def applies(*arrays):
    """Whether :func:`cell_backward_f32` takes arrays of these numba types."""
    return all(
        isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" and a.dtype == types.float32
        for a in arrays
    )


def _at_quarter(coefficients, factor):
    """The coefficients of ``factor * C(u / 4)`` for those of ``C(u)``, listed from the
    highest power of ``u`` down; exact, the factors being powers of two."""
    n = len(coefficients)
    return [factor * c / 4.0 ** (n - 1 - k) for k, c in enumerate(coefficients)]


class _Vectors:
    """IR helpers for one intrinsic: float32 vectors of ``lanes`` lanes."""

    def __init__(self, builder, lanes=FLOATS32):
        self.builder = builder
        self.lanes = lanes
        f32 = llvm_ir.FloatType()
        self.vec = llvm_ir.VectorType(f32, lanes)
        self.i64 = llvm_ir.IntType(64)
        self.fmuladd = cgutils.get_or_insert_function(
            builder.module,
            llvm_ir.FunctionType(self.vec, [self.vec, self.vec, self.vec]),
            f"llvm.fmuladd.v{lanes}f32",
        )
        self.one = self.splat(1.0)

    def splat(self, value):
        return llvm_ir.Constant(self.vec, [float(value)] * self.lanes)

    def index(self, value):
        return llvm_ir.Constant(self.i64, value)

    def _address(self, base, offset):
        return self.builder.bitcast(self.builder.gep(base, [offset]), self.vec.as_pointer())

    def load(self, base, offset):
        return self.builder.load(self._address(base, offset), align=4)

    def store(self, value, base, offset):
        self.builder.store(value, self._address(base, offset), align=4)

    def mul(self, *factors):
        """The product, multiplied left to right (as Python evaluates ``a * b * c``)."""
        acc = factors[0]
        for factor in factors[1:]:
            acc = self.builder.fmul(acc, factor)
        return acc

    def _polynomial(self, x2, coefficients):
        b = self.builder
        acc = b.call(self.fmuladd, [x2, self.splat(coefficients[0]), self.splat(coefficients[1])])
        for coefficient in coefficients[2:]:
            acc = b.call(self.fmuladd, [x2, acc, self.splat(coefficient)])
        return acc

    def _rational(self, x, clamp, p_coefficients, q_coefficients):
        """``x P(x^2) / Q(x^2)`` with ``x`` clamped to ``[-clamp, clamp]``."""
        b = self.builder
        low, high = self.splat(-clamp), self.splat(clamp)
        x = b.select(b.fcmp_ordered(">", x, low), x, low)
        x = b.select(b.fcmp_ordered("<", x, high), x, high)
        x2 = b.fmul(x, x)
        return b.fdiv(
            b.fmul(x, self._polynomial(x2, p_coefficients)),
            self._polynomial(x2, q_coefficients),
        )

    def tanh(self, x):
        """The float32 ``tanh`` of :mod:`tsLSTM.kernels.activations`, lane by lane."""
        return self._rational(x, act.TANH32_CLAMP, act.TANH32_P, act.TANH32_Q)

    def sigmoid(self, z):
        """``0.5 + 0.5 * tanh(0.5 * z)`` with the ``tanh`` above, lane by lane: two
        operations fewer, the same bits.

        The halvings are folded into the rational function: for ``y = z / 2``,
        ``0.5 * y P(y^2) / Q(y^2) = z P'(z^2) / Q'(z^2)``, where ``P'`` and ``Q'`` hold
        the coefficients of ``P`` and ``4 Q`` divided by powers of 4, and ``z`` is
        clamped at twice the bound. Scaling by a power of two is exact, so each rounded
        intermediate is the original one times a power of two, and ``0.5 + ...``
        rounds as ``fmuladd(0.5, t, 0.5)`` does. (An intermediate below float32's
        normal range could round differently, but only for ``|z| < 1e-19``, where
        both give exactly 0.5.)
        """
        p = _at_quarter(act.TANH32_P, 1.0)
        q = _at_quarter(act.TANH32_Q, 4.0)
        half_tanh = self._rational(z, 2.0 * float(act.TANH32_CLAMP), p, q)
        return self.builder.fadd(self.splat(0.5), half_tanh)


def _each_block(builder, nh, body, lanes=FLOATS32):
    """Emit ``body(v, j, gate)`` for every block of a row of ``nh`` units (a multiple of
    :data:`FLOATS32`): ``v`` the :class:`_Vectors` of the block's width, ``j`` its
    first unit and ``gate`` the offsets ``(j, nh + j, 2 nh + j, 3 nh + j)`` of its four
    gates.

    The blocks are ``lanes`` wide (a multiple of :data:`FLOATS32`), then
    :data:`FLOATS32` wide for what is left. Every operation is lane by lane, so the
    width does not change a bit.
    """
    start = llvm_ir.Constant(llvm_ir.IntType(64), 0)
    for width in dict.fromkeys((lanes, FLOATS32)):  # each width once
        v = _Vectors(builder, width)
        n_blocks = builder.udiv(builder.sub(nh, start), v.index(width))
        with cgutils.for_range(builder, n_blocks) as loop:
            j = builder.add(start, builder.mul(loop.index, v.index(width)))
            body(v, j, [builder.add(j, builder.mul(nh, v.index(q))) for q in range(4)])
        start = builder.add(start, builder.mul(n_blocks, v.index(width)))


def _pointers_and_length(context, builder, sig, args, length_of):
    """The data pointers of the array arguments, and the length of argument
    ``length_of``."""
    arrays = [(ty, a) for ty, a in zip(sig.args, args, strict=True) if isinstance(ty, types.Array)]
    data = [context.make_array(ty)(context, builder, a).data for ty, a in arrays]
    shape = context.make_array(sig.args[length_of])(context, builder, args[length_of]).shape
    return data, cgutils.unpack_tuple(builder, shape)[0]


@intrinsic
def cell_backward_f32(typingctx, gates, c_prev, c, dh_out, dh_rec, dc, dgates):
    """:func:`~tsLSTM.kernels.lstm.lstm_cell_backward` for one float32 row.

    All arguments are 1-D C-contiguous float32 arrays that do not overlap; ``H``
    (``c``'s length) must be a multiple of :data:`FLOATS32`.
    """
    if not applies(gates, c_prev, c, dh_out, dh_rec, dc, dgates):
        return None  # numba then reports a typing error naming the arguments
    signature = types.void(gates, c_prev, c, dh_out, dh_rec, dc, dgates)

    def codegen(context, builder, sig, args):
        data, nh = _pointers_and_length(context, builder, sig, args, 2)
        p_gates, p_cprev, p_c, p_dhout, p_dhrec, p_dc, p_dgates = data

        def block(v, j, gate):
            one = v.one
            i, f, g, o = (v.load(p_gates, offset) for offset in gate)
            tc = v.tanh(v.load(p_c, j))
            dh = builder.fadd(v.load(p_dhout, j), v.load(p_dhrec, j))
            # dct = dc + dh * o * (1 - tc * tc)
            dct = builder.fadd(v.load(p_dc, j), v.mul(dh, o, builder.fsub(one, v.mul(tc, tc))))
            v.store(builder.fmul(dct, f), p_dc, j)
            di = v.mul(dct, g, i, builder.fsub(one, i))
            df = v.mul(dct, v.load(p_cprev, j), f, builder.fsub(one, f))
            dg = v.mul(dct, i, builder.fsub(one, v.mul(g, g)))
            do = v.mul(dh, tc, o, builder.fsub(one, o))
            for value, offset in zip((di, df, dg, do), gate, strict=True):
                v.store(value, p_dgates, offset)

        _each_block(builder, nh, block)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def cell_forward_f32(typingctx, z, c_prev, c, h, wide):
    """:func:`~tsLSTM.kernels.lstm.lstm_activate` then
    :func:`~tsLSTM.kernels.lstm.lstm_state` for one float32 row, in one pass.

    ``z`` (4H,) holds the pre-activations on entry and the activations ``i, f, g, o``
    on exit; ``c`` and ``h`` (H,) receive the new states. The bits of the two loops,
    with the gate coefficients of :func:`~tsLSTM.kernels.lstm.gate_coefficients` as
    constants (``1, 0`` for ``g``; ``0.5, 0.5`` for ``i, f, o``, folded into their
    ``tanh``: ``_Vectors.sigmoid``). The arrays are 1-D, C-contiguous, float32 and do
    not overlap, and ``H`` must be a multiple of :data:`FLOATS32`. ``wide``, a
    compile-time constant, takes the units in blocks of two vectors rather than one
    (the same bits): more independent chains for the processor to overlap, which only
    some kernels gain from (see :data:`~tsLSTM.kernels.lstm.INFER_WIDE_CELL`).
    """
    if not applies(z, c_prev, c, h) or not isinstance(wide, types.BooleanLiteral):
        return None  # numba then reports a typing error naming the arguments
    lanes = 2 * FLOATS32 if wide.literal_value else FLOATS32
    signature = types.void(z, c_prev, c, h, wide)

    def codegen(context, builder, sig, args):
        data, nh = _pointers_and_length(context, builder, sig, args, 2)
        p_z, p_cprev, p_c, p_h = data

        def block(v, j, gate):
            acts = []
            for q, offset in enumerate(gate):
                z = v.load(p_z, offset)
                if q == 2:  # g: 0 + 1 * tanh(1 * z), contracted as in lstm_activate
                    act = builder.call(v.fmuladd, [v.one, v.tanh(z), v.splat(0.0)])
                else:  # i, f, o: 0.5 + 0.5 * tanh(0.5 * z)
                    act = v.sigmoid(z)
                v.store(act, p_z, offset)
                acts.append(act)
            i, f, g, o = acts
            # f * c_prev + i * g, contracted as in lstm_state: the first product fused
            c_new = builder.call(v.fmuladd, [f, v.load(p_cprev, j), builder.fmul(i, g)])
            v.store(c_new, p_c, j)
            v.store(builder.fmul(o, v.tanh(c_new)), p_h, j)

        _each_block(builder, nh, block, lanes)
        return context.get_dummy_value()

    return signature, codegen
