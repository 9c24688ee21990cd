"""How fast tsLSTM could be at best: the matrix products alone, next to PyTorch.

Usage::

    python benchmarks/bench_floors.py [--threads 2] [--repeats 20] [--cases M,predict-1-M]
                                      [--json out.json]

For every LSTM case of ``bench_engine.py`` it times, in one process and in alternating
blocks (as ``bench_engine.py`` does):

- torch's training step or prediction;
- tsLSTM's (the same code as ``bench_engine.py``);
- a *floor*: only the matrix products tsLSTM's kernels must do for that case, with the
  same shapes, the same product kernels (for training, those ``kernels/lstm_tiled.py``
  picks by shape: its own register tiles of ``kernels/gemm.py``, or BLAS; for
  inference the row-independent tiles), the same batch chunks and the same threads,
  and no gate arithmetic, no Python layers, no loss or optimizer. tsLSTM's design
  (these products through these kernels) cannot be faster than the floor;
- the *kernels*: tsLSTM's whole recurrent kernels for the case (products and gate
  arithmetic: ``lstm_forward_tiled`` + ``lstm_backward_tiled``, or ``lstm_forward`` +
  ``lstm_backward`` where the tiles do not apply, or ``lstm_infer``) over the same
  chunks and threads, without the Python of the layers, the dense head, the loss and
  the optimizer. The difference to tsLSTM's time is that Python.

The four are timed in the same alternating blocks. It prints the issue's target
ratio, the time a run must beat to meet it (torch's time divided by the target), the
floor and the kernels' time, each as a fraction of that allowance. A fraction above
100% means the target cannot be met with these products (or kernels) on this
machine; well below 100% means the rest (gate math, Python) is what stands between.
"""

import argparse
import json
import os

import numpy as np
from bench_engine import CASES, blocked_median_ms, case_steps
from numba import njit

from tsLSTM._threads import (
    CHUNK_ROWS,
    INFER_CHUNK_ROWS,
    chunk_bounds,
    parallel_map,
    single_threaded_blas,
)
from tsLSTM.kernels._common import project_block, projection_steps
from tsLSTM.kernels.gemm import matmul_panels, matmul_whole_panels, pack_panels
from tsLSTM.kernels.lstm import lstm_backward, lstm_forward, lstm_infer
from tsLSTM.kernels.lstm_tiled import (
    INPUT_GRAD_KERNELS,
    PROJECT_KERNELS,
    lstm_backward_tiled,
    lstm_forward_tiled,
    products_plan,
    tiles_apply,
    weight_grads_kernel,
)

TARGETS = {
    "S": 3.0, "M": 2.0, "L": 1.5, "XL": 1.2, "BiLSTM-M": 1.5,
    "predict-1-S": 10.0, "predict-1-M": 5.0, "predict-10k-S": 2.0,
}  # fmt: skip


@njit(nogil=True)
def train_products(X, W_ihT, W_hhT, W_hh, Hs, G, gh, dG, dh, dW_ihT, dW_hhT, dX, input_grad):
    """The matrix products of ``lstm_forward`` + ``lstm_backward`` (BLAS) for one direction."""
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    G2 = G.reshape(T * B, 4 * nh)
    np.dot(X.reshape(T * B, I), W_ihT, G2)
    for t in range(T):  # forward: h_{t-1} W_hh^T
        np.dot(Hs[t], W_hhT, gh)
    for t in range(T):  # backward: dgates W_hh
        np.dot(dG[t], W_hh, dh)
    dG2 = dG.reshape(T * B, 4 * nh)
    dW_ihT += np.dot(X.reshape(T * B, I).T, dG2)
    dW_hhT += np.dot(Hs[:T].reshape(T * B, nh).T, dG2)
    if input_grad:
        np.dot(dG2, W_ihT.T, dX.reshape(T * B, I))


@njit(nogil=True)
def _recurrent_products(W_hhT, W_hh, Hs, G, dG, dh):
    """The per-step products of ``lstm_recurrence`` and ``lstm_recurrence_backward``."""
    T = G.shape[0]
    P_hh = pack_panels(W_hhT)
    for t in range(T):  # forward: h_{t-1} W_hh^T onto the pre-activations
        matmul_whole_panels(Hs[t], P_hh, G[t], True)
    P_w = pack_panels(W_hh)
    for t in range(T):  # backward: dgates W_hh
        matmul_whole_panels(dG[t], P_w, dh, False)


def train_products_tiled(X, W_ihT, W_hhT, W_hh, Hs, G, gh, dG, dh, dW_ihT, dW_hhT, dX, input_grad):
    """The matrix products of ``lstm_forward_tiled`` + ``lstm_backward_tiled``, through
    the product kernels they pick for these sizes (see ``kernels/lstm_tiled.py``)."""
    T, B, I = X.shape
    nh = W_hhT.shape[0]
    plan = products_plan(nh, I)
    X2, G2, dG2 = X.reshape(T * B, I), G.reshape(T * B, 4 * nh), dG.reshape(T * B, 4 * nh)
    b = np.zeros(4 * nh, dtype=G.dtype)
    PROJECT_KERNELS[plan](X2, W_ihT, b, b, G2)
    _recurrent_products(W_hhT, W_hh, Hs, G, dG, dh)
    H_prev = Hs[:T].reshape(T * B, nh)
    weight_grads_kernel(plan, dG2.nbytes)(X2, H_prev, dG2, dW_ihT, dW_hhT, b.copy(), b.copy())
    if input_grad:
        INPUT_GRAD_KERNELS[plan](dG2, W_ihT, dX.reshape(T * B, I))


@njit(nogil=True)
def infer_products(X, W_ihT, W_hhT, bias, h):
    """The matrix products of ``lstm_infer`` for one direction, as it runs them: the
    input projection from the bias per block of steps (``project_block``), and each
    step's recurrent product accumulated onto it."""
    T, B, _ = X.shape
    G = W_hhT.shape[1]
    P_ih, P_hh = pack_panels(W_ihT), pack_panels(W_hhT)
    GX = np.empty((projection_steps(T, B, G), B, G), dtype=X.dtype)
    t0 = 0
    for step in range(T):
        if step % GX.shape[0] == 0:
            t0 = project_block(X, P_ih, bias, GX, step, False)
        matmul_panels(h, P_hh, GX[step - t0], True)


def case_chunks(name):
    """The batch chunks' bounds of the case, as the recurrent layer computes them."""
    kind, _, B, T, I, H, L, bidir = CASES[name]
    D = 2 if bidir else 1
    inputs = I + (L - 1) * D * H  # the layers' input sizes
    max_rows = CHUNK_ROWS if kind == "train" else INFER_CHUNK_ROWS
    return chunk_bounds(B, T * D * 4 * H * (inputs + L * H), max_rows)


def floor_function(name):
    """A function running the case's matrix products over tsLSTM's batch chunks."""
    kind, cell, _, T, I, H, L, bidir = CASES[name]
    assert cell == "lstm"
    D = 2 if bidir else 1
    rng = np.random.default_rng(0)
    f32 = np.float32
    bounds = case_chunks(name)

    def chunk_arrays(rows):
        layers = []
        for layer in range(L):
            inp = I if layer == 0 else D * H
            X = rng.standard_normal((T, rows, inp)).astype(f32)
            W_ihT = rng.standard_normal((inp, 4 * H)).astype(f32)
            W_hhT = rng.standard_normal((H, 4 * H)).astype(f32)
            if kind == "train":
                arrays = (X, W_ihT, W_hhT, np.ascontiguousarray(W_hhT.T),
                          rng.standard_normal((T + 1, rows, H)).astype(f32),
                          np.empty((T, rows, 4 * H), f32), np.empty((rows, 4 * H), f32),
                          rng.standard_normal((T, rows, 4 * H)).astype(f32),
                          np.empty((rows, H), f32), np.zeros_like(W_ihT), np.zeros_like(W_hhT),
                          np.empty((T, rows, inp), f32), layer > 0)  # fmt: skip
            else:
                arrays = (X, W_ihT, W_hhT, np.zeros(4 * H, f32), np.zeros((rows, H), f32))
            layers.extend([arrays] * D)
        return layers

    chunks = [chunk_arrays(bounds[k + 1] - bounds[k]) for k in range(len(bounds) - 1)]
    if kind == "train":
        products = train_products_tiled if tiles_apply(H, 4) else train_products
    else:
        products = infer_products

    def run_chunk(k):
        for arrays in chunks[k]:
            products(*arrays)

    def run():
        with single_threaded_blas():
            parallel_map(run_chunk, len(chunks))

    return run


def kernels_function(name):
    """A function running the case's whole recurrent kernels over tsLSTM's batch chunks."""
    kind, cell, _, T, I, H, L, bidir = CASES[name]
    assert cell == "lstm"
    D = 2 if bidir else 1
    rng = np.random.default_rng(0)
    f32 = np.float32
    bounds = case_chunks(name)
    tiled = tiles_apply(H, 4)
    forward = lstm_forward_tiled if tiled else lstm_forward
    backward = lstm_backward_tiled if tiled else lstm_backward

    def uniform(*shape):  # PyTorch's initialisation range
        return rng.uniform(-(H**-0.5), H**-0.5, shape).astype(f32)

    def direction_calls(rows, layer, reverse):
        inp = I if layer == 0 else D * H
        X, W_ihT, W_hhT = uniform(T, rows, inp), uniform(inp, 4 * H), uniform(H, 4 * H)
        b = uniform(4 * H)
        lengths = np.full(rows, T, dtype=np.int64)
        zeros = np.zeros((1, rows, H), f32)
        if kind != "train":
            h_n, c_n = np.empty_like(zeros), np.empty_like(zeros)
            H_out = np.empty((T if layer < L - 1 else 0, rows, H), f32)
            return [lambda: lstm_infer(X, W_ihT, W_hhT, b, b, zeros, zeros, reverse, lengths,
                                       H_out, h_n, c_n, 0)]  # fmt: skip
        Hs, Cs = np.empty((T + 1, rows, H), f32), np.empty((T + 1, rows, H), f32)
        G, dG = np.empty((T, rows, 4 * H), f32), np.empty((T, rows, 4 * H), f32)
        W_hh = np.ascontiguousarray(W_hhT.T)
        grads = (np.zeros_like(W_ihT), np.zeros_like(W_hhT), np.zeros_like(b), np.zeros_like(b))
        dH = uniform(T if layer < L - 1 else 0, rows, H)  # the layer above's gradient
        dh_n, dX = uniform(rows, H), np.empty((T if layer > 0 else 0, rows, inp), f32)
        return [
            lambda: forward(X, W_ihT, W_hhT, b, b, zeros[0], zeros[0], reverse, lengths, Hs, Cs, G),
            lambda: backward(X, W_ihT, W_hh, Hs, Cs, G, dH, dh_n, zeros[0], reverse, lengths,
                             dG, *grads, dX),
        ]  # fmt: skip

    chunks = []
    for k in range(len(bounds) - 1):
        rows = bounds[k + 1] - bounds[k]
        calls = [direction_calls(rows, layer, d == 1) for layer in range(L) for d in range(D)]
        forward_calls = [c[0] for c in calls]
        backward_calls = [c[-1] for c in reversed(calls)] if kind == "train" else []
        chunks.append((forward_calls, backward_calls))

    def run_part(part):
        return lambda k: [call() for call in chunks[k][part]]

    def run():
        with single_threaded_blas():
            for part in (0, 1):  # forward, then backward
                parallel_map(run_part(part), len(chunks))

    if kind != "train":  # inference calls no BLAS
        return lambda: parallel_map(run_part(0), len(chunks))

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cases", default=",".join(TARGETS))
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import torch

    from tsLSTM._threads import thread_limits

    torch.set_num_threads(args.threads)
    rows = []
    with thread_limits(args.threads):
        for name in args.cases.split(","):
            ours_step, torch_step = case_steps(name, torch)
            ours_ms, floor_ms, kernels_ms, torch_ms = blocked_median_ms(
                [ours_step, floor_function(name), kernels_function(name), torch_step],
                args.repeats,
            )
            allowed = torch_ms / TARGETS[name]
            rows.append({
                "case": name, "target": TARGETS[name], "torch_ms": torch_ms,
                "allowed_ms": allowed, "tslstm_ms": ours_ms, "ratio": torch_ms / ours_ms,
                "floor_ms": floor_ms, "floor_of_allowed": floor_ms / allowed,
                "kernels_ms": kernels_ms, "kernels_of_allowed": kernels_ms / allowed,
            })  # fmt: skip

    print(f"threads: {args.threads}; torch {torch.__version__}; medians of {args.repeats} "
          "repeats in 2 blocks; floor: tsLSTM's matrix products alone")  # fmt: skip
    header = (
        f"{'case':14} {'target':>6} {'torch ms':>9} {'allowed ms':>10} {'floor ms':>9} "
        f"{'floor/allowed':>13} {'kernels ms':>10} {'kernels/allowed':>15} {'tsLSTM ms':>10} "
        f"{'torch/ours':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['case']:14} {r['target']:>5.1f}x {r['torch_ms']:>9.3f} {r['allowed_ms']:>10.3f} "
              f"{r['floor_ms']:>9.3f} {r['floor_of_allowed']:>12.0%} {r['kernels_ms']:>10.3f} "
              f"{r['kernels_of_allowed']:>14.0%} {r['tslstm_ms']:>10.3f} "
              f"{r['ratio']:>9.2f}x")  # fmt: skip
    print(
        "\nallowed: torch ms / target, the time that meets the target; floor/allowed "
        "above 100%: the products alone already miss it; kernels: products and gate "
        "arithmetic, without the Python of the layers, the loss and the optimizer"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "cases": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
