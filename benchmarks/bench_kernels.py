"""The LSTM training kernels side by side: BLAS per step against tsLSTM's own tiles.

Usage::

    python benchmarks/bench_kernels.py [--repeats 15] [--json out.json]

For the batch chunks of ``bench_engine.py``'s cases (at most 32 sequences, one
thread, as the layers run them), it times one direction's forward pass and its
backward pass (with the input gradient for layers above the first) through
``kernels/lstm.py`` (OpenBLAS for every product) and ``kernels/lstm_tiled.py`` (the
register tiles of ``kernels/gemm.py``; BLAS for the products over all ``T * B`` rows
where ``lstm_tiled.products_plan`` says so), and prints medians, the speed-up
and the tiled kernels' GFLOP/s. This is the measurement behind the layer's choice of
kernel by shape; run it on each processor type (the README has both).
"""

import argparse
import json

import numpy as np
from bench_engine import median_ms

from tsLSTM._threads import single_threaded_blas
from tsLSTM.kernels.lstm import lstm_backward, lstm_forward
from tsLSTM.kernels.lstm_tiled import lstm_backward_tiled, lstm_forward_tiled

# name: (B, T, I, H, input gradient): the chunks of bench_engine.py's cases, per layer
CHUNKS = {
    "S": (32, 24, 1, 32, False),
    "M layer 1": (32, 50, 8, 64, False),
    "M layer 2": (32, 50, 64, 64, True),
    "L layer 1": (25, 28, 28, 128, False),
    "L layer 2": (25, 28, 128, 128, True),
    "XL": (32, 100, 256, 256, False),
}


def time_chunk(B, T, I, H, input_grad, repeats):
    """Forward and backward medians (ms) of both kernel pairs on one chunk."""
    rng = np.random.default_rng(0)
    f32 = np.float32

    def rand(*shape):
        return (0.3 * rng.standard_normal(shape)).astype(f32)

    X, W_ihT, W_hhT = rand(T, B, I), rand(I, 4 * H), rand(H, 4 * H)
    W_hh = np.ascontiguousarray(W_hhT.T)
    b_ih, b_hh = rand(4 * H), rand(4 * H)
    h0 = c0 = np.zeros((B, H), f32)
    lengths = np.full(B, T, np.int64)
    Hs, Cs, G = (
        np.empty((T + 1, B, H), f32),
        np.empty((T + 1, B, H), f32),
        np.empty((T, B, 4 * H), f32),
    )
    dH, dG = rand(T, B, H), np.empty_like(G)
    grads = [np.zeros_like(a) for a in (W_ihT, W_hhT, b_ih, b_hh)]
    dX = np.empty((T if input_grad else 0, B, I), f32)
    times = {}
    for name, forward, backward in (
        ("blas", lstm_forward, lstm_backward),
        ("tiled", lstm_forward_tiled, lstm_backward_tiled),
    ):
        fwd = median_ms(
            lambda f=forward: f(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, False, lengths, Hs, Cs, G),
            repeats,
        )
        bwd = median_ms(
            lambda b=backward: b(
                X, W_ihT, W_hh, Hs, Cs, G, dH, h0, c0, False, lengths, dG, *grads, dX
            ),
            repeats,
        )
        times[name] = (fwd, bwd)
    flops = 2 * T * B * 4 * H * ((I + H) + (H + I + H) + (I if input_grad else 0))
    return times, flops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--chunks", default=",".join(CHUNKS))
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    with single_threaded_blas():
        for name in args.chunks.split(","):
            B, T, I, H, input_grad = CHUNKS[name]
            times, flops = time_chunk(B, T, I, H, input_grad, args.repeats)
            (blas_f, blas_b), (tile_f, tile_b) = times["blas"], times["tiled"]
            rows.append({
                "chunk": name, "B": B, "T": T, "I": I, "H": H, "blas_forward_ms": blas_f,
                "tiled_forward_ms": tile_f, "blas_backward_ms": blas_b, "tiled_backward_ms": tile_b,
                "speedup": (blas_f + blas_b) / (tile_f + tile_b),
                "tiled_gflops": flops / ((tile_f + tile_b) * 1e-3) / 1e9,
            })  # fmt: skip
    header = (
        f"{'chunk':10} {'B':>3} {'T':>4} {'I':>4} {'H':>4} {'BLAS fwd':>9} {'tiled fwd':>9} "
        f"{'BLAS bwd':>9} {'tiled bwd':>9} {'speed-up':>8} {'GFLOP/s':>8}"
    )
    print("one thread; ms, medians of", args.repeats, "calls; forward + backward of one direction")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['chunk']:10} {r['B']:>3} {r['T']:>4} {r['I']:>4} {r['H']:>4} "
              f"{r['blas_forward_ms']:>9.3f} {r['tiled_forward_ms']:>9.3f} "
              f"{r['blas_backward_ms']:>9.3f} {r['tiled_backward_ms']:>9.3f} "
              f"{r['speedup']:>7.2f}x {r['tiled_gflops']:>8.1f}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
