"""Prediction calls as a user makes them, through the estimators: time per call.

Usage::

    python benchmarks/bench_predict.py [--calls 2000]

Times, as medians over many calls after one warm-up call:

- ``LSTMRegressor.predict`` of one window and of 200 windows (H = 64, T = 24), which
  include scikit-learn's input validation and the standardisation;
- ``LSTMForecaster.predict`` of the bundled airline series (window 24, horizon 12).

Compare runs of two versions of tsLSTM in turns on the same machine, e.g. with a
``git worktree`` of the older commit on ``PYTHONPATH``.
"""

import argparse
import warnings

import numpy as np
from bench_engine import median_ms


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)

    import tsLSTM
    from tsLSTM import LSTMForecaster, LSTMRegressor
    from tsLSTM.datasets import load_airline

    warnings.simplefilter("ignore")  # two epochs do not converge, by design
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 24, 1))
    reg = LSTMRegressor(hidden_size=64, max_epochs=2, random_state=0).fit(X, X[:, -1, 0])
    forecaster = LSTMForecaster(window=24, horizon=12, hidden_size=64, max_epochs=2,
                                random_state=0).fit(load_airline())  # fmt: skip
    few = max(args.calls // 7, 10)
    print(f"tsLSTM from {tsLSTM.__file__}; medians of {args.calls} (one window) and {few} calls")
    calls = {
        "LSTMRegressor.predict, 1 window": (lambda: reg.predict(X[:1]), args.calls),
        "LSTMRegressor.predict, 200 windows": (lambda: reg.predict(X), few),
        "LSTMForecaster.predict, airline h=12": (forecaster.predict, few),
    }
    for name, (call, n) in calls.items():
        print(f"{name + ':':38s} {1e3 * median_ms(call, n, warmup=1):9.1f} us")


if __name__ == "__main__":
    main()
