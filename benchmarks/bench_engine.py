"""tsLSTM's recurrent engine next to PyTorch's CPU LSTM/GRU, measured in one process.

Usage::

    python benchmarks/bench_engine.py [--threads 2] [--repeats 20] [--json out.json]
                                      [--cases S,M,...] [--no-compile-times] [--no-memory]

For every case it times a float32 training step (forward + BPTT + Adam update, MSE on
a dense head over the last step's state) or a prediction, for tsLSTM and for torch
with the same thread count, in alternating blocks of calls so that both see the same
machine state, and prints medians (ms), the ratio torch / tsLSTM, and the achieved
GFLOP/s with its fraction of the numpy float32 GEMM rate (2048 x 2048) measured in the
same run (before and after the cases; the higher of the two). It also measures, in
fresh processes with an empty numba cache directory, the first-ever compile time and
the warm-cache first call, and, in a fresh process, the peak resident memory of the
XL training step next to the bytes of activations it must store for BPTT.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

CASES = {
    # name: (kind, cell, B, T, I, H, num_layers, bidirectional)
    "S": ("train", "lstm", 32, 24, 1, 32, 1, False),
    "M": ("train", "lstm", 64, 50, 8, 64, 2, False),
    "L": ("train", "lstm", 100, 28, 28, 128, 2, False),
    "XL": ("train", "lstm", 64, 100, 256, 256, 1, False),
    "GRU-M": ("train", "gru", 64, 50, 8, 64, 2, False),
    "BiLSTM-M": ("train", "lstm", 64, 50, 8, 64, 2, True),
    # one estimator minibatch (batch_size=32): a single batch chunk
    "M-32": ("train", "lstm", 32, 50, 8, 64, 2, False),
    "L-32": ("train", "lstm", 32, 28, 28, 128, 2, False),
    "predict-1-S": ("predict", "lstm", 1, 24, 1, 32, 1, False),
    "predict-1-M": ("predict", "lstm", 1, 50, 8, 64, 2, False),
    "predict-10k-S": ("predict", "lstm", 10_000, 24, 1, 32, 1, False),
}


def recurrent_flops(cell, B, T, I, H, L, bidir, train):
    """Multiply-adds x 2 of the GEMMs both engines must do.

    Forward: the input and recurrent projections. Training adds the backward pass:
    the recurrent gradient, the weight gradients and the input gradient of every layer
    but the first (neither engine computes the gradient w.r.t. the data).
    """
    gates = 4 if cell == "lstm" else 3
    D = 2 if bidir else 1
    flops = 0
    for layer in range(L):
        inp = I if layer == 0 else D * H
        per_row = inp + H  # forward
        if train:
            per_row += H + (inp + H) + (0 if layer == 0 else inp)
        flops += D * 2 * T * B * gates * H * per_row
    return flops


def median_ms(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def blocked_median_ms(fns, repeats, rounds=2, warmup=3):
    """Medians (ms) of several functions timed in alternating blocks.

    Each round times every function in turn, ``repeats // rounds`` calls after
    ``warmup`` untimed ones, so a drift of the shared machine's speed over the run
    affects all of them alike. Blocks, not single alternating calls: torch's OpenMP
    threads (and OpenBLAS's) keep spinning on the cores for a while after a call, and
    would slow down whatever runs right after them.
    """
    times = [[] for _ in fns]
    per_block = max(1, repeats // rounds)
    for _ in range(rounds):
        for fn, spent in zip(fns, times, strict=True):
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                spent.append(time.perf_counter() - start)
    return [1e3 * statistics.median(spent) for spent in times]


def gemm_gflops(repeats=10):
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    ms = median_ms(lambda: a @ a, repeats, warmup=2)
    return 2 * 2048**3 / (ms * 1e-3) / 1e9


def build_ours(cell, I, H, L, bidir, out=1):
    from tsLSTM.nn import GRU, LSTM, Linear, SequenceModel

    rnn = (LSTM if cell == "lstm" else GRU)(I, H, L, bidir, random_state=0)
    return SequenceModel(rnn, Linear(H * (2 if bidir else 1), out, random_state=0))


def build_torch(torch, cell, I, H, L, bidir, out=1):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            rnn = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
            self.rnn = rnn(I, H, L, bidirectional=bidir, batch_first=True)
            self.head = torch.nn.Linear(H * (2 if bidir else 1), out)

        def forward(self, X):
            return self.head(self.rnn(X)[0][:, -1])

    return Net()


def case_steps(name, torch):
    """``(ours_step, torch_step)``: one training step or prediction of the case each."""
    from tsLSTM.losses import mean_squared_error
    from tsLSTM.optim import Adam

    kind, cell, B, T, I, H, L, bidir = CASES[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, T, I)).astype(np.float32)
    y = rng.standard_normal((B, 1)).astype(np.float32)
    ours = build_ours(cell, I, H, L, bidir)
    theirs = build_torch(torch, cell, I, H, L, bidir)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)

    if kind == "train":
        optimizer = Adam(ours.flat_params, ours.flat_grads, lr=1e-3)
        t_optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-3)

        def ours_step():
            ours.zero_grad()
            _, d_pred = mean_squared_error(y, ours.forward(X, training=True))
            ours.backward(d_pred, input_grad=False)  # torch: X needs no gradient
            optimizer.step()

        def torch_step():
            t_optimizer.zero_grad()
            torch.nn.functional.mse_loss(theirs(tX), ty).backward()
            t_optimizer.step()
    else:

        def ours_step():
            ours.predict(X)

        def torch_step():
            with torch.inference_mode():
                theirs(tX)

    return ours_step, torch_step


def time_case(name, torch, repeats):
    """Medians of the case for both engines, the ratio, and tsLSTM's GFLOP/s."""
    kind, cell, B, T, I, H, L, bidir = CASES[name]
    ms_ours, ms_torch = blocked_median_ms(case_steps(name, torch), repeats)
    flops = recurrent_flops(cell, B, T, I, H, L, bidir, kind == "train")
    return {
        "case": name, "kind": kind, "cell": cell, "B": B, "T": T, "I": I, "H": H, "L": L,
        "bidirectional": bidir, "tslstm_ms": ms_ours, "torch_ms": ms_torch,
        "ratio": ms_torch / ms_ours, "gflops": flops / (ms_ours * 1e-3) / 1e9,
    }  # fmt: skip


_FIRST_CALL = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import numpy as np
    import tsLSTM
    t_import = time.perf_counter() - t0
    from tsLSTM.nn import LSTM, Linear, SequenceModel
    from tsLSTM.losses import mean_squared_error
    from tsLSTM.optim import Adam
    model = SequenceModel(LSTM(1, 16, random_state=0), Linear(16, 1, random_state=0))
    opt = Adam(model.flat_params, model.flat_grads)
    X = np.zeros((8, 10, 1), np.float32); y = np.zeros((8, 1), np.float32)
    t1 = time.perf_counter()
    _, d = mean_squared_error(y, model.forward(X, training=True))
    model.backward(d, input_grad=False); opt.step(); model.forward(X)
    print(t_import, time.perf_counter() - t1)
    """
)


def compile_times():
    """Import time, and the first training step (as the estimators take it: no gradient
    w.r.t. the data) in fresh processes: cold, then warm cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        results = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True, text=True,
                check=True,
            ).stdout.split()  # fmt: skip
            results.append((float(out[0]), float(out[1])))
    return {"import_s": results[1][0], "cold_first_step_s": results[0][1],
            "warm_first_step_s": results[1][1]}  # fmt: skip


_XL_MEMORY = textwrap.dedent(
    """
    import gc, json, resource, sys
    import numpy as np
    from tsLSTM.nn import LSTM, Linear, SequenceModel
    from tsLSTM.losses import mean_squared_error
    from tsLSTM.optim import Adam

    def status_kib(key):  # Linux: this process's own figures (ru_maxrss is not, see below)
        try:
            with open("/proc/self/status") as fh:
                return next(int(l.split()[1]) for l in fh if l.startswith(key + ":"))
        except (OSError, StopIteration):
            return None

    def step(B, T, I, H, steps):
        model = SequenceModel(LSTM(I, H, random_state=0), Linear(H, 1, random_state=0))
        opt = Adam(model.flat_params, model.flat_grads, lr=1e-3)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((B, T, I)).astype(np.float32)
        y = rng.standard_normal((B, 1)).astype(np.float32)
        for _ in range(steps):
            model.zero_grad()
            _, d_pred = mean_squared_error(y, model.forward(X, training=True))
            model.backward(d_pred)
            opt.step()

    B, T, I, H, steps = (int(a) for a in sys.argv[1:])
    step(2, 3, I, H, 1)  # compiles (or loads from the cache) the same signatures
    gc.collect()
    baseline = status_kib("VmRSS")
    reset = False
    try:  # reset this process's peak-RSS mark (VmHWM) to the current RSS
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        pass
    step(B, T, I, H, steps)  # warm-up + timed-like steps of the XL case
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    maxrss_kib = maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS
    print(json.dumps({"baseline_kib": baseline, "hwm_kib": status_kib("VmHWM"),
                      "hwm_reset": reset, "ru_maxrss_kib": maxrss_kib}))
    """
)


def activation_bytes(cell, B, T, H, L, bidir, itemsize=4):
    """Bytes a training forward pass stores for BPTT: states (T+1)*B*H, gates T*B*gH."""
    D = 2 if bidir else 1
    if cell == "lstm":  # Hs, Cs and the i, f, g, o activations
        per_direction = 2 * (T + 1) * B * H + T * B * 4 * H
    else:  # Hs, the r, z, n activations and h_{t-1} W_hn^T + b_hn
        per_direction = (T + 1) * B * H + T * B * 3 * H + T * B * H
    return L * D * per_direction * itemsize


def xl_memory(steps=4):
    """Peak RSS of the XL training step, in a fresh process (earlier cases can't inflate it).

    The baseline is the RSS after imports and after compiling (or loading) the kernels on
    a tiny model of the same signature. On Linux the peak is the process's VmHWM, reset to
    the baseline just before the XL steps; ``ru_maxrss`` is reported as well but, in a
    child started by fork/vfork + exec, it also counts the parent's RSS at the fork.
    """
    _, cell, B, T, I, H, L, bidir = CASES["XL"]
    out = subprocess.run(
        [sys.executable, "-c", _XL_MEMORY, *(str(v) for v in (B, T, I, H, steps))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    raw = json.loads(out.strip().splitlines()[-1])
    mib = 1 / 1024
    peak_kib = raw["hwm_kib"] if raw["hwm_kib"] is not None else raw["ru_maxrss_kib"]
    baseline = raw["baseline_kib"]
    return {
        "peak_mib": peak_kib * mib,
        "baseline_mib": None if baseline is None else baseline * mib,
        "increase_mib": None if baseline is None else (peak_kib - baseline) * mib,
        "peak_since_baseline_only": raw["hwm_reset"],
        "ru_maxrss_mib": raw["ru_maxrss_kib"] * mib,
        "activations_mib": activation_bytes(cell, B, T, H, L, bidir) / 2**20,
        "steps": steps,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--no-compile-times", action="store_true")
    parser.add_argument("--no-memory", action="store_true", help="skip the XL peak-RSS run")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    rows = []
    with threadpool_limits(limits=args.threads):
        peak = gemm_gflops()
        for name in args.cases.split(","):
            rows.append(time_case(name, torch, args.repeats))
        peak = max(peak, gemm_gflops())
    for row in rows:
        row["fraction_of_gemm"] = row["gflops"] / peak

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"threads: {args.threads}; numpy float32 GEMM 2048^3: {peak:.1f} GFLOP/s; "
          f"torch {torch.__version__}; median of {args.repeats} repeats in 2 blocks")  # fmt: skip
    header = (
        f"{'case':14} {'B':>6} {'T':>4} {'I':>4} {'H':>4} {'L':>2} {'dir':>3} "
        f"{'tsLSTM ms':>10} {'torch ms':>10} {'torch/ours':>10} {'GFLOP/s':>8} {'of GEMM':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['case']:14} {r['B']:>6} {r['T']:>4} {r['I']:>4} {r['H']:>4} {r['L']:>2} "
              f"{2 if r['bidirectional'] else 1:>3} {r['tslstm_ms']:>10.3f} {r['torch_ms']:>10.3f} "
              f"{r['ratio']:>9.2f}x {r['gflops']:>8.1f} {r['fraction_of_gemm']:>7.1%}")  # fmt: skip
    result = {"threads": args.threads, "gemm_gflops": peak, "cases": rows}
    if not args.no_compile_times:
        times = compile_times()
        result.update(times)
        print(f"\nimport tsLSTM: {times['import_s']:.2f} s; first training step in a fresh "
              f"process: {times['cold_first_step_s']:.1f} s with an empty numba cache (compiling), "
              f"{times['warm_first_step_s']:.2f} s with a warm cache")  # fmt: skip
    if not args.no_memory:
        mem = xl_memory()
        result["xl_peak_rss_mib"] = mem
        increase = ""
        if mem["increase_mib"] is not None:
            increase = (f", +{mem['increase_mib']:.1f} MiB over the {mem['baseline_mib']:.1f} "
                        "MiB after imports and compilation")  # fmt: skip
        print(f"\nXL training step ({mem['steps']} steps, fresh process): peak RSS "
              f"{mem['peak_mib']:.1f} MiB{increase}; stored activations (Hs, Cs, gates, "
              f"float32): {mem['activations_mib']:.1f} MiB")  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
