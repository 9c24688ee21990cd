"""tsLSTM's GPU path next to its CPU path and PyTorch's cuDNN LSTM, in one process.

Usage::

    python benchmarks/bench_gpu.py [--repeats 20] [--json out.json] [--no-torch]
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/bench_gpu.py --smoke   # no GPU needed

For each case it times a float32 training step (forward + BPTT + MSE on a dense head
over the last step's state + gradient-norm clipping + Adam update, everything on the
device: the batch is already there, as in a fit) and a prediction of the batch
(upload, forward, download), for the GPU path, the CPU path and torch on CUDA
(cuDNN), and prints medians in milliseconds with the ratios the GPU issue targets:
GPU >= 10x the CPU path at B=256, and within 3x of cuDNN.

Needs an NVIDIA GPU with ``tsLSTM[cuda]``; without one it says so and exits with
status 2. ``--smoke`` runs one tiny case (for the CUDA simulator, to keep the script
working where there is no GPU); its times mean nothing.
"""

import argparse
import json
import math
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import build_ours, build_torch, median_ms

CASES = {
    # name: (B, T, I, H, num_layers)
    "B256": (256, 100, 32, 128, 2),
    "L": (100, 28, 28, 128, 2),
}
SMOKE = {"smoke": (2, 2, 2, 3, 2)}


def gpu_steps(model, X, y):
    """Training-step and prediction closures of the GPU path (data on the device)."""
    from numba import cuda

    from tsLSTM.gpu.model import DeviceSequenceModel
    from tsLSTM.gpu.optim import DeviceOptimizer
    from tsLSTM.kernels.gpu import linalg
    from tsLSTM.kernels.gpu import losses as loss_kernels
    from tsLSTM.kernels.gpu import optim as optim_kernels
    from tsLSTM.kernels.gpu._launch import grid_1d
    from tsLSTM.optim import Adam

    B, T, _ = X.shape
    device_model = DeviceSequenceModel(model)
    buffers = device_model.buffers
    optimizer = DeviceOptimizer(Adam(model.flat_params, model.flat_grads, lr=1e-3),
                                buffers.params, buffers.grads)  # fmt: skip
    X_tm = np.ascontiguousarray(X.transpose(1, 0, 2))
    d_X = cuda.to_device(X_tm)
    d_y = cuda.to_device(y.astype(np.float64))
    d_lengths = cuda.to_device(np.full(B, T, dtype=np.int64))
    d_order = cuda.to_device(np.arange(B, dtype=np.int64))
    d_weights = cuda.to_device(np.ones(B))
    scalars = linalg.zeros(3, np.float64)
    mse = loss_kernels.kernels(np.float32)["mse"]

    def train_step():
        buffers.zero_grad()
        out = device_model.forward(d_X, d_lengths, training=True)
        grad = cuda.device_array(out.shape, dtype=np.float32)
        linalg.fill(scalars[:2], 0)
        blocks, threads = grid_1d(B)
        mse[blocks, threads](out, d_y, d_weights, d_lengths, d_order, 0, 0, 1.0 / B, grad,
                             scalars)  # fmt: skip
        device_model.backward(grad)
        optim_kernels.sum_of_squares(buffers.grads, scalars[1:2])
        _, sum_sq, _ = scalars.copy_to_host()  # synchronises
        optimizer.step(min(1.0 / (math.sqrt(sum_sq) + 1e-6), 1.0), scalars[2:])
        cuda.synchronize()

    def predict():
        device_model.predict_device(cuda.to_device(X_tm), d_lengths)

    return train_step, predict


def cpu_steps(model, X, y):
    from tsLSTM.losses import mean_squared_error
    from tsLSTM.optim import Adam, clip_grad_norm

    optimizer = Adam(model.flat_params, model.flat_grads, lr=1e-3)

    def train_step():
        model.zero_grad()
        _, d_pred = mean_squared_error(y, model.forward(X, training=True))
        model.backward(d_pred)
        clip_grad_norm(model.flat_grads, 1.0)
        optimizer.step()

    return train_step, lambda: model.predict(X)


def torch_steps(torch, net, X, y):
    dev = torch.device("cuda")
    net = net.to(dev)
    tX, ty = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def train_step():
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(tX), ty).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        torch.cuda.synchronize()

    def predict():
        with torch.inference_mode():
            net(torch.from_numpy(X).to(dev)).cpu()

    return train_step, predict


def time_case(name, shape, repeats, torch):
    B, T, I, H, L = shape
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, T, I)).astype(np.float32)
    y = rng.standard_normal((B, 1)).astype(np.float32)
    rows = []
    gpu = gpu_steps(build_ours("lstm", I, H, L, False), X, y)
    cpu = cpu_steps(build_ours("lstm", I, H, L, False), X, y)
    peer = None
    if torch is not None:
        peer = torch_steps(torch, build_torch(torch, "lstm", I, H, L, False), X, y)
    for k, kind in enumerate(("train", "predict")):
        row = {"case": name, "kind": kind, "B": B, "T": T, "I": I, "H": H, "L": L}
        row["gpu_ms"] = median_ms(gpu[k], repeats)
        row["cpu_ms"] = median_ms(cpu[k], repeats)
        row["cudnn_ms"] = median_ms(peer[k], repeats) if peer else None
        row["gpu_vs_cpu"] = row["cpu_ms"] / row["gpu_ms"]
        row["gpu_vs_cudnn"] = row["gpu_ms"] / row["cudnn_ms"] if peer else None
        rows.append(row)
    return rows


def _torch_cuda(skip):
    if skip:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--no-torch", action="store_true", help="skip the cuDNN peer")
    parser.add_argument("--smoke", action="store_true", help="one tiny case (CUDA simulator)")
    args = parser.parse_args(argv)

    from tsLSTM.devices import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"No GPU to benchmark: {reason}.", file=sys.stderr)
        return 2
    from numba import cuda

    cases, repeats = (SMOKE, 2) if args.smoke else (CASES, args.repeats)
    if args.smoke:
        sys.setswitchinterval(1e-4)  # the simulator's thread polling holds the GIL
    torch = _torch_cuda(args.no_torch or args.smoke)
    gpu_name = "CUDA simulator" if args.smoke else cuda.get_current_device().name
    gpu_name = gpu_name.decode() if isinstance(gpu_name, bytes) else gpu_name
    print(f"GPU: {gpu_name}; CPU: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; torch: {torch.__version__ if torch else 'not used'}; "
          f"float32, median of {repeats}")  # fmt: skip
    header = f"{'case':<6} {'kind':<8} {'GPU ms':>9} {'CPU ms':>9} {'cuDNN ms':>9} "
    header += f"{'CPU/GPU':>8} {'GPU/cuDNN':>9}"
    print(header)
    rows = []
    for name, shape in cases.items():
        for row in time_case(name, shape, repeats, torch):
            rows.append(row)
            cudnn = f"{row['cudnn_ms']:9.2f}" if row["cudnn_ms"] else f"{'n/a':>9}"
            vs = f"{row['gpu_vs_cudnn']:9.2f}" if row["gpu_vs_cudnn"] else f"{'n/a':>9}"
            print(f"{row['case']:<6} {row['kind']:<8} {row['gpu_ms']:9.2f} {row['cpu_ms']:9.2f} "
                  f"{cudnn} {row['gpu_vs_cpu']:8.1f} {vs}")  # fmt: skip
    if not args.smoke:
        b256 = next(r for r in rows if r["case"] == "B256" and r["kind"] == "train")
        print(f"target GPU >= 10x CPU at B=256: {b256['gpu_vs_cpu']:.1f}x")
        if b256["gpu_vs_cudnn"]:
            print(f"target within 3x of cuDNN at B=256: {b256['gpu_vs_cudnn']:.2f}x its time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gpu": gpu_name, "repeats": repeats, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
