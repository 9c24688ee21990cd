"""Compile every CUDA kernel of tsLSTM to PTX, without a GPU.

Usage::

    pip install "numba-cuda[cu12]"   # NVVM from PyPI (~430 MB); no driver needed
    python benchmarks/check_cuda_ptx.py [--cc 9.0]

The CUDA simulator that CI uses runs kernels as Python and type-checks nothing; this
compiles them with the real CUDA target (NVVM) for both dtypes, so typing errors show
up on a machine without a GPU. For float32 it also counts float64 instructions
(from float64 literals promoting the arithmetic): the recurrent and optimizer
kernels must have none. ``dropout_mask`` calls numba-cuda's xoroshiro128+ generator,
whose generic ``@jit`` functions only compile with a driver present: it is skipped
when none is.
"""

import argparse
import sys

import numpy as np
from numba import cuda, typeof, types
from numba.cuda.random import xoroshiro128p_type

from tsLSTM.kernels.gpu import linalg, losses, optim, recurrent
from tsLSTM.optim import OPTIMIZERS


def arr(dt, nd, layout="A"):
    return types.Array(dt, nd, layout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split(chr(10))[0])
    parser.add_argument("--cc", default="9.0", help="compute capability, e.g. 8.0 or 9.0")
    args = parser.parse_args(argv)
    cc = tuple(int(p) for p in args.cc.split("."))
    failures = 0
    for np_dt, nb in ((np.float32, types.float32), (np.float64, types.float64)):
        f64, i64, b = types.float64, types.int64, types.boolean
        A1, A2, A3 = arr(nb, 1), arr(nb, 2), arr(nb, 3)
        I1 = arr(i64, 1)
        lk = linalg.kernels(np_dt)
        rk = recurrent.kernels(np_dt)
        los = losses.kernels(np_dt)
        ok = optim.kernels(np_dt)
        sigs = {
            "gemm": (lk.gemm, (A2, A2, A2, A1, b, b, b)),
            "fill": (lk.fill, (A1, nb)),
            "multiply": (lk.multiply, (A1, A1)),
            "transpose": (lk.transpose, (A2, A2)),
            "add_column_sums": (lk.add_column_sums, (A2, A1)),
            "copy_columns": (lk.copy_columns, (A2, i64, A2, i64, i64, b)),
            "gather_batch": (lk.gather_batch, (A3, I1, i64, I1, A3, I1)),
            "zero_padded_steps": (lk.zero_padded_steps, (A3, I1)),
            "dropout_mask": (lk.dropout_mask, (arr(xoroshiro128p_type, 1), A1, nb)),
            "lstm_forward_step": (
                rk.lstm_forward_step,
                (A2, A1, A1, A3, A3, A3, i64, i64, i64, I1),
            ),
            "lstm_backward_step": (
                rk.lstm_backward_step,
                (A2, A3, A3, A3, i64, A3, A2, A2, i64, i64, i64, i64, I1),
            ),
            "gru_forward_step": (rk.gru_forward_step, (A2, A1, A1, A3, A3, A3, i64, i64, i64, I1)),
            "gru_backward_step": (
                rk.gru_backward_step,
                (A2, A3, A3, A3, A3, i64, A3, A3, A2, A2, i64, i64, i64, I1),
            ),
            "mse": (
                los["mse"],
                (A2, arr(f64, 2), arr(f64, 1), I1, I1, i64, i64, f64, A2, arr(f64, 1)),
            ),
            "bce": (los["bce"], (A2, I1, arr(f64, 1), I1, I1, i64, i64, f64, A2, arr(f64, 1))),
            "softmax_ce": (
                los["softmax_ce"],
                (A2, I1, arr(f64, 1), I1, I1, i64, i64, f64, A2, arr(f64, 1)),
            ),
            "sum_of_squares": (ok["sum_of_squares"], (A1, arr(f64, 1))),
        }
        for name in ("sgd", "adam", "rmsprop", "adagrad"):
            # a host optimizer of each rule gives the types of its state and scalars
            host = OPTIMIZERS[name](np.zeros(4, np_dt), np.zeros(4, np_dt))
            state, scalars = typeof(host.state), typeof(host.next_step())
            sigs[name] = (ok[name], (A1, A1, nb, state, scalars, arr(f64, 1)))
        for name, (kernel, sig) in sigs.items():
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
                line = f"ok   {np_dt.__name__} {name} ({len(ptx)} chars of PTX"
                if np_dt is np.float32:
                    line += f", {ptx.count('.f64')} float64 instructions"
                print(line + ")")
            except Exception as exc:
                if name == "dropout_mask" and "driver" in str(exc):
                    print(f"skip {np_dt.__name__} {name}: needs a CUDA driver to compile")
                    continue
                failures += 1
                print(f"FAIL {np_dt.__name__} {name}: {type(exc).__name__}: {str(exc)[:600]}")
    print(f"{failures} kernel(s) failed to compile")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
