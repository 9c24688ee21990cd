"""Learning benchmarks of the estimators: accuracy and fit time on small classic tasks.

Usage::

    python benchmarks/accuracy.py [--seeds 3] [--json out.json]

Tasks (each averaged over ``--seeds`` random states, median fit time reported):

- digits: sklearn's 8x8 digits read row by row (8 steps x 8 features), the MNIST
  recipe scaled down (hidden 128, 2 layers, Adam, lr 0.01, batch 100), accuracy on a
  stratified 25% holdout;
- trend: a Keras-style binary problem, LSTM(32) + sigmoid on windows of shape (10, 1)
  (label: upward or downward drift under noise), accuracy on a 25% holdout;
- sine: noisy sine next-value regression from windows of 20, R^2 on the last 20%.
"""

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from tsLSTM import LSTMClassifier, LSTMRegressor


def digits_task(seed):
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, stratify=digits.target, random_state=0
    )
    model = LSTMClassifier(
        hidden_size=128, num_layers=2, learning_rate=0.01, batch_size=100, max_epochs=40,
        random_state=seed,
    )  # fmt: skip
    return model, X_train, y_train, X_test, y_test


def trend_task(seed):
    rng = np.random.default_rng(1000)
    n = 2000
    y = rng.integers(0, 2, n)
    drift = np.where(y == 1, 0.15, -0.15)[:, None]
    X = np.cumsum(drift + 0.3 * rng.standard_normal((n, 10)), axis=1)[:, :, None]
    model = LSTMClassifier(hidden_size=32, learning_rate=0.01, max_epochs=50, random_state=seed)
    return model, X[:1500], y[:1500], X[1500:], y[1500:]


def sine_task(seed):
    rng = np.random.default_rng(1000)
    window, n = 20, 2000
    t = np.arange(n + window) * 0.1
    s = np.sin(t) + 0.1 * rng.standard_normal(t.size)
    X = np.lib.stride_tricks.sliding_window_view(s[:-1], window)[:n]
    y = s[window : window + n]
    split = int(0.8 * n)
    model = LSTMRegressor(hidden_size=32, learning_rate=0.01, max_epochs=50, random_state=seed)
    return model, X[:split], y[:split], X[split:], y[split:]


TASKS = {
    "digits (accuracy)": digits_task,
    "trend binary (accuracy)": trend_task,
    "noisy sine (R^2)": sine_task,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = []
    for name, make in TASKS.items():
        scores, times, epochs = [], [], []
        for seed in range(args.seeds):
            model, X_train, y_train, X_test, y_test = make(seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train, y_train)
            times.append(time.perf_counter() - start)
            scores.append(model.score(X_test, y_test))
            epochs.append(model.n_iter_)
        rows.append({
            "task": name, "score_mean": float(np.mean(scores)), "score_min": float(min(scores)),
            "fit_s_median": statistics.median(times), "epochs_median": statistics.median(epochs),
            "train": len(X_train), "test": len(X_test),
        })  # fmt: skip
    print(f"{args.seeds} seeds per task; fit time is the median over seeds")
    print(f"{'task':26} {'train':>6} {'test':>6} {'score mean':>11} {'score min':>10} "
          f"{'fit s':>7} {'epochs':>7}")  # fmt: skip
    for r in rows:
        print(f"{r['task']:26} {r['train']:>6} {r['test']:>6} {r['score_mean']:>11.4f} "
              f"{r['score_min']:>10.4f} {r['fit_s_median']:>7.2f} "
              f"{r['epochs_median']:>7.0f}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
