"""Learning and forecasting benchmarks: accuracy and fit time on small classic tasks.

Usage::

    python benchmarks/accuracy.py [--seeds 3]
        [--suite all|estimators|forecasting|architectures] [--json out.json]

Estimator tasks (each averaged over ``--seeds`` random states, median fit time):

- digits: sklearn's 8x8 digits read row by row (8 steps x 8 features), the MNIST
  recipe scaled down (hidden 128, 2 layers, Adam, lr 0.01, batch 100), accuracy on a
  stratified 25% holdout;
- trend: a Keras-style binary problem, LSTM(32) + sigmoid on windows of shape (10, 1)
  (label: upward or downward drift under noise), accuracy on a 25% holdout;
- sine: noisy sine next-value regression from windows of 20, R^2 on the last 20%.

Architecture tasks (``--suite architectures``, accuracy on a 25% holdout):

- long series: 600 noisy oscillations of 400 steps, class = frequency (0.04 or 0.06
  cycles per step, noise sd 1.5); LSTM(32) alone vs the same with a CNN front-end
  (two Conv1d blocks of 16 filters, kernel 5, max pooling 3);
- variable length: 600 sequences of 20 to 200 steps given as a list of arrays, class =
  frequency, LSTM(32) and the same with the front-end.

Forecasting tasks (LSTMForecaster, mean MASE over the seeds, next to baselines;
statsmodels from the ``compare`` extra):

- airline: monthly passengers, the last 24 months held out, MASE with m=12, against
  the seasonal naive forecast and Holt-Winters (additive trend, multiplicative
  seasonality);
- sunspots: yearly, the last 20 years held out, MASE with m=1, against the naive and
  seasonal naive (11-year) forecasts;
- US macro panel: 8 quarterly series, the last 8 quarters held out, per-series and mean
  MASE (m=1) of one global model, against the naive forecast and a damped Holt trend
  per series.
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

from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor
from tsLSTM.datasets import load_airline, load_sunspots, load_us_macro
from tsLSTM.metrics import mase


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


def _oscillations(n, lengths, rng, noise=1.5):
    cls = rng.integers(0, 2, n)
    freq = np.where(cls, 0.06, 0.04)
    X = [np.sin(2 * np.pi * freq[i] * np.arange(m) + rng.uniform(0, 6))
         + noise * rng.standard_normal(m) for i, m in enumerate(lengths)]  # fmt: skip
    return X, cls


def architectures_suite(seeds):
    """Rows of (task, model, mean accuracy, min accuracy, median fit s)."""
    rng = np.random.default_rng(1000)
    X_long, y_long = _oscillations(600, [400] * 600, rng)
    X_long = np.asarray(X_long)
    X_var, y_var = _oscillations(600, rng.integers(20, 201, 600), rng)
    conv = {"conv_filters": [16, 16], "conv_kernel_size": 5, "pool_size": 3}
    tasks = [
        ("long series (T=400)", "LSTM", X_long, y_long, {}),
        ("long series (T=400)", "CNN-LSTM", X_long, y_long, conv),
        ("variable length (20-200)", "LSTM", X_var, y_var, {}),
        ("variable length (20-200)", "CNN-LSTM", X_var, y_var, conv),
    ]
    rows = []
    for task, name, X, y, extra in tasks:
        scores, times = [], []
        for seed in range(seeds):
            model = LSTMClassifier(hidden_size=32, learning_rate=0.005, max_epochs=30,
                                   random_state=seed, **extra)  # fmt: skip
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X[:450], y[:450])
            times.append(time.perf_counter() - start)
            scores.append(model.score(X[450:], y[450:]))
        rows.append((task, name, float(np.mean(scores)), float(min(scores)),
                     statistics.median(times)))  # fmt: skip
    print(f"\narchitectures (accuracy on 150 held-out sequences, {seeds} seeds)")
    print(f"{'task':26} {'model':9} {'mean':>7} {'min':>7} {'fit s':>7}")
    for task, name, mean, low, fit_s in rows:
        print(f"{task:26} {name:9} {mean:7.4f} {low:7.4f} {fit_s:7.2f}")
    return rows


def _ets(train, horizon, **kwargs):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ExponentialSmoothing(np.asarray(train, float), **kwargs).fit().forecast(horizon)


def forecasting_suite(seeds):
    """Rows of (task, series, method, MASE)."""
    rows = []

    def lstm(train, horizon, m, **params):
        scores, times = [], []
        for seed in range(seeds):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                f = LSTMForecaster(horizon=horizon, hidden_size=32, learning_rate=0.01,
                                   random_state=seed, **params).fit(train)  # fmt: skip
            times.append(time.perf_counter() - start)
            scores.append(f.predict())
        return scores, statistics.median(times)

    y = load_airline()
    train, test = y[:-24], y[-24:].to_numpy()
    h = 24
    for strategy in ("mimo", "recursive"):
        forecasts, fit_s = lstm(train, h, 12, window=36, strategy=strategy)
        score = np.mean([mase(test, f.to_numpy(), train, 12) for f in forecasts])
        rows.append(("airline", "-", f"LSTMForecaster {strategy}", score, fit_s))
    naive = train.to_numpy()[-12:][np.arange(h) % 12]
    rows.append(("airline", "-", "seasonal naive", mase(test, naive, train, 12), 0.0))
    hw = _ets(train, h, trend="add", seasonal="mul", seasonal_periods=12)
    rows.append(("airline", "-", "Holt-Winters (statsmodels)", mase(test, hw, train, 12), 0.0))

    s = load_sunspots()
    train, test = s[:-20], s[-20:].to_numpy()
    for strategy in ("mimo", "recursive"):
        forecasts, fit_s = lstm(train, 20, 1, window=40, strategy=strategy)
        score = np.mean([mase(test, f.to_numpy(), train, 1) for f in forecasts])
        rows.append(("sunspots", "-", f"LSTMForecaster {strategy}", score, fit_s))
    last = train.to_numpy()
    rows.append(("sunspots", "-", "naive", mase(test, np.repeat(last[-1], 20), last, 1), 0.0))
    snaive = last[-11:][np.arange(20) % 11]
    rows.append(("sunspots", "-", "seasonal naive (11)", mase(test, snaive, last, 1), 0.0))

    panel = load_us_macro()
    train = panel.groupby("unique_id").head(203 - 8)
    test = panel.groupby("unique_id").tail(8)
    forecasts, fit_s = lstm(train, 8, 1, window=24)
    for sid in sorted(panel.unique_id.unique()):
        history = train[train.unique_id == sid].y.to_numpy()
        actual = test[test.unique_id == sid].y.to_numpy()
        score = np.mean([
            mase(actual, f[f.unique_id == sid].y_hat.to_numpy(), history, 1) for f in forecasts
        ])  # fmt: skip
        rows.append(("us_macro", sid, "LSTMForecaster mimo (global)", score, fit_s))
        rows.append(("us_macro", sid, "naive", mase(actual, np.repeat(history[-1], 8), history, 1),
                     0.0))  # fmt: skip
        holt = _ets(history, 8, trend="add", damped_trend=True)
        rows.append(("us_macro", sid, "damped Holt (statsmodels)", mase(actual, holt, history, 1),
                     0.0))  # fmt: skip
    for method in ("LSTMForecaster mimo (global)", "naive", "damped Holt (statsmodels)"):
        scores = [r[3] for r in rows if r[0] == "us_macro" and r[2] == method]
        rows.append(("us_macro", "mean", method, float(np.mean(scores)), 0.0))
    return rows


def print_forecasting(rows, seeds):
    print(f"\nforecast accuracy (MASE, lower is better; LSTM: mean of {seeds} seeds, fit s median)")
    print(f"{'data':10} {'series':10} {'method':32} {'MASE':>7} {'fit s':>6}")
    for data, sid, method, score, fit_s in rows:
        fit = f"{fit_s:6.2f}" if fit_s else ""
        print(f"{data:10} {sid:10} {method:32} {score:7.3f} {fit:>6}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--suite", choices=["all", "estimators", "forecasting", "architectures"], default="all"
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    result = {}
    if args.suite == "architectures":
        result["architectures"] = architectures_suite(args.seeds)
        return _dump(args.json, result)
    if args.suite in ("all", "forecasting"):
        forecast_rows = forecasting_suite(args.seeds)
        result["forecasting"] = [dict(zip(("data", "series", "method", "mase", "fit_s"), r,
                                          strict=True)) for r in forecast_rows]  # fmt: skip
    if args.suite == "forecasting":
        print_forecasting(forecast_rows, args.seeds)
        return _dump(args.json, result)
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
    result["estimators"] = rows
    if args.suite == "all":
        print_forecasting(forecast_rows, args.seeds)
        result["architectures"] = architectures_suite(args.seeds)
    return _dump(args.json, result)


def _dump(path, result):
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
