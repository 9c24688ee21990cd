"""Optimizer steps on the CPU: time per ``step()`` of every optimizer.

Usage::

    python benchmarks/bench_optim.py

Times ``optimizer.step()`` on flat float32 buffers of 2,000 and 200,000 parameters
(a small and a mid-sized model), as the median of 7 blocks of 200 steps after 50
warm-up steps. The small size shows the fixed cost of a step (computing its scalars
and calling the kernel), the large one the fused update loop.

Compare two versions of tsLSTM in turns on the same machine, e.g. with a
``git worktree`` of the older commit on ``PYTHONPATH``.
"""

import time

import numpy as np

CASES = [
    ("sgd", {"momentum": 0.9}),
    ("adam", {}),
    ("adamw", {"weight_decay": 0.01}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True, "momentum": 0.5}),
    ("adagrad", {}),
]


def step_microseconds(optimizer, blocks=7, steps=200, warmup=50):
    """Median time of one ``optimizer.step()`` in microseconds."""
    for _ in range(warmup):
        optimizer.step()
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(steps):
            optimizer.step()
        times.append((time.perf_counter() - start) / steps * 1e6)
    return float(np.median(times))


def main():
    import tsLSTM
    from tsLSTM.optim import OPTIMIZERS

    print(f"tsLSTM from {tsLSTM.__file__}")
    print(f"{'parameters':>10s}  {'optimizer':9s} {'options':38s} {'us/step':>8s}")
    for n in (2_000, 200_000):
        rng = np.random.default_rng(0)
        for name, options in CASES:
            params = rng.normal(size=n).astype(np.float32)
            grads = rng.normal(size=n).astype(np.float32)
            optimizer = OPTIMIZERS[name](params, grads, lr=1e-3, **options)
            print(f"{n:10d}  {name:9s} {options!s:38s} {step_microseconds(optimizer):8.2f}")


if __name__ == "__main__":
    main()
